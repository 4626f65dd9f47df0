"""Contract tests, one per SharePoint REST endpoint (and tenant CSOM) the simulator serves.

Each test names the page it follows (SharePoint/sp-dev-docs, or the learn.microsoft.com SharePoint 2013
REST/CSOM reference) or says what it was compared with, replays the documented request, and checks the
status, content type, body shape and error shape; the call then goes through office365's ClientContext,
which the agent uses. The odata=verbose and nometadata shapes are both checked where the agent or the
page uses them.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
from office365.runtime.client_request_exception import ClientRequestException
from office365.sharepoint.client_context import ClientContext

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, ADMIN_UPN, INITIAL_DOMAIN
from agent.simulator.state.tenant import FULL_CONTROL_ROLE_DEF, login_name
from tests.simulator.sharepoint.test_csom import app_token, batch, post
from tests.simulator.sharepoint.test_sharepoint import admin_app, context

SITE = "/sites/source"
VERBOSE = "application/json;odata=verbose"
NOMETADATA = "application/json;odata=nometadata"
USER3 = f"user0003@{INITIAL_DOMAIN}"
READ_ROLE_DEF = 1073741826
SP_EXCEPTION = "-2146232832, Microsoft.SharePoint.SPException"
ARGUMENT = "-2147024809, System.ArgumentException"
USER_KEYS = {"Id": int, "IsHiddenInUI": bool, "LoginName": str, "Title": str, "PrincipalType": int,
             "Email": str, "IsSiteAdmin": bool, "UserId": dict, "UserPrincipalName": str}


@pytest.fixture(autouse=True)
def quiet_office365() -> None:
    logging.getLogger("office365").setLevel(logging.CRITICAL)  # it logs a traceback before re-raising


def _call(tenant: Simulator, method: str, rest: str, accept: str = NOMETADATA, site: str = SITE,
          json: Any = None, **headers: str) -> requests.Response:
    sent = {"Authorization": f"Bearer {app_token(tenant)}", "Accept": accept, **headers}
    return requests.request(method, f"{tenant.base_url}{site}/_api/{rest}", headers=sent, json=json,
                            verify=tenant.ca_path, timeout=30)


def _body(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    level = "verbose" if "odata=verbose" in response.request.headers["Accept"] else "nometadata"
    assert response.headers["content-type"].startswith(f"application/json;odata={level}")
    return response.json()


def _error(response: requests.Response, status: int, code: str, message: str) -> None:
    """SharePoint's error body: odata.error (nometadata) or error (verbose), code and message.value."""
    body = _body(response, status)
    error = body.get("odata.error") or body["error"]
    assert error["code"] == code and error["message"]["value"] == message
    assert error["message"]["lang"] == "en-US"


def _ctx(tenant: Simulator, path: str = SITE) -> ClientContext:
    return context(tenant, path, admin_app(tenant))


def _is_user(user: dict[str, Any]) -> None:
    assert all(isinstance(user[k], kind) for k, kind in USER_KEYS.items()), user
    assert set(user["UserId"]) >= {"NameId", "NameIdIssuer"}


def test_web_has_its_identity_properties(tenant: Simulator) -> None:
    """complete-basic-operations-using-sharepoint-rest-endpoints.md (GET with Accept odata=verbose);
    no Microsoft page lists SP.Web's default properties (review row S2, compared with api-facts §12)."""
    web = _body(_call(tenant, "GET", "web", VERBOSE))["d"]
    assert web["__metadata"]["type"] == "SP.Web"
    for key, kind in {"Id": str, "Title": str, "Url": str, "ServerRelativeUrl": str, "WebTemplate": str,
                      "Configuration": int, "Language": int}.items():
        assert isinstance(web[key], kind)
    assert _ctx(tenant).web.get().execute_query().url == web["Url"]


def test_site_and_its_owner(tenant: Simulator) -> None:
    """No Microsoft page for the property set (review rows S3, S4; api-facts §10): SP.Site with Id, Url,
    ServerRelativeUrl and a deferred Owner, which is an SP.User."""
    site = _body(_call(tenant, "GET", "site", VERBOSE))["d"]
    assert site["__metadata"]["type"] == "SP.Site" and "__deferred" in site["Owner"]
    assert isinstance(site["Id"], str) and isinstance(site["ReadOnly"], bool)
    owner = _body(_call(tenant, "GET", "site/owner"))
    _is_user(owner)
    read = _ctx(tenant).site.owner.get().execute_query()
    assert read.login_name == owner["LoginName"] == login_name(ADMIN_UPN)


def test_effective_base_permissions_are_high_and_low_strings(tenant: Simulator) -> None:
    """SP.Web.effectiveBasePermissions (learn.microsoft.com/en-us/previous-versions/office/jj245395):
    GET `_api/web/effectiveBasePermissions`, an SP.BasePermissions (High, Low as Edm.Int64 strings)."""
    flat = _body(_call(tenant, "GET", "web/effectivebasepermissions"))
    assert flat == {"High": "2147483647", "Low": "4294967295"}
    verbose = _body(_call(tenant, "GET", "web/effectivebasepermissions", VERBOSE))["d"]
    assert verbose["EffectiveBasePermissions"]["__metadata"]["type"] == "SP.BasePermissions"


def test_user_effective_permissions_as_the_page_posts_it(tenant: Simulator) -> None:
    """SP.Web.getUserEffectivePermissions (learn.microsoft.com/en-us/previous-versions/office/
    sharepoint-visio/jj850885): POST `_api/web/getUserEffectivePermissions(userName)`; a login whose '#'
    was encoded twice is ArgumentException (review row S6, api-facts §12)."""
    alias = "i%3A0%23.f%7Cmembership%7C" + ACCOUNT_UPN.replace("@", "%40")
    answer = _body(_call(tenant, "POST", f"web/getusereffectivepermissions(@u)?@u='{alias}'", VERBOSE))
    assert set(answer["d"]["GetUserEffectivePermissions"]) >= {"High", "Low"}
    twice = alias.replace("%23", "%2523")
    _error(_call(tenant, "POST", f"web/getusereffectivepermissions(@u)?@u='{twice}'"), 400, ARGUMENT,
           "Value does not fall within the expected range.")
    perms = _ctx(tenant).web.get_user_effective_permissions(login_name(ACCOUNT_UPN)).execute_query().value
    assert (perms.High, perms.Low) == (2147483647, 4294967295)


def test_site_users_list_sp_users(tenant: Simulator) -> None:
    """No Microsoft page for the collection (review row S7; api-facts §10): nometadata `value[]` of
    SP.User, verbose `d.results`; `$filter=IsSiteAdmin eq true` narrows it."""
    users = _body(_call(tenant, "GET", "web/siteusers"))["value"]
    assert users and all(_is_user(u) is None for u in users)
    assert isinstance(_body(_call(tenant, "GET", "web/siteusers", VERBOSE))["d"]["results"], list)
    admins = _ctx(tenant).web.site_users.filter("IsSiteAdmin eq true").get().execute_query()
    assert {u.login_name for u in admins} == {u["LoginName"] for u in users if u["IsSiteAdmin"]}


@pytest.mark.parametrize("form", ["siteusers/getbyid({id})", "getuserbyid({id})",
                                  "siteusers(@v)?@v='{login}'", "siteusers/getbyloginname(@v)?@v='{login}'",
                                  "siteusers/getbyemail('{mail}')"])
def test_one_site_user_by_id_login_or_email(tenant: Simulator, form: str) -> None:
    """UserCollection.GetByEmail (learn.microsoft.com/en-us/previous-versions/office/sharepoint-csom/
    ee541334) and its GetById / GetByLoginName siblings: the SP.User, or SPException -2146232832
    "User cannot be found."."""
    me = next(u for u in _body(_call(tenant, "GET", "web/siteusers"))["value"]
              if u["UserPrincipalName"] == ACCOUNT_UPN)
    login = me["LoginName"].replace("#", "%23")
    found = _body(_call(tenant, "GET", "web/" + form.format(id=me["Id"], login=login, mail=me["Email"])))
    _is_user(found)
    assert found["Id"] == me["Id"]
    missing = form.format(id=9999, login="i%3A0%23.f%7Cmembership%7Cnobody%40example.com",
                          mail="nobody@example.com")
    _error(_call(tenant, "GET", "web/" + missing), 404, SP_EXCEPTION, "User cannot be found.")


def test_site_user_merge_as_the_page_updates(tenant: Simulator) -> None:
    """complete-basic-operations-using-sharepoint-rest-endpoints.md: POST with X-HTTP-Method MERGE
    and IF-MATCH *, the changed properties (with their __metadata type) in an odata=verbose body; 204."""
    user = _ctx(tenant).web.ensure_user(login_name(USER3)).execute_query()
    body = {"__metadata": {"type": "SP.User"}, "IsSiteAdmin": True}
    merged = _call(tenant, "POST", f"web/siteusers/getbyid({user.id})", VERBOSE, json=body,
                   **{"X-HTTP-Method": "MERGE", "IF-MATCH": "*", "Content-Type": VERBOSE})
    assert merged.status_code == 204 and merged.content == b""
    assert _ctx(tenant).web.site_users.get_by_id(user.id).get().execute_query().is_site_admin


def test_ensure_user_as_the_page_posts_it(tenant: Simulator) -> None:
    """SP.Web.ensureUser (learn.microsoft.com/en-us/previous-versions/office/sharepoint-visio/jj245233):
    POST `_api/web/ensureUser` with `logonName`, answering the SP.User; an unknown principal is an
    SPException (review row S10)."""
    added = _body(_call(tenant, "POST", "web/ensureuser", json={"logonName": login_name(USER3)}))
    _is_user(added)
    again = _ctx(tenant).web.ensure_user(login_name(USER3)).execute_query()
    assert again.id == added["Id"]
    unknown = _body(_call(tenant, "POST", "web/ensureuser", json={"logonName": "nobody@example.com"}), 500)
    assert unknown["odata.error"]["code"] == SP_EXCEPTION


def test_role_assignments_deferred_unless_expanded(tenant: Simulator) -> None:
    """set-custom-permissions-on-a-list-by-using-the-rest-interface.md (role assignments of a
    securable); review row S11: verbose defers Member and RoleDefinitionBindings unless `$expand`ed."""
    plain = _body(_call(tenant, "GET", "web/roleassignments", VERBOSE))["d"]["results"]
    assert all("__deferred" in a["Member"] and "__deferred" in a["RoleDefinitionBindings"] for a in plain)
    expanded = _body(_call(tenant, "GET", "web/roleassignments?$expand=Member,RoleDefinitionBindings"))
    for assignment in expanded["value"]:
        assert isinstance(assignment["PrincipalId"], int)
        assert isinstance(assignment["RoleDefinitionBindings"], list)
        _is_user(assignment["Member"])
    assignments = _ctx(tenant).web.role_assignments
    listed = assignments.expand(["Member", "RoleDefinitionBindings"]).get().execute_query()
    assert sorted(a.principal_id for a in listed) == sorted(a["PrincipalId"] for a in expanded["value"])


def test_add_and_remove_role_assignment_as_the_page_posts_them(tenant: Simulator) -> None:
    """set-custom-permissions-on-a-list-by-using-the-rest-interface.md: POST
    `roleassignments/addroleassignment(principalid=…,roledefid=…)` answers a null result; an unknown role
    definition is ArgumentException. removeroleassignment (review row S14) answers the same null result."""
    user = _ctx(tenant).web.ensure_user(login_name(USER3)).execute_query()
    add = f"web/roleassignments/addroleassignment(principalid={user.id},roledefid={READ_ROLE_DEF})"
    assert _body(_call(tenant, "POST", add, VERBOSE)) == {"d": {"AddRoleAssignment": None}}
    remove = f"web/roleassignments/removeroleassignment(principalid={user.id},roledefid={READ_ROLE_DEF})"
    assert _body(_call(tenant, "POST", remove)) == {"odata.null": True}
    bad = f"web/roleassignments/addroleassignment(principalid={user.id},roledefid=12345)"
    _error(_call(tenant, "POST", bad), 400, ARGUMENT, "Value does not fall within the expected range.")
    _ctx(tenant).web.role_assignments.add_role_assignment(user.id, FULL_CONTROL_ROLE_DEF).execute_query()
    _ctx(tenant).web.role_assignments.remove_role_assignment(user.id, FULL_CONTROL_ROLE_DEF).execute_query()


def _is_role(role: dict[str, Any]) -> None:
    for key, kind in {"Id": int, "Name": str, "RoleTypeKind": int, "Order": int, "Hidden": bool}.items():
        assert isinstance(role[key], kind)
    assert set(role["BasePermissions"]) >= {"High", "Low"}


@pytest.mark.parametrize("form", ["roledefinitions({id})", "roledefinitions/getbyid({id})",
                                  "roledefinitions/getbytype(5)",
                                  "roledefinitions/getbyname('Full Control')"])
def test_role_definition_by_id_type_or_name(tenant: Simulator, form: str) -> None:
    """set-custom-permissions-on-a-list-by-using-the-rest-interface.md (`roledefinitions/getbyname(…)`);
    review rows S15, S16: each SP.RoleDefinition, and SPException 404 for one that is not there."""
    listed = _body(_call(tenant, "GET", "web/roledefinitions"))["value"]
    assert all(_is_role(r) is None for r in listed)
    found = _body(_call(tenant, "GET", "web/" + form.format(id=FULL_CONTROL_ROLE_DEF)))
    _is_role(found)
    assert found["Id"] == FULL_CONTROL_ROLE_DEF
    missing = _call(tenant, "GET", "web/" + form.format(id=12345).replace("(5)", "(99)").replace(
        "Full Control", "No Such Role"))
    assert _body(missing, 404)["odata.error"]["code"] == SP_EXCEPTION
    assert _ctx(tenant).web.role_definitions.get_by_id(FULL_CONTROL_ROLE_DEF).get().execute_query().name


V4 = {"odata-version": "4.0", "Content-Type": "application/json"}
V4_ACCEPT = "application/json;odata.metadata=none"


def _creation(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["SiteId"], str) and body["SiteStatus"] in (0, 1, 2, 3)
    assert isinstance(body["SiteUrl"], str)
    return body


def test_site_manager_create_status_delete_as_the_page_sends_them(tenant: Simulator) -> None:
    """apis/site-creation-rest.md: create with the page's request body, poll the status by URL, delete
    by id; each answers {SiteId, SiteStatus, SiteUrl} (delete a null result)."""
    url = f"{tenant.base_url}/sites/commsite1"
    request = {"Title": "Communication Site 1", "Url": url, "Lcid": 1033, "ShareByEmailEnabled": False,
               "Classification": "Low Business Impact", "Description": "Description",
               "WebTemplate": "SITEPAGEPUBLISHING#0", "SiteDesignId": "6142d2a0-63a5-4ba0-aede-d9fefca2c767",
               "Owner": ADMIN_UPN}
    created = _creation(_call(tenant, "POST", "SPSiteManager/create", V4_ACCEPT, "", {"request": request},
                              **V4))
    assert created["SiteUrl"] == url and created["SiteStatus"] in (1, 2)
    status = _creation(_call(tenant, "GET", f"SPSiteManager/status?url='{url}'", V4_ACCEPT, "", **V4))
    assert status["SiteId"] == created["SiteId"] and status["SiteStatus"] == 2
    deleted = _call(tenant, "POST", "SPSiteManager/delete", V4_ACCEPT, "", {"siteId": created["SiteId"]},
                    **V4)
    assert deleted.status_code == 200 and _context_status(tenant, url) == 0


def _context_status(tenant: Simulator, url: str) -> int:
    return int(_ctx(tenant, "").site_manager.get_status(url).execute_query().value.SiteStatus.value)


def test_set_site_admin_process_query_replayed(tenant: Simulator) -> None:
    """No Microsoft page (review row S20): compared with api-facts §8 and cli-microsoft365. The
    Tenant.SetSiteAdmin request answers [header, id, {IsNull: false}]; a missing site fills ErrorInfo."""
    response = post(tenant, batch([(tenant.base_url + SITE, login_name(USER3), True)], scoped=False))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    header, *results = response.json()
    assert set(header) >= {"SchemaVersion", "LibraryVersion", "ErrorInfo", "TraceCorrelationId"}
    assert header["ErrorInfo"] is None and results == [4, {"IsNull": False}]
    nowhere = (tenant.base_url + "/sites/nowhere", login_name(USER3), True)
    missing = post(tenant, batch([nowhere], scoped=False))
    info = missing.json()[0]["ErrorInfo"]
    assert set(info) >= {"ErrorMessage", "ErrorValue", "TraceCorrelationId", "ErrorCode", "ErrorTypeName"}


def test_a_missing_web_answers_the_error_shape(tenant: Simulator) -> None:
    """The SharePoint REST error body, through ClientContext as the agent reads it."""
    with pytest.raises(ClientRequestException) as caught:
        _ctx(tenant, "/sites/nowhere").web.get().execute_query()
    assert caught.value.response is not None and caught.value.response.status_code == 404
