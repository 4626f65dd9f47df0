"""Heal under faults; helpers running the real `python -m agent` as a subprocess against the test tenant."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MAIL_PLAYBOOKS = REPO / "playbooks" / "mail"  # the causes a mail connector is healed of


def agent_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`python -m agent ARGS` with its own process group, output captured, mail playbooks only."""
    child_env = {**os.environ, "AGENT_PLAYBOOKS": str(MAIL_PLAYBOOKS), **(env or {})}
    for name in ("AGENT_CONFIG", "AGENT_STATE_DIR", "AGENT_HEAL_POLICY", "AGENT_DEBUG"):
        if name not in (env or {}):
            child_env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "agent", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env, cwd=REPO)


def wait_for(check: Callable[[], Any], timeout_s: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` every 20 ms until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def change_states(state_dir: Path) -> list[tuple[str, int, str, str]]:
    """(run, seq, action, state) of every journaled change, read as another process would."""
    path = state_dir / "journal.sqlite3"
    if not path.is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT run, seq, action, state FROM changes ORDER BY run, seq").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    return [(str(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def kill_when(process: subprocess.Popen[str], check: Callable[[], Any], what: str,
              timeout_s: float = 60.0) -> Any:
    """SIGKILL `process` as soon as `check` holds, and return what `check` returned; the process is
    reaped whatever happens, so a failing wait leaves no agent running."""
    try:
        seen = wait_for(check, timeout_s=timeout_s, what=what)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        return seen
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
