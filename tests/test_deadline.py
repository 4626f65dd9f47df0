"""Deadline text, the config's timeouts, the policy's deadline, --deadline, retries near a deadline, and
worker threads that do not hold the process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent import deadline as deadlines
from agent.clients.timeouts import azure_core_timeouts, httpx_timeout, requests_timeout
from agent.config.load import load_config
from agent.config.model import Config
from agent.heal.policy import Policy
from agent.retry import RetryPolicy, sync_retrying

EXAMPLE = Path(__file__).parent.parent / "configs" / "example.yaml"


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("90s", 90), ("1h", 3600), ("500ms", 0.5),
                                          ("2", 2), (" 1.5m ", 90)])
def test_durations_parse(text: str, seconds: float) -> None:
    assert deadlines.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15 minutes", "-1m", "0s", "m"])
def test_bad_durations_are_named(text: str) -> None:
    with pytest.raises(ValueError, match="deadline"):
        deadlines.parse_duration(text)


def test_the_reason_names_the_deadline() -> None:
    assert deadlines.Deadline(900).reason() == "deadline: the run's 15m deadline passed before this check " \
                                               "finished"


def test_every_tenant_gets_the_network_timeouts_unless_it_sets_its_own() -> None:
    config = load_config(EXAMPLE)
    data = config.model_dump(mode="json")
    data["network"] = {"connect_s": 2, "read_s": 3}
    data["tenants"].append({**data["tenants"][0], "name": "other", "timeouts": {"connect_s": 4, "read_s": 5}})
    for tenant in data["tenants"]:
        tenant.pop("timeouts", None) if tenant["name"] == "contoso" else None
    both = Config.model_validate(data)
    assert requests_timeout(both.tenants[0]) == (2, 3) and requests_timeout(both.tenants[1]) == (4, 5)
    assert azure_core_timeouts(both.tenants[0]) == {"connection_timeout": 2, "read_timeout": 3}
    assert httpx_timeout(both.tenants[1]).read == 5 and httpx_timeout(both.tenants[1]).connect == 4


def test_the_example_documents_the_defaults() -> None:
    assert requests_timeout(load_config(EXAMPLE).tenants[0]) == (10, 30)
    assert "network:" in EXAMPLE.read_text() and "read_s: 30" in EXAMPLE.read_text()


@pytest.mark.parametrize("network", [{"read_s": 0}, {"connect_s": -1}, {"read_s": "soon"}, {"colour": 1}])
def test_bad_timeouts_are_refused(network: dict[str, object]) -> None:
    data = load_config(EXAMPLE).model_dump(mode="json")
    data["network"] = network
    with pytest.raises(ValidationError):
        Config.model_validate(data)


def test_the_policy_deadline() -> None:
    assert Policy(deadline="10m").deadline_s == 600 and Policy().deadline_s is None
    with pytest.raises(ValidationError, match="deadline"):
        Policy(deadline="soon")


def test_a_bad_deadline_option_is_bad_input() -> None:
    from typer.testing import CliRunner

    from agent.cli.main import app

    result = CliRunner().invoke(app, ["diagnose", "--sim", "--deadline", "soon"])
    assert result.exit_code == 2 and "--deadline" in result.output and "Traceback" not in result.output


def test_no_retry_starts_after_the_deadline() -> None:
    calls = []

    def stalled() -> None:
        calls.append(time.monotonic())
        raise TimeoutError("read timed out")

    retry = sync_retrying(RetryPolicy(attempts=10, base_s=0.2, jitter_s=0), sleep=time.sleep)
    with deadlines.in_force(deadlines.Deadline(0.5)), pytest.raises(TimeoutError):
        retry(stalled)
    assert 1 <= len(calls) <= 3  # without the deadline: 10 attempts


def test_a_stalled_worker_thread_does_not_hold_the_exit() -> None:
    code = ("import time, asyncio\nfrom agent import threads\n"
            "async def main():\n    asyncio.get_running_loop().run_in_executor(None, time.sleep, 60)\n"
            "    await asyncio.sleep(0.1)\n    print('report', flush=True)\n"
            "threads.run(main())\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "report" and time.monotonic() - started < 5, done.stderr


def test_shutting_down_a_pool_of_stuck_threads_waits_once() -> None:
    import threading

    from agent.threads import SHUTDOWN_JOIN_S, DaemonThreadPoolExecutor

    release = threading.Event()
    pool = DaemonThreadPoolExecutor(max_workers=8)
    for _ in range(8):
        pool.submit(release.wait, 30)
    started = time.monotonic()
    pool.shutdown(wait=True)
    took = time.monotonic() - started
    release.set()
    assert took < SHUTDOWN_JOIN_S + 0.5, took  # not 8 x the wait
    assert all(t.daemon for t in pool._threads)
