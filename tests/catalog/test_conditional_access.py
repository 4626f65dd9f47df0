"""account-blocked-by-mfa / exclude-account-from-ca against the simulator, and the policy evaluation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.conditional_access import BlockedByMfa, ExcludeFromPolicies, policy_controls
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.contoso import ACCOUNT_UPN
from tests.e2e.harness import World

EXO = "mail-exo"
USER = "u-1"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


def policy(state: str = "enabled", include: list[str] | None = None, exclude: list[str] | None = None,
           apps: list[str] | None = None, types: list[str] | None = None,
           controls: list[str] | None = None, groups: list[str] | None = None) -> dict[str, Any]:
    return {"state": state, "conditions": {
        "users": {"includeUsers": include or ["All"], "excludeUsers": exclude or [],
                  "includeGroups": groups or [], "excludeGroups": []},
        "applications": {"includeApplications": apps or ["All"], "excludeApplications": []},
        "clientAppTypes": types or ["all"]},
        "grantControls": {"builtInControls": controls or ["mfa"]}}


@pytest.mark.parametrize("data, expected", [
    (policy(), ["mfa"]),
    (policy(controls=["block"], types=["exchangeActiveSync", "other"]), ["block"]),
    (policy(state="enabledForReportingButNotEnforced"), []),
    (policy(state="disabled"), []),
    (policy(exclude=[USER]), []),
    (policy(include=["someone-else"]), []),
    (policy(include=["none"], groups=["g-1"]), ["mfa"]),
    (policy(apps=["797f4846-ba00-4fd7-ba43-dac1f8f63013"]), []),
    (policy(apps=["Office365"]), ["mfa"]),
    (policy(types=["browser"]), []),
    (policy(controls=["compliantDevice"]), []),
])
def test_policy_controls(data: dict[str, Any], expected: list[str]) -> None:
    assert policy_controls(data, USER, {"g-1"}) == expected


async def test_blocking_policy_found_excluded_and_restored(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    tenant = world.sim.state
    pid, account = str(tenant.extras["mfa_policy_id"]), tenant.user(ACCOUNT_UPN).id
    before = list(tenant.ca_policy(pid).exclude_users)
    fixer = ExcludeFromPolicies()
    async with world.open_context(EXO, "mfa-blocks-service-account") as ctx:
        finding = await BlockedByMfa().detect(ctx)
        assert finding.status == Status.FOUND and finding.evidence["sign_in"]["aadsts"] == 50076
        assert [p["id"] for p in finding.evidence["policies"]] == [pid]
        [step] = (await fixer.plan(ctx, finding)).steps
    assert step.call.body == {"conditions": {"users": {"excludeUsers": [*before, account]}}}
    async with world.open_context(EXO, write=True) as ctx:
        extra = await fixer.apply_step(ctx, step)
    assert tenant.ca_policy(pid).exclude_users == [*before, account] and extra["exclude_users"] == before
    step.undo = {**(step.undo or {}), **extra}
    async with world.open_context(EXO, write=True) as ctx:
        assert (await BlockedByMfa().detect(ctx)).status == Status.OK
        assert (await fixer.plan(ctx, finding)).empty  # idempotent
        reverse = await fixer.undo_step(ctx, step)
        await fixer.apply_step(ctx, reverse)
    assert tenant.ca_policy(pid).exclude_users == before


async def test_undo_refuses_after_a_later_edit(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    tenant = world.sim.state
    fixer = ExcludeFromPolicies()
    async with world.open_context(EXO, "mfa-blocks-service-account", write=True) as ctx:
        [step] = (await fixer.plan(ctx, await BlockedByMfa().detect(ctx))).steps
        step.undo = {**(step.undo or {}), **await fixer.apply_step(ctx, step)}
        tenant.ca_policy(str(step.params["policy_id"])).modified = time.time() + 120  # an admin's edit
        with pytest.raises(RuntimeError, match="modified"):
            await fixer.undo_step(ctx, step)


async def test_security_defaults_are_never_turned_off(world: World) -> None:
    tenant = world.sim.state
    tenant.security_defaults_enabled = True
    tenant.extras["security_defaults_enforced"] = True
    async with world.open_context(EXO, "mfa-blocks-service-account") as ctx:
        finding = await BlockedByMfa().detect(ctx)
        plan = await ExcludeFromPolicies().plan(ctx, finding)
    assert finding.status == Status.FOUND and finding.evidence["security_defaults"] is True
    assert finding.evidence["policies"] == []
    assert plan.empty and "never turns them off" in plan.note


async def test_policy_that_waits_behind_a_wrong_password(world: World) -> None:
    world.reset(["bad-credentials:wrong-password", "mfa-blocks-service-account"])
    async with world.open_context(EXO) as ctx:
        finding = await BlockedByMfa().detect(ctx)
    assert finding.status == Status.FOUND and "after the current AADSTS50126" in finding.summary


async def test_unknown_without_policy_read(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    world.revoke_admin_permissions("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
    async with world.open_context(EXO) as ctx:
        finding = await BlockedByMfa().detect(ctx)
    assert finding.status == Status.UNKNOWN and "Policy.Read.All" in str(finding.reason)
