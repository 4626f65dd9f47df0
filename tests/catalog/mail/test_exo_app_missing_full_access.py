"""app-lacks-exchange-role / grant-exchange-app-role against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.mail.exo_app_missing_full_access import ExchangeRoleMissing, GrantExchangeRole
from agent.model import Finding, Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP
from tests.e2e.harness import World

EXO, ONPREM = "mail-exo", "mail-onprem"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


def granted(world: World) -> bool:
    return "full_access_as_app" in world.sim.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


async def test_healthy_token_carries_the_role(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        finding = await ExchangeRoleMissing().detect(ctx)
    assert finding.status == Status.OK
    assert "full_access_as_app" in finding.evidence["token"]["roles"]


async def test_missing_grant_found_planned_applied_and_undone(world: World) -> None:
    world.reset(["exo-app-missing-full-access"])
    async with world.open_context(EXO, "exo-app-missing-full-access") as ctx:
        finding = await ExchangeRoleMissing().detect(ctx)
        assert finding.status == Status.FOUND, finding
        exchange_sp = world.sim.state.sp_by_app_id(EXCHANGE_APP_ID)
        assert finding.evidence["exchange_sp_id"] == exchange_sp.id
        assert finding.evidence["ews"]["status"] == 401
        seq = world.log_seq()
        plan = await GrantExchangeRole().plan(ctx, finding)
        assert world.writes_since(seq) == []
    [step] = plan.steps
    assert step.call.method == "POST" and step.call.url.endswith(f"/servicePrincipals/{exchange_sp.id}"
                                                                 "/appRoleAssignedTo")
    assert step.call.body["appRoleId"] == FULL_ACCESS_AS_APP and not step.irreversible
    fixer = GrantExchangeRole()
    async with world.open_context(EXO, write=True) as ctx:
        extra = await fixer.apply_step(ctx, step)
    assert granted(world) and extra["assignment_id"] in world.sim.state.app_role_assignments
    async with world.open_context(EXO) as ctx:  # fresh credentials: the new token carries the role
        assert (await ExchangeRoleMissing().detect(ctx)).status == Status.OK
        assert (await fixer.plan(ctx, finding)).empty
        step.undo = {**(step.undo or {}), **extra}
        reverse = await fixer.undo_step(ctx, step)
    assert reverse.call.method == "DELETE" and reverse.call.url.endswith(extra["assignment_id"])
    async with world.open_context(EXO, write=True) as ctx:
        await fixer.apply_step(ctx, reverse)
        assert not granted(world)
        await fixer.apply_step(ctx, reverse)  # already gone: 404 is the undo's goal, not a failure


async def test_unknown_without_application_read(world: World) -> None:
    world.reset(["exo-app-missing-full-access"])
    world.revoke_admin_permissions("Application.Read.All", "Application.ReadWrite.All")
    async with world.open_context(EXO) as ctx:
        finding = await ExchangeRoleMissing().detect(ctx)
    assert finding.status == Status.UNKNOWN
    assert "Application.Read.All" in str(finding.reason)


async def test_granted_but_not_in_token_needs_nothing(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        plan = await GrantExchangeRole().plan(ctx, Finding.found("stale token"))
    assert plan.empty and "already granted" in plan.note


async def test_account_only_connector_has_no_app_to_check(world: World) -> None:
    async with world.open_context(ONPREM) as ctx:
        assert (await ExchangeRoleMissing().detect(ctx)).status == Status.OK
