"""no-onedrive-access end to end: the standard cycle, and a fleet of 2,000 OneDrives where some already have
the grant and some fail every time."""

from __future__ import annotations

import time

from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from agent.simulator.state.tenant import login_name, personal_path
from tests.e2e.harness import World, fix_cycle

CONNECTOR, CAUSE = "files-onedrive", "no-onedrive-access"
USERS = 2000
FILE_CAUSES = ("app-credentials-invalid", "app-certificate-missing", "no-onedrive-access",
               "app-not-installed")


def upn(i: int) -> str:
    return f"user{i:04d}@contoso.onmicrosoft.com"


def account_is_admin(world: World, i: int) -> bool:
    site = world.sim.state.find_site(personal_path(upn(i)))
    assert site is not None
    entry = site.user_by_login(login_name(ACCOUNT_UPN))
    return entry is not None and entry.is_site_admin


def grant_directly(world: World, users: list[int]) -> None:
    """Some OneDrives already have the grant (set in the tenant, not through the agent)."""
    tenant = world.sim.state
    for i in users:
        site = tenant.find_site(personal_path(upn(i)))
        assert site is not None
        tenant.ensure_site_user(site, ACCOUNT_UPN, is_admin=True, record=False)


def fail_sites(world: World, users: list[int]) -> None:
    """Granting on these OneDrives fails with 503 every time: the tenant's SetSiteAdmin action for each of
    them raises inside its ProcessQuery (Retry-After 0 keeps the retries quick)."""
    names = "|".join(f"user{i:04d}" for i in users)
    path = f"(?i)/personal/({names})_[^/]*/_vti_bin/client.svc/ProcessQuery"
    world.sim.set_faults({"errors": {"path": path, "status": 503, "rate": 1.0, "retry_after_s": 0}})


def test_no_onedrive_access(world: World) -> None:
    world.reset([CAUSE], users=12)
    runs = fix_cycle(world, CONNECTOR, CAUSE, FILE_CAUSES)
    evidence = runs["diagnose"].result(CONNECTOR, CAUSE)["evidence"]
    assert evidence["missing_users"] == [upn(i) for i in range(1, 13)]
    assert "admin@contoso.onmicrosoft.com" in evidence["no_onedrive"]  # no personal site: skipped
    change = runs["dry_run"].result(CONNECTOR, CAUSE)["changes"][0]
    assert change["call"]["url"].endswith("/_vti_bin/client.svc/ProcessQuery")
    assert change["call"]["body"]["method"] == "Tenant.SetSiteAdmin" and change["call"]["body"]["isSiteAdmin"]
    assert change["before"]["users"][0] == upn(1)
    assert not any(account_is_admin(world, i) for i in range(1, 13))  # undone


def test_fleet_grants_the_rest_and_reports_failures_by_name(world: World) -> None:
    world.reset([CAUSE], users=USERS)
    already = list(range(1, USERS + 1, 20))  # 5%
    failing = list(range(7, USERS + 1, 100))  # 1%
    grant_directly(world, already)
    fail_sites(world, failing)
    started = time.monotonic()
    first = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR, "--only", CAUSE)
    elapsed = time.monotonic() - started
    assert first.code == 4, first.stderr
    row = first.result(CONNECTOR, CAUSE)
    assert row["status"] == "failed"
    failed = {f["user"] for f in row["evidence"]["failed"]}
    assert failed == {upn(i) for i in failing}
    assert all(f["status"] == 503 and f["site"].endswith(personal_path(f["user"])) for f in
               row["evidence"]["failed"])
    assert upn(failing[0]) in row["reason"]
    assert row["evidence"]["missing"] == USERS - len(already)
    expected = set(range(1, USERS + 1)) - set(failing)
    assert all(account_is_admin(world, i) for i in expected)
    assert not any(account_is_admin(world, i) for i in failing)
    changed = sum(c["after"]["changed"] for c in row["changes"])
    assert changed == USERS - len(already) - len(failing)  # the pre-granted ones were not touched

    seq = world.log_seq()
    second = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR, "--only", CAUSE)
    assert second.code == 4
    again = second.result(CONNECTOR, CAUSE)
    assert again["evidence"]["missing_users"] == [upn(i) for i in failing]  # only what is still missing
    assert world.writes_since(seq) == []
    retried = sorted(u for change in again["changes"] for u in change["before"]["users"])
    assert retried == [upn(i) for i in failing]  # the only sites the second run asked the tenant to change
    posts = {e["path"].lower() for e in world.requests_since(seq)
             if e["method"] != "GET" and e["service"] == "sharepoint"}
    assert posts == {"/_api/contextinfo", "/_vti_bin/client.svc/processquery"}  # the digest, the tenant call
    assert elapsed < 60, elapsed


def test_undo_reverses_exactly_the_sites_the_run_changed(world: World) -> None:
    world.reset([CAUSE], users=60)
    already = [3, 30]
    grant_directly(world, already)
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR, "--only", CAUSE)
    assert fixed.code == 0, fixed.stderr
    assert fixed.result(CONNECTOR, CAUSE)["status"] == "fixed"
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0, undone.stderr
    assert [i for i in range(1, 61) if account_is_admin(world, i)] == already


def test_a_grant_that_changed_no_onedrive_does_not_block_the_undo(world: World) -> None:
    """The review's M2: a 0-of-N fleet step was journaled applied and its undo failed on every retry,
    blocking the certificate's undo too."""
    world.reset(["app-certificate-missing", CAUSE], users=8)
    fail_sites(world, list(range(1, 9)))
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)
    assert fixed.result(CONNECTOR, "app-certificate-missing")["status"] == "fixed", fixed.json
    assert fixed.result(CONNECTOR, CAUSE)["status"] == "failed"
    world.sim.set_faults({})
    for _ in range(2):  # and again: nothing is left failed
        undone = world.run("undo", fixed.run_id, "-o", "json")
        assert undone.code == 0, undone.json
    again = world.run("diagnose", "-o", "json", "--connector", CONNECTOR)
    assert again.result(CONNECTOR, "app-certificate-missing")["status"] == "found"  # reverted
