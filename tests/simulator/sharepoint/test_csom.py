"""Tenant-level CSOM over real HTTPS: Tenant.SetSiteAdmin batches in one ProcessQuery, scopes and faults."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest
import requests
from azure.identity import CertificateCredential, ClientSecretCredential, UsernamePasswordCredential

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, ADMIN_APP_ID, INITIAL_DOMAIN, PUBLIC_CLIENT_ID
from agent.simulator.state.tenant import SHAREPOINT_APP_ID, login_name, personal_path
from tests.simulator import identity_kw

NS = "http://schemas.microsoft.com/sharepoint/clientquery/2009"
TENANT_TYPE = "{268004ae-ef6b-4e9b-8425-127220d84719}"
ACCOUNT = login_name(ACCOUNT_UPN)
PROCESS_QUERY = "/_vti_bin/client.svc/ProcessQuery"
OK = {"HasException": False}
INVALID_QUERY = ("Microsoft.SharePoint.Client.InvalidClientQueryException", -2146233088)
Grant = tuple[str, str, bool]  # site URL, login, isSiteAdmin
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ROPC for the delegated case


def onedrive(n: int) -> str:
    return personal_path(f"user{n:04d}@{INITIAL_DOMAIN}")


def app_token(tenant: Simulator) -> str:
    """The agent's admin app by certificate: app-only with Sites.FullControl.All in a healthy tenant."""
    pem = tenant.state.extras["admin_cert"].pem.encode()
    credential = CertificateCredential(tenant.state.tenant_id, ADMIN_APP_ID, certificate_data=pem,
                                       **identity_kw(tenant))
    return credential.get_token(f"{tenant.base_url}/.default").token


# -- request bodies ----------------------------------------------------------------------------------

def _method(path_id: int, grant: Grant, action: bool = False) -> str:
    url, login, value = grant
    where = 'ObjectPathId="1"' if action else 'ParentId="1"'
    return (f'<Method Id="{path_id}" {where} Name="SetSiteAdmin"><Parameters>'
            f'<Parameter Type="String">{url}</Parameter><Parameter Type="String">{login}</Parameter>'
            f'<Parameter Type="Boolean">{str(value).lower()}</Parameter></Parameters></Method>')


def envelope(actions: str, paths: str) -> str:
    return (f'<Request xmlns="{NS}" SchemaVersion="15.0.0.0" LibraryVersion="16.0.0.0" '
            f'ApplicationName="m365-401-agent"><Actions>{actions}</Actions><ObjectPaths>'
            f'<Constructor Id="1" TypeId="{TENANT_TYPE}" />{paths}</ObjectPaths></Request>')


def batch(grants: Iterable[Grant], scoped: bool = True) -> str:
    """The agent's form: for grant k, scope 2+3k around ObjectPath 4+3k on Method path 3+3k."""
    actions, paths = [], []
    for k, grant in enumerate(grants):
        scope, method, action = 2 + 3 * k, 3 + 3 * k, 4 + 3 * k
        inner = f'<ObjectPath Id="{action}" ObjectPathId="{method}" />'
        actions.append(f'<ExceptionHandlingScopeSimple Id="{scope}">{inner}</ExceptionHandlingScopeSimple>'
                       if scoped else inner)
        paths.append(_method(method, grant))
    return envelope("".join(actions), "".join(paths))


def post(tenant: Simulator, body: str, token: str | None = "app",
         path: str = PROCESS_QUERY, digest: str | None = None) -> requests.Response:
    headers = {"Content-Type": "text/xml"}
    if digest is not None:
        headers["X-RequestDigest"] = digest
    if token is not None:
        headers["Authorization"] = f"Bearer {app_token(tenant) if token == 'app' else token}"
    return requests.post(tenant.base_url + path, data=body.encode(), headers=headers, verify=tenant.ca_path,
                         timeout=30)


def url(tenant: Simulator, path: str) -> str:
    return tenant.base_url + path


def is_admin(tenant: Simulator, path: str, login: str = ACCOUNT) -> bool:
    entry = tenant.state.site(path).user_by_login(login)
    return entry is not None and entry.is_site_admin


def pairs(response: requests.Response) -> list[Any]:
    """The (id, result) pairs after the header, which must report no error."""
    body = response.json()
    assert response.status_code == 200 and body[0]["ErrorInfo"] is None, body[0]
    return body[1:]


def scope_results(response: requests.Response) -> dict[int, dict[str, Any]]:
    found = pairs(response)
    return {i: r for i, r in zip(found[::2], found[1::2], strict=True) if "HasException" in r}


def csom_log(tenant: Simulator) -> list[dict[str, Any]]:
    return [e for e in tenant.log if e["path"].lower() == PROCESS_QUERY.lower()]


def csom_ops(tenant: Simulator) -> list[str]:
    return [op for e in csom_log(tenant) for op in e["ops"]]


def error_info(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert len(body) == 1, "an error answers the header alone"
    info: dict[str, Any] = body[0]["ErrorInfo"]
    assert info["TraceCorrelationId"] == body[0]["TraceCorrelationId"]
    return info


# -- grants and revokes ------------------------------------------------------------------------------

def test_grant_two_onedrives_in_one_request(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    assert not is_admin(tenant, onedrive(1)) and tenant.state.site(onedrive(1)).user_by_login(ACCOUNT) is None
    response = post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT, True),
                                   (url(tenant, onedrive(2)), ACCOUNT, True)]))
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    header = response.json()[0]
    assert (header["SchemaVersion"], header["LibraryVersion"]) == ("15.0.0.0", "16.0.0.0")
    assert pairs(response) == [4, {"IsNull": False}, 2, OK, 7, {"IsNull": False}, 5, OK]
    assert is_admin(tenant, onedrive(1)) and is_admin(tenant, onedrive(2))
    assert csom_ops(tenant) == [f"tenant-set-site-admin {onedrive(n)}" for n in (1, 2)]


def test_a_form_digest_sent_along_must_be_one_contextinfo_issued(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    grant = batch([(url(tenant, onedrive(1)), ACCOUNT, True)])
    forged = "0x" + "AB" * 64 + ",Wed, 25 Nov 2026 12:00:00 GMT"
    refused = post(tenant, grant, digest=forged)
    assert refused.status_code == 403 and error_info(refused)["ErrorCode"] == -2130575251
    assert "security validation" in error_info(refused)["ErrorMessage"] and not is_admin(tenant, onedrive(1))
    auth = {"Authorization": f"Bearer {app_token(tenant)}", "Accept": "application/json"}
    info = requests.post(f"{tenant.base_url}/_api/contextinfo", verify=tenant.ca_path, timeout=30,
                         headers=auth)
    digest = info.json()["FormDigestValue"]  # application/json: the flat (nometadata) shape
    assert scope_results(post(tenant, grant, digest=digest)) == {2: OK} and is_admin(tenant, onedrive(1))


def test_bare_upn_revoke_then_revoke_again_is_a_no_op(tenant: Simulator) -> None:
    assert is_admin(tenant, onedrive(1))  # healthy tenant: the account administers every OneDrive
    assert scope_results(post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT_UPN, False)]))) == {2: OK}
    assert not is_admin(tenant, onedrive(1))
    assert scope_results(post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT_UPN, False)]))) == {2: OK}
    assert [e["wrote"] for e in csom_log(tenant)] == [True, False]


def test_already_admin_records_no_write(tenant: Simulator) -> None:
    response = post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT, True)]))
    assert scope_results(response) == {2: OK} and is_admin(tenant, onedrive(1))
    assert [(e["status"], e["wrote"]) for e in csom_log(tenant)] == [(200, False)]


def test_host_is_ignored_and_case_does_not_matter(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    site_url = "https://contoso-my.sharepoint.com" + onedrive(3).upper()
    response = post(tenant, batch([(site_url, ACCOUNT.upper(), True)]), path=PROCESS_QUERY.upper())
    assert scope_results(response) == {2: OK} and is_admin(tenant, onedrive(3))


def test_method_action_and_tenant_object_path_forms(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    actions = ('<ObjectPath Id="2" ObjectPathId="1" />'
               + _method(3, (url(tenant, onedrive(4)), ACCOUNT, True), action=True))
    assert pairs(post(tenant, envelope(actions, ""))) == [2, {"IsNull": False}]  # a void method: no pair
    assert is_admin(tenant, onedrive(4))


# -- failures inside scopes ---------------------------------------------------------------------------

def test_missing_site_fails_its_scope_only(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    response = post(tenant, batch([(url(tenant, "/personal/nobody_contoso_onmicrosoft_com"), ACCOUNT, True),
                                   (url(tenant, onedrive(2)), ACCOUNT, True)]))
    scopes = scope_results(response)
    assert scopes[5] == OK and is_admin(tenant, onedrive(2))
    missing = url(tenant, "/personal/nobody_contoso_onmicrosoft_com")
    assert scopes[2] == {"HasException": True, "ErrorMessage": f"Cannot get site {missing}.",
                         "ServerErrorCode": -1, "ServerErrorValue": None,
                         "ServerErrorTypeName": "Microsoft.Online.SharePoint.Common.SpoNoSiteException",
                         "ServerStackTrace": None}
    assert csom_ops(tenant) == [f"tenant-set-site-admin {onedrive(2)}"]


@pytest.mark.parametrize("login", ["i:0#.f|membership|ghost@contoso.onmicrosoft.com",
                                   "c:0t.c|tenant|00000000-0000-0000-0000-000000000001"])
def test_unknown_user_fails_its_scope(tenant: Simulator, login: str) -> None:
    failed = scope_results(post(tenant, batch([(url(tenant, onedrive(1)), login, True)])))[2]
    assert (failed["HasException"], failed["ServerErrorTypeName"], failed["ServerErrorCode"]) == \
        (True, "Microsoft.SharePoint.SPException", -2146232832)
    assert failed["ErrorMessage"] == f"The specified user {login} could not be found."
    assert csom_ops(tenant) == []


def test_primary_owner_cannot_be_removed(tenant: Simulator) -> None:
    owner = login_name(f"user0001@{INITIAL_DOMAIN}")
    failed = scope_results(post(tenant, batch([(url(tenant, onedrive(1)), owner, False)])))[2]
    assert failed["ErrorMessage"] == "The primary site collection administrator cannot be removed."
    assert failed["ServerErrorTypeName"] == "Microsoft.SharePoint.SPException"
    assert is_admin(tenant, onedrive(1), owner) and csom_ops(tenant) == []


def test_exception_outside_a_scope_stops_the_query(tenant: Simulator) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    response = post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT, True),
                                   (url(tenant, "/personal/nobody"), ACCOUNT, True),
                                   (url(tenant, onedrive(3)), ACCOUNT, True)], scoped=False))
    assert response.status_code == 200
    info = error_info(response)
    assert (info["ErrorTypeName"], info["ErrorCode"], info["ErrorMessage"], info["ErrorValue"]) == \
        ("Microsoft.Online.SharePoint.Common.SpoNoSiteException", -1,
         f"Cannot get site {url(tenant, '/personal/nobody')}.", None)
    assert is_admin(tenant, onedrive(1)) and not is_admin(tenant, onedrive(3))  # not transactional
    assert csom_ops(tenant) == [f"tenant-set-site-admin {onedrive(1)}"]


def test_error_fault_hits_only_the_matching_sites_of_a_large_batch(tenant: Simulator) -> None:
    tenant.reset(users=2000, breaks=["no-onedrive-access"])
    tenant.set_faults({"errors": {"path": "(?i)/personal/(user0007|user0107)_[^/]*/_vti_bin/client.svc/"
                                          "ProcessQuery", "status": 503, "rate": 1.0}})
    response = post(tenant, batch([(url(tenant, onedrive(n)), ACCOUNT, True) for n in range(1, 201)]))
    failed = {i: r for i, r in scope_results(response).items() if r["HasException"]}
    assert sorted(failed) == [2 + 3 * 6, 2 + 3 * 106]  # user0007 and user0107
    for result in failed.values():
        assert result["ServerErrorTypeName"] == "System.Net.WebException"
        assert result["ErrorMessage"] == "The remote server returned an error: (503) Server Unavailable."
    assert [is_admin(tenant, onedrive(n)) for n in (7, 8, 107, 200)] == [False, True, False, True]
    assert len(csom_ops(tenant)) == 198 and f"tenant-set-site-admin {onedrive(107)}" not in csom_ops(tenant)


def test_a_hundred_sites_take_milliseconds(tenant: Simulator) -> None:
    tenant.reset(users=100, breaks=["no-onedrive-access"])
    body = batch([(url(tenant, onedrive(n)), ACCOUNT, True) for n in range(1, 101)])
    token = app_token(tenant)
    started = time.perf_counter()
    assert len(scope_results(post(tenant, body, token=token))) == 100
    assert time.perf_counter() - started < 1.0 and csom_log(tenant)[-1]["duration_ms"] < 100
    assert len(csom_ops(tenant)) == 100


# -- refused requests --------------------------------------------------------------------------------

def _bad_bodies() -> dict[str, str]:
    grant = ("https://x/personal/a", ACCOUNT, True)
    good = batch([grant])
    return {
        "malformed": good[:-12],
        "wrong namespace": good.replace(NS, "http://example.com/ns"),
        "unsupported method": good.replace('Name="SetSiteAdmin"', 'Name="RemoveSite"'),
        "unsupported type": good.replace('Type="Boolean">true', 'Type="Int32">1'),
        "other constructor": good.replace(TENANT_TYPE, "{3747adcd-a3c3-41b9-bfab-4a64dd2f1e0a}"),
        "too few parameters": good.replace('<Parameter Type="Boolean">true</Parameter>', ""),
        "undefined object path": good.replace('ObjectPathId="3"', 'ObjectPathId="99"'),
        "query action": good.replace("<Actions>", '<Actions><Query Id="9" ObjectPathId="1" />'),
        "too many actions": batch([grant] * 1001),
    }


@pytest.mark.parametrize("case", sorted(_bad_bodies()))
def test_invalid_queries_are_400_and_run_nothing(tenant: Simulator, case: str) -> None:
    tenant.reset(breaks=["no-onedrive-access"])
    # a valid grant first: the whole request is checked before any action runs
    body = _bad_bodies()[case].replace("https://x/personal/a", url(tenant, onedrive(1)))
    response = post(tenant, body)
    info = error_info(response)
    assert response.status_code == 400 and (info["ErrorTypeName"], info["ErrorCode"]) == INVALID_QUERY
    assert not is_admin(tenant, onedrive(1)) and csom_ops(tenant) == []


def test_a_thousand_actions_are_allowed(tenant: Simulator) -> None:
    response = post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT, True)] * 1000))
    assert len(scope_results(response)) == 1000


def test_app_without_full_control_is_403(tenant: Simulator) -> None:
    state = tenant.state
    admin_sp, sharepoint = state.service_principal(ADMIN_APP_ID), state.service_principal(SHAREPOINT_APP_ID)
    full = next(a for a in state.app_role_assignments.values()
                if a.principal_id == admin_sp.id and a.resource_id == sharepoint.id)
    state.delete_app_role_assignment(full.id)
    read = sharepoint.role_by_value("Sites.Read.All")
    assert read is not None
    state.assign_app_role(admin_sp.id, sharepoint.id, read.id)
    tenant.clear_log()
    user3 = login_name(f"user0003@{INITIAL_DOMAIN}")
    response = post(tenant, batch([(url(tenant, onedrive(1)), user3, True)]))
    info = error_info(response)
    assert response.status_code == 403
    assert (info["ErrorTypeName"], info["ErrorCode"], info["ErrorMessage"]) == (
        "System.UnauthorizedAccessException", -2147024891,
        "Access denied. You do not have permission to perform this action or access this resource.")
    assert csom_ops(tenant) == []


def test_delegated_user_is_refused_as_the_directory_has_no_admin_roles(tenant: Simulator, ropc: None) -> None:
    password = tenant.state.extras["account_password"]
    credential = UsernamePasswordCredential(PUBLIC_CLIENT_ID, ACCOUNT_UPN, password,
                                            tenant_id=tenant.state.tenant_id, **identity_kw(tenant))
    token = credential.get_token(f"{tenant.base_url}/.default").token
    response = post(tenant, batch([(url(tenant, onedrive(1)), ACCOUNT, True)]), token=token)
    assert response.status_code == 403 and error_info(response)["ErrorCode"] == -2147024891


def test_token_problems_answer_as_the_rest_routes_do(tenant: Simulator) -> None:
    secret = ClientSecretCredential(tenant.state.tenant_id, ADMIN_APP_ID, tenant.state.extras["admin_secret"],
                                    **identity_kw(tenant)).get_token(f"{tenant.base_url}/.default").token
    body = batch([(url(tenant, onedrive(1)), ACCOUNT, False)])
    for token in (None, "not-a-jwt", secret):
        csom = post(tenant, body, token=token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        rest = requests.get(f"{tenant.base_url}/_api/web", headers=headers, verify=tenant.ca_path, timeout=10)
        assert csom.status_code == rest.status_code == 401
        assert csom.headers["x-ms-diagnostics"] == rest.headers["x-ms-diagnostics"]
        assert csom.headers["WWW-Authenticate"] == rest.headers["WWW-Authenticate"]
        assert csom.json() == rest.json()
    assert is_admin(tenant, onedrive(1))
