"""Grant steps stamped with their expiry (and non-grants told why not), recorded once made, closed
windows, the heal news of expiring and revoked grants in webhooks, and the policy and playbook keys."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.errors import BadInput, PlaybookError
from agent.grants.lifetime import Lifetimes
from agent.grants.timebox import GrantHook, closed_windows, expiring
from agent.heal.grants import grant_news, news_lines
from agent.heal.notify import payload
from agent.heal.policy import load_policy
from agent.journal.grants import Grant, GrantStore
from agent.model import Call, Outcome, Plan, Risk, RunReport, Status, Step
from agent.playbook.load import load_playbooks

NOW = datetime(2026, 12, 7, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def job(fixer: str, *steps: Step, cause: str = "some-cause", expires_after: str | None = None) -> Any:
    plan = Plan(cause, "conn", fixer, Risk.HIGH, list(steps))
    return SimpleNamespace(plan=plan, cause=cause, playbook=SimpleNamespace(expires_after=expires_after))


def step(action: str, **kw: Any) -> Step:
    return Step(action, Call("POST", "https://graph.example/x"), **kw)


def test_grant_steps_get_the_expiry_and_a_reset_says_it_cannot_be_boxed(tmp_path: Path) -> None:
    hook = GrantHook(Lifetimes(span=timedelta(days=30), now=NOW), tmp_path / "j.sqlite3")
    grant = job("grant-exchange-app-role", step("grant-app-role"))
    hook.annotate(grant)
    assert grant.plan.steps[0].expires == "2027-01-06T00:00:00+00:00"
    assert "--grant-for 30d" in grant.plan.steps[0].time_box
    reset = job("restore-account-sign-in", step("reset-password", irreversible=True),
                step("set-account-enabled"))
    hook.annotate(reset)
    assert [s.expires for s in reset.plan.steps] == [None, None]
    assert reset.plan.steps[0].time_box.startswith("a password reset cannot be time-boxed")
    assert "not an access grant" in reset.plan.steps[1].time_box


def test_without_any_lifetime_nothing_is_stamped(tmp_path: Path) -> None:
    hook = GrantHook(Lifetimes(now=NOW), tmp_path / "j.sqlite3")
    grant = job("grant-exchange-app-role", step("grant-app-role"), step("reset-password"))
    hook.annotate(grant)
    assert [(s.expires, s.time_box) for s in grant.plan.steps] == [(None, ""), (None, "")]


def test_only_made_grant_changes_are_recorded_and_empty_fleet_chunks_skipped(tmp_path: Path) -> None:
    hook = GrantHook(Lifetimes(now=NOW), tmp_path / "j.sqlite3")
    made = step("grant-onedrive-admins", params={"users": ["a@x", "b@x"], "login": "i:0#.f|membership|m@x"},
                undo={"users": ["a@x"], "maybe": ["b@x"]}, expires="2027-01-01T00:00:00+00:00")
    failed = step("grant-onedrive-admins", params={"users": ["c@x"], "login": "l"}, undo={"users": []},
                  expires="2027-01-01T00:00:00+00:00")
    refused = step("grant-onedrive-admins", params={"users": ["d@x"], "login": "l"},
                   undo={"users": ["d@x"]}, expires="2027-01-01T00:00:00+00:00")
    fleet = job("grant-onedrive-admin", made, failed, refused, cause="no-onedrive-access")
    changes = [{"seq": 1, "state": "applied"}, {"seq": 2, "state": "applied"}, {"seq": 3, "state": "failed"}]
    [grant] = hook.record("run1", fleet, changes)
    assert (grant.seq, grant.items, grant.kind, grant.target) == (1, ["a@x", "b@x"], "onedrive-site-admin",
                                                                  "2 OneDrive(s)")
    with GrantStore(tmp_path / "j.sqlite3") as store:
        assert [g.seq for g in store.grants()] == [1]


def test_a_revoked_window_stays_closed_until_a_new_grant(tmp_path: Path) -> None:
    with GrantStore(tmp_path / "j.sqlite3") as store:
        old = Grant("r1", 1, "c", "x-cause", "f", "a", "app-role", "p", "t", "2027-01-01T00:00:00+00:00")
        store.add(old)
        store.update(old, state="revoked", revoked_run="r2")
        early = Grant("r0", 1, "c", "y-cause", "f", "a", "app-role", "p", "t", "2027-01-01T00:00:00+00:00")
        store.add(early)
        store.update(early, state="removed")  # someone else removed it: closed once it expired
        assert set(closed_windows(store, NOW)) == {("c", "x-cause")}
        later = datetime(2027, 1, 2, tzinfo=UTC)
        assert set(closed_windows(store, later)) == {("c", "x-cause"), ("c", "y-cause")}
        store.add(Grant("r3", 1, "c", "x-cause", "f", "a", "app-role", "p", "t", "2027-03-01T00:00:00+00:00"))
        assert closed_windows(store, NOW) == {}
        soon = expiring(store.grants(), datetime(2027, 2, 25, tzinfo=UTC), 7)
        assert [g.run_id for g in soon] == ["r3"]
        assert expiring(store.grants(), datetime(2027, 2, 1, tzinfo=UTC), 7) == []


def test_webhooks_say_what_was_revoked_and_what_expires_soon(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_NOW", "2027-02-25T00:00:00Z")
    with GrantStore(tmp_path / "j.sqlite3") as store:
        store.add(Grant("r3", 1, "c", "x-cause", "f", "a", "app-role", "p", "tgt",
                        "2027-03-01T00:00:00+00:00"))
        revocation = RunReport("r9", "revoke", "s", results=[Outcome("c", "y-cause", Status.FIXED, evidence={
            "grants": [{"run_id": "r1", "seq": 1, "target": "site A", "result": "revoked", "note": "ok"}]})])
        news = grant_news(store, revocation, 7)
    assert news["revoke_run"] == "r9" and news["revoked"][0]["target"] == "site A"
    assert [r["run_id"] for r in news["expiring"]] == ["r3"]
    assert news_lines(news)[0] == "revoked: c / y-cause: site A (granted in run r1)"
    report = RunReport("r10", "heal", "s", results=[Outcome("c", "y-cause", Status.OK)])
    body = json.loads(payload(report, "json", ["fixed"], news))
    assert body["grants"]["revoked"][0]["target"] == "site A"
    card = json.loads(payload(report, "teams", ["fixed"], news))
    texts = [b.get("text", "") for b in card["attachments"][0]["content"]["body"]]
    assert any(t.startswith("expires within 7 day(s): c / x-cause: tgt") for t in texts)


def test_policy_grant_lifetime_is_validated_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("grant_lifetime:\n  no-onedrive-access: 14d\n  default: 45d\n")
    lifetimes = load_policy(path).lifetimes()
    assert lifetimes.per_cause["no-onedrive-access"] == timedelta(days=14)
    path.write_text("max_risk: medium\ngrant_lifetime:\n  no-onedrive-access: soon\n")
    with pytest.raises(BadInput, match=r"policy.yaml:3.*lifetime like 30d"):
        load_policy(path)
    path.write_text("grant_lifetime: {no-such-cause: 3d}\n")
    with pytest.raises(BadInput, match="grant_lifetime: unknown cause id no-such-cause"):
        load_policy(path).check_causes(["no-onedrive-access"])


def test_playbook_fix_expires_after_is_a_validated_default(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    source = (REPO / "playbooks" / "files" / "no-onedrive-access.yaml").read_text()
    target = folder / "no-onedrive-access.yaml"
    target.write_text(source.replace("  risk: medium\n", "  risk: medium\n  expires_after: 45d\n", 1))
    [book] = load_playbooks([target])
    assert book.expires_after == "45d"
    target.write_text(source.replace("  risk: medium\n", "  risk: medium\n  expires_after: a while\n", 1))
    with pytest.raises(PlaybookError, match="expires_after"):
        load_playbooks([target])
    shutil.rmtree(folder)
