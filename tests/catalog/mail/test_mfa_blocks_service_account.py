"""account-blocked-by-mfa / exclude-account-from-ca against the simulator, and the policy evaluation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.mail.mfa_blocks_service_account import (
    BlockedByMfa,
    ExcludeFromPolicies,
    policy_controls,
)
from agent.catalog.shared.conditional_access_eval import Account, assess
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
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


# -- scoping by groups, roles, All users; authentication strength; conditions left unknown ------------
ROLE = "29232cdf-9323-42fd-ade2-1d097af3e4de"  # Exchange Administrator
HOLDER = Account(USER, roles=frozenset({ROLE}))
OUTSIDE_TRUSTED = {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}


def scoped(users: dict[str, Any], **conditions: Any) -> dict[str, Any]:
    data = policy()
    data["conditions"]["users"] = {"includeUsers": [], **users}
    data["conditions"].update(conditions)
    return data


@pytest.mark.parametrize("data, account, controls, unknown", [
    (scoped({"includeUsers": ["All"]}), Account(USER), ["mfa"], []),
    (scoped({"includeGroups": ["g-1"]}), Account(USER, frozenset({"g-1"})), ["mfa"], []),
    (scoped({"includeGroups": ["g-1"], "excludeUsers": [USER]}), Account(USER, frozenset({"g-1"})), [], []),
    (scoped({"includeRoles": [ROLE]}), HOLDER, ["mfa"], []),
    (scoped({"includeUsers": ["All"], "excludeRoles": [ROLE]}), HOLDER, [], []),
    (scoped({"includeGroups": ["g-1"]}), Account(USER, None, None),
     ["mfa"], ["conditions.users.includeGroups (group memberships unreadable)"]),
    (scoped({"includeRoles": [ROLE]}), Account(USER, frozenset(), None),
     ["mfa"], ["conditions.users.includeRoles (directory roles unreadable)"]),
    (scoped({"includeUsers": ["All"]}, locations=OUTSIDE_TRUSTED), Account(USER), ["mfa"],
     ["conditions.locations"]),
    (scoped({"includeUsers": ["All"]}, platforms={"includePlatforms": ["android"], "excludePlatforms": []}),
     Account(USER), ["mfa"], ["conditions.platforms"]),
    (scoped({"includeUsers": ["All"]}, signInRiskLevels=["high"]), Account(USER), ["mfa"],
     ["conditions.signInRiskLevels"]),
    (scoped({"includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "b2bCollaborationGuest"}}),
     Account(USER), ["mfa"], ["conditions.users.includeGuestsOrExternalUsers"]),
    (scoped({"includeUsers": ["All"]}, locations={"includeLocations": ["All"], "excludeLocations": []}),
     Account(USER), ["mfa"], []),  # "any location" with no exclusion: fully evaluated
])
def test_assess_each_scoping(data: dict[str, Any], account: Account, controls: list[str],
                             unknown: list[str]) -> None:
    verdict = assess(data, account)
    assert (verdict.controls, verdict.unknown) == (controls, unknown)


def test_an_authentication_strength_counts_as_mfa() -> None:
    data = policy()
    strength = {"id": "00000000-0000-0000-0000-000000000004"}  # phishing-resistant MFA
    data["grantControls"] = {"builtInControls": [], "authenticationStrength": strength}
    assert policy_controls(data, USER, set()) == ["authenticationStrength"]


@pytest.mark.parametrize("variant, key, control", [
    ("group", "group_policy_id", "mfa"), ("role", "role_policy_id", "mfa"),
    ("strength", "strength_policy_id", "authenticationStrength")])
async def test_scoped_policy_found_and_excluded(world: World, variant: str, key: str, control: str) -> None:
    world.reset([f"mfa-blocks-service-account:{variant}"])
    tenant = world.sim.state
    pid, account = str(tenant.extras[key]), tenant.user(ACCOUNT_UPN).id
    before = list(tenant.ca_policy(pid).exclude_users)
    async with world.open_context(EXO, "mfa-blocks-service-account") as ctx:
        finding = await BlockedByMfa().detect(ctx)
        assert finding.status == Status.FOUND and finding.evidence["sign_in"]["aadsts"] == 50076
        assert [(p["id"], p["controls"]) for p in finding.evidence["policies"]] == [(pid, [control])]
        [step] = (await ExcludeFromPolicies().plan(ctx, finding)).steps
    # excludeUsers is still the right fix for a group or role scope: an exclusion overrides an inclusion.
    assert step.call.body == {"conditions": {"users": {"excludeUsers": [*before, account]}}}
    async with world.open_context(EXO, write=True) as ctx:
        await ExcludeFromPolicies().apply_step(ctx, step)
        assert (await BlockedByMfa().detect(ctx)).status == Status.OK


async def test_a_location_condition_is_unknown_never_ok(world: World) -> None:
    world.reset(["mfa-blocks-service-account:location"])
    pid = str(world.sim.state.extras["location_policy_id"])
    async with world.open_context(EXO, "mfa-blocks-service-account") as ctx:
        finding = await BlockedByMfa().detect(ctx)
    assert finding.status == Status.UNKNOWN
    assert pid in str(finding.reason) and "conditions.locations" in str(finding.reason)
    assert finding.evidence["policies"] == []


async def test_roles_unreadable_make_a_role_scoped_policy_unknown(world: World) -> None:
    world.reset(["mfa-blocks-service-account:role"])
    world.revoke_admin_permissions("RoleManagement.Read.Directory")
    async with world.open_context(EXO, "mfa-blocks-service-account") as ctx:
        finding = await BlockedByMfa().detect(ctx)
    assert finding.status == Status.UNKNOWN and "includeRoles" in str(finding.reason)
    assert "RoleManagement.Read.Directory" in str(finding.evidence["memberships_unreadable"])


def test_the_detector_declares_what_it_reads() -> None:
    assert set(BlockedByMfa.permissions) == {"Policy.Read.All", "User.Read.All",
                                             "RoleManagement.Read.Directory"}
