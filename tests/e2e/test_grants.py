"""Time-boxed grants end to end: fix with a lifetime, list, heal before and after expiry (injected clock),
someone else changing a grant in between, and a fleet of 2,000 OneDrives with failing sites."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agent.journal.grants import GrantStore
from agent.journal.statedir import JOURNAL_NAME
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID
from agent.simulator.state.tenant import EXCHANGE_APP_ID, login_name, personal_path
from tests.e2e.harness import World
from tests.e2e.test_files_onedrive import account_is_admin, fail_sites, upn

EXO, FULL_ACCESS, MFA = "mail-exo", "exo-app-missing-full-access", "mfa-blocks-service-account"
FILES, ONEDRIVE = "files-onedrive", "no-onedrive-access"
HIGH = ("--yes", "--allow-risk", "high")
BEFORE, AFTER = "2026-12-20T00:00:00Z", "2027-01-20T00:00:00Z"  # the grants below expire in between


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_NOW", raising=False)


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """Move the agent's clock (agent.clock reads $AGENT_NOW; nothing in the code is patched)."""
    monkeypatch.setenv("AGENT_NOW", when)


def policy(world: World, *allow: str) -> str:
    path = Path(world.folder / "policy.yaml")
    path.write_text(f"allow: [{', '.join(allow)}]\ngrant_warn_days: 30\n")
    return str(path)


def full_access_granted(world: World) -> bool:
    return "full_access_as_app" in world.sim.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


def grants_of(world: World, *states: str) -> list[dict[str, Any]]:
    with GrantStore(world.state_dir / JOURNAL_NAME) as store:
        return [g.to_dict() for g in store.grants(states)]


def test_grant_lives_until_its_expiry_then_heal_revokes_and_verifies(world: World,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset([FULL_ACCESS])
    at(monkeypatch, "2026-12-07T00:00:00Z")
    seq = world.log_seq()
    dry = world.run("fix", "--dry-run", "--grant-until", "2027-01-05", "-o", "json", "--connector", EXO)
    change = dry.result(EXO, FULL_ACCESS)["changes"][0]
    assert change["expires"] == "2027-01-05T23:59:59+00:00" and "--grant-until" in change["time_box"]
    assert world.writes_since(seq) == []
    fixed = world.run("fix", *HIGH, "--grant-until", "2027-01-05", "-o", "json", "--connector", EXO)
    assert fixed.code == 0, fixed.stdout
    assert full_access_granted(world)

    listed = world.run("grants", "-o", "json")
    assert listed.code == 0, listed.stderr
    [row] = listed.json["grants"]
    assert (row["run_id"], row["kind"], row["holds"]) == (fixed.run_id, "app-role", "holds")
    assert row["revoke_call"].startswith("DELETE ") and "/appRoleAssignedTo/" in row["revoke_call"]

    at(monkeypatch, BEFORE)
    early = world.run("heal", "--policy", policy(world, FULL_ACCESS), "-o", "json")
    assert early.code == 0, early.stdout
    assert full_access_granted(world)  # not expired: left in place, and reported as expiring soon
    assert [g["run_id"] for g in early.json["grants"]["expiring"]] == [fixed.run_id]

    at(monkeypatch, AFTER)
    seq = world.log_seq()
    dry = world.run("grants", "revoke", "--expired", "--dry-run", "-o", "json")
    assert dry.code == 3 and dry.result(EXO, FULL_ACCESS)["status"] == "planned"
    assert dry.result(EXO, FULL_ACCESS)["changes"][0]["call"]["method"] == "DELETE"
    assert world.writes_since(seq) == [] and full_access_granted(world)  # a dry run changes nothing
    late = world.run("heal", "--policy", policy(world, FULL_ACCESS), "-o", "json")
    assert not full_access_granted(world)
    [revoked] = late.json["grants"]["revoked"]
    assert revoked["note"] == "revoked and verified: the grant is gone"
    deletes = [e for e in world.writes_since(seq) if e["method"] == "DELETE"]
    assert len(deletes) == 1 and "/appRoleAssignedTo/" in deletes[0]["path"]
    # heal does not grant it again: a person decides (approve)
    assert late.result(EXO, FULL_ACCESS)["status"] == "planned"
    assert "was revoked" in late.result(EXO, FULL_ACCESS)["reason"]
    history = world.run("history", "-o", "json").json["runs"]
    modes = [r["mode"] for r in history]
    assert modes[:5] == ["heal", "revoke", "revoke-dry-run", "heal", "fix"], modes
    revoke_run = world.run("history", history[1]["id"], "-o", "json").json
    assert [c["action"] for c in revoke_run["changes"]] == ["revoke-app-role"]
    assert revoke_run["changes"][0]["state"] == "applied"
    original = world.run("history", fixed.run_id, "-o", "json").json
    assert original["changes"][0]["state"] == "undone"  # `agent undo` will not revoke it twice
    again = world.run("diagnose", "-o", "json", "--connector", EXO)
    assert again.result(EXO, FULL_ACCESS)["status"] == "found"  # the connector's access is gone
    assert [g["state"] for g in grants_of(world, "revoked")] == ["revoked"]


def test_a_grant_someone_else_re_granted_is_left_alone_and_reported(world: World,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset([FULL_ACCESS])
    fixed = world.run("fix", *HIGH, "--grant-for", "7d", "-o", "json", "--connector", EXO)
    assert fixed.code == 0
    tenant = world.sim.state
    client, exchange = tenant.sp_by_app_id(CONNECTOR_APP_ID), tenant.sp_by_app_id(EXCHANGE_APP_ID)
    assert client is not None and exchange is not None
    [ours] = [a for a in tenant.app_role_assignments.values()
              if (a.principal_id, a.resource_id) == (client.id, exchange.id)]
    tenant.delete_app_role_assignment(ours.id)  # a person removes it and grants it again, for good
    tenant.assign_app_role(ours.principal_id, ours.resource_id, ours.app_role_id)
    at(monkeypatch, "2027-06-01T00:00:00Z")
    seq = world.log_seq()
    revoked = world.run("grants", "revoke", "--expired", "-o", "json")
    assert revoked.code == 3, revoked.stdout  # reported, needs a look
    row = revoked.result(EXO, FULL_ACCESS)
    assert row["status"] == "skipped" and "granted again by someone else" in row["reason"]
    assert world.writes_since(seq) == [] and full_access_granted(world)
    assert [g["state"] for g in grants_of(world, "changed")] == ["changed"]


def test_a_ca_exclusion_someone_edited_is_left_alone(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset([MFA])
    fixed = world.run("fix", *HIGH, "--grant-for", "30d", "-o", "json", "--connector", EXO)
    assert fixed.code == 0, fixed.stdout
    [grant] = grants_of(world, "active")
    assert grant["kind"] == "ca-exclusion"
    tenant = world.sim.state
    pid = str(tenant.extras["mfa_policy_id"])
    edited = tenant.update_ca_policy(pid, {"display_name": "MFA for everyone (reviewed)"})
    edited.modified += 300  # a later edit than ours, whatever the clock's resolution
    excluded = list(edited.exclude_users)
    at(monkeypatch, "2027-06-01T00:00:00Z")
    seq = world.log_seq()
    dry = world.run("grants", "revoke", "--expired", "--dry-run", "-o", "json")
    assert dry.result(EXO, MFA)["status"] == "skipped"
    healed = world.run("heal", "--policy", policy(world, MFA), "-o", "json")
    [left] = healed.json["grants"]["left_alone"]
    assert "was modified" in left["note"]
    assert world.writes_since(seq) == [] and tenant.ca_policy(pid).exclude_users == excluded


def test_dry_run_plan_says_a_password_reset_cannot_be_time_boxed(world: World) -> None:
    world.reset(["bad-credentials:wrong-password"])
    dry = world.run("fix", "--dry-run", "--grant-for", "30d", "-o", "json", "--connector", EXO)
    change = dry.result(EXO, "bad-credentials")["changes"][0]
    assert change["action"] == "reset-password" and change["expires"] is None
    assert change["time_box"].startswith("a password reset cannot be time-boxed")


def test_extend_moves_the_expiry_and_is_journaled(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset([FULL_ACCESS])
    at(monkeypatch, "2026-12-07T00:00:00Z")
    fixed = world.run("fix", *HIGH, "--grant-for", "30d", "-o", "json", "--connector", EXO)
    extended = world.run("grants", "extend", fixed.run_id, "--by", "14d", "-o", "json")
    assert extended.code == 0, extended.stdout
    [grant] = grants_of(world, "active")
    assert grant["expires_at"] == "2027-01-20T00:00:00+00:00"
    assert extended.json["mode"] == "grants-extend"
    assert world.run("history", extended.run_id, "-o", "json").json["results"][0]["evidence"]["extended"]
    at(monkeypatch, "2027-01-10T00:00:00Z")  # past the first expiry, before the extended one
    world.run("heal", "--policy", policy(world, FULL_ACCESS), "-o", "json")
    assert full_access_granted(world)


def test_fleet_revocation_retries_failed_sites_and_revokes_none_twice(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    users = 2000
    world.reset([ONEDRIVE], users=users)
    granted = world.run("fix", "--yes", "--grant-for", "30d", "-o", "json", "--connector", FILES,
                        "--only", ONEDRIVE)
    assert granted.code == 0, granted.stdout
    assert sum(len(g["items"]) for g in grants_of(world, "active")) == users
    removed = [5, 500]  # someone else takes two OneDrives back meanwhile
    for i in removed:
        site = world.sim.state.find_site(personal_path(upn(i)))
        assert site is not None
        world.sim.state.set_site_admin_by_login(site, login_name(ACCOUNT_UPN), False)
    failing = list(range(7, users + 1, 100))  # 1%
    fail_sites(world, failing)
    at(monkeypatch, "2027-06-01T00:00:00Z")
    seq = world.log_seq()
    first = world.run("grants", "revoke", "--expired", "-o", "json")
    assert first.code == 4, first.stdout
    assert first.result(FILES, ONEDRIVE)["status"] == "failed"
    still = [i for i in range(1, users + 1) if account_is_admin(world, i)]
    assert still == failing
    left = sorted(u for g in grants_of(world, "active") for u in g["items"])
    assert left == sorted(upn(i) for i in failing)  # only these are retried

    world.sim.set_faults({})
    middle = world.log_seq()
    second = world.run("grants", "revoke", "--expired", "-o", "json")
    assert second.code == 0, second.stdout
    assert not any(account_is_admin(world, i) for i in range(1, users + 1))
    # every revocation the agent asked the tenant for, from the request log's CSOM calls
    kept = {personal_path(upn(i)) for i in range(1, users + 1) if i not in removed}
    failed_paths = {personal_path(upn(i)) for i in failing}
    first_asked, second_asked = revocations(world, seq, middle), revocations(world, middle)
    assert set(first_asked) == kept  # the two someone else took back were not touched
    assert all(n == 1 for path, n in first_asked.items() if path not in failed_paths)
    assert dict(second_asked) == dict.fromkeys(failed_paths, 1)  # only the failed ones, once each
    made = Counter(op.split(" ", 1)[1] for op in world.sim.state.ops
                   if op.startswith("tenant-set-site-admin "))
    assert all(made[path] == 2 for path in kept)  # granted once and revoked once, never twice
    retried = [u for c in world.run("history", second.run_id, "-o", "json").json["changes"]
               for u in c["params"]["users"]]
    assert sorted(retried) == sorted(upn(i) for i in failing)  # the second run asked for nothing else
    assert grants_of(world, "active") == []


def revocations(world: World, since: int, until: int | None = None) -> Counter[str]:
    """Site path -> how many Tenant.SetSiteAdmin(..., false) calls the request log shows for it."""
    return Counter(call.split()[1] for e in world.requests_since(since)
                   if until is None or e["seq"] <= until for call in e["csom"] if call.endswith(" false"))


def test_heal_time_boxes_site_grants_by_policy_and_revokes_them(world: World,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.e2e.test_sharepoint_sites import account_entry, roles_of_account

    world.reset(["not-site-collection-admin", "no-full-control"])
    at(monkeypatch, "2026-12-07T00:00:00Z")
    rules = Path(world.folder / "timeboxed.yaml")
    rules.write_text("grant_lifetime:\n  not-site-collection-admin: 14d\n  default: 30d\n")
    healed = world.run("heal", "--policy", str(rules), "-o", "json", "--connector", "sp-sites")
    assert healed.code == 0, healed.stdout
    kinds = {g["kind"]: g["expires_at"] for g in grants_of(world, "active")}
    assert kinds == {"site-collection-admin": "2026-12-21T00:00:00+00:00",
                     "full-control": "2027-01-06T00:00:00+00:00"}
    md = world.run("grants", "-o", "md")
    assert md.code == 0 and "## grants" in md.stdout and "site-collection-admin" in md.stdout
    html = world.run("grants", "-o", "html")
    assert html.code == 0 and "<html" in html.stdout.lower() and "full-control" in html.stdout

    at(monkeypatch, "2026-12-25T00:00:00Z")  # the admin flag expired, Full Control not yet
    mid = world.run("heal", "--policy", str(rules), "-o", "json", "--connector", "sp-sites")
    assert [g["kind"] for g in mid.json["grants"]["revoked"]] == ["site-collection-admin"]
    assert account_entry(world).is_site_admin is False and 1073741829 in roles_of_account(world)
    assert "expiring" not in mid.json["grants"]  # 12 days left: beyond the 7-day default warning
    at(monkeypatch, "2027-01-07T00:00:00Z")
    late = world.run("heal", "--policy", str(rules), "-o", "json", "--connector", "sp-sites")
    assert [g["kind"] for g in late.json["grants"]["revoked"]] == ["full-control"]
    assert 1073741829 not in roles_of_account(world)
    assert grants_of(world, "active") == []
