"""Graph contract test helpers: tokens holding chosen permissions, plain HTTPS and msgraph-sdk clients."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.graph_request_adapter import options as GRAPH_DEFAULT_OPTIONS
from msgraph_core import GraphClientFactory

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, ADMIN_APP_ID

GRAPH = "https://graph.microsoft.com"


def app_token(sim: Simulator, *roles: str) -> str:
    """An app-only Graph token holding exactly these application permissions."""
    return sim.services.tokens.issue(
        tenant_id=sim.state.tenant_id, audience=GRAPH, app_id=ADMIN_APP_ID, appidacr="1", roles=list(roles)
    )


def user_token(sim: Simulator, *scopes: str, upn: str = ACCOUNT_UPN) -> str:
    """A delegated Graph token for the user, holding exactly these scopes."""
    user = sim.state.user(upn)
    return sim.services.tokens.issue(
        tenant_id=sim.state.tenant_id,
        audience=GRAPH,
        app_id=sim.state.extras["public_client_id"],
        appidacr="0",
        scp=" ".join(scopes),
        upn=user.upn,
        oid=user.id,
    )


def https(sim: Simulator, token: str) -> httpx.Client:
    """Plain HTTPS to the simulated Graph v1.0, trusting the simulator's CA."""
    return httpx.Client(
        base_url=sim.base_url + "/v1.0",
        headers={"Authorization": f"Bearer {token}"},
        verify=ssl.create_default_context(cafile=sim.ca_path),
        timeout=30,
    )


class _Bearer(AnonymousAuthenticationProvider):
    """A fixed bearer token: the contract tests choose the permissions a token holds."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def authenticate_request(
        self, request: RequestInformation, additional_authentication_context: dict[str, Any] | None = None
    ) -> None:
        request.headers.try_add("Authorization", f"Bearer {self.token}")


def sdk(sim: Simulator, token: str) -> GraphServiceClient:
    """msgraph-sdk wired as the agent wires it (own httpx client, kiota retries off), with a given token."""
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=sim.ca_path), timeout=30)
    options = {
        **GRAPH_DEFAULT_OPTIONS,
        RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False),
    }
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    client = GraphServiceClient(request_adapter=GraphRequestAdapter(_Bearer(token), client=http))
    client.request_adapter.base_url = sim.base_url + "/v1.0"
    return client
