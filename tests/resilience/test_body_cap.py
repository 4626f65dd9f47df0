"""A huge answer is never read into memory: each library's call stops at network.max_response_bytes and
is reported `unknown (response too large)`, and the reading process's peak RSS stays far below the body."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.simulator import Simulator
from tests.e2e.harness import World
from tests.resilience import REPO

HUGE_MB = 300.0  # "hundreds of MB"
CONTROL_MB = 24.0  # under the 32 MB default: read whole, so the measurement is seen to move
CAP_BYTES = 1024 * 1024


def test_huge_answers_stop_at_the_cap_and_memory_stays_bounded(sim: Simulator, tmp_path: Path) -> None:
    world = World(sim, tmp_path).reset(users=4)
    with world.config.open("a") as config:
        config.write(f"network: {{connect_s: 2, read_s: 10, max_response_bytes: {CAP_BYTES}}}\n")
    try:
        done = subprocess.run([sys.executable, "-m", "tests.resilience.rss_probe", sim.base_url, sim.ca_path,
                               str(world.config), str(HUGE_MB), str(CONTROL_MB)], capture_output=True,
                              text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        sim.set_faults(None)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["call"]: r for r in map(json.loads, done.stdout.splitlines())}
    for name in ("graph", "identity", "ews", "sharepoint"):
        row = rows[name]
        assert row["reason"].startswith("response too large: the answer from https://"), row
        assert "1 MB limit" in row["reason"], row
        assert row["grew_mb"] < HUGE_MB / 10, row  # a read of the whole body would add at least 300 MB
    control = rows["control"]
    assert control["bytes"] > CONTROL_MB * 1024 * 1024
    assert control["grew_mb"] > CONTROL_MB * 0.8, control  # the measure does see a body read whole
