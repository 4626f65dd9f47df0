"""Each client library gives up on a stalled answer after the configured read limit (msgraph/httpx,
azure-identity/msal, exchangelib/requests, office365/requests): none waits for the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agent import deadline as deadlines
from agent.clients.errors import ClientError
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World
from tests.resilience.test_deadlines import fast

HOLD_S = 30  # what the server would hold each request without the client's limit


async def graph(ctx: Any) -> object:
    return await ctx.clients.graph.read(lambda: ctx.clients.graph.client.users.get())


async def token(ctx: Any) -> object:
    return await asyncio.to_thread(ctx.clients.admin_credential().get_token,
                                   "https://graph.microsoft.com/.default")


async def ews(ctx: Any) -> object:
    return await ctx.clients.probe_ews(mailbox=ACCOUNT_UPN)


async def sharepoint(ctx: Any) -> object:
    root = ctx.tenant.endpoints.sharepoint_root
    return await ctx.clients.sharepoint.web(f"{root}/sites/projects")


CASES: dict[str, tuple[str, Callable[[Any], Awaitable[object]]]] = {
    "graph": ("graph", graph), "identity": ("identity", token), "ews": ("ews", ews),
    "sharepoint": ("sharepoint", sharepoint),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_stalled_answer_is_given_up_after_the_read_limit(sim: Simulator, tmp_path: Path, name: str) -> None:
    service, call = CASES[name]
    world = fast(World(sim, tmp_path).reset(users=4), read_s=1)
    # the admin token is fetched first, unfaulted, so that only the call under test meets the stall
    sim.set_faults({"stall": {"rate": 1.0, "services": [service], "hold_s": HOLD_S}})

    async def run() -> BaseException | object:
        async with world.open_context("sp-sites" if name == "sharepoint" else "mail-exo") as ctx:
            try:
                return await call(ctx)
            except Exception as exc:
                return exc

    started = time.monotonic()
    try:
        with deadlines.in_force(deadlines.Deadline(2.5)):  # no retry starts past it
            outcome = asyncio.run(run())
    finally:
        sim.set_faults(None)
    took = time.monotonic() - started
    assert took < 8, f"{name} waited {took:.1f}s on a stalled answer"
    if name == "ews":  # a probe says it could not tell, never that the mailbox opened
        assert isinstance(outcome, ClientError) or not getattr(outcome, "ok", True), outcome
    else:
        assert isinstance(outcome, Exception), outcome


def test_a_stalled_ews_probe_does_not_hold_the_others(sim: Simulator, tmp_path: Path) -> None:
    world = fast(World(sim, tmp_path).reset(users=4), read_s=5)
    sim.set_faults({"stall": {"first": 1, "services": ["ews"], "hold_s": HOLD_S}})

    async def run() -> float:
        async with world.open_context("mail-exo") as ctx:
            stalled = asyncio.ensure_future(ctx.clients.probe_ews(mailbox=ACCOUNT_UPN))
            await asyncio.sleep(0.5)  # the first probe is now waiting on the stalled answer
            started = time.monotonic()
            other = await ctx.clients.probe_ews(mailbox=ACCOUNT_UPN)
            took = time.monotonic() - started
            assert other.ok, other
            await stalled
            return took

    try:
        took = asyncio.run(run())
    finally:
        sim.set_faults(None)
    assert took < 2.5, f"the second probe waited {took:.1f}s for the stalled one"
