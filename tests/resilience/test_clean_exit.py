"""The real CLI in a subprocess exits within seconds of printing its report, whatever is still stalled:
no worker thread, pool or event loop outlives the report (diagnose, fix, heal, undo, approve)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from agent.simulator import Simulator
from tests.e2e.harness import World
from tests.resilience import MAIL_PLAYBOOKS, agent_process
from tests.resilience.test_deadlines import CAUSE, fast

EXIT_AFTER_REPORT_S = 5.0
# A new interpreter loading four client libraries: a few seconds, over ten on a busy machine. The report
# still comes within the deadline plus this, never after minutes of stalled reads.
START_S = 15.0
STALL = {"stall": {"rate": 1.0, "services": ["ews", "graph"], "hold_s": 60}}


def timed_exit(world: World, *argv: str) -> tuple[int, str, float, float]:
    """Run `agent ARGV`; (exit code, stdout, seconds to the report, seconds from report to exit)."""
    env = {"AGENT_CONFIG": str(world.config), "AGENT_STATE_DIR": str(world.state_dir),
           "PYTHONUNBUFFERED": "1", **world.env()}  # the report reaches the pipe when printed, not at exit
    started = time.monotonic()
    process = agent_process(*argv, env=env)
    first: list[float] = []
    chunks: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not first:
                first.append(time.monotonic())
            chunks.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    ended = time.monotonic()
    reader.join(5)
    assert first, f"no report; stderr: {process.stderr.read() if process.stderr else ''}"
    return process.returncode, "".join(chunks), first[0] - started, ended - first[0]


@pytest.fixture
def mail(sim: Simulator, tmp_path: Path) -> World:
    return fast(World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS]).reset([CAUSE], users=4), read_s=30)


@pytest.mark.parametrize("command", [("diagnose",), ("fix", "--yes"), ("heal",)])
def test_the_process_exits_soon_after_its_report(mail: World, command: tuple[str, ...]) -> None:
    mail.sim.set_faults(STALL)  # reads held for a minute: only the deadline ends the run
    try:
        code, out, to_report, to_exit = timed_exit(mail, *command, "--connector", "mail-exo",
                                                   "--deadline", "3s", "-o", "json")
    finally:
        mail.sim.set_faults(None)
    assert code == 3, out
    assert '"unknown"' in out and "deadline: the run's 3s deadline passed" in out
    assert to_report < 3 + START_S, to_report
    assert to_exit < EXIT_AFTER_REPORT_S, to_exit


def test_undo_and_approve_end_by_their_deadline_and_exit_soon_after(mail: World, tmp_path: Path) -> None:
    fast(mail.reset([CAUSE], users=4), read_s=30)  # reads held longer than the deadline: only it ends them
    fixed = mail.run("fix", "--yes", "-o", "json", "--connector", "mail-exo")
    assert fixed.result("mail-exo", CAUSE)["status"] == "fixed", fixed.json
    mail.sim.set_faults({"stall": {"rate": 1.0, "services": ["graph"], "hold_s": 60}})
    try:
        code, out, to_report, to_exit = timed_exit(mail, "undo", fixed.run_id, "--deadline", "3s",
                                                   "-o", "json")
        assert code != 0 and "deadline: the run's 3s deadline passed" in out, (code, out)
        assert to_report < 3 + START_S and to_exit < EXIT_AFTER_REPORT_S, (to_report, to_exit)
        mail.sim.set_faults(None)
        assert mail.run("undo", fixed.run_id, "-o", "json").code == 0
        policy = tmp_path / "policy.yaml"
        policy.write_text("max_risk: none\n")
        healed = mail.run("heal", "--policy", str(policy), "-o", "json", "--connector", "mail-exo")
        assert healed.code == 3, healed.stdout
        mail.sim.set_faults({"stall": {"rate": 1.0, "path": r"/assignLicense$", "hold_s": 60}})
        code, out, to_report, to_exit = timed_exit(mail, "approve", healed.run_id, "--deadline", "3s",
                                                   "-o", "json")
        assert code != 0 and "deadline: the run's 3s deadline passed" in out, (code, out)
        assert to_report < 3 + START_S and to_exit < EXIT_AFTER_REPORT_S, (to_report, to_exit)
    finally:
        mail.sim.set_faults(None)


def test_heal_with_a_stalled_sharepoint_exits_soon_after_its_report(sim: Simulator, tmp_path: Path) -> None:
    from tests.resilience import REPO
    from tests.resilience.test_deadlines import SP_CAUSE

    books = REPO / "playbooks" / "sharepoint"
    world = fast(World(sim, tmp_path, playbooks=[books]).reset([SP_CAUSE], users=4), read_s=30)
    sim.set_faults({"stall": {"rate": 1.0, "services": ["sharepoint"], "hold_s": 60}})
    try:
        code, out, to_report, to_exit = timed_exit(world, "heal", "--connector", "sp-sites", "--deadline",
                                                   "3s", "-o", "json")
    finally:
        sim.set_faults(None)
    assert code == 3 and f'"cause": "{SP_CAUSE}"' in out, out
    assert to_report < 3 + START_S and to_exit < EXIT_AFTER_REPORT_S, (to_report, to_exit)
