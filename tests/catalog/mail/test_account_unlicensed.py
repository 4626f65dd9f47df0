"""user-lacks-exchange-plan / assign-exchange-licence against the simulator, and the SKU choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.catalog.mail.account_unlicensed import (
    AssignExchangeLicence,
    AssignParams,
    ExchangePlanMissing,
    choose_sku,
)
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, E3, EXCHANGE_STANDARD, POWER_BI
from tests.e2e.harness import World

EXO = "mail-exo"
STANDARD_PLAN = "9aaf7827-d63c-4b61-89c3-182f06f82e5c"
FOUNDATION = "113feb6c-3fe4-4440-bddc-54d774bf0318"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


def sku(part: str, plan: str = STANDARD_PLAN, enabled: int = 5, consumed: int = 0,
        status: str = "Enabled") -> dict[str, Any]:
    return {"skuId": part.lower(), "skuPartNumber": part, "capabilityStatus": status,
            "consumedUnits": consumed, "prepaidUnits": {"enabled": enabled},
            "servicePlans": [{"servicePlanId": plan}]}


def test_choose_sku() -> None:
    skus = [sku("ENTERPRISEPACK"), sku("EXCHANGESTANDARD"), sku("POWER_BI", plan=FOUNDATION),
            sku("FULL", enabled=3, consumed=3), sku("SUSPENDED", status="Suspended")]
    assert choose_sku(skus, ["EXCHANGESTANDARD", "ENTERPRISEPACK"])["skuPartNumber"] == "EXCHANGESTANDARD"
    assert choose_sku(skus, ["ENTERPRISEPACK"])["skuPartNumber"] == "ENTERPRISEPACK"
    assert choose_sku(skus, [])["skuPartNumber"] == "ENTERPRISEPACK"  # any usable one, by name
    assert choose_sku(skus[2:], ["FULL", "SUSPENDED"]) is None
    with pytest.raises(ValueError, match="two-letter"):
        AssignParams(usage_location="USA")


async def test_licensed_account_is_ok(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        finding = await ExchangePlanMissing().detect(ctx)
    assert finding.status == Status.OK and finding.evidence["exchange_plans"] == ["EXCHANGE_S_ENTERPRISE"]


async def test_foundation_only_is_found(world: World) -> None:
    world.reset(["account-unlicensed"])
    world.sim.state.assign_license(ACCOUNT_UPN, [POWER_BI], [])
    async with world.open_context(EXO) as ctx:
        finding = await ExchangePlanMissing().detect(ctx)
    assert finding.status == Status.FOUND and finding.evidence["foundation_only"] is True
    assert finding.evidence["skus"] == [POWER_BI]


async def test_usage_location_and_licence_assigned_then_undone(world: World) -> None:
    world.reset(["account-unlicensed:no-usage-location"])
    fixer = AssignExchangeLicence(AssignParams(prefer_skus=["ENTERPRISEPACK"], usage_location="gb"))
    async with world.open_context(EXO, "account-unlicensed") as ctx:
        finding = await ExchangePlanMissing().detect(ctx)
        assert finding.status == Status.FOUND and finding.evidence["usage_location"] is None
        plan = await fixer.plan(ctx, finding)
    location, licence = plan.steps
    assert location.call.body == {"usageLocation": "GB"}
    assert licence.call.body == {"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}
    async with world.open_context(EXO, write=True) as ctx:
        for step in plan.steps:
            await fixer.apply_step(ctx, step)
    user = world.sim.state.user(ACCOUNT_UPN)
    assert user.usage_location == "GB" and user.licenses == [E3]
    async with world.open_context(EXO, write=True) as ctx:
        assert (await ExchangePlanMissing().detect(ctx)).status == Status.OK
        for step in reversed(plan.steps):
            await fixer.apply_step(ctx, await fixer.undo_step(ctx, step))
    assert user.licenses == [] and user.usage_location is None  # null really sent


async def test_no_free_seat_means_nothing_to_assign(world: World) -> None:
    world.reset(["account-unlicensed"])
    for sku_id in (E3, EXCHANGE_STANDARD):
        world.sim.state.skus[sku_id].prepaid_enabled = world.sim.state.consumed(sku_id)
    async with world.open_context(EXO, "account-unlicensed") as ctx:
        plan = await AssignExchangeLicence().plan(ctx, await ExchangePlanMissing().detect(ctx))
    assert plan.empty and "no subscribed SKU" in plan.note


async def test_unknown_without_user_read(world: World) -> None:
    world.reset(["account-unlicensed"])
    world.revoke_admin_permissions("User.Read.All", "User.ReadWrite.All")
    async with world.open_context(EXO) as ctx:
        finding = await ExchangePlanMissing().detect(ctx)
    assert finding.status == Status.UNKNOWN and "User.Read.All" in str(finding.reason)
