"""The run's deadline itself: what it cuts is reported with the deadline as the reason, a write it
interrupts stays pending and undoable, and a stalled read is retried within it (every fault on every
service and phase is in test_matrix)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.simulator import Simulator
from tests.e2e.harness import Result, World
from tests.resilience import MAIL_PLAYBOOKS

CAUSE = "account-unlicensed"
SP_CAUSE = "not-site-collection-admin"
DEADLINE_S = 3
SLACK_S = 3.5  # the CLI's own start, plus closing pools after the deadline


def fast(world: World, read_s: float = 1.0) -> World:
    """Short per-request limits, as the tests need them (the defaults are 10 s and 30 s)."""
    with world.config.open("a") as config:
        config.write(f"network: {{connect_s: 1, read_s: {read_s}}}\n")
    return world


@pytest.fixture
def mail(sim: Simulator, tmp_path: Path) -> World:
    return fast(World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS]).reset([CAUSE], users=4))


def secrets_of(world: World) -> list[str]:
    return [p.read_text().strip() for p in world.folder.iterdir()
            if p.suffix in (".secret", ".password") and p.read_text().strip()]


def timed(world: World, *argv: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = world.run(*argv, "-o", "json", "--deadline", f"{DEADLINE_S}s")
    return result, time.monotonic() - started


def check_run(world: World, result: Result, took: float, connector: str, cause: str) -> None:
    assert took < DEADLINE_S + SLACK_S, f"took {took:.1f}s"
    assert result.code in (3, 4), (result.code, result.stderr)
    row = result.result(connector, cause)
    assert row["status"] not in ("ok", "fixed"), row  # the tenant still has it broken
    for secret in secrets_of(world):
        assert secret not in result.stdout and secret not in result.stderr


def clean_diagnose_finds(world: World, connector: str, cause: str) -> None:
    world.sim.set_faults(None)
    after = world.run("diagnose", "-o", "json", "--connector", connector, "--only", cause)
    assert after.result(connector, cause)["status"] == "found", after.json



def test_a_stalled_run_reports_the_deadline_as_the_reason(mail: World) -> None:
    fast(mail.reset([CAUSE], users=4), read_s=30)  # only the run's deadline can stop these reads
    mail.sim.set_faults({"stall": {"rate": 1.0, "services": ["graph", "ews"]}})
    result, took = timed(mail, "diagnose", "--connector", "mail-exo")
    check_run(mail, result, took, "mail-exo", CAUSE)
    row = result.result("mail-exo", CAUSE)
    assert row["status"] == "unknown" and row["reason"].startswith(f"deadline: the run's {DEADLINE_S}s "
                                                                   "deadline passed"), row






def test_a_write_the_deadline_interrupts_stays_pending_and_undoable(mail: World) -> None:
    fast(mail.reset([CAUSE], users=4), read_s=30)
    mail.sim.set_faults({"stall": {"rate": 1.0, "path": r"/assignLicense$"}})
    result, took = timed(mail, "fix", "--yes", "--connector", "mail-exo")
    assert took < DEADLINE_S + SLACK_S
    row = result.result("mail-exo", CAUSE)
    assert row["status"] == "failed" and row["reason"].startswith("deadline:"), row
    assert [c["state"] for c in row["changes"]] == ["pending"], row["changes"]
    mail.sim.set_faults(None)
    undo = mail.run("undo", result.run_id, "-o", "json")
    assert undo.code in (0, 3), (undo.stderr, undo.json)
    again = mail.run("fix", "--yes", "-o", "json", "--connector", "mail-exo")  # the lock was released
    assert again.result("mail-exo", CAUSE)["status"] == "fixed", again.json






# ews: the connector's first sign-in (which only orders the checks) meets the first stall, a check the second
@pytest.mark.parametrize("service,first", [("graph", 1), ("ews", 2)])
def test_stalled_reads_are_retried_and_the_verdict_stands(mail: World, service: str, first: int) -> None:
    mail.sim.set_faults({"stall": {"first": first, "services": [service], "hold_s": 30}})
    seq = mail.log_seq()
    result = mail.run("diagnose", "-o", "json", "--connector", "mail-exo", "--deadline", "20s")
    stalled = [e for e in mail.requests_since(seq) if e.get("fault") == "stall"]
    assert len(stalled) == first, stalled
    statuses = result.statuses("mail-exo")
    assert statuses[CAUSE] == "found" and "unknown" not in statuses.values(), result.json
