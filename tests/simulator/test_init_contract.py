"""What `agent init` reads and writes in the simulated tenant, as Microsoft documents it: the application by
its uniqueName (application-get.md), appOwnerOrganizationId (servicePrincipal resource), the OpenID
configuration's cloud fields, and the scenario switches a set-up run is tested with."""

from __future__ import annotations

import requests

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import (
    ADMIN_APP_ID,
    MICROSOFT_TENANT,
    VENDOR_APP_ID,
    VENDOR_TENANT,
)
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP
from tests.simulator.conftest import TENANT
from tests.simulator.test_init_support import _admin_token, _graph


def test_application_by_unique_name(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    path = "applications(uniqueName='m365-401-agent')"
    missing = _graph(tenant, "GET", path, token)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    created = _graph(tenant, "PATCH", path, token, {"displayName": "m365-401-agent"},
                     {"Prefer": "create-if-missing"}).json()
    found = _graph(tenant, "GET", path, token)
    assert found.status_code == 200 and found.json()["id"] == created["id"]
    assert found.json()["@odata.context"].endswith("$metadata#applications/$entity")


def test_service_principals_name_their_owner_tenant(tenant: Simulator) -> None:
    token = _admin_token(tenant)
    own = _graph(tenant, "GET", f"servicePrincipals(appId='{ADMIN_APP_ID}')", token).json()
    exo = _graph(tenant, "GET", f"servicePrincipals(appId='{EXCHANGE_APP_ID}')", token).json()
    assert own["appOwnerOrganizationId"] == tenant.state.tenant_id
    assert exo["appOwnerOrganizationId"] == MICROSOFT_TENANT


def test_switches_remove_the_agent_app_and_add_a_vendor_app(tenant: Simulator) -> None:
    try:
        tenant.apply_scenario({"users": 4, "switch": ["agent-app-missing", "vendor-connector"]})
        state = tenant.state
        assert state.application_by_app_id(ADMIN_APP_ID) is None and state.sp_by_app_id(ADMIN_APP_ID) is None
        vendor = state.sp_by_app_id(VENDOR_APP_ID)
        assert vendor is not None and vendor.app_owner_organization_id == VENDOR_TENANT
        assert state.application_by_app_id(VENDOR_APP_ID) is None  # the vendor's app lives in its tenant
        assert any(g.principal_id == vendor.id and g.app_role_id == FULL_ACCESS_AS_APP
                   for g in state.app_role_assignments.values())
    finally:
        tenant.reset(users=20)


def test_openid_configuration_names_the_cloud() -> None:
    with Simulator(users=2, cloud="gcchigh") as gov:
        doc = requests.get(f"{gov.base_url}/{TENANT}/v2.0/.well-known/openid-configuration",
                           verify=gov.ca_path, timeout=10).json()
    assert doc["cloud_instance_name"] == "microsoftonline.us" and doc["msgraph_host"] == "graph.microsoft.us"
    assert doc["tenant_region_scope"] == "USGov"
