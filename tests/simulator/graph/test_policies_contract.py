"""Conditional Access over HTTPS: the documented policy shape, PATCH body and permissions, memberships, and
how the simulated sign-in applies groups, roles, client app types and grant controls.

Docs followed: api-reference/v1.0/api/conditionalaccesspolicy-get.md, conditionalaccesspolicy-update.md (and
includes/permissions/conditionalaccesspolicy-update-permissions.md), user-list-transitivememberof.md,
https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-users-groups.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
import requests
from azure.identity import ClientSecretCredential

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ADMIN_APP_ID, TENANT_ID
from agent.simulator.state.policies import EXCHANGE_ADMIN_ROLE
from agent.simulator.state.tenant import GRAPH_APP_ID, ConditionalAccessPolicy, Tenant

TENANT = "contoso.onmicrosoft.com"
EXO = "https://outlook.office365.com/.default"
POLICIES = "/v1.0/identity/conditionalAccess/policies"


def admin_token(sim: Simulator) -> str:
    """A fresh app-only Graph token for the admin app (roles are fixed when a token is issued)."""
    cred = ClientSecretCredential(TENANT_ID, ADMIN_APP_ID, sim.state.extras["admin_secret"],
                                  authority=sim.base_url, disable_instance_discovery=True,
                                  connection_verify=sim.ca_path)
    return cred.get_token("https://graph.microsoft.com/.default").token


def graph(sim: Simulator, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {admin_token(sim)}"}
    return httpx.request(method, sim.base_url + path, json=body, headers=headers,
                         verify=ssl.create_default_context(cafile=sim.ca_path), timeout=10)


def revoke(t: Tenant, *values: str) -> None:
    admin, graph_sp = t.sp_by_app_id(ADMIN_APP_ID), t.sp_by_app_id(GRAPH_APP_ID)
    assert admin is not None and graph_sp is not None
    ids = {r.id for r in graph_sp.app_roles if r.value in values}
    for grant in [g for g in t.app_role_assignments.values() if g.principal_id == admin.id]:
        if grant.app_role_id in ids:
            t.delete_app_role_assignment(grant.id)


def ropc(sim: Simulator, **extra: str) -> dict[str, Any]:
    """The raw password grant (token endpoint form), as a connector sends it."""
    x = sim.state.extras
    form = {"grant_type": "password", "client_id": x["public_client_id"], "username": x["account_upn"],
            "password": x["account_password"], "scope": EXO, **extra}
    reply = requests.post(f"{sim.base_url}/{TENANT}/oauth2/v2.0/token", data=form, verify=sim.ca_path,
                          timeout=10)
    return dict(reply.json())


def codes(sim: Simulator, **extra: str) -> list[int]:
    return list(ropc(sim, **extra).get("error_codes") or [])


# -- GET: the full documented shape ---------------------------------------------------------------------
def test_get_returns_every_documented_condition_and_control(tenant: Simulator) -> None:
    """conditionalaccesspolicy-get.md: conditions (users with roles and guests, applications with user
    actions and authentication contexts, clientAppTypes, platforms, locations, risk levels), grantControls
    with authenticationStrength, sessionControls."""
    pid = str(tenant.state.extras["strength_policy_id"])
    body = graph(tenant, "GET", f"{POLICIES}/{pid}").json()
    cond = body["conditions"]
    assert {"signInRiskLevels", "userRiskLevels", "servicePrincipalRiskLevels", "clientAppTypes", "platforms",
            "locations", "applications", "users"} <= set(cond)
    assert {"includeRoles", "excludeRoles", "includeGuestsOrExternalUsers",
            "excludeGuestsOrExternalUsers"} <= set(cond["users"])
    assert {"includeUserActions", "includeAuthenticationContextClassReferences"} <= set(cond["applications"])
    grant = body["grantControls"]
    assert grant["operator"] == "OR" and grant["authenticationStrength"]["id"].endswith("000000000004")
    assert "sessionControls" in body


def test_list_shows_role_and_location_scoped_policies(tenant: Simulator) -> None:
    x = tenant.state.extras
    items = {p["id"]: p for p in graph(tenant, "GET", POLICIES).json()["value"]}
    assert EXCHANGE_ADMIN_ROLE in items[x["role_policy_id"]]["conditions"]["users"]["includeRoles"]
    assert items[x["location_policy_id"]]["conditions"]["locations"] == {
        "includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}


# -- PATCH: the documented body, collections replaced, permissions ---------------------------------------
def test_patch_accepts_the_docs_example_and_keeps_the_rest(tenant: Simulator) -> None:
    """conditionalaccesspolicy-update.md example body: conditions.signInRiskLevels -> 204."""
    pid = str(tenant.state.extras["mfa_policy_id"])
    before = tenant.state.ca_policy(pid).exclude_users
    reply = graph(tenant, "PATCH", f"{POLICIES}/{pid}",
                  {"conditions": {"signInRiskLevels": ["high", "medium", "low"]}})
    assert reply.status_code == 204
    got = graph(tenant, "GET", f"{POLICIES}/{pid}").json()["conditions"]
    assert got["signInRiskLevels"] == ["high", "medium", "low"] and got["users"]["excludeUsers"] == before


def test_patch_collections_replace_the_stored_ones(tenant: Simulator) -> None:
    pid = str(tenant.state.extras["role_policy_id"])
    body = {"conditions": {"users": {"includeRoles": [EXCHANGE_ADMIN_ROLE], "excludeUsers": []},
                           "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS"]}},
            "grantControls": {"operator": "OR", "builtInControls": [],
                              "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000002"}}}
    assert graph(tenant, "PATCH", f"{POLICIES}/{pid}", body).status_code == 204
    policy = tenant.state.ca_policy(pid)
    assert policy.include_roles == [EXCHANGE_ADMIN_ROLE] and policy.exclude_users == []
    assert policy.platforms == {"includePlatforms": ["all"], "excludePlatforms": ["iOS"]}
    assert policy.built_in_controls == [] and policy.authentication_strength is not None


@pytest.mark.parametrize("body", [
    {"conditions": {"clientAppTypes": ["fax"]}},
    {"conditions": {"signInRiskLevels": "high"}},
    {"conditions": {"users": {"includeSomeone": []}}},
    {"grantControls": {"authenticationStrength": {"id": "not-a-strength"}}},
    {"colour": "red"},
])
def test_patch_refuses_what_the_schema_does_not_allow(tenant: Simulator, body: dict[str, Any]) -> None:
    pid = str(tenant.state.extras["mfa_policy_id"])
    reply = graph(tenant, "PATCH", f"{POLICIES}/{pid}", body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "BadRequest"
    assert tenant.state.ops == []


def test_patch_needs_application_read_all_too(tenant: Simulator) -> None:
    """The update permission table lists Policy.Read.All, Policy.ReadWrite.ConditionalAccess and
    Application.Read.All together."""
    pid = str(tenant.state.extras["mfa_policy_id"])
    revoke(tenant.state, "Application.ReadWrite.All")
    reply = graph(tenant, "PATCH", f"{POLICIES}/{pid}", {"conditions": {"users": {"excludeUsers": []}}})
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "Authorization_RequestDenied"
    assert graph(tenant, "GET", f"{POLICIES}/{pid}").status_code == 200  # reading does not need it


# -- transitiveMemberOf ------------------------------------------------------------------------------------
def test_transitive_member_of_lists_nested_groups_and_roles(tenant: Simulator) -> None:
    """user-list-transitivememberof.md: groups (nested too) and directory roles, as directoryObjects."""
    t = tenant.state
    account = t.user(str(t.extras["account_upn"])).id
    t.add_group_member(str(t.extras["mfa_group_id"]), account)
    t.assign_directory_role(EXCHANGE_ADMIN_ROLE, account)
    items = graph(tenant, "GET", f"/v1.0/users/{account}/transitiveMemberOf").json()["value"]
    groups = {i["id"] for i in items if i["@odata.type"] == "#microsoft.graph.group"}
    assert groups == {t.extras["mfa_group_id"], t.extras["mfa_pilot_group_id"]}
    [role] = [i for i in items if i["@odata.type"] == "#microsoft.graph.directoryRole"]
    assert role["roleTemplateId"] == EXCHANGE_ADMIN_ROLE and role["id"] != EXCHANGE_ADMIN_ROLE


def test_transitive_member_of_without_role_read_hides_role_details(tenant: Simulator) -> None:
    """Limited information for inaccessible member objects: type and id only
    (https://learn.microsoft.com/en-us/graph/permissions-overview)."""
    t = tenant.state
    account = t.user(str(t.extras["account_upn"])).id
    t.assign_directory_role(EXCHANGE_ADMIN_ROLE, account)
    revoke(t, "RoleManagement.Read.Directory")
    [role] = graph(tenant, "GET", f"/v1.0/users/{account}/transitiveMemberOf").json()["value"]
    assert set(role) == {"@odata.type", "id"}


# -- the simulated sign-in ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["group", "role", "strength", "location"])
def test_each_scoping_stops_the_password_sign_in(tenant: Simulator, variant: str) -> None:
    """Healthy, the account signs in; once a policy scopes it (nested group, directory role, an
    authentication-strength grant, a location condition the simulator takes as met), ROPC gets 50076."""
    assert "access_token" in ropc(tenant)
    tenant.reset(users=20, breaks=[f"mfa-blocks-service-account:{variant}"])
    assert codes(tenant) == [50076]


def test_an_excluded_group_overrides_an_included_one(tenant: Simulator) -> None:
    t = tenant.state
    account = t.user(str(t.extras["account_upn"])).id
    t.add_group_member(str(t.extras["mfa_group_id"]), account)
    pilot = t.ca_policy(str(t.extras["group_policy_id"]))
    pilot.exclude_groups = [str(t.extras["mfa_group_id"])]
    assert "access_token" in ropc(tenant)


def test_client_app_type_of_a_password_grant(tenant: Simulator) -> None:
    """A public client is a desktop client; a confidential client counts as browser."""
    t = tenant.state
    browser = ConditionalAccessPolicy("b", "Browser only", "enabled", include_users=["All"],
                                      client_app_types=["browser"])
    t.ca_policies[browser.id] = browser
    assert "access_token" in ropc(tenant)
    t.application(str(t.extras["connector_app_id"])).public_client = False
    confidential = {"client_id": str(t.extras["connector_app_id"]),
                    "client_secret": str(t.extras["connector_secret"])}
    assert codes(tenant, **confidential) == [50076]


def test_a_device_control_cannot_be_met_by_a_password_sign_in(tenant: Simulator) -> None:
    t = tenant.state
    device = ConditionalAccessPolicy("d", "Compliant devices", "enabled", include_users=["All"],
                                     built_in_controls=["compliantDevice"])
    t.ca_policies[device.id] = device
    assert codes(tenant) == [53003]
