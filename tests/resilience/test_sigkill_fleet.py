"""A fleet fix killed with SIGKILL between its journaled chunks (reliability review M3): the killed run
is marked interrupted by the next writing run, and undo reverses every chunk, the interrupted one too,
so no grant made by the killed run is left behind."""

from __future__ import annotations

import signal
from pathlib import Path

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from agent.simulator.state.tenant import login_name, personal_path
from tests.e2e.harness import World
from tests.resilience import REPO, agent_process, change_states, kill_when

CONNECTOR, CAUSE = "files-onedrive", "no-onedrive-access"
USERS = 120


def admins(sim: Simulator) -> int:
    """How many OneDrives have the migration account as site collection admin."""
    count = 0
    for i in range(1, USERS + 1):
        site = sim.state.find_site(personal_path(f"user{i:04d}@contoso.onmicrosoft.com"))
        entry = site.user_by_login(login_name(ACCOUNT_UPN)) if site is not None else None
        count += bool(entry is not None and entry.is_site_admin)
    return count


def small_chunks(folder: Path) -> Path:
    """The files playbooks with 20 sites per journaled chunk, so a run of 120 has six chunks."""
    folder.mkdir()
    for source in (REPO / "playbooks" / "files").glob("*.yaml"):
        text = source.read_text().replace("chunk_size: 250, batch_size: 100",
                                          "chunk_size: 20, batch_size: 10")
        (folder / source.name).write_text(text)
    assert "chunk_size: 20" in (folder / f"{CAUSE}.yaml").read_text()
    return folder


def test_a_killed_fleet_fix_is_marked_interrupted_and_fully_undone(sim: Simulator, tmp_path: Path) -> None:
    books = small_chunks(tmp_path / "playbooks")
    world = World(sim, tmp_path, playbooks=[books]).reset([CAUSE], users=USERS)
    before = admins(sim)
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_risk: medium\n")
    # every SharePoint request slowed, so the run sits between chunks long enough to be killed there
    sim.set_faults({"latency_ms": {"sharepoint": 150}})
    process = agent_process("heal", "--config", str(world.config), "--state-dir", str(world.state_dir),
                            "--policy", str(policy), "--connector", CONNECTOR,
                            env={"AGENT_PLAYBOOKS": str(books)})
    try:
        kill_when(process, lambda: _applied_and_pending(world.state_dir), "a chunk applied, the next pending",
                  timeout_s=120)
    finally:
        sim.set_faults(None)
    assert process.returncode == -signal.SIGKILL
    run_id = change_states(world.state_dir)[0][0]
    assert admins(sim) > before  # the killed run left grants on the tenant

    undo = world.run("undo", run_id, "-o", "json")
    assert f"run {run_id} was interrupted" in undo.stderr
    assert undo.code in (0, 3), (undo.stderr, undo.json)
    assert admins(sim) == before  # every grant of the killed run reversed, the interrupted chunk too
    shown = world.run("history", run_id, "-o", "json")
    assert shown.json["state"] == "interrupted" and shown.json["exit_code"] is None


def _applied_and_pending(state_dir: Path) -> bool:
    states = [s[3] for s in change_states(state_dir)]
    return "applied" in states and states[-1] == "pending"
