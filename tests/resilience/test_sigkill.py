"""A heal run killed with SIGKILL mid-apply leaves a journal that history reads and undo replays.

The run applies two fixes (the policy allows the high-risk one). The second fix's write is throttled on
its path every time (Retry-After 1), so the process sits mid-apply with one change applied and one
pending, for seconds; that is when the test kills it.
"""

from __future__ import annotations

import signal
from pathlib import Path

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID
from agent.simulator.state.tenant import EXCHANGE_APP_ID
from tests.e2e.harness import World
from tests.resilience import MAIL_PLAYBOOKS, agent_process, change_states, kill_when

EXO = "mail-exo"
BREAKS = ["account-unlicensed", "exo-app-missing-full-access"]


def licensed(sim: Simulator) -> bool:
    return sim.state.has_mailbox(sim.state.user(ACCOUNT_UPN))


def granted(sim: Simulator) -> bool:
    return "full_access_as_app" in sim.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


def test_sigkill_mid_apply_then_history_and_undo(sim: Simulator, tmp_path: Path) -> None:
    world = World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS]).reset(BREAKS, users=4)
    policy = tmp_path / "policy.yaml"
    policy.write_text("allow: [exo-app-missing-full-access]\n")
    sim.set_faults({"throttle": {"path": r"/appRoleAssignedTo$", "rate": 1.0, "retry_after_s": 1}})
    process = agent_process("heal", "--config", str(world.config), "--state-dir", str(world.state_dir),
                            "--policy", str(policy), "--connector", EXO)
    try:
        states = kill_when(process, lambda: _mid_apply(world.state_dir), "one change applied and one pending")
    finally:
        sim.set_faults(None)
    assert process.returncode == -signal.SIGKILL
    assert licensed(sim) and not granted(sim)  # the throttled write never reached the tenant
    run_id = states[0][0]

    history = world.run("history", run_id, "-o", "json")
    assert history.code == 0, history.stderr
    assert history.json["finished"] is None and history.json["exit_code"] is None
    assert [(c["action"], c["state"]) for c in history.json["changes"]] == \
        [("assign-licence", "applied"), ("grant-app-role", "pending")]
    table = world.run("history", run_id)
    assert "[applied] assign-licence" in table.stdout and "[pending] grant-app-role" in table.stdout
    assert history.json["state"] == "unfinished"
    assert "not finished" in table.stdout and "exit code 0" not in table.stdout  # never shown as healthy
    assert "nothing to check" not in table.stdout
    listing = world.run("history")
    assert run_id in listing.stdout and "(not finished)" in listing.stdout

    undo = world.run("undo", run_id, "-o", "json")
    assert undo.code == 3, (undo.stderr, undo.json)  # the pending change needs a person to look
    rows = {r["cause"]: r for r in undo.json["results"]}
    assert rows["account-unlicensed"]["status"] == "fixed"  # reversed
    assert rows["exo-app-missing-full-access"]["status"] == "skipped"
    assert "interrupted while being applied" in rows["exo-app-missing-full-access"]["reason"]
    assert not licensed(sim) and not granted(sim)
    # the undo holds the lock, so it knows the unfinished heal died: it marks it and says so
    assert f"run {run_id} was interrupted" in undo.stderr
    after = world.run("history", run_id, "-o", "json")
    assert [c["state"] for c in after.json["changes"]] == ["undone", "pending"]
    assert after.json["state"] == "interrupted" and after.json["exit_code"] is None
    assert "interrupted" in world.run("history").stdout


def _mid_apply(state_dir: Path) -> list[tuple[str, int, str, str]] | None:
    states = change_states(state_dir)
    wanted = [("assign-licence", "applied"), ("grant-app-role", "pending")]
    return states if [(s[2], s[3]) for s in states] == wanted else None
