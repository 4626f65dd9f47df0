"""What an admin set-up run needs from the simulated tenant: device code sign-in, app creation, discovery.

Pages followed: entra-docs identity-platform/v2-oauth2-device-code.md (the /devicecode answer, the
`authorization_pending` poll), identity/conditional-access/policy-block-authentication-flows.md with
reference-error-codes.md (53003); microsoft-graph-docs-contrib api-reference/v1.0/api/
application-post-applications.md, application-upsert.md, application-delete.md,
federatedidentitycredential-post.md / -delete.md, application-list-federatedidentitycredentials.md,
organization-list.md, user-get.md, user-list-transitivememberof.md, rbacapplication-list-roleassignments.md
and includes/rbac-for-apis/rbac-application-apis-write.md (the admin role a delegated write needs).
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from azure.identity import CertificateCredential, DeviceCodeCredential

from agent.simulator import Simulator
from agent.simulator.graph.roles import APPLICATION_ADMIN, GLOBAL_ADMIN
from agent.simulator.identity.consent import AZURE_CLI_APP_ID
from agent.simulator.identity.device import DEVICE_GRANT, INTERVAL_KEY
from agent.simulator.scenarios.contoso import make_certificate
from agent.simulator.scenarios.init import admin_without_role, block_device_code
from agent.simulator.state.tenant import GRAPH_APP_ID, SHAREPOINT_APP_ID
from tests.simulator.conftest import TENANT

GRAPH = "https://graph.microsoft.com/.default"
ADMIN = "admin@contoso.onmicrosoft.com"
INIT_SCOPES = {"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All",
               "RoleManagement.Read.Directory", "User.Read"}


def _post(sim: Simulator, path: str, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{sim.base_url}/{TENANT}/oauth2/v2.0/{path}", data=form, verify=sim.ca_path,
                         timeout=10)


def _device_flow(sim: Simulator, scope: str = GRAPH) -> dict[str, Any]:
    response = _post(sim, "devicecode", {"client_id": AZURE_CLI_APP_ID, "scope": scope})
    assert response.status_code == 200
    return dict(response.json())


def _poll(sim: Simulator, device_code: str) -> requests.Response:
    return _post(sim, "token", {"grant_type": DEVICE_GRANT, "client_id": AZURE_CLI_APP_ID,
                                "device_code": device_code})


def _admin_token(sim: Simulator) -> str:
    flow = _device_flow(sim)
    assert _poll(sim, flow["device_code"]).status_code == 400  # pending, once
    response = _poll(sim, flow["device_code"])
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _graph(sim: Simulator, method: str, path: str, token: str, body: Any = None,
           headers: dict[str, str] | None = None) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/v1.0/{path}", json=body, verify=sim.ca_path, timeout=10,
                            headers={"Authorization": f"Bearer {token}", **(headers or {})})


def test_devicecode_answers_the_documented_fields(tenant: Simulator) -> None:
    flow = _device_flow(tenant)
    assert {"device_code", "user_code", "verification_uri", "expires_in", "interval", "message"} <= set(flow)
    assert flow["expires_in"] == 900 and flow["user_code"] in flow["message"]
    assert "verification_uri_complete" not in flow  # "not included or supported at this time"


def test_first_poll_is_pending_then_the_admin_token_carries_scp_and_wids(tenant: Simulator) -> None:
    flow = _device_flow(tenant)
    pending = _poll(tenant, flow["device_code"])
    body = pending.json()
    assert pending.status_code == 400 and body["error"] == "authorization_pending"
    assert body["error_codes"] == [70016]
    granted = _poll(tenant, flow["device_code"])
    assert granted.status_code == 200 and granted.json()["token_type"] == "Bearer"
    claims = _claims(granted.json()["access_token"])
    assert claims["upn"] == ADMIN and set(claims["scp"].split()) >= INIT_SCOPES
    assert claims["wids"] == [GLOBAL_ADMIN] and claims["aud"] == "https://graph.microsoft.com"
    again = _poll(tenant, flow["device_code"])  # a device_code is redeemed once
    assert again.status_code == 400 and again.json()["error"] == "bad_verification_code"


def test_device_code_needs_client_id_and_scope(tenant: Simulator) -> None:
    response = _post(tenant, "devicecode", {"client_id": AZURE_CLI_APP_ID})
    assert response.status_code == 400 and response.json()["error_codes"] == [900144]
    nobody = "00000000-0000-0000-0000-0000000000aa"
    unknown = _post(tenant, "devicecode", {"client_id": nobody, "scope": GRAPH})
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [700016]


def test_blocked_tenant_refuses_device_code_sign_in(tenant: Simulator) -> None:
    block_device_code(tenant.state)
    flow = _device_flow(tenant)
    assert _poll(tenant, flow["device_code"]).json()["error"] == "authorization_pending"
    blocked = _poll(tenant, flow["device_code"])
    body = blocked.json()
    assert blocked.status_code == 400 and body["error"] == "invalid_grant" and body["error_codes"] == [53003]


def test_blocked_tenant_is_a_scenario_switch(tenant: Simulator) -> None:
    try:
        tenant.apply_scenario({"users": 20, "switch": ["device-code-blocked", "admin-without-role"]})
        flow = _device_flow(tenant)
        _poll(tenant, flow["device_code"])
        assert _poll(tenant, flow["device_code"]).json()["error_codes"] == [53003]
        with pytest.raises(ValueError, match="unknown switch"):
            tenant.apply_scenario({"switch": ["nope"]})
    finally:
        tenant.reset(users=20)


def test_admin_without_a_role_gets_403_on_app_creation(tenant: Simulator) -> None:
    admin_without_role(tenant.state)
    token = _admin_token(tenant)
    assert "wids" in _claims(token) and _claims(token)["wids"] == []
    response = _graph(tenant, "POST", "applications", token, {"displayName": "m365-401-agent"})
    error = response.json()["error"]
    assert response.status_code == 403 and error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."
    upsert = _graph(tenant, "PATCH", "applications(uniqueName='m365-401-agent')", token,
                    {"displayName": "m365-401-agent"}, {"Prefer": "create-if-missing"})
    assert upsert.status_code == 403
    roles = _graph(tenant, "GET", "me/transitiveMemberOf/microsoft.graph.directoryRole", token).json()
    assert roles["value"] == []


def test_upsert_creates_then_updates(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    path = "applications(uniqueName='m365-401-agent')"
    missing = _graph(tenant, "PATCH", path, token, {"displayName": "m365-401-agent"})
    assert missing.status_code == 404  # no Prefer header: an update of nothing
    first = {"displayName": "m365-401-agent", "tags": ["m365-401-agent"]}
    created = _graph(tenant, "PATCH", path, token, first, {"Prefer": "create-if-missing"})
    body = created.json()
    assert created.status_code == 201 and body["uniqueName"] == "m365-401-agent" and body["appId"]
    assert body["@odata.context"].endswith("$metadata#applications/$entity")
    assert body["tags"] == ["m365-401-agent"]
    updated = _graph(tenant, "PATCH", path, token, {"displayName": "renamed", "notes": "n"},
                     {"Prefer": "create-if-missing"})
    assert updated.status_code == 204 and not updated.content
    app = tenant.state.applications[body["id"]]
    assert app.display_name == "renamed" and app.props["notes"] == "n"
    assert sum(1 for a in tenant.state.applications.values() if a.unique_name == "m365-401-agent") == 1
    assert _graph(tenant, "DELETE", f"applications/{body['id']}", token).status_code == 204
    assert body["id"] not in tenant.state.applications


def test_create_application_validates_its_body(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    assert _graph(tenant, "POST", "applications", token, {"tags": []}).status_code == 400  # no displayName
    secret = {"displayName": "x", "passwordCredentials": [{"displayName": "s"}]}
    assert _graph(tenant, "POST", "applications", token, secret).status_code == 400
    created = _graph(tenant, "POST", "applications", token, {"displayName": "x"})
    assert created.status_code == 201 and created.json()["id"] and created.json()["appId"]


def test_federated_identity_credentials_create_list_delete(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    app = _graph(tenant, "POST", "applications", token, {"displayName": "fic"}).json()
    path = f"applications/{app['id']}/federatedIdentityCredentials"
    fic = {"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
           "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
    created = _graph(tenant, "POST", path, token, fic)
    assert created.status_code == 201 and created.json()["subject"] == fic["subject"] and created.json()["id"]
    assert _graph(tenant, "POST", path, token, fic).status_code == 409  # the name is unique per app
    assert _graph(tenant, "POST", path, token, {**fic, "name": "no-aud", "audiences": []}).status_code == 400
    listed = _graph(tenant, "GET", path, token).json()["value"]
    assert [f["name"] for f in listed] == ["github-main"]
    assert _graph(tenant, "DELETE", f"{path}/github-main", token).status_code == 204
    assert _graph(tenant, "GET", path, token).json()["value"] == []


def test_organization_and_me_shapes(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    org = _graph(tenant, "GET", "organization", token).json()["value"][0]
    assert org["id"] == tenant.state.tenant_id and org["displayName"] and org["countryLetterCode"] == "US"
    initial = [d for d in org["verifiedDomains"] if d["isInitial"]]
    assert [d["name"] for d in initial] == [TENANT]
    me = _graph(tenant, "GET", "me", token).json()
    assert me["userPrincipalName"] == ADMIN and me["id"] == _claims(token)["oid"]
    cast = "me/transitiveMemberOf/microsoft.graph.directoryRole"
    roles = _graph(tenant, "GET", cast, token).json()["value"]
    assert [r["roleTemplateId"] for r in roles] == [GLOBAL_ADMIN]
    query = f"roleManagement/directory/roleAssignments?$filter=principalId eq '{me['id']}'"
    assigned = _graph(tenant, "GET", query, token).json()["value"]
    assert [a["roleDefinitionId"] for a in assigned] == [GLOBAL_ADMIN]
    site = _graph(tenant, "GET", "sites/root?$select=webUrl,siteCollection", token)
    assert site.status_code == 200 and site.json()["webUrl"] == tenant.base_url


def test_me_refuses_app_only_tokens(tenant: Simulator) -> None:
    x = tenant.state.extras
    form = {"grant_type": "client_credentials", "client_id": str(x["admin_app_id"]),
            "client_secret": str(x["admin_secret"]), "scope": GRAPH}
    token = _post(tenant, "token", form).json()["access_token"]
    response = _graph(tenant, "GET", "me", token)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"


def test_created_app_with_a_certificate_signs_in(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    token = _admin_token(trust)
    cert = make_certificate("m365-401-agent")
    body = {"displayName": "m365-401-agent", "keyCredentials": [
        {"type": "AsymmetricX509Cert", "usage": "Verify", "key": cert.key_b64}]}
    app = _graph(trust, "PATCH", "applications(uniqueName='m365-401-agent')", token, body,
                 {"Prefer": "create-if-missing"}).json()
    sp = _graph(trust, "POST", "servicePrincipals", token, {"appId": app["appId"]}).json()
    graph_sp = _graph(trust, "GET", f"servicePrincipals(appId='{GRAPH_APP_ID}')", token).json()
    role = next(r for r in graph_sp["appRoles"] if r["value"] == "User.Read.All")
    grant = _graph(trust, "POST", f"servicePrincipals/{graph_sp['id']}/appRoleAssignedTo", token,
                   {"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": role["id"]})
    assert grant.status_code == 201, grant.text
    credential = CertificateCredential(trust.state.tenant_id, app["appId"],
                                       certificate_data=cert.pem.encode(), **cred_kw)
    claims = _claims(credential.get_token(GRAPH).token)
    assert claims["roles"] == ["User.Read.All"] and claims["appidacr"] == "2"
    users = _graph(trust, "GET", "users?$top=1", credential.get_token(GRAPH).token)
    assert users.status_code == 200


def test_device_code_credential_signs_the_admin_in(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    trust.state.extras[INTERVAL_KEY] = 1  # keep the test quick; the wire default is 5 s
    prompts: list[tuple[str, str]] = []
    credential = DeviceCodeCredential(tenant_id=trust.state.tenant_id,
                                      prompt_callback=lambda uri, code, expires: prompts.append((uri, code)),
                                      timeout=30, **cred_kw)
    started = time.monotonic()
    token = credential.get_token(GRAPH)
    claims = _claims(token.token)
    assert claims["upn"] == ADMIN and set(claims["scp"].split()) >= INIT_SCOPES
    assert claims["appid"] == AZURE_CLI_APP_ID and claims["wids"] == [GLOBAL_ADMIN]
    assert len(prompts) == 1 and prompts[0][0] == "https://microsoft.com/devicelogin"
    assert time.monotonic() - started >= 1  # the pending answer made the client wait one interval
    me = _graph(trust, "GET", "me", token.token).json()
    assert me["userPrincipalName"] == ADMIN


def test_application_administrator_creates_but_cannot_grant_graph_roles(tenant: Simulator) -> None:
    """rbac-approleassignments-apis-write.md: Graph's app roles need Privileged Role Administrator."""
    t = tenant.state
    admin_without_role(t)
    t.assign_directory_role(APPLICATION_ADMIN, t.user(ADMIN).id)
    token = _admin_token(tenant)
    assert _claims(token)["wids"] == [APPLICATION_ADMIN]
    app = _graph(tenant, "POST", "applications", token, {"displayName": "m365-401-agent"}).json()
    sp = _graph(tenant, "POST", "servicePrincipals", token, {"appId": app["appId"]})
    assert sp.status_code == 201
    for resource_app, value, status in ((GRAPH_APP_ID, "User.Read.All", 403),
                                        (SHAREPOINT_APP_ID, "Sites.FullControl.All", 201)):
        resource = _graph(tenant, "GET", f"servicePrincipals(appId='{resource_app}')", token).json()
        role = next(r for r in resource["appRoles"] if r["value"] == value)
        body = {"principalId": sp.json()["id"], "resourceId": resource["id"], "appRoleId": role["id"]}
        grant = _graph(tenant, "POST", f"servicePrincipals/{resource['id']}/appRoleAssignedTo", token, body)
        assert grant.status_code == status, (value, grant.text)


def test_a_member_without_a_role_cannot_create_a_service_principal(tenant: Simulator) -> None:
    """rbac-serviceprincipal-apis-create-update-upsert.md: Application or Cloud Application Administrator."""
    t = tenant.state
    token = _admin_token(tenant)
    app = _graph(tenant, "POST", "applications", token, {"displayName": "m365-401-agent"}).json()
    admin_without_role(t)
    refused = _graph(tenant, "POST", "servicePrincipals", token, {"appId": app["appId"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
