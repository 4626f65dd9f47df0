"""msgraph-sdk with azure-identity's DeviceCodeCredential against the simulated tenant, as a set-up run would.

Pages followed: entra-docs identity-platform/v2-oauth2-device-code.md; microsoft-graph-docs-contrib
api-reference/v1.0/api/organization-list.md, user-get.md, application-post-applications.md and
federatedidentitycredential-post.md.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from azure.identity import DeviceCodeCredential
from msgraph.generated.models.application import Application
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.key_credential import KeyCredential

from agent.simulator import Simulator
from agent.simulator.identity.device import INTERVAL_KEY
from agent.simulator.scenarios.contoso import make_certificate
from tests.simulator import identity_kw
from tests.simulator.graph.test_graph import graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _nothing(uri: str, code: str, expires: Any) -> None:
    """The prompt a test needs: the simulated admin approves on its own."""


async def test_device_code_admin_creates_an_app_through_msgraph_sdk(tenant: Simulator,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tenant.ca_path)
    tenant.state.extras[INTERVAL_KEY] = 1
    credential = DeviceCodeCredential(tenant_id=tenant.state.tenant_id, prompt_callback=_nothing, timeout=30,
                                      **identity_kw(tenant))
    client = graph_client(tenant, credential)
    try:
        me = await client.me.get()
        assert me is not None and me.user_principal_name == "admin@contoso.onmicrosoft.com"
        orgs = await client.organization.get()
        assert orgs is not None and orgs.value and orgs.value[0].id == tenant.state.tenant_id
        assert any(d.is_initial for d in orgs.value[0].verified_domains or [])
        cert = make_certificate("m365-401-agent")
        body = Application(display_name="m365-401-agent", key_credentials=[KeyCredential(
            type="AsymmetricX509Cert", usage="Verify", key=base64.b64decode(cert.key_b64))])
        app = await client.applications.post(body)
        assert app is not None and app.id and app.app_id
        assert [k.display_name for k in app.key_credentials or []]
        fic = FederatedIdentityCredential(name="github-main", issuer="https://token.actions.githubusercontent.com",
                                          subject="repo:org/repo:ref:refs/heads/main",
                                          audiences=["api://AzureADTokenExchange"])
        created = await client.applications.by_application_id(app.id).federated_identity_credentials.post(fic)
        assert created is not None and created.id
        await client.applications.by_application_id(app.id).delete()
        assert app.id not in tenant.state.applications
    finally:
        await client.request_adapter._http_client.aclose()
