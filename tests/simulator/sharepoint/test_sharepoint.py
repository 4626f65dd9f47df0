"""Simulated SharePoint REST over real HTTPS: office365-rest-python-client with azure-identity tokens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.identity import CertificateCredential, ClientSecretCredential, UsernamePasswordCredential
from office365.runtime.client_request_exception import ClientRequestException
from office365.sharepoint.client_context import ClientContext

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import (
    ACCOUNT_UPN,
    ADMIN_APP_ID,
    ADMIN_UPN,
    INITIAL_DOMAIN,
    PUBLIC_CLIENT_ID,
)
from agent.simulator.state.tenant import FULL_CONTROL_ROLE_DEF, login_name, personal_path
from tests.simulator import identity_kw

READ_ROLE_DEF = 1073741826
USER3 = f"user0003@{INITIAL_DOMAIN}"
ACCESS_DENIED_CODE = "-2147024891, System.UnauthorizedAccessException"
TokenSource = Callable[[], dict[str, Any]]
# ROPC is what migration connectors use; its deprecation warnings are expected here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def quiet_office365() -> None:
    logging.getLogger("office365").setLevel(logging.CRITICAL)  # it logs a traceback before re-raising


def _token_source(credential: Any, scope: str) -> TokenSource:
    def fetch() -> dict[str, Any]:
        token = credential.get_token(scope)
        return {"access_token": token.token, "token_type": "Bearer", "expires_in": 3600}
    return fetch


def admin_app(tenant: Simulator) -> TokenSource:
    """The agent's admin app with its certificate (SharePoint refuses secret-based app-only tokens)."""
    pem = tenant.state.extras["admin_cert"].pem.encode()
    credential = CertificateCredential(tenant.state.tenant_id, ADMIN_APP_ID, certificate_data=pem,
                                       **identity_kw(tenant))
    return _token_source(credential, f"{tenant.base_url}/.default")


def admin_app_with_secret(tenant: Simulator) -> TokenSource:
    secret = tenant.state.extras["admin_secret"]
    credential = ClientSecretCredential(tenant.state.tenant_id, ADMIN_APP_ID, secret, **identity_kw(tenant))
    return _token_source(credential, f"{tenant.base_url}/.default")


@pytest.fixture
def migration_account(tenant: Simulator, ropc: None) -> TokenSource:
    """The migration account by ROPC (`ropc` keeps MSAL from a realm lookup on port 443)."""
    password = tenant.state.extras["account_password"]
    credential = UsernamePasswordCredential(PUBLIC_CLIENT_ID, ACCOUNT_UPN, password,
                                            tenant_id=tenant.state.tenant_id, **identity_kw(tenant))
    return _token_source(credential, f"{tenant.base_url}/.default")


def context(tenant: Simulator, path: str, tokens: TokenSource) -> ClientContext:
    ctx = ClientContext(tenant.base_url + path).with_transport(verify=tenant.ca_path)
    return ctx.with_access_token(tokens)


def _response(exc: ClientRequestException) -> requests.Response:
    assert exc.response is not None
    return exc.response


def _writes(tenant: Simulator) -> list[list[str]]:
    return [e["ops"] for e in tenant.log if e["wrote"]]


# -- reads -----------------------------------------------------------------------------------------

def test_web_and_site_as_the_admin_app(tenant: Simulator) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    web = ctx.web.get().execute_query()
    assert (web.title, web.properties["ServerRelativeUrl"]) == ("Migration source", "/sites/source")
    assert ctx.site.owner.get().execute_query().login_name == login_name(ADMIN_UPN)
    assert ctx.site.get().execute_query().properties["Id"] == tenant.state.site("/sites/source").id


def test_site_users_filter_lists_the_site_admins(tenant: Simulator) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    admins = ctx.web.site_users.filter("IsSiteAdmin eq true").get().execute_query()
    assert sorted(u.login_name for u in admins) == [login_name(ADMIN_UPN), login_name(ACCOUNT_UPN)]
    assert _writes(tenant) == []


def test_paths_ignore_case_and_nometadata_is_served(tenant: Simulator) -> None:
    headers = {"Authorization": f"Bearer {admin_app(tenant)()['access_token']}",
               "Accept": "application/json;odata=nometadata"}
    response = requests.get(f"{tenant.base_url}/SITES/source/_API/Web/SiteUsers",
                            params={"$filter": "IsSiteAdmin eq true"}, headers=headers, verify=tenant.ca_path,
                            timeout=10)
    body = response.json()
    assert response.status_code == 200 and "__metadata" not in body["value"][0]
    assert {u["LoginName"] for u in body["value"]} == {login_name(ADMIN_UPN), login_name(ACCOUNT_UPN)}


# -- site collection admins ---------------------------------------------------------------------------

def test_ensure_user_then_make_it_site_admin(tenant: Simulator) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    user = ctx.web.ensure_user(login_name(USER3)).execute_query()
    assert user.is_site_admin is False
    user.set_property("IsSiteAdmin", True).update().execute_query()  # POST siteusers(N) + X-HTTP-Method MERGE
    assert tenant.state.site("/sites/source").user_by_login(login_name(USER3)).is_site_admin  # type: ignore[union-attr]
    assert _writes(tenant) == [["ensure-user"], ["set-site-admin"]]
    user.set_property("IsSiteAdmin", False).update().execute_query()  # the undo
    assert not ctx.web.site_users.get_by_id(user.id).get().execute_query().is_site_admin


def test_onedrive_personal_site_admin_change(tenant: Simulator, migration_account: TokenSource) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    onedrive = personal_path(f"user0002@{INITIAL_DOMAIN}")
    with pytest.raises(ClientRequestException) as denied:
        context(tenant, onedrive, migration_account).web.get().execute_query()
    assert _response(denied.value).status_code == 403
    ctx = context(tenant, onedrive, admin_app(tenant))
    admins = ctx.web.site_users.filter("IsSiteAdmin eq true").get().execute_query()
    assert login_name(ACCOUNT_UPN) not in [u.login_name for u in admins]
    ctx.web.ensure_user(login_name(ACCOUNT_UPN)).execute_query().set_property("IsSiteAdmin", True).update() \
        .execute_query()
    assert context(tenant, onedrive, migration_account).web.get().execute_query().title == "User 0002"


# -- role assignments and permissions ---------------------------------------------------------------------

def _bindings(tenant: Simulator, principal_id: int | None) -> list[int]:
    site = tenant.state.site("/sites/source")
    return sorted(r.role_def_id for r in site.role_assignments if r.principal_id == principal_id)


def test_role_assignments_add_and_remove_only_that_binding(tenant: Simulator) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    user = ctx.web.ensure_user(login_name(USER3)).execute_query()
    ctx.web.role_assignments.add_role_assignment(user.id, READ_ROLE_DEF).execute_query()
    ctx.web.role_assignments.add_role_assignment(user.id, FULL_CONTROL_ROLE_DEF).execute_query()
    assert _bindings(tenant, user.id) == [READ_ROLE_DEF, FULL_CONTROL_ROLE_DEF]
    listed = ctx.web.role_assignments.expand(["Member", "RoleDefinitionBindings"]).get().execute_query()
    mine = next(a for a in listed if a.principal_id == user.id)
    assert (mine.member.login_name, sorted(r.id for r in mine.role_definition_bindings)) == \
        (login_name(USER3), [READ_ROLE_DEF, FULL_CONTROL_ROLE_DEF])
    ctx.web.role_assignments.remove_role_assignment(user.id, FULL_CONTROL_ROLE_DEF).execute_query()
    assert _bindings(tenant, user.id) == [READ_ROLE_DEF]


def test_remove_role_assignment_without_a_role_removes_all_of_them(tenant: Simulator) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    user = ctx.web.ensure_user(login_name(USER3)).execute_query()
    for role in (READ_ROLE_DEF, FULL_CONTROL_ROLE_DEF):
        ctx.web.role_assignments.add_role_assignment(user.id, role).execute_query()
    headers = {"Authorization": f"Bearer {admin_app(tenant)()['access_token']}",
               "Accept": "application/json;odata=verbose"}
    url = (f"{tenant.base_url}/sites/source/_api/web/roleassignments/"
           f"removeroleassignment(principalid={user.id})")
    response = requests.post(url, headers=headers, verify=tenant.ca_path, timeout=10)
    assert response.status_code == 200 and _bindings(tenant, user.id) == []


def test_role_definitions_full_control(tenant: Simulator) -> None:
    from office365.sharepoint.sharing.role_type import RoleType

    ctx = context(tenant, "/sites/source", admin_app(tenant))
    full = ctx.web.role_definitions.get_by_type(RoleType.Administrator).get().execute_query()
    assert (full.id, full.properties["RoleTypeKind"], full.name) == (FULL_CONTROL_ROLE_DEF, 5, "Full Control")
    assert len(ctx.web.role_definitions.get().execute_query()) == 5


def test_effective_permissions(tenant: Simulator, migration_account: TokenSource) -> None:
    ctx = context(tenant, "/sites/source", admin_app(tenant))
    full = ctx.web.get_user_effective_permissions(login_name(ACCOUNT_UPN)).execute_query().value
    assert (full.High, full.Low) == (2147483647, 4294967295)
    none = ctx.web.get_user_effective_permissions(login_name(USER3)).execute_query().value
    assert (none.High, none.Low) == (0, 0)
    tenant.reset(breaks=["not-site-collection-admin", "no-full-control"])
    mine = context(tenant, "/sites/source", admin_app(tenant)).web.get_user_effective_permissions(
        login_name(ACCOUNT_UPN)).execute_query().value
    assert (mine.High, mine.Low) == (0, 0)


def test_caller_effective_base_permissions(tenant: Simulator, migration_account: TokenSource) -> None:
    web = context(tenant, "/sites/source", migration_account).web.select(["EffectiveBasePermissions"]).get()
    perms = web.execute_query().effective_base_permissions
    assert (perms.High, perms.Low) == (2147483647, 4294967295)


def test_user_effective_permissions_rejects_a_double_encoded_hash(tenant: Simulator) -> None:
    token = admin_app(tenant)()["access_token"]

    def ask(encoded_login: str) -> requests.Response:
        url = f"{tenant.base_url}/sites/source/_api/web/getusereffectivepermissions(@u)?@u='{encoded_login}'"
        return requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                            verify=tenant.ca_path, timeout=10)

    once = ask("i%3A0%23.f%7Cmembership%7Cmigsvc%40contoso.onmicrosoft.com")
    assert once.status_code == 200 and once.json() == {"High": "2147483647", "Low": "4294967295"}
    assert ask("i%3A0%2523.f%7Cmembership%7Cmigsvc%40contoso.onmicrosoft.com").status_code == 400


# -- SPSiteManager ------------------------------------------------------------------------------------------

def test_site_manager_create_poll_delete(tenant: Simulator) -> None:
    root = context(tenant, "", admin_app(tenant))
    url = f"{tenant.base_url}/sites/target"
    assert root.site_manager.get_status(url).execute_query().value.SiteStatus.value == 2
    tenant.reset(breaks=["target-site-missing"])
    root = context(tenant, "", admin_app(tenant))
    assert root.site_manager.get_status(url).execute_query().value.SiteStatus.value == 0
    created = root.site_manager.create("Migration target", url, ADMIN_UPN).execute_query().value
    assert created.SiteStatus.value == 1  # provisioning: the caller must poll
    assert root.site_manager.get_status(url).execute_query().value.SiteStatus.value == 2
    target = context(tenant, "/sites/target", admin_app(tenant)).web.get().execute_query()
    assert target.title == "Migration target"
    root.site_manager.delete(created.SiteId).execute_query()
    assert root.site_manager.get_status(url).execute_query().value.SiteStatus.value == 0
    assert _writes(tenant) == [["create-site"], ["delete-site"]]


# -- refusals ----------------------------------------------------------------------------------------------

def test_secret_based_app_only_token_is_refused_with_401(tenant: Simulator) -> None:
    with pytest.raises(ClientRequestException) as caught:
        context(tenant, "/sites/source", admin_app_with_secret(tenant)).web.get().execute_query()
    response = _response(caught.value)
    assert response.status_code == 401
    assert response.headers["x-ms-diagnostics"].startswith('3000003;reason="Unsupported app only token."')
    assert response.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{tenant.state.tenant_id}",client_id="00000003-0000-0ff1-ce00-000000000000"')


def test_missing_site_is_404(tenant: Simulator) -> None:
    with pytest.raises(ClientRequestException) as caught:
        context(tenant, "/sites/nowhere", admin_app(tenant)).web.get().execute_query()
    assert _response(caught.value).status_code == 404
    assert caught.value.code == "-2147024894, System.IO.FileNotFoundException"


def test_access_denied_is_403_with_the_sharepoint_code(tenant: Simulator,
                                                       migration_account: TokenSource) -> None:
    tenant.reset(breaks=["not-site-collection-admin", "no-full-control"])
    with pytest.raises(ClientRequestException) as caught:
        context(tenant, "/sites/source", migration_account).web.get().execute_query()
    assert _response(caught.value).status_code == 403
    assert caught.value.code == ACCESS_DENIED_CODE


def test_user_without_full_control_cannot_write(tenant: Simulator, migration_account: TokenSource) -> None:
    tenant.reset(breaks=["not-site-collection-admin"])  # still Full Control: may write
    ctx = context(tenant, "/sites/source", migration_account)
    ctx.web.ensure_user(login_name(USER3)).execute_query()
    tenant.reset(breaks=["not-site-collection-admin", "no-full-control"])
    site = tenant.state.site("/sites/source")
    entry = site.user_by_login(login_name(ACCOUNT_UPN))
    assert entry is not None
    tenant.state.add_role_assignment(site, entry.id, READ_ROLE_DEF)  # a reader now: reads yes, writes no
    ctx = context(tenant, "/sites/source", migration_account)
    assert ctx.web.get().execute_query().title == "Migration source"
    with pytest.raises(ClientRequestException) as caught:
        ctx.web.ensure_user(login_name(USER3)).execute_query()
    assert caught.value.code == ACCESS_DENIED_CODE
    assert _writes(tenant) == []


class _NoScan(dict[str, Any]):
    """Sites that refuse to be scanned: a personal-site request must be a keyed lookup."""

    def _refuse(self, *_: Any) -> Any:
        raise AssertionError("a SharePoint route scanned every site")

    values = items = keys = __iter__ = _refuse


def test_personal_sites_are_found_directly_at_fleet_scale(tenant: Simulator) -> None:
    tenant.reset(users=10_000)
    tenant.state.sites = _NoScan(tenant.state.sites)
    ctx = context(tenant, personal_path(f"user9999@{INITIAL_DOMAIN}"), admin_app(tenant))
    assert ctx.web.get().execute_query().title == "User 9999"
    user = ctx.web.ensure_user(login_name(USER3)).execute_query()
    user.set_property("IsSiteAdmin", True).update().execute_query()
    admins = ctx.web.site_users.filter("IsSiteAdmin eq true").get().execute_query()
    assert login_name(USER3) in [u.login_name for u in admins]
    api_calls = [e for e in tenant.log if e["service"] == "sharepoint"]
    assert api_calls and max(e["duration_ms"] for e in api_calls) < 500
