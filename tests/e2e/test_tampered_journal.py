"""An edited journal makes undo refuse before any write, naming the change (the review's M7)."""

from __future__ import annotations

import json
import sqlite3

from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World


def test_undo_of_an_edited_ca_change_refuses_and_writes_nothing(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    tenant = world.sim.state
    fixed = world.run("fix", "--yes", "--allow-risk", "high", "-o", "json", "--connector", "mail-exo")
    assert fixed.code == 0
    with sqlite3.connect(world.state_dir / "journal.sqlite3") as db:
        (undo,) = db.execute("SELECT undo FROM changes WHERE run=?", (fixed.run_id,)).fetchone()
        data = json.loads(undo)
        data["exclude_users"] = [*data["exclude_users"], *[u.id for u in list(tenant.users.values())[:3]]]
        db.execute("UPDATE changes SET undo=? WHERE run=?", (json.dumps(data), fixed.run_id))
    seq = world.log_seq()
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 2, undone.stdout
    assert "change 1 (exclude-account) does not match its journal signature" in undone.stderr
    assert len(undone.stderr.strip().splitlines()) == 1 and "Traceback" not in undone.stderr
    assert world.writes_since(seq) == []
    policy = tenant.ca_policy(str(tenant.extras["mfa_policy_id"]))
    assert tenant.user(ACCOUNT_UPN).id in policy.exclude_users  # untouched: still the fix's state
