"""The engine's lifecycle on a toy tenant: tri-state detection, dry-run, apply, verify, journal, undo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent import redact, registry
from agent.config.load import load_config
from agent.context import Context
from agent.engine.approval import AutoApprover, deny_all, make_approver
from agent.engine.core import Engine, EngineSettings, ExitCode, exit_code_for
from agent.errors import BadInput, ConfigError
from agent.guard import DryRunWrite
from agent.journal.store import Journal
from agent.model import Call, Finding, Outcome, Plan, Risk, Status, Step
from agent.registry import Detector
from tests.fakes import (
    APPROVE_ALL,
    FakeClock,
    MakeEngine,
    ToyAdminMissing,
    ToyAlwaysFound,
    ToyAssignLicence,
    ToyExploding,
    ToyLicenceMissing,
    ToyMakeAdmin,
    ToyMustNotRun,
    ToyPasswordExpired,
    ToyPlaybook,
    ToyResetPassword,
    ToyWorld,
    ToyWritingPlan,
)

LICENCE = ToyPlaybook("toy-unlicensed", ToyLicenceMissing, ToyAssignLicence)
ADMIN = ToyPlaybook("toy-not-admin", ToyAdminMissing, ToyMakeAdmin)
EXPLODING = ToyPlaybook("toy-exploding", ToyExploding, ToyMustNotRun)
FEDERATED = ToyPlaybook("toy-federated", ToyAlwaysFound, None, advice="use a cloud-only account")
PASSWORD = ToyPlaybook("toy-password", ToyPasswordExpired, ToyResetPassword)





def by_cause(report: Any) -> dict[str, Outcome]:
    return {o.cause: o for o in report.results}


async def test_healthy_tenant_is_ok_and_journaled(make_engine: MakeEngine, journal: Journal) -> None:
    report = await make_engine([LICENCE, ADMIN]).diagnose()
    assert [(o.connector, o.cause, o.status) for o in report.results] == [
        ("mail1", "toy-unlicensed", Status.OK), ("mail1", "toy-not-admin", Status.OK)]
    assert report.exit_code == ExitCode.OK
    run = journal.run(report.run_id)
    assert (run.mode, run.exit_code) == ("diagnose", 0)
    assert [o.status for o in journal.results(report.run_id)] == [Status.OK, Status.OK]


async def test_found_carries_evidence_and_advice(make_engine: MakeEngine, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    report = await make_engine([LICENCE, FEDERATED]).diagnose()
    found = by_cause(report)
    assert found["toy-unlicensed"].status == Status.FOUND
    assert found["toy-unlicensed"].evidence == {"user": "svc", "licensed": False}
    assert found["toy-unlicensed"].risk == "medium"
    assert found["toy-federated"].advice == "use a cloud-only account"
    assert report.exit_code == ExitCode.ATTENTION
    assert toy_world.applied == []


async def test_connector_and_only_filters(make_engine: MakeEngine) -> None:
    engine = make_engine([LICENCE, ADMIN])
    assert [j.cause for j in engine.jobs("mail1", ["toy-not-admin"])] == ["toy-not-admin"]
    assert engine.jobs("files1", []) == []  # the toy playbooks apply to exchange-online only
    with pytest.raises(BadInput, match="unknown cause id nope; valid: toy-not-admin, toy-unlicensed"):
        engine.jobs(None, ["nope"])
    with pytest.raises(ConfigError, match="unknown connector"):
        engine.jobs("ghost", [])


async def test_raising_detector_is_unknown_redacted_and_never_fixed(make_engine: MakeEngine,
                                                                    toy_world: ToyWorld) -> None:
    report = await make_engine([EXPLODING]).fix()
    outcome = report.results[0]
    assert outcome.status == Status.UNKNOWN
    assert outcome.reason is not None and outcome.reason.startswith("PermissionError: 403 Forbidden")
    assert "hunter2" not in outcome.reason
    assert "planned-on-unknown" not in toy_world.applied and toy_world.applied == []
    assert report.exit_code == ExitCode.ATTENTION


async def test_invalid_detector_answer_is_unknown(make_engine: MakeEngine, toy_catalog: None) -> None:
    class Liar(Detector):
        name: ClassVar[str] = "toy-liar"

        async def detect(self, ctx: Context) -> Finding:
            return Finding(Status.FIXED)

    report = await make_engine([ToyPlaybook("toy-liar", Liar, ToyMustNotRun)]).fix()
    assert report.results[0].status == Status.UNKNOWN
    assert "no ok/found/unknown answer" in (report.results[0].reason or "")


async def test_outcomes_are_redacted(make_engine: MakeEngine, toy_catalog: None) -> None:
    redact.register("Tr0ub4dor-and-3")

    class Leaky(Detector):
        name: ClassVar[str] = "toy-leaky"

        async def detect(self, ctx: Context) -> Finding:
            return Finding.found("password Tr0ub4dor-and-3 rejected", password="Tr0ub4dor-and-3",
                                 seen=[f"sent Tr0ub4dor-and-3 to {ctx.connector.name}"])

    report = await make_engine([ToyPlaybook("toy-leaky", Leaky)]).diagnose()
    outcome = report.results[0]
    assert "Tr0ub4dor" not in repr(outcome)
    assert outcome.summary == "password *** rejected" and outcome.evidence["password"] == "***"


async def test_dry_run_never_writes(make_engine: MakeEngine, toy_world: ToyWorld, journal: Journal) -> None:
    toy_world.state.update(licensed=False, admins=[])
    before = repr(toy_world.state)
    report = await make_engine([LICENCE, ADMIN]).fix(dry_run=True)
    assert toy_world.applied == [] and repr(toy_world.state) == before
    assert {o.status for o in report.results} == {Status.PLANNED}
    assert by_cause(report)["toy-unlicensed"].changes[0]["call"] == {
        "method": "POST", "url": "https://toy/users/svc/assignLicense", "body": {"sku": "E3"}}
    assert report.mode == "dry-run" and report.exit_code == ExitCode.ATTENTION
    assert journal.changes(report.run_id) == []


@pytest.mark.parametrize("dry_run", [True, False])
async def test_plan_that_writes_fails_the_run_loudly(make_engine: MakeEngine, toy_world: ToyWorld,
                                                     journal: Journal, dry_run: bool) -> None:
    engine = make_engine([LICENCE, ToyPlaybook("toy-writing", ToyAlwaysFound, ToyWritingPlan)])
    toy_world.state["licensed"] = False
    with pytest.raises(DryRunWrite, match="POST https://toy/oops"):
        await engine.fix(dry_run=dry_run)
    assert toy_world.applied == []  # stopped before any apply
    (run,) = journal.runs()
    assert run.exit_code == ExitCode.ERROR and run.finished is not None


async def test_wrapped_dry_run_write_is_still_loud(make_engine: MakeEngine, toy_catalog: None) -> None:
    class WriteFailed(Exception):
        """An adapter's error wrapping whatever the library (or the guard) raised."""

    class Wrapping(ToyWritingPlan):
        name: ClassVar[str] = "toy-wrapping-plan"

        async def plan(self, ctx: Context, finding: Finding) -> Plan:
            try:
                ctx.guard.check(Call("DELETE", "https://toy/wrapped"))
            except Exception as exc:
                raise WriteFailed("write failed") from exc
            raise AssertionError("unreachable")

    engine = make_engine([ToyPlaybook("toy-wrapping", ToyAlwaysFound, Wrapping)])
    with pytest.raises(DryRunWrite, match="DELETE https://toy/wrapped"):
        await engine.fix(dry_run=True)


async def test_fix_applies_verifies_with_fresh_clients(make_engine: MakeEngine, toy_world: ToyWorld,
                                                       journal: Journal) -> None:
    toy_world.state["licensed"] = False
    report = await make_engine([LICENCE]).fix()
    outcome = report.results[0]
    assert outcome.status == Status.FIXED and report.exit_code == ExitCode.OK
    assert toy_world.state["licensed"] is True
    assert [c["state"] for c in outcome.changes] == ["applied"]
    # a read binding (detect + plan), a write binding (apply), a fresh read binding per verify probe
    assert [(c.serial, c.guard.dry_run) for c in toy_world.built] == [(1, True), (2, False), (3, True)]
    assert all(c.closed for c in toy_world.built)
    assert [w.describe() for w in toy_world.built[1].guard.writes] == [
        "POST https://toy/users/svc/assignLicense"]
    (change,) = journal.changes(report.run_id)
    assert change.state == "applied"
    assert change.undo == {"sku": "E3", "assignment_id": "lic-1"}  # plan's undo data merged with apply's


async def test_second_fix_on_healthy_system_changes_nothing(make_engine: MakeEngine, toy_world: ToyWorld,
                                                            journal: Journal) -> None:
    toy_world.state.update(licensed=False, admins=[])
    first = await make_engine([LICENCE, ADMIN]).fix()
    assert {o.status for o in first.results} == {Status.FIXED}
    applied = list(toy_world.applied)
    second = await make_engine([LICENCE, ADMIN]).fix()
    assert {o.status for o in second.results} == {Status.OK}
    assert toy_world.applied == applied and journal.changes(second.run_id) == []
    assert second.exit_code == ExitCode.OK


async def test_half_failed_fix_is_journaled_and_undo_restores_it(make_engine: MakeEngine,
                                                                 toy_world: ToyWorld,
                                                                 journal: Journal) -> None:
    toy_world.state["admins"] = []
    toy_world.state["flags"]["audit"] = False
    toy_world.fail_on = {"enable-audit"}
    report = await make_engine([ADMIN]).fix()
    outcome = report.results[0]
    assert outcome.status == Status.FAILED and report.exit_code == ExitCode.FIX_FAILED
    assert "WriteFailed: 400 HTTP 400 while enable-audit" in (outcome.reason or "")
    assert [(c.seq, c.action, c.state) for c in journal.changes(report.run_id)] == [
        (1, "add-admin", "applied"), (2, "enable-audit", "failed")]
    assert toy_world.state["admins"] == ["svc"]

    undo = await make_engine([ADMIN]).undo(report.run_id)
    assert toy_world.state["admins"] == []  # the half that was applied is reversed
    assert undo.results[0].status == Status.FIXED and undo.exit_code == ExitCode.OK
    assert [(c.action, c.state) for c in journal.changes(undo.run_id)] == [("remove-admin", "applied")]
    first = journal.changes(report.run_id)[0]
    assert (first.state, first.undone_by) == ("undone", undo.run_id)
    assert journal.run(undo.run_id).undoes == report.run_id


async def test_undo_dry_run_and_repeat(make_engine: MakeEngine, toy_world: ToyWorld,
                                       journal: Journal) -> None:
    toy_world.state.update(licensed=False, admins=[])
    fixed = await make_engine([LICENCE, ADMIN]).fix()
    preview = await make_engine([LICENCE, ADMIN]).undo(fixed.run_id, dry_run=True)
    assert {o.status for o in preview.results} == {Status.PLANNED}
    assert toy_world.state["licensed"] is True and journal.changes(preview.run_id) == []
    actions = [c["action"] for o in preview.results for c in o.changes]
    assert actions == ["remove-admin", "remove-licence"]  # newest first
    done = await make_engine([LICENCE, ADMIN]).undo(fixed.run_id)
    assert toy_world.state["licensed"] is False and toy_world.state["admins"] == []
    again = await make_engine([LICENCE, ADMIN]).undo(fixed.run_id)
    assert {o.status for o in again.results} == {Status.OK}  # nothing left: already undone
    assert journal.changes(again.run_id) == [] and done.exit_code == ExitCode.OK


async def test_irreversible_change_is_reported_not_skipped(make_engine: MakeEngine, toy_world: ToyWorld,
                                                           journal: Journal) -> None:
    toy_world.state["password_set"] = 1
    fixed = await make_engine([PASSWORD]).fix()
    assert fixed.results[0].status == Status.FIXED
    assert "n3w-Secret-pass!" not in repr(journal.changes(fixed.run_id))  # the body is redacted
    undo = await make_engine([PASSWORD]).undo(fixed.run_id)
    outcome = undo.results[0]
    assert outcome.status == Status.SKIPPED and "irreversible" in (outcome.reason or "")
    assert outcome.changes[0]["state"] == "skipped" and undo.exit_code == ExitCode.ATTENTION


async def test_pending_change_of_a_killed_run_is_not_undone_blindly(make_engine: MakeEngine,
                                                                    toy_world: ToyWorld,
                                                                    journal: Journal) -> None:
    run_id = journal.start_run("fix")
    step = Step("enable-audit", Call("PATCH", "https://toy/site/flags"))
    journal.change_pending(run_id, "mail1", "toy-not-admin", "toy-make-admin", step)  # then killed
    undo = await make_engine([ADMIN]).undo(run_id)  # the toy cannot tell who turned auditing on
    assert undo.results[0].status == Status.SKIPPED
    assert "may or may not have happened" in (undo.results[0].reason or "")
    assert toy_world.applied == []


async def test_pending_change_of_a_killed_run_is_settled_by_reading_the_tenant(
        make_engine: MakeEngine, toy_world: ToyWorld, journal: Journal) -> None:
    run_id = journal.start_run("fix")
    step = Step("add-admin", Call("POST", "https://toy/site/admins"))
    journal.change_pending(run_id, "mail1", "toy-not-admin", "toy-make-admin", step)  # then killed
    toy_world.state["admins"] = ["svc"]  # the kill came after the write reached the tenant
    undo = await make_engine([ADMIN]).undo(run_id)
    assert undo.results[0].status == Status.FIXED and toy_world.state["admins"] == []
    assert journal.changes(run_id)[0].state == "undone"


async def test_undo_unknown_run_is_bad_input(make_engine: MakeEngine) -> None:
    with pytest.raises(BadInput, match="unknown run id 'nope'"):
        await make_engine([LICENCE]).undo("nope")


async def test_undo_refuses_a_run_made_in_another_tenant(make_engine: MakeEngine, toy_world: ToyWorld,
                                                         toy_config_path: Path, journal: Journal,
                                                         fake_clock: FakeClock) -> None:
    toy_world.state["admins"] = []
    fixed = await make_engine([ADMIN]).fix()
    assert journal.run(fixed.run_id).targets == {
        name: {"tenant_id": "contoso.onmicrosoft.com", "authority_host": "https://login.microsoftonline.com",
               "graph_url": "https://graph.microsoft.com/v1.0",
               "sharepoint_root": "https://contoso.sharepoint.com",
               "sharepoint_admin": "https://contoso-admin.sharepoint.com",
               "onedrive_host": "https://contoso-my.sharepoint.com",
               "ews_url": "https://outlook.office365.com/ews/exchange.asmx"} for name in ("mail1", "files1")}
    # the same connector name, now in a config that points at another tenant
    config = toy_config_path.read_text()
    toy_config_path.write_text(config.replace("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"))
    elsewhere = Engine(load_config(toy_config_path), [ADMIN], journal, toy_world.factory, APPROVE_ALL,
                       sleep=fake_clock.sleep, clock=fake_clock)
    with pytest.raises(BadInput, match=r"changed connector 'mail1' in tenant contoso\.onmicrosoft\.com, but "
                                       r"the config now points it elsewhere \(tenant_id: contoso\.onmicrosoft"
                                       r"\.com then, fabrikam\.onmicrosoft\.com now\)"):
        await elsewhere.undo(fixed.run_id)
    assert toy_world.state["admins"] == ["svc"]  # nothing reversed


async def test_undo_of_a_run_against_the_embedded_simulator_says_so(make_engine: MakeEngine,
                                                                    toy_world: ToyWorld) -> None:
    toy_world.state["admins"] = []
    fixed = await make_engine([ADMIN], argv=["fix", "--sim", "--yes"]).fix()
    with pytest.raises(BadInput, match=r"simulated tenant .* nothing left to undo"):
        await make_engine([ADMIN]).undo(fixed.run_id)
    assert toy_world.state["admins"] == ["svc"]


async def test_verify_polls_with_backoff_until_fixed(make_engine: MakeEngine, toy_world: ToyWorld,
                                                     fake_clock: FakeClock) -> None:
    toy_world.state["licensed"] = False
    toy_world.lag_probes = 2  # the first two probes after the fix still see the old state
    report = await make_engine([LICENCE]).fix()
    assert report.results[0].status == Status.FIXED
    assert fake_clock.sleeps == [1.0, 2.0]
    assert len({c.serial for c in toy_world.built}) == 5  # detect, apply, and three fresh probes


async def test_verify_gives_up_within_propagation_budget(make_engine: MakeEngine, toy_world: ToyWorld,
                                                         fake_clock: FakeClock) -> None:
    toy_world.state["licensed"] = False
    toy_world.lag_probes = 100
    report = await make_engine([LICENCE]).fix()
    outcome = report.results[0]
    assert outcome.status == Status.UNVERIFIED and report.exit_code == ExitCode.FIX_FAILED
    assert sum(fake_clock.sleeps) == pytest.approx(ToyAssignLicence.propagation_s)
    assert "still found after" in (outcome.reason or "")


async def test_approval_by_risk(make_engine: MakeEngine, toy_world: ToyWorld) -> None:
    toy_world.state.update(licensed=False, admins=[])
    report = await make_engine([LICENCE, ADMIN], approver=AutoApprover(Risk.MEDIUM)).fix()
    outcomes = by_cause(report)
    assert outcomes["toy-unlicensed"].status == Status.FIXED
    assert outcomes["toy-not-admin"].status == Status.PLANNED
    assert "--allow-risk high" in (outcomes["toy-not-admin"].reason or "")
    assert toy_world.applied == ["assign-licence"] and report.exit_code == ExitCode.ATTENTION
    denied = await make_engine([ADMIN], approver=deny_all).fix()
    assert denied.results[0].status == Status.PLANNED and toy_world.state["admins"] == []


async def test_playbook_risk_raises_plan_risk(make_engine: MakeEngine, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    risky = ToyPlaybook("toy-unlicensed", ToyLicenceMissing, ToyAssignLicence, risk=Risk.HIGH)
    report = await make_engine([risky], approver=AutoApprover(Risk.MEDIUM)).fix()
    assert report.results[0].status == Status.PLANNED and report.results[0].risk == "high"


async def test_found_with_empty_plan_is_skipped(make_engine: MakeEngine, toy_world: ToyWorld) -> None:
    report = await make_engine([ToyPlaybook("toy-odd", ToyAlwaysFound, ToyMakeAdmin)]).fix()
    outcome = report.results[0]
    assert outcome.status == Status.SKIPPED and "nothing to change" in (outcome.reason or "")
    assert toy_world.applied == []


async def test_advice_only_cause_stays_found(make_engine: MakeEngine) -> None:
    report = await make_engine([FEDERATED]).fix()
    assert report.results[0].status == Status.FOUND
    assert report.results[0].advice == "use a cloud-only account" and report.exit_code == ExitCode.ATTENTION


async def test_detectors_run_concurrently_bounded_per_tenant(make_engine: MakeEngine,
                                                             toy_catalog: None) -> None:
    live, peak = [0], [0]

    class Slow(Detector):
        name: ClassVar[str] = "toy-slow"

        async def detect(self, ctx: Context) -> Finding:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
            for _ in range(5):
                await asyncio.sleep(0)
            live[0] -= 1
            return Finding.ok()

    books = [ToyPlaybook(f"toy-slow-{i}", Slow) for i in range(6)]
    report = await make_engine(books, settings=EngineSettings(concurrency=2)).diagnose()
    assert len(report.results) == 6 and peak[0] == 2


async def test_detector_timeout_is_unknown(make_engine: MakeEngine, toy_catalog: None) -> None:
    class Hangs(Detector):
        name: ClassVar[str] = "toy-hangs"

        async def detect(self, ctx: Context) -> Finding:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    engine = make_engine([ToyPlaybook("toy-hangs", Hangs)], settings=EngineSettings(detect_timeout_s=0.01))
    report = await engine.diagnose()
    assert report.results[0].status == Status.UNKNOWN and "timed out" in (report.results[0].reason or "")


def test_exit_code_precedence() -> None:
    def outcomes(*statuses: Status) -> list[Outcome]:
        return [Outcome("c", f"x{i}", s) for i, s in enumerate(statuses)]

    assert exit_code_for(outcomes()) == ExitCode.OK
    assert exit_code_for(outcomes(Status.OK, Status.FIXED)) == ExitCode.OK
    assert exit_code_for(outcomes(Status.OK, Status.UNKNOWN)) == ExitCode.ATTENTION
    assert exit_code_for(outcomes(Status.PLANNED, Status.UNVERIFIED)) == ExitCode.FIX_FAILED
    assert exit_code_for(outcomes(Status.FOUND, Status.FAILED)) == ExitCode.FIX_FAILED


def test_approvers() -> None:
    def plan(risk: Risk) -> Plan:
        return Plan("c", "k", "f", risk, [Step("a", Call("POST", "u"))])

    asked: list[Plan] = []

    def confirm(p: Plan) -> bool:
        asked.append(p)
        return True

    assert make_approver(True, None, confirm, True)(plan(Risk.MEDIUM)) is True
    assert make_approver(True, None, confirm, True)(plan(Risk.HIGH)) is False
    assert make_approver(True, Risk.HIGH, confirm, True)(plan(Risk.HIGH)) is True
    assert make_approver(True, Risk.LOW, confirm, True)(plan(Risk.MEDIUM)) is False
    assert asked == []  # --yes never asks
    assert make_approver(False, None, confirm, False)(plan(Risk.LOW)) is False  # nobody to ask
    assert make_approver(False, None, confirm, True)(plan(Risk.HIGH)) is True and len(asked) == 1


def test_toy_registration_is_scoped(toy_catalog: None) -> None:
    assert registry.detector("toy-licence-missing") is ToyLicenceMissing


class _CountingLicence(ToyLicenceMissing):
    """Records which entry the engine used after a fix: verify() of detect's finding, or detect()."""

    name: ClassVar[str] = "toy-counting-licence"
    calls: ClassVar[list[str]] = []

    async def detect(self, ctx: Context) -> Finding:
        self.calls.append("detect")
        return await super().detect(ctx)

    async def verify(self, ctx: Context, found: Finding) -> Finding:
        self.calls.append(f"verify:{found.evidence.get('user')}")
        return await super().detect(ctx)


@pytest.mark.parametrize(("full", "after_fix"), [(False, "verify:svc"), (True, "detect")])
async def test_verify_probes_what_the_fix_changed_unless_asked_for_a_full_scan(
        make_engine: MakeEngine, toy_world: ToyWorld, full: bool, after_fix: str) -> None:
    _CountingLicence.calls = []
    toy_world.state["licensed"] = False
    engine = make_engine([ToyPlaybook("toy-unlicensed", _CountingLicence, ToyAssignLicence)],
                         settings=EngineSettings(verify_full=full))
    report = await engine.fix()
    assert by_cause(report)["toy-unlicensed"].status == Status.FIXED
    assert _CountingLicence.calls == ["detect", after_fix]
