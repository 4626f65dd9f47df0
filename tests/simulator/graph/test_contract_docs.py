"""Each Graph endpoint the simulator serves, replaying its docs page's example over HTTPS.

Pages: api-reference/v1.0/api/{page}.md in microsoftgraph/microsoft-graph-docs-contrib, i.e.
https://learn.microsoft.com/en-us/graph/api/{page}. Each row gives the request, the documented status, the
properties the example response shows and the tail of its `@odata.context` (None where the example has none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, E3
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP, Tenant
from tests.simulator.graph_wire import app_token, https

ROLES = (
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "LicenseAssignment.ReadWrite.All",
    "Organization.Read.All",
    "Domain.Read.All",
    "GroupMember.Read.All",
)
JSON_TYPE = {"Content-Type": "application/json"}
ASSIGNMENT = {
    "id",
    "appRoleId",
    "createdDateTime",
    "principalDisplayName",
    "principalId",
    "principalType",
    "resourceDisplayName",
    "resourceId",
}
PASSWORD = {
    "customKeyIdentifier",
    "endDateTime",
    "keyId",
    "startDateTime",
    "secretText",
    "hint",
    "displayName",
}
DOMAIN = {
    "id",
    "authenticationType",
    "isAdminManaged",
    "isDefault",
    "isInitial",
    "isRoot",
    "isVerified",
    "supportedServices",
}


def _sp(t: Tenant, app_id: str) -> str:
    sp = t.sp_by_app_id(app_id)
    assert sp is not None
    return sp.id


def _app(t: Tenant) -> str:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    return app.id


def _grant(t: Tenant) -> str:
    return next(a.id for a in t.app_role_assignments.values() if a.app_role_id == FULL_ACCESS_AS_APP)


def _ungranted(t: Tenant) -> dict[str, Any]:
    t.delete_app_role_assignment(_grant(t))
    return {
        "principalId": _sp(t, CONNECTOR_APP_ID),
        "resourceId": _sp(t, EXCHANGE_APP_ID),
        "appRoleId": FULL_ACCESS_AS_APP,
    }


def _uninstalled(t: Tenant) -> dict[str, Any]:
    t.delete_service_principal(_sp(t, CONNECTOR_APP_ID))
    return {"appId": CONNECTOR_APP_ID}


@dataclass(frozen=True)
class Replay:
    page: str
    method: str
    path: Callable[[Tenant], str]
    status: int
    keys: frozenset[str] = frozenset()  # properties the docs' example response shows
    context: str | None = None  # the tail of the example's @odata.context
    body: Callable[[Tenant], Any] | None = None


def replay(
    page: str,
    method: str,
    path: Callable[[Tenant], str],
    status: int,
    keys: set[str] | None = None,
    context: str | None = None,
    body: Callable[[Tenant], Any] | None = None,
) -> Replay:
    return Replay(page, method, path, status, frozenset(keys or ()), context, body)


REPLAYS = [
    replay("application-list", "GET", lambda t: "applications", 200, context="$metadata#applications"),
    replay(
        "application-get",
        "GET",
        lambda t: (
            f"applications(appId='{CONNECTOR_APP_ID}')?$select=id,appId,displayName,requiredResourceAccess"
        ),
        200,
        {"id", "appId", "displayName", "requiredResourceAccess"},
        "$metadata#applications(id,appId,displayName,requiredResourceAccess)/$entity",
    ),
    replay(
        "application-update",
        "PATCH",
        lambda t: f"applications/{_app(t)}",
        204,
        body=lambda t: {"displayName": "New display name"},
    ),
    replay(
        "application-addpassword",
        "POST",
        lambda t: f"applications/{_app(t)}/addPassword",
        200,
        PASSWORD,
        body=lambda t: {"passwordCredential": {"displayName": "Password friendly name"}},
    ),
    replay(
        "application-addpassword",
        "POST",
        lambda t: f"applications(appId='{CONNECTOR_APP_ID}')/addPassword",
        200,
        PASSWORD,
        body=lambda t: {"passwordCredential": {"displayName": "Password friendly name"}},
    ),
    replay(
        "application-removepassword",
        "POST",
        lambda t: f"applications/{_app(t)}/removePassword",
        204,
        body=lambda t: {"keyId": t.applications[_app(t)].password_credentials[0].key_id},
    ),
    replay(
        "serviceprincipal-list",
        "GET",
        lambda t: "servicePrincipals",
        200,
        context="$metadata#servicePrincipals",
    ),
    replay(
        "serviceprincipal-post-serviceprincipals",
        "POST",
        lambda t: "servicePrincipals",
        201,
        {"id", "appId", "displayName"},
        "$metadata#servicePrincipals/$entity",
        _uninstalled,
    ),
    replay(
        "serviceprincipal-get",
        "GET",
        lambda t: f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID)}",
        200,
        {"id", "appId", "displayName", "appRoles"},
        "$metadata#servicePrincipals/$entity",
    ),
    replay(
        "serviceprincipal-delete", "DELETE", lambda t: f"servicePrincipals(appId='{CONNECTOR_APP_ID}')", 204
    ),
    replay(
        "serviceprincipal-list-approleassignments",
        "GET",
        lambda t: f"servicePrincipals/{_sp(t, CONNECTOR_APP_ID)}/appRoleAssignments",
        200,
        context="$metadata#appRoleAssignments",
    ),
    replay(
        "serviceprincipal-delete-approleassignments",
        "DELETE",
        lambda t: f"servicePrincipals/{_sp(t, CONNECTOR_APP_ID)}/appRoleAssignments/{_grant(t)}",
        204,
    ),
    replay(
        "serviceprincipal-list-approleassignedto",
        "GET",
        lambda t: f"servicePrincipals(appId='{EXCHANGE_APP_ID}')/appRoleAssignedTo",
        200,
        context="/appRoleAssignedTo",
    ),
    replay(
        "serviceprincipal-post-approleassignedto",
        "POST",
        lambda t: f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID)}/appRoleAssignedTo",
        201,
        ASSIGNMENT,
        "/appRoleAssignedTo/$entity",
        _ungranted,
    ),
    replay(
        "serviceprincipal-delete-approleassignedto",
        "DELETE",
        lambda t: f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID)}/appRoleAssignedTo/{_grant(t)}",
        204,
    ),
    replay("user-list", "GET", lambda t: "users", 200, context="$metadata#users"),
    replay(
        "user-get",
        "GET",
        lambda t: f"users/{ACCOUNT_UPN}",
        200,
        {
            "businessPhones",
            "displayName",
            "givenName",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName",
            "id",
        },
        "$metadata#users/$entity",
    ),
    replay(
        "user-update", "PATCH", lambda t: f"users/{ACCOUNT_UPN}", 204, body=lambda t: {"usageLocation": "US"}
    ),
    replay(
        "user-assignlicense",
        "POST",
        lambda t: f"users/{ACCOUNT_UPN}/assignLicense",
        200,
        {"id"},
        body=lambda t: {"addLicenses": [{"disabledPlans": [], "skuId": E3}], "removeLicenses": []},
    ),
    replay("group-list-members", "GET", lambda t: _group(t), 200, context="$metadata#directoryObjects"),
    replay("subscribedsku-list", "GET", lambda t: "subscribedSkus", 200, context="$metadata#subscribedSkus"),
    replay("domain-list", "GET", lambda t: "domains", 200, context="$metadata#domains"),
    replay("domain-get", "GET", lambda t: "domains/contoso.com", 200, DOMAIN, "$metadata#domains/$entity"),
]


def _group(t: Tenant) -> str:
    t.groups["g1"] = [t.user(ACCOUNT_UPN).id]
    return "groups/g1/members"


@pytest.mark.parametrize("row", REPLAYS, ids=lambda r: f"{r.page} {r.method}")
def test_docs_example_replayed(tenant: Simulator, row: Replay) -> None:
    state = tenant.state
    body = row.body(state) if row.body else None
    with https(tenant, app_token(tenant, *ROLES)) as client:
        answer = client.request(
            row.method, "/" + row.path(state), json=body, headers=JSON_TYPE if body else {}
        )
    assert answer.status_code == row.status, answer.text
    assert "request-id" in answer.headers and "client-request-id" in answer.headers
    if row.status == 204:
        assert answer.content == b""
        return
    payload = answer.json()
    assert row.keys <= set(payload)
    if row.context is not None:
        assert payload["@odata.context"].startswith(f"{tenant.base_url}/v1.0/")
        assert payload["@odata.context"].endswith(row.context)
    if "value" in payload:
        assert isinstance(payload["value"], list) and payload["value"]


def test_a_documented_404_has_the_error_shape(tenant: Simulator) -> None:
    """user-get.md: "If a user with the ID doesn't exist, this method returns a 404 Not Found"."""
    with https(tenant, app_token(tenant, "User.Read.All")) as client:
        answer = client.get("/users/nobody@contoso.onmicrosoft.com", headers={"client-request-id": "mine"})
    assert answer.status_code == 404 and answer.headers["client-request-id"] == "mine"
    error = answer.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["innerError"]["client-request-id"] == "mine"
