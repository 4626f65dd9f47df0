"""The OneDrive fleet detector and fixer driven directly, the chunk contract (PartialFailure), the helpers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.files.no_onedrive_access import GrantOneDriveAdmin, OneDriveAdminMissing, personal_url
from agent.catalog.shared.fleet import fleet_map, fleet_map_threads, progress, tenant_limit
from agent.clients.errors import ReadFailed
from agent.config.model import GroupScope
from agent.context import SHOW_PROGRESS, Context
from agent.engine.steps import apply_plan
from agent.guard import DryRunWrite, WriteGuard
from agent.journal.store import Journal
from agent.model import Call, Finding, Plan, Risk, Status, Step
from agent.registry import Fixer, PartialFailure
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, ADMIN_APP_ID, GRAPH_ROLES
from agent.simulator.state.tenant import GRAPH_APP_ID, SHAREPOINT_APP_ID, login_name, personal_path
from tests.e2e.harness import World

FILES, CAUSE = "files-onedrive", "no-onedrive-access"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset([CAUSE], users=6)


def upn(i: int) -> str:
    return f"user{i:04d}@contoso.onmicrosoft.com"


def is_admin(world: World, i: int) -> bool:
    site = world.sim.state.find_site(personal_path(upn(i)))
    entry = site.user_by_login(login_name(ACCOUNT_UPN)) if site is not None else None
    return entry is not None and entry.is_site_admin


def test_personal_url_follows_onedrive_naming() -> None:
    assert personal_url("https://contoso-my.sharepoint.com/", "Jane.Doe-X@Contoso.com") == \
        "https://contoso-my.sharepoint.com/personal/jane_doe_x_contoso_com"


async def test_group_scope_checks_only_the_members(world: World) -> None:
    tenant = world.sim.state
    tenant.groups["migration-wave-1"] = [tenant.user(upn(2)).id, tenant.user(upn(5)).id,
                                         tenant.user(ACCOUNT_UPN).id]
    async with world.open_context(FILES, CAUSE) as ctx:
        ctx.connector.scope.users = GroupScope(group="migration-wave-1")
        denied = await OneDriveAdminMissing().detect(ctx)
    assert denied.status == Status.UNKNOWN and "GroupMember.Read.All" in (denied.reason or "")
    admin, graph = tenant.sp_by_app_id(ADMIN_APP_ID), tenant.sp_by_app_id(GRAPH_APP_ID)
    assert admin is not None and graph is not None
    tenant.assign_app_role(admin.id, graph.id, GRAPH_ROLES["Directory.Read.All"])
    async with world.open_context(FILES, CAUSE) as ctx:
        ctx.connector.scope.users = GroupScope(group="migration-wave-1")
        finding = await OneDriveAdminMissing().detect(ctx)
    assert finding.status == Status.FOUND
    assert finding.evidence["missing_users"] == [upn(2), upn(5)]  # the account itself is left out


async def test_without_the_sharepoint_role_every_site_is_unknown(world: World) -> None:
    tenant = world.sim.state
    admin, sharepoint = tenant.sp_by_app_id(ADMIN_APP_ID), tenant.sp_by_app_id(SHAREPOINT_APP_ID)
    assert admin is not None and sharepoint is not None
    for grant in list(tenant.app_role_assignments.values()):
        if (grant.principal_id, grant.resource_id) == (admin.id, sharepoint.id):
            tenant.delete_app_role_assignment(grant.id)
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
    assert finding.status == Status.UNKNOWN  # a failed read is not an absent grant
    assert len(finding.evidence["unreadable"]) == 6 and finding.evidence["missing_users"] == []
    assert "Sites.FullControl.All" in finding.evidence["unreadable"][0]["reason"]


async def test_throttled_reads_are_retried_after_retry_after(world: World) -> None:
    world.sim.set_faults({"throttle": {"first": 4, "retry_after_s": 0, "services": ["sharepoint"]}})
    seq = world.log_seq()
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
    assert finding.status == Status.FOUND and len(finding.evidence["missing_users"]) == 6
    statuses = [e["status"] for e in world.requests_since(seq) if "/personal/" in e["path"]]
    assert (statuses.count(429), statuses.count(200), statuses.count(404)) == (4, 6, 4)  # 404: no OneDrive


CSOM_FAULT = "(?i)/personal/{name}_[^/]*/_vti_bin/client.svc/ProcessQuery"


async def test_a_partly_failed_chunk_keeps_undo_data_for_what_it_did(world: World) -> None:
    fixer = GrantOneDriveAdmin()
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
        [step] = (await fixer.plan(ctx, finding)).steps
    world.sim.set_faults({"errors": {"path": CSOM_FAULT.format(name="user0002"), "status": 503, "rate": 1.0,
                                     "retry_after_s": 0}})
    async with world.open_context(FILES, write=True) as ctx:
        with pytest.raises(PartialFailure) as caught:
            await fixer.apply_step(ctx, step)
    users = caught.value.undo["users"]
    assert users == [upn(i) for i in (1, 3, 4, 5, 6)] and upn(2) in caught.value.reason
    [failed] = finding.evidence["failed"]  # reported on the finding, with the site and its status
    assert failed["user"] == upn(2) and failed["status"] == 503 and "(503)" in failed["reason"]
    assert failed["site"].endswith(personal_path(upn(2)))
    assert [i for i in range(1, 7) if is_admin(world, i)] == [1, 3, 4, 5, 6]
    step.undo = caught.value.undo
    async with world.open_context(FILES) as ctx:
        reverse = await fixer.undo_step(ctx, step)
    assert reverse.action == "revoke-onedrive-admins" and reverse.params["users"] == users
    async with world.open_context(FILES, write=True) as ctx:
        assert await fixer.apply_step(ctx, reverse) == {"users": users}
    assert not any(is_admin(world, i) for i in range(1, 7))


async def test_grants_go_many_sites_per_tenant_request(world: World) -> None:
    fixer = GrantOneDriveAdmin(GrantOneDriveAdmin.params_model(batch_size=4))
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
        [step] = (await fixer.plan(ctx, finding)).steps
    assert step.call.url.endswith("/_vti_bin/client.svc/ProcessQuery")
    assert "in 2 ProcessQuery request(s)" in step.description
    seq = world.log_seq()
    async with world.open_context(FILES, write=True) as ctx:
        assert await fixer.apply_step(ctx, step) == {"users": [upn(i) for i in range(1, 7)]}
    sent = world.requests_since(seq)
    posts = [e["path"] for e in sent if e["method"] == "POST" and e["service"] == "sharepoint"]
    # one form digest for the run (sent with each ProcessQuery, as cli-microsoft365 does), then the batches
    assert [p.lower() for p in posts] == ["/_api/contextinfo"] + ["/_vti_bin/client.svc/processquery"] * 2
    assert not any("/personal/" in e["path"] for e in sent)  # no request to the OneDrives themselves
    assert all(is_admin(world, i) for i in range(1, 7))


async def test_undo_of_a_journal_from_the_site_rest_fixer_still_works(world: World) -> None:
    """Older runs journaled {"ids": {user: site user id}}; undo must still reverse exactly those."""
    fixer = GrantOneDriveAdmin()
    async with world.open_context(FILES, write=True) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
        [step] = (await fixer.plan(ctx, finding)).steps
        await fixer.apply_step(ctx, step)
    step.undo = {"ids": {upn(4): 7, upn(2): 7}}
    async with world.open_context(FILES, write=True) as ctx:
        reverse = await fixer.undo_step(ctx, step)
        assert reverse.params["users"] == [upn(2), upn(4)]
        await fixer.apply_step(ctx, reverse)
    assert [i for i in range(1, 7) if is_admin(world, i)] == [1, 3, 5, 6]


async def test_a_dry_run_plans_the_tenant_call_and_sends_nothing(world: World) -> None:
    fixer = GrantOneDriveAdmin()
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await OneDriveAdminMissing().detect(ctx)
        [step] = (await fixer.plan(ctx, finding)).steps
    seq = world.log_seq()
    async with world.open_context(FILES) as ctx:  # write=False: the guard refuses
        with pytest.raises(DryRunWrite):
            await fixer.apply_step(ctx, step)
    assert world.requests_since(seq) == [] and not any(is_admin(world, i) for i in range(1, 7))


class _Chunks(Fixer):
    """A fixer whose second step does only part of its work."""

    name = "test-chunks"
    risk = Risk.LOW

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        raise NotImplementedError

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action == "partly":
            raise PartialFailure("1 of 2 sites failed: b", {"ids": {"a": 1}})
        return {"ids": {step.action: 2}}

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        raise NotImplementedError


async def test_apply_plan_journals_a_partial_step_and_goes_on(journal: Journal) -> None:
    run = journal.start_run("fix")
    steps = [Step(a, Call("POST", f"https://x/{a}")) for a in ("first", "partly", "last")]
    plan = Plan("cause", "conn", "test-chunks", Risk.LOW, steps)
    ctx = Context(None, None, WriteGuard(dry_run=False))  # type: ignore[arg-type]
    changes, error = await apply_plan(journal, run, _Chunks(), plan, ctx)
    assert error == "1 of 2 sites failed: b"
    assert [c["state"] for c in changes] == ["applied"] * 3 and changes[1]["error"] == error
    assert [c.undo for c in journal.changes(run)] == [{"ids": {"first": 2}}, {"ids": {"a": 1}},
                                                      {"ids": {"last": 2}}]


async def test_fleet_map_keeps_order_and_gives_throttled_items_another_pass() -> None:
    calls: list[int] = []

    async def work(n: int) -> int:
        calls.append(n)
        await asyncio.sleep(0.001 * (5 - n))
        if n == 3 or (n == 2 and calls.count(2) == 1):
            raise ReadFailed("503: busy", 503)
        if n == 4:
            raise ReadFailed("403: denied", 403)
        return n * 10

    limit = tenant_limit("t", "sharepoint", 2)
    assert tenant_limit("t", "sharepoint", 99) is limit  # one per tenant and service in a loop
    results = await fleet_map([1, 2, 3, 4], work, limit, "test")
    assert [r.value for r in results] == [10, 20, None, None]  # 2 made it on its second pass
    assert results[2].error is not None and results[2].error.status == 503
    assert sorted(calls) == [1, 2, 2, 3, 3, 4]  # a refusal (403) is an answer: never tried again


async def test_thread_fleet_keeps_order_bounds_threads_and_retries_throttled_items() -> None:
    calls: list[int] = []
    running, peak, guard = [0], [0], threading.Lock()
    pool = ThreadPoolExecutor(max_workers=8)

    def work(n: int) -> int:
        with guard:
            calls.append(n)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.002)
            if n == 3 or (n == 2 and calls.count(2) == 1):
                raise ReadFailed("503: busy", 503)
            if n == 4:
                raise ReadFailed("403: denied", 403)
            return n * 10
        finally:
            with guard:
                running[0] -= 1

    async def run(fn: Callable[[], None]) -> None:
        await asyncio.get_running_loop().run_in_executor(pool, fn)

    items = [1, 2, 3, 4, *range(5, 40)]
    try:
        results = await fleet_map_threads(items, work, asyncio.Semaphore(3), "test", run, slots=8)
    finally:
        pool.shutdown()
    assert [r.value for r in results[:4]] == [10, 20, None, None]  # 2 made it on its second pass
    assert [r.value for r in results[4:]] == [n * 10 for n in range(5, 40)]
    assert results[2].error is not None and results[2].error.status == 503
    assert sorted(c for c in calls if c < 5) == [1, 2, 2, 3, 3, 4]  # a 403 is never retried
    assert peak[0] <= 3  # the tenant's permits bound the threads, not the slots asked for


async def test_thread_fleet_stops_on_anything_but_a_client_error() -> None:
    calls: list[int] = []
    pool = ThreadPoolExecutor(max_workers=2)

    def work(n: int) -> int:
        calls.append(n)
        if n == 2:
            raise DryRunWrite("a write during a dry run")
        time.sleep(0.001)
        return n

    async def run(fn: Callable[[], None]) -> None:
        await asyncio.get_running_loop().run_in_executor(pool, fn)

    try:
        with pytest.raises(DryRunWrite):
            await fleet_map_threads(list(range(200)), work, asyncio.Semaphore(2), "test", run, slots=2)
    finally:
        pool.shutdown()
    assert len(calls) < 200  # the other thread took no further item once one failed


def test_progress_is_silent_unless_a_person_watches(capsys: pytest.CaptureFixture[str]) -> None:
    before = SHOW_PROGRESS.get()  # an earlier in-process CLI run may have left it either way
    token = SHOW_PROGRESS.set(True)
    try:
        with progress("label", 10) as advance:  # stderr is not a terminal under pytest
            advance()
    finally:
        SHOW_PROGRESS.reset(token)
    assert SHOW_PROGRESS.get() is before
    assert "label" not in capsys.readouterr().err


@pytest.mark.parametrize("scope", [[], [ACCOUNT_UPN]], ids=["empty", "only-the-account"])
async def test_an_empty_scope_is_unknown_not_healthy(world: World, scope: list[str]) -> None:
    """`every OneDrive in scope (0)` was an ok verdict on nothing (reliability review L5)."""
    async with world.open_context(FILES, CAUSE) as ctx:
        ctx.connector.scope.users = scope
        finding = await OneDriveAdminMissing().detect(ctx)
    assert finding.status == Status.UNKNOWN and "nothing was checked" in (finding.reason or finding.summary)


async def test_verify_probes_only_the_onedrives_the_fix_changed(world: World) -> None:
    detector, fixer = OneDriveAdminMissing(), GrantOneDriveAdmin()
    async with world.open_context(FILES, CAUSE) as ctx:
        finding = await detector.detect(ctx)
    # as if detect had found only these two lacking the grant (and one unreadable)
    finding.evidence["missing_users"] = [upn(2), upn(5)]
    finding.evidence["unreadable"] = [{"user": upn(3), "site": "", "status": 503, "reason": "busy"}]
    seq = world.log_seq()
    async with world.open_context(FILES, CAUSE) as ctx:
        before = await detector.verify(ctx, finding)
    probed = sorted(e["path"].split("/")[2] for e in world.requests_since(seq) if "/personal/" in e["path"])
    assert probed == ["user0002_contoso_onmicrosoft_com", "user0003_contoso_onmicrosoft_com",
                      "user0005_contoso_onmicrosoft_com"]
    assert not any(e["service"] == "graph" for e in world.requests_since(seq))  # no user listing again
    assert before.status == Status.FOUND and before.evidence["missing_users"] == [upn(2), upn(3), upn(5)]
    async with world.open_context(FILES, CAUSE, write=True) as ctx:
        [step] = (await fixer.plan(ctx, before)).steps
        await fixer.apply_step(ctx, step)
    async with world.open_context(FILES, CAUSE) as ctx:
        after = await detector.verify(ctx, finding)
    assert after.status == Status.OK and "the fix changed (3)" in after.summary
    assert not is_admin(world, 1)  # never probed, never granted: a full scan would still find it
    async with world.open_context(FILES, CAUSE) as ctx:
        assert (await detector.detect(ctx)).status == Status.FOUND
