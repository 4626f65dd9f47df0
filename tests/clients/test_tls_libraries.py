"""Each of the four client libraries refuses a certificate its tenant's CA did not issue: the call fails
on the handshake (CERTIFICATE_VERIFY_FAILED) and no request reaches the server. Verification is on in
msgraph/httpx, azure-identity/msal, exchangelib and office365 alike, whatever the run's preflight says.

The agent's token is fetched first over a trusted connection, so that each library meets the untrusted
certificate itself rather than behind a failed sign-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from agent.clients.errors import translate
from agent.clients.ews import EwsAdapter
from agent.clients.graph import GraphAdapter
from agent.clients.sharepoint import SharePointAdapter
from agent.clients.token_cache import CachedCredential
from agent.clients.tokens import admin_credential, graph_scope, sharepoint_scope
from agent.guard import WriteGuard
from agent.simulator import Simulator
from tests.e2e.harness import World


async def _graph(tenant: Any, trusted: Any) -> Any:
    adapter = GraphAdapter(tenant, trusted(graph_scope), WriteGuard(dry_run=True))
    try:
        return await adapter.read(lambda: adapter.client.users.get())
    finally:
        await adapter.aclose()


async def _identity(tenant: Any, trusted: Any) -> Any:
    return await asyncio.to_thread(admin_credential(tenant).get_token, graph_scope(tenant))


async def _ews(tenant: Any, trusted: Any) -> Any:
    return await EwsAdapter(tenant).challenge(tenant.endpoints.ews_url)


async def _sharepoint(tenant: Any, trusted: Any) -> Any:
    adapter = SharePointAdapter(tenant, trusted(sharepoint_scope), WriteGuard(dry_run=True))
    try:
        return await adapter.web(f"{tenant.endpoints.sharepoint_root}/sites/source")
    finally:
        adapter.close()


CALLS: dict[str, Callable[[Any, Any], Awaitable[Any]]] = {
    "msgraph": _graph, "azure-identity": _identity, "exchangelib": _ews, "office365": _sharepoint}


@pytest.mark.parametrize("library", list(CALLS))
def test_an_untrusted_certificate_is_refused(tenant: Simulator, tmp_path: Path, library: str) -> None:
    world = World(tenant, tmp_path).reset(users=4)
    good = world.context("mail-exo").tenant
    stranger = tmp_path / "stranger.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    bad = good.model_copy(update={"endpoints": good.endpoints.model_copy(update={"ca_bundle": stranger})})

    tokens = {}
    for scope_of in (graph_scope, sharepoint_scope):  # over the trusted connection, before the call
        tokens[scope_of] = CachedCredential(admin_credential(good, require_certificate=scope_of is
                                                             sharepoint_scope))
        for cae in (False, True):  # kiota asks with continuous access evaluation on
            tokens[scope_of].get_token(scope_of(good), enable_cae=cae)

    async def run() -> Any:
        try:
            return await CALLS[library](bad, tokens.__getitem__)
        except Exception as exc:
            return exc

    seq = world.log_seq()
    outcome = asyncio.run(run())
    assert isinstance(outcome, Exception), outcome
    reason = translate(outcome).reason
    assert "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason, reason
    assert world.requests_since(seq) == []  # nothing was sent over a connection that did not verify
