"""ews-legacy-auth-refused against the simulator: on premises with and without Basic, Exchange Online."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.mail.legacy_auth_disabled import LegacyAuthRefused
from agent.model import Status
from agent.simulator import Simulator
from tests.e2e.harness import World

EXO, ONPREM = "mail-exo", "mail-onprem"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


async def test_legacy_auth_offered_on_premises(world: World) -> None:
    async with world.open_context(ONPREM) as ctx:
        finding = await LegacyAuthRefused().detect(ctx)
    assert finding.status == Status.OK and "Basic" in finding.evidence["offered"]


async def test_legacy_auth_turned_off_on_premises(world: World) -> None:
    world.reset(["legacy-auth-disabled"])
    async with world.open_context(ONPREM) as ctx:
        finding = await LegacyAuthRefused().detect(ctx)
    assert finding.status == Status.FOUND
    assert finding.evidence["offered"] == ["Negotiate"] and finding.evidence["exchange_online"] is False


@pytest.mark.parametrize("status", [500, 502])
async def test_a_server_error_is_no_challenge(world: World, status: int) -> None:
    # a 5xx (or a proxy page) offers no scheme: whether Basic is off cannot be told from it
    world.sim.set_faults({"errors": {"rate": 1.0, "status": status, "services": ["ews"], "path": "onprem"}})
    try:
        async with world.open_context(ONPREM) as ctx:
            finding = await LegacyAuthRefused().detect(ctx)
    finally:
        world.sim.set_faults({})
    assert finding.status == Status.UNKNOWN and f"HTTP {status}" in (finding.reason or "")


async def test_basic_against_exchange_online_is_found(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        assert (await LegacyAuthRefused().detect(ctx)).status == Status.OK  # OAuth: nothing to probe
        account = ctx.connector.account
        assert account is not None
        basic = account.model_copy(update={"auth": "basic"})
        ctx.connector = ctx.connector.model_copy(update={"account": basic})
        finding = await LegacyAuthRefused().detect(ctx)
    assert finding.status == Status.FOUND
    assert finding.evidence["exchange_online"] is True and finding.evidence["offered"] == ["Bearer"]
    assert "retired" in finding.summary
