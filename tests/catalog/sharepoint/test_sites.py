"""The SharePoint site detectors and fixers driven directly: provisioning polls, timeouts, undo data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.catalog.sharepoint.no_full_control import FullControlMissing
from agent.catalog.sharepoint.not_site_collection_admin import MakeSiteAdmin, SiteAdminMissing
from agent.catalog.sharepoint.target_site_missing import (
    CreateParams,
    CreateTargetSite,
    TargetSiteMissing,
)
from agent.model import Status
from agent.registry import PartialFailure
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import TARGET_SITE
from agent.simulator.sharepoint.admin import PROVISION_POLLS_KEY
from tests.e2e.harness import World

SP = "sp-sites"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset(["target-site-missing"])


class Clock:
    """A clock and a sleep that only move when the fixer sleeps."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []  # type: ignore[var-annotated]

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_the_new_site_is_polled_until_ready(world: World) -> None:
    world.sim.state.extras[PROVISION_POLLS_KEY] = 3
    clock = Clock()
    params = CreateParams(poll_interval_s=5, poll_timeout_s=60)
    fixer = CreateTargetSite(params, sleep=clock.sleep, clock=clock)
    async with world.open_context(SP, "target-site-missing") as ctx:
        plan = await fixer.plan(ctx, await TargetSiteMissing().detect(ctx))
    async with world.open_context(SP, write=True) as ctx:
        done = await fixer.apply_step(ctx, plan.steps[0])
    site = world.sim.state.find_site(TARGET_SITE)
    assert site is not None and site.status == 2 and done == {"site_id": site.id}
    assert clock.sleeps == [5, 5]  # polled at once, then every 5 s: ready on the third poll


async def test_a_site_never_ready_is_a_partial_failure_that_undo_can_delete(world: World) -> None:
    world.sim.state.extras[PROVISION_POLLS_KEY] = 1000
    clock = Clock()
    params = CreateParams(poll_interval_s=10, poll_timeout_s=30)
    fixer = CreateTargetSite(params, sleep=clock.sleep, clock=clock)
    async with world.open_context(SP, "target-site-missing") as ctx:
        [step] = (await fixer.plan(ctx, await TargetSiteMissing().detect(ctx))).steps
    async with world.open_context(SP, write=True) as ctx:
        with pytest.raises(PartialFailure) as caught:
            await fixer.apply_step(ctx, step)
    assert "not ready after 30s" in caught.value.reason and clock.sleeps == [10, 10, 10]
    async with world.open_context(SP) as ctx:
        assert (await TargetSiteMissing().detect(ctx)).status == Status.UNKNOWN  # still provisioning
        step.undo = {**(step.undo or {}), **caught.value.undo}
        reverse = await fixer.undo_step(ctx, step)
    assert reverse.call.body == {"siteId": caught.value.undo["site_id"]}
    async with world.open_context(SP, write=True) as ctx:
        await fixer.apply_step(ctx, reverse)
    assert world.sim.state.find_site(TARGET_SITE) is None


async def test_site_checks_without_account_or_sites_are_ok(world: World) -> None:
    async with world.open_context(SP) as ctx:
        ctx.connector.scope.sites = []
        no_sites = await SiteAdminMissing().detect(ctx)
        ctx.connector.account = None
        no_account = await FullControlMissing().detect(ctx)
    assert no_sites.status == no_account.status == Status.OK
    assert "no sites in scope" in no_sites.summary and "no migration account" in no_account.summary


async def test_the_account_view_is_evidence_even_when_its_password_fails(world: World) -> None:
    world.reset(["not-site-collection-admin"])
    (world.folder / "migsvc.password").write_text("not-the-password")
    async with world.open_context(SP, "not-site-collection-admin") as ctx:
        finding = await SiteAdminMissing().detect(ctx)
    assert finding.status == Status.FOUND  # the admin's read decides
    assert finding.evidence["connector"]["token"]["aadsts"] == 50126


async def test_undo_of_a_site_admin_grant_uses_the_recorded_user(world: World) -> None:
    world.reset(["not-site-collection-admin"])
    fixer = MakeSiteAdmin()
    async with world.open_context(SP, "not-site-collection-admin") as ctx:
        [step] = (await fixer.plan(ctx, await SiteAdminMissing().detect(ctx))).steps
    async with world.open_context(SP, write=True) as ctx:
        step.undo = {**(step.undo or {}), **await fixer.apply_step(ctx, step)}
    async with world.open_context(SP) as ctx:
        reverse = await fixer.undo_step(ctx, step)
    assert reverse.call.url.endswith(f"/siteusers/getbyid({step.undo['user_id']})")
    assert reverse.call.body == {"IsSiteAdmin": False} and reverse.action == "unset-site-admin"


@pytest.mark.parametrize("detector", [SiteAdminMissing(), FullControlMissing()])
async def test_verify_reads_only_the_sites_detect_found_lacking(world: World, detector: Any) -> None:
    world.reset(["not-site-collection-admin", "no-full-control"])
    async with world.open_context(SP) as ctx:
        sites = list(ctx.connector.scope.sites)
        finding = await detector.detect(ctx)
    assert finding.status == Status.FOUND
    lacking = finding.evidence["missing_sites"][0]
    finding.evidence["missing_sites"] = [lacking]
    seq = world.log_seq()
    async with world.open_context(SP) as ctx:
        again = await detector.verify(ctx, finding)
    read = {e["path"].split("/_api/")[0] for e in world.requests_since(seq) if "/_api/" in e["path"]}
    assert read and all(lacking.endswith(path) for path in read)  # no other site was read
    assert [r["site"] for r in again.evidence["sites"]] == [lacking]
    assert again.status == Status.FOUND  # still lacking: verify says so, it does not assume
    if len(sites) > 1:
        assert len(read) < len(sites)
