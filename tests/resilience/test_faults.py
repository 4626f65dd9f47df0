"""Heal under wire faults in each phase (detect, apply, verify): what it reports is what the tenant shows.

The faults are the simulator's own (429 with Retry-After, 503, dropped connections, latency). A wrapped
clients factory switches them as the engine moves on: the engine builds read clients to detect, write
clients to apply and new read clients for every verify probe, so each phase is hit on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.mail.account_unlicensed import AssignExchangeLicence
from agent.cli import session
from agent.clients import clients_factory
from agent.config.load import load_config
from agent.engine.core import Engine, EngineSettings, exit_code_for
from agent.guard import WriteGuard
from agent.heal.policy import Policy
from agent.heal.run import heal
from agent.journal.pending import PendingStore
from agent.journal.store import Journal
from agent.model import Status
from agent.playbook.load import load_playbooks
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import Result, World
from tests.resilience import MAIL_PLAYBOOKS

EXO = "mail-exo"
CAUSE = "account-unlicensed"
WRITE = r"/assignLicense$"  # the fix's one write; no read goes to this path
Faults = Mapping[str, Any] | None


class PhasedFaults:
    """A clients factory that sets the simulator's faults for detect, apply and verify in turn."""

    def __init__(self, sim: Simulator, detect: Faults = None, apply: Faults = None,
                 verify: Faults = None) -> None:
        self.sim, self.faults = sim, {"detect": detect, "apply": apply, "verify": verify}
        self.phase = ""
        self.fired: dict[str, int] = {"detect": 0, "apply": 0, "verify": 0}
        self._seq = sim.request_log.last_seq

    def factory(self, tenant: Any, connector: Any, guard: WriteGuard) -> Any:
        after_apply = self.phase in ("apply", "verify")
        phase = "apply" if not guard.dry_run else ("verify" if after_apply else "detect")
        if phase != self.phase:
            self._count()
            self.phase = phase
            self.sim.set_faults(self.faults[phase])
        return clients_factory(tenant, connector, guard)

    def _count(self) -> None:
        """Note how many requests the ending phase's faults answered (proof that they fired)."""
        if self.phase:
            entries = self.sim.request_log.entries(since=self._seq)
            self.fired[self.phase] += sum(1 for e in entries if e.get("fault"))
        self._seq = self.sim.request_log.last_seq

    def finish(self) -> None:
        self._count()
        self.sim.set_faults(None)


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS]).reset([CAUSE], users=4)


def licensed(world: World) -> bool:
    tenant = world.sim.state
    return tenant.has_mailbox(tenant.user(ACCOUNT_UPN))


def heal_with(world: World, monkeypatch: pytest.MonkeyPatch, faults: PhasedFaults) -> Result:
    monkeypatch.setattr(session, "default_clients_factory", lambda: faults.factory)
    try:
        return world.run("heal", "-o", "json", "--connector", EXO, "--only", CAUSE)
    finally:
        faults.finish()


def check_truthful(world: World, result: Result) -> str:
    """The invariants of every faulted run; returns the cause's status."""
    assert "Traceback" not in result.stdout + result.stderr
    row = result.result(EXO, CAUSE)
    status = row["status"]
    assert result.code == exit_code_for([_outcome(status)]), (result.code, row)
    changes = Journal.in_dir(world.state_dir).changes(result.run_id)
    if status == "fixed":  # nothing reported fixed that is not
        assert licensed(world)
    if licensed(world):  # every change the tenant shows is journaled as applied, hence undoable
        assert [(c.action, c.state) for c in changes] == [("assign-licence", "applied")]
    if status in ("unknown", "found"):  # nothing is fixed on unknown
        assert changes == [] and not licensed(world)
    return str(status)


def _outcome(status: str) -> Any:
    from agent.model import Outcome

    return Outcome(EXO, CAUSE, Status(status))


def test_throttle_storm_during_detect_is_unknown_and_nothing_changes(world: World,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    storm = {"throttle": {"rate": 1.0, "retry_after_s": 0, "services": ["graph"]}}
    faults = PhasedFaults(world.sim, detect=storm)
    seq = world.log_seq()
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "unknown" and result.code == 3
    assert faults.fired["detect"] >= 2 and faults.phase == "detect"  # never went on to apply
    assert world.writes_since(seq) == []


def test_dropped_connections_and_latency_during_detect_are_retried(world: World,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = {"drop": {"first": 1, "services": ["graph"]}, "latency_ms": {"graph": 50}}
    faults = PhasedFaults(world.sim, detect=flaky)
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "fixed" and result.code == 0
    assert faults.fired["detect"] == 1


def test_503_on_every_write_fails_the_fix_and_changes_nothing(world: World,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    down = {"errors": {"path": WRITE, "rate": 1.0, "status": 503, "retry_after_s": 0}}
    faults = PhasedFaults(world.sim, apply=down)
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "failed" and result.code == 4
    assert faults.fired["apply"] >= 2  # 503 means "not processed": the write was retried, then given up
    [change] = Journal.in_dir(world.state_dir).changes(result.run_id)
    assert change.state == "failed" and "503" in (change.error or "")
    assert not licensed(world)


def test_throttled_write_is_retried_then_applied_and_undoable(world: World,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    busy = {"throttle": {"path": WRITE, "first": 1, "retry_after_s": 1}}
    faults = PhasedFaults(world.sim, apply=busy)
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "fixed" and faults.fired["apply"] == 1
    undone = world.run("undo", result.run_id, "-o", "json")
    assert undone.code == 0 and not licensed(world)


def test_connection_dropped_on_the_write_is_not_blindly_repeated(world: World,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # the answer is lost, so the step is uncertain and verify reads the tenant: a second, not fifteen minutes
    monkeypatch.setattr(AssignExchangeLicence, "propagation_s", 1.0)
    reset = {"drop": {"path": WRITE, "first": 1}}
    faults = PhasedFaults(world.sim, apply=reset)
    seq = world.log_seq()
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "failed" and result.code == 4
    attempts = [e for e in world.requests_since(seq) if e["path"].endswith("/assignLicense")]
    assert len(attempts) == 1  # a reset mid-write may have landed: it is reported, not retried
    assert not licensed(world)
    assert "fix uncertain" in result.result(EXO, CAUSE)["reason"]


def test_transient_faults_during_verify_still_verify(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    blips = {"throttle": {"first": 1, "retry_after_s": 1, "services": ["graph"]},
             "errors": {"first": 1, "status": 503, "retry_after_s": 0, "services": ["identity"]}}
    faults = PhasedFaults(world.sim, verify=blips)
    result = heal_with(world, monkeypatch, faults)
    assert check_truthful(world, result) == "fixed" and result.code == 0
    assert faults.fired["verify"] >= 1


def test_storm_during_verify_is_unverified_not_fixed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AssignExchangeLicence, "propagation_s", 1.0)  # poll a second, not fifteen minutes
    storm = {"throttle": {"rate": 1.0, "retry_after_s": 0, "services": ["graph"]}}
    faults = PhasedFaults(world.sim, verify=storm)
    result = heal_with(world, monkeypatch, faults)
    row = result.result(EXO, CAUSE)
    assert check_truthful(world, result) == "unverified" and result.code == 4
    assert row["reason"].startswith("still unknown after ")
    assert licensed(world)  # it did happen: journaled as applied, and undo restores it
    assert world.run("undo", result.run_id).code == 0 and not licensed(world)


async def test_a_detector_that_outlives_its_timeout_is_unknown(world: World) -> None:
    """Latency longer than the detect timeout: the engine gives up on it as `unknown`, never `found`."""
    world.sim.set_faults({"latency_ms": {"graph": 1500}})
    config = load_config(world.config)
    books = [pb for pb in load_playbooks([MAIL_PLAYBOOKS]) if pb.id == CAUSE]
    try:
        with Journal.in_dir(world.folder) as journal, PendingStore(journal.path) as store:
            engine = Engine(config, books, journal, clients_factory,
                            settings=EngineSettings(detect_timeout_s=0.5))
            result = await heal(engine, Policy(), store, connector=EXO)
            changes = journal.changes(result.report.run_id)
    finally:
        world.sim.set_faults(None)
    [outcome] = result.report.results
    assert outcome.status == Status.UNKNOWN and outcome.reason == "timed out after 0.5s"
    assert changes == [] and not licensed(world) and result.report.exit_code == 3
