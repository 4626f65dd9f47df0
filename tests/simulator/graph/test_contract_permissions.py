"""Graph permissions as the docs' tables give them, for application and delegated tokens.

Tables: api-reference/v1.0/includes/permissions/*-permissions.md in
microsoftgraph/microsoft-graph-docs-contrib (the learn.microsoft.com pages' "Permissions" sections).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP, Tenant
from tests.simulator.graph_wire import app_token, https, sdk, user_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
UNRELATED = "Mail.ReadWrite"


def _exo(t: Tenant) -> str:
    sp = t.sp_by_app_id(EXCHANGE_APP_ID)
    assert sp is not None
    return sp.id


def _connector(t: Tenant) -> str:
    sp = t.sp_by_app_id(CONNECTOR_APP_ID)
    assert sp is not None
    return sp.id


def _app(t: Tenant) -> str:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    return app.id


# (docs table, method, path, least privileged application permission)
TABLE: list[tuple[str, str, Callable[[Tenant], str], str]] = [
    ("application-list", "GET", lambda t: "applications", "Application.Read.All"),
    ("application-get", "GET", lambda t: f"applications/{_app(t)}", "Application.Read.All"),
    ("serviceprincipal-list", "GET", lambda t: "servicePrincipals", "Application.Read.All"),
    ("serviceprincipal-get", "GET", lambda t: f"servicePrincipals/{_exo(t)}", "Application.Read.All"),
    (
        "serviceprincipal-list-approleassignedto",
        "GET",
        lambda t: f"servicePrincipals/{_exo(t)}/appRoleAssignedTo",
        "Application.Read.All",
    ),
    (
        "serviceprincipal-list-approleassignments",
        "GET",
        lambda t: f"servicePrincipals/{_connector(t)}/appRoleAssignments",
        "Application.Read.All",
    ),
    ("user-list", "GET", lambda t: "users", "User.Read.All"),
    ("user-get", "GET", lambda t: f"users/{ACCOUNT_UPN}", "User.Read.All"),
    ("group-list-members", "GET", lambda t: "groups/none/members", "GroupMember.Read.All"),
    ("subscribedsku-list", "GET", lambda t: "subscribedSkus", "Organization.Read.All"),
    ("domain-list", "GET", lambda t: "domains", "Domain.Read.All"),
    ("site-get", "GET", lambda t: "sites/root", "Sites.Read.All"),
    ("drive-get", "GET", lambda t: "users/user0001@contoso.onmicrosoft.com/drive", "Files.Read.All"),
]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r[0])
def test_least_privileged_application_permission_is_enough_and_an_unrelated_one_is_not(
    tenant: Simulator, row: tuple[str, str, Callable[[Tenant], str], str]
) -> None:
    _, method, path, least = row
    target = "/" + path(tenant.state)
    with https(tenant, app_token(tenant, UNRELATED)) as client:
        refused = client.request(method, target)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    with https(tenant, app_token(tenant, least)) as client:
        assert client.request(method, target).status_code != 403


def test_directory_read_all_reads_users_and_service_principals(tenant: Simulator) -> None:
    """user-list and serviceprincipal-list tables: Directory.Read.All is a higher application permission."""
    with https(tenant, app_token(tenant, "Directory.Read.All")) as client:
        assert client.get("/users").status_code == 200
        assert client.get("/servicePrincipals").status_code == 200


def _grant_body(t: Tenant) -> dict[str, Any]:
    for grant in [a for a in t.app_role_assignments.values() if a.app_role_id == FULL_ACCESS_AS_APP]:
        t.delete_app_role_assignment(grant.id)
    client = t.sp_by_app_id(CONNECTOR_APP_ID)
    assert client is not None
    return {"principalId": client.id, "resourceId": _exo(t), "appRoleId": FULL_ACCESS_AS_APP}


def test_granting_an_app_role_needs_the_assignment_and_a_read_permission(tenant: Simulator) -> None:
    """serviceprincipal-post-approleassignedto.md: "AppRoleAssignment.ReadWrite.All and Application.Read.All,
    AppRoleAssignment.ReadWrite.All and Directory.Read.All"."""
    body, path = _grant_body(tenant.state), f"/servicePrincipals/{_exo(tenant.state)}/appRoleAssignedTo"
    with https(tenant, app_token(tenant, "AppRoleAssignment.ReadWrite.All")) as client:
        alone = client.post(path, json=body)
    assert (alone.status_code, alone.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    with https(tenant, app_token(tenant, "Application.Read.All")) as client:
        assert client.post(path, json=body).status_code == 403
    with https(tenant, app_token(tenant, "AppRoleAssignment.ReadWrite.All", "Directory.Read.All")) as client:
        created = client.post(path, json=body)
    assert created.status_code == 201
    assert created.json()["@odata.context"] == (
        f"{tenant.base_url}/v1.0/$metadata#servicePrincipals('{_exo(tenant.state)}')/appRoleAssignedTo/$entity"
    )


async def test_granting_an_app_role_through_the_sdk_by_app_id(tenant: Simulator) -> None:
    """The same POST addressed as `servicePrincipals(appId='...')`, which the docs page lists too."""
    body = _grant_body(tenant.state)
    client = sdk(tenant, app_token(tenant, "AppRoleAssignment.ReadWrite.All", "Application.Read.All"))
    builder = client.service_principals_with_app_id(EXCHANGE_APP_ID)
    with https(tenant, app_token(tenant, "AppRoleAssignment.ReadWrite.All", "Application.Read.All")) as raw:
        created = raw.post(f"/servicePrincipals(appId='{EXCHANGE_APP_ID}')/appRoleAssignedTo", json=body)
    assert created.status_code == 201 and created.json()["resourceId"] == _exo(tenant.state)
    sp = await builder.get()
    assert sp is not None and sp.id == _exo(tenant.state)
    grant = AppRoleAssignment(
        principal_id=body["principalId"], resource_id=body["resourceId"], app_role_id=body["appRoleId"]
    )
    with pytest.raises(ODataError) as caught:  # a duplicate, through the agent's own builder path
        await client.service_principals.by_service_principal_id(_exo(tenant.state)).app_role_assigned_to.post(
            grant
        )
    assert caught.value.response_status_code == 400
    await client.request_adapter._http_client.aclose()


async def test_license_details_refuses_application_tokens(tenant: Simulator) -> None:
    """user-list-licensedetails-permissions.md: "Application | Not supported." - whatever roles it holds."""
    client = sdk(tenant, app_token(tenant, "User.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"))
    with pytest.raises(ODataError) as caught:
        await client.users.by_user_id(ACCOUNT_UPN).license_details.get()
    assert (caught.value.response_status_code, caught.value.error.code) == (
        403,
        "Authorization_RequestDenied",
    )
    await client.request_adapter._http_client.aclose()


async def test_license_details_with_a_delegated_token(tenant: Simulator) -> None:
    """The same table's delegated row: LicenseAssignment.Read.All (least); User.Read for oneself only."""
    client = sdk(tenant, user_token(tenant, "LicenseAssignment.Read.All"))
    details = await client.users.by_user_id("user0001@contoso.onmicrosoft.com").license_details.get()
    assert details is not None and [d.sku_part_number for d in details.value or []] == ["ENTERPRISEPACK"]
    await client.request_adapter._http_client.aclose()
    with https(tenant, user_token(tenant, "User.Read")) as raw:
        assert raw.get(f"/users/{ACCOUNT_UPN}/licenseDetails").status_code == 200
        assert raw.get("/users/user0001@contoso.onmicrosoft.com/licenseDetails").status_code == 403


def test_delegated_user_readbasic_lists_users(tenant: Simulator) -> None:
    """user-list table: delegated User.ReadBasic.All is the least privileged scope."""
    with https(tenant, user_token(tenant, "User.ReadBasic.All")) as raw:
        assert raw.get("/users", params={"$top": "1"}).status_code == 200
    with https(tenant, app_token(tenant, "User.ReadBasic.All")) as raw:
        assert raw.get("/users", params={"$top": "1"}).status_code == 403  # not an application permission
