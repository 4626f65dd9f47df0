"""What a lane's worker process runs: the real CLI in-process. Imported by the fork server, so the client
libraries are loaded once and every worker starts with them."""

from __future__ import annotations

import time

import azure.identity  # noqa: F401 - loaded once in the fork server, shared by every worker
import exchangelib  # noqa: F401
import msgraph  # noqa: F401
import office365.sharepoint.client_context  # noqa: F401
from msgraph.generated.models.user import User
from typer.testing import CliRunner

from agent.cli.main import app

# The first typed Graph parse imports about 1,200 model modules (a second of CPU, several on a loaded
# machine), on the event loop, where no deadline can interrupt it: the healthy diagnoses of warm() never
# parse a write's answer, so a case's first fix would pay it. Paid here once, in the fork server.
User().get_field_deserializers()


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds) of `agent ARGV` with `env` set for the run."""
    started = time.monotonic()
    outcome = CliRunner().invoke(app, argv, env=env, catch_exceptions=False)
    return outcome.exit_code, outcome.stdout, outcome.stderr, time.monotonic() - started


def warm(config: str, state_dir: str, runs: int = 2) -> float:
    """Healthy diagnoses, so that a case's first timed run costs what every later one does; returns the
    seconds the last one took (how fast this machine is right now)."""
    env = {"AGENT_CONFIG": config, "AGENT_STATE_DIR": state_dir}
    took = 0.0
    for _ in range(runs):
        code, _, stderr, took = run_cli(["diagnose", "--connector", "mail-exo", "-o", "json"], env)
        assert code in (0, 3), stderr
    return took
