"""The run lifecycle, known here alone: diagnose -> plan -> approve -> apply -> verify -> journal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent import deadline as deadlines
from agent.engine import deadline as stepping
from agent.engine.approval import Approver, deny_all, refusal_reason
from agent.engine.convergence import blockers, next_round, ordered, waiting_reason
from agent.engine.hints import bounded_hints, ranked
from agent.engine.job import (
    EngineSettings,
    ExitCode,
    Job,
    PlaybookLike,
    RunHooks,
    Sleep,
    connectors_of,
    exit_code_for,
    kinds_of,
    max_risk,
    outcome_of,
)
from agent.engine.shared_targets import merge_shared
from agent.engine.steps import (
    Binding,
    ClientsFactory,
    apply_plan,
    bind_clients,
    detect_safely,
    gather_all,
    plan_changes,
    raise_if_dry_run_write,
    short_reason,
)
from agent.engine.verify import poll_until_ok
from agent.errors import BadInput
from agent.guard import DryRunWrite
from agent.journal.store import Journal
from agent.model import Finding, Outcome, RunReport, Status, Step

if TYPE_CHECKING:
    from agent.config.model import Config

ADVICE_ONLY = "no automatic fix for this cause: the agent has nothing to change; follow the advice"


class Engine:
    """Runs diagnose, fix (or dry-run) and undo over the configured connectors."""

    grant_hook: Any = None  # grants.timebox.GrantHook: stamps grant steps with their expiry, records them

    def __init__(self, config: Config, playbooks: Sequence[PlaybookLike], journal: Journal,
                 clients_factory: ClientsFactory, approver: Approver = deny_all, *,
                 sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
                 settings: EngineSettings | None = None, config_path: str | None = None,
                 argv: Sequence[str] = (), hints: Mapping[str, str] | None = None) -> None:
        self.config, self.playbooks, self.journal = config, list(playbooks), journal
        self.clients_factory, self.approver = clients_factory, approver
        self.sleep, self.clock, self.settings = sleep, clock, settings or EngineSettings()
        self.config_path, self.argv = config_path, list(argv)
        self.hints = dict(hints or {})  # connector -> error text it failed with: ranks its detectors
        self._grants: dict[str, Any] = {}  # tenant -> task reading the admin app's granted permissions
        self._hooks = RunHooks()  # set by run_jobs for one run

    # public modes ---------------------------------------------------------------------------
    async def diagnose(self, connector: str | None = None, only: Sequence[str] = ()) -> RunReport:
        jobs = self.jobs(connector, only)
        return await self._run("diagnose", lambda run_id: self._diagnose(jobs))

    async def fix(self, connector: str | None = None, only: Sequence[str] = (),
                  dry_run: bool = False) -> RunReport:
        jobs = self.jobs(connector, only)
        mode = "dry-run" if dry_run else "fix"
        return await self._run(mode, lambda run_id: self._fix(run_id, jobs, dry_run))

    async def undo(self, run_id: str, dry_run: bool = False) -> RunReport:
        from agent.engine.undo import Undo

        undo = Undo(self, run_id, dry_run)  # checks the run, connectors and fixers before any write
        return await self._run("undo-dry-run" if dry_run else "undo", undo.run, undoes=run_id)

    async def revoke(self, grants: Sequence[Any], store: Any, dry_run: bool = False) -> RunReport:
        """Revoke time-boxed grants (agent.journal.grants.Grant) as a `revoke` run, like an undo of each."""
        from agent.engine.grants import Revoke

        revoke = Revoke(self, grants, store, dry_run)  # resolves connectors and fixers before any write
        return await self._run("revoke-dry-run" if dry_run else "revoke", revoke.run)

    async def run_jobs(self, mode: str, jobs: list[Job], hooks: RunHooks | None = None) -> RunReport:
        """Fix exactly `jobs` as a `mode` run (heal, approve), with the caller's hooks for this run only."""
        async def body(run_id: str) -> list[Outcome]:
            if self._hooks.on_start is not None:
                self._hooks.on_start(run_id)
            return await self._fix(run_id, jobs, dry_run=False)

        self._hooks = hooks or RunHooks()
        try:
            return await self._run(mode, body)
        finally:
            self._hooks = RunHooks()

    # selection ------------------------------------------------------------------------------
    def jobs(self, connector: str | None, only: Sequence[str]) -> list[Job]:
        """Every (connector, playbook) pair that applies; bad names are bad input."""
        known = {pb.id for pb in self.playbooks}
        unknown = sorted(set(only) - known)
        if unknown:
            raise BadInput(f"unknown cause id {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        connectors = [self.config.connector(connector)] if connector else list(self.config.connectors)
        jobs = []
        for conn in connectors:
            tenant = self.config.tenant_of(conn)
            for pb in self.playbooks:
                if (only and pb.id not in only) or conn.kind not in kinds_of(pb.applies_to):
                    continue
                jobs.append(Job(tenant, conn, pb, pb.make_detector(), pb.make_fixer()))
        return jobs

    # lifecycle ------------------------------------------------------------------------------
    async def _run(self, mode: str, body: Callable[[str], Awaitable[list[Outcome]]],
                   undoes: str | None = None) -> RunReport:
        targets = {conn.name: self.config.tenant_of(conn).location() for conn in self.config.connectors}
        run_id = self.journal.start_run(mode, self.config_path, self.argv, undoes, targets)
        report = RunReport(run_id=run_id, mode=mode, started=self.journal.run(run_id).started)
        limit = self.settings.deadline_s
        try:
            with deadlines.in_force(deadlines.Deadline(limit) if limit else None):
                report.results = await body(run_id)
        except BaseException as exc:
            # what was journaled stays, and stays undoable
            code = ExitCode.BAD_INPUT if isinstance(exc, BadInput) else ExitCode.ERROR
            self.journal.finish_run(run_id, code)
            raise
        report.exit_code = int(exit_code_for(report.results))
        for outcome in report.results:
            self.journal.add_result(run_id, outcome)
        self.journal.finish_run(run_id, report.exit_code)
        report.finished = self.journal.run(run_id).finished
        return report

    def read_bindings(self, jobs: Sequence[Job]) -> dict[str, Binding]:
        """One read binding per connector for detect and plan (its detectors share tokens)."""
        return {c.name: bind_clients(self.clients_factory, t, c, write=False) for t, c in connectors_of(jobs)}

    @staticmethod
    async def close(bindings: dict[str, Binding]) -> None:
        for binding in bindings.values():
            await binding.close()
        bindings.clear()

    async def _diagnose(self, jobs: list[Job]) -> list[Outcome]:
        bindings = self.read_bindings(jobs)
        try:
            await self._detect_all(jobs, bindings, plan=False)
        finally:
            await self.close(bindings)
        return [job.outcome for job in jobs if job.outcome is not None]

    async def _detect_all(self, jobs: list[Job], bindings: dict[str, Binding], plan: bool) -> None:
        """Detect (and plan) every job concurrently, at most N at a time per tenant."""
        self._grants = {}  # read afresh each run (and in this run's event loop)
        hints = self.hints or await bounded_hints(bindings)
        await self._per_tenant(ranked(jobs, hints, self.playbooks),
                               lambda job: self._detect_and_plan(job, bindings[job.connector.name], plan),
                               on_deadline=self._cut_detect)

    def _cut_detect(self, job: Job) -> None:
        status, why = stepping.cut_detect(job)
        job.outcome = outcome_of(job, status, reason=why)

    async def _per_tenant(self, jobs: Sequence[Job], work: Callable[[Job], Awaitable[None]],
                          on_deadline: Callable[[Job], None] | None = None) -> None:
        """Run `work` on every job concurrently, bounded by a semaphore per tenant and the run's deadline
        (`on_deadline` says what became of a job it stopped, waiting or working)."""
        semaphores: dict[str, asyncio.Semaphore] = {}

        async def held(job: Job) -> None:
            sem = semaphores.setdefault(job.tenant.name, asyncio.Semaphore(self.settings.concurrency))
            async with sem, stepping.cause_scope(job, self.settings.cause_deadline_s):
                await work(job)

        async def one(job: Job) -> None:
            if on_deadline is None:
                await held(job)
            else:
                await stepping.bounded(held(job), lambda: on_deadline(job))

        await gather_all(one(job) for job in jobs)

    async def _detect_and_plan(self, job: Job, binding: Binding, plan: bool) -> None:
        ctx = binding.context(job.cause)
        job.finding = await detect_safely(job.detector, ctx, self.settings.detect_timeout_s)
        job.outcome = outcome_of(job, job.finding.status)
        if self._hooks.on_detected is not None:
            self._hooks.on_detected(job)
        if plan and job.finding.status == Status.FOUND and job.fixer is None:  # advice-only: say so plainly
            job.outcome = outcome_of(job, Status.FOUND, reason=ADVICE_ONLY)
        if not plan or job.finding.status != Status.FOUND or job.fixer is None:
            return  # never plan on ok or unknown
        missing = await self._missing_permissions(job, binding)
        if missing:  # planning and applying would fail on the same grant: none of its APIs is called
            job.outcome = outcome_of(job, Status.SKIPPED,
                                        reason=f"blocked: missing permission {', '.join(missing)}")
            return
        try:
            job.plan = await job.fixer.plan(ctx, job.finding)  # a write here raises DryRunWrite: a bug
        except (DryRunWrite, BadInput):
            raise
        except Exception as exc:
            raise_if_dry_run_write(exc)
            job.outcome = outcome_of(job, Status.FAILED, reason=f"could not plan: {short_reason(exc)}")
            return
        job.plan.risk = max_risk(job.plan.risk, job.fixer.risk, job.playbook.risk)
        if self.grant_hook is not None:
            self.grant_hook.annotate(job)
        job.outcome = outcome_of(job, Status.FOUND)
        if job.plan.empty:
            note = job.plan.note or "the fix found nothing to change"
            job.outcome = outcome_of(job, Status.SKIPPED, reason=note)

    async def _missing_permissions(self, job: Job, binding: Binding) -> list[str]:
        """The fixer's permissions the admin app's token lacks; none when the token cannot tell."""
        from agent.playbook.permissions import granted_permissions, missing_permissions

        if job.tenant.name not in self._grants:  # read once per tenant and run, shared by its jobs
            self._grants[job.tenant.name] = asyncio.ensure_future(granted_permissions(binding.clients))
        granted = await self._grants[job.tenant.name]
        return [] if granted is None else missing_permissions(type(job.fixer), granted)

    async def _fix(self, run_id: str, jobs: list[Job], dry_run: bool) -> list[Outcome]:
        """Rounds of detect, plan, apply and verify, until a round fixes nothing (DESIGN: converge).

        A round detects again only what the previous round's fixes may have changed: the jobs that
        waited on, were masked by, or relate to a cause it fixed. Results come in fix order.
        """
        jobs = ordered(jobs)
        todo = jobs
        for round_no in range(1, max(1, self.settings.max_rounds) + 1):
            applied = await self._round(run_id, todo, jobs, dry_run, round_no)
            todo = [] if dry_run or not applied or stepping.expired() else next_round(jobs, applied)
            if not todo:
                break
        for job in todo:  # the round budget ran out with these still worth another look
            assert job.outcome is not None
            job.outcome.reason = f"{job.outcome.reason or job.outcome.status.value} (the run stopped " \
                                 f"after {self.settings.max_rounds} rounds)"
        return [job.outcome for job in jobs if job.outcome is not None]

    async def _round(self, run_id: str, todo: list[Job], jobs: list[Job], dry_run: bool,
                     round_no: int) -> list[Job]:
        """One round over `todo`: detect and plan, then apply in order what may be applied; verify it."""
        for job in todo:
            job.round, job.finding, job.plan = round_no, None, None
        bindings = self.read_bindings(todo)
        applied = []
        try:
            await self._detect_all(todo, bindings, plan=True)
            merge_shared(todo)
            for job in todo:  # one at a time: approval may ask a person, and fixes follow their order
                if job.changes and job.finding is not None and job.finding.status == Status.OK:
                    job.outcome = outcome_of(job, Status.FIXED, changes=job.changes,
                                                reason=f"verified in round {round_no}, after an earlier "
                                                       "round's fix")
                if job.plan is None or job.plan.empty:
                    continue
                if blockers(job):  # the plan names what another cause's fix creates: not yet
                    job.outcome = outcome_of(job, Status.PLANNED, reason=waiting_reason(job, jobs),
                                                changes=[*job.changes, *plan_changes(job.plan)])
                elif dry_run or not (approver := self._hooks.approver or self.approver)(job.plan):
                    reason = None if dry_run else refusal_reason(approver, job.plan)
                    job.outcome = outcome_of(job, Status.PLANNED, reason=reason,
                                                changes=[*job.changes, *plan_changes(job.plan)])
                elif stepping.expired(job):  # no write starts after the deadline
                    job.outcome = outcome_of(job, Status.FOUND,
                                                reason=stepping.reason("its fix was applied", job))
                elif await self._bounded_apply(run_id, job):
                    applied.append(job)
        finally:
            await self.close(bindings)
        followers = self._followers(todo, applied)
        await self._per_tenant([*applied, *followers], self._verify, on_deadline=self._cut_verify)
        return applied

    def _followers(self, todo: list[Job], applied: list[Job]) -> list[Job]:
        """Jobs whose only write another job's plan made: verified when it landed, else reported as it."""
        verify = []
        for job in todo:
            if job.follows is None or job in applied or job.plan is None or not job.plan.empty:
                continue
            owner = job.follows.outcome
            if job.follows in applied:
                verify.append(job)
            elif owner is not None:
                job.outcome = outcome_of(job, owner.status, reason=f"{job.plan.note}; {owner.reason or ''}"
                                            .rstrip("; "), changes=owner.changes)
        return verify

    async def _bounded_apply(self, run_id: str, job: Job) -> bool:
        """_apply within the deadline; a write it interrupts stays journaled as it is, and undoable."""
        try:
            async with stepping.cause_scope(job, self.settings.cause_deadline_s):
                return await self._apply(run_id, job)
        except stepping.DeadlinePassed:
            job.changes += stepping.interrupted_changes(self.journal, run_id, job)
            why = stepping.reason(f"this fix finished; its changes stay journaled as they are (agent undo "
                                  f"{run_id} reverses them)", job)
            job.outcome = outcome_of(job, Status.FAILED, reason=why, changes=job.changes)
            return False

    def _cut_verify(self, job: Job) -> None:
        job.outcome = outcome_of(job, Status.UNVERIFIED, changes=job.changes,
                                    reason=stepping.reason("this fix was verified", job))

    async def _apply(self, run_id: str, job: Job) -> bool:
        assert job.plan is not None and job.fixer is not None
        binding = bind_clients(self.clients_factory, job.tenant, job.connector, write=True)
        try:
            changes, error = await apply_plan(self.journal, run_id, job.fixer, job.plan,
                                              binding.context(job.cause), round_no=job.round)
        finally:
            await binding.close()
        job.changes += changes
        if self.grant_hook is not None:
            self.grant_hook.record(run_id, job, changes)
        job.uncertain = error if changes and changes[-1].get("state") == "uncertain" else None
        if job.uncertain is not None:
            return not await self._not_made_yet(job, job.plan.steps[len(changes) - 1])
        if error is not None:
            job.outcome = outcome_of(job, Status.FAILED, reason=f"fix failed: {error}",
                                        changes=job.changes)
            return False
        return True

    async def _not_made_yet(self, job: Job, step: Step) -> bool:
        """A write whose answer was lost, read back at once: when the tenant does not show it, say so now
        rather than let verify poll the fixer's whole propagation time (15 minutes for a licence). The
        journal keeps it `uncertain` all the same: the tenant may still show it later, and undo reads."""
        assert job.fixer is not None
        binding = bind_clients(self.clients_factory, job.tenant, job.connector, write=False)
        try:
            settled = await job.fixer.settle(binding.context(job.cause), step)
        except DryRunWrite:
            raise  # settle only reads: a write there is a bug, loudly
        except Exception:  # a failed read settles nothing: verify's probe decides
            return False
        finally:
            await binding.close()
        if settled is None or settled.made:
            return False
        job.outcome = outcome_of(job, Status.FAILED, changes=job.changes,
                                    reason=f"fix uncertain: {job.uncertain}; the tenant does not show it "
                                           "made; undo reads the tenant again before reversing it")
        return True

    async def _verify(self, job: Job) -> None:
        """Probe again with clients from a new factory call each time, until ok or the budget is spent."""
        assert job.fixer is not None

        async def probe() -> Finding:
            binding = bind_clients(self.clients_factory, job.tenant, job.connector, write=False)
            try:
                found = None if self.settings.verify_full else job.finding
                return await detect_safely(job.detector, binding.context(job.cause),
                                           self.settings.detect_timeout_s, verifying=found)
            finally:
                await binding.close()

        finding, attempts = await poll_until_ok(probe, job.fixer.propagation_s, sleep=self.sleep,
                                                clock=self.clock, backoff=self.settings.verify)
        if finding.status == Status.OK:
            where = f"fixed in round {job.round}: " if job.round > 1 else ""
            if job.follows is not None and job.plan is not None and job.plan.empty:
                where += f"{job.plan.note}; "
            lost = f" ({job.uncertain}; the probe shows it made)" if job.uncertain else ""
            job.outcome = outcome_of(job, Status.FIXED, changes=job.changes,
                                        reason=f"{where}verified after {attempts} probe(s){lost}")
        elif job.uncertain is not None:
            why = finding.reason or finding.summary or finding.status.value
            job.outcome = outcome_of(
                job, Status.FAILED, changes=job.changes,
                reason=f"fix uncertain: {job.uncertain}; still {finding.status.value} after {attempts} "
                       f"probe(s): {why}; undo reads the tenant before reversing it")
        else:
            why = finding.reason or finding.summary or finding.status.value
            reason = f"still {finding.status.value} after {attempts} probe(s) over " \
                     f"{job.fixer.propagation_s:g}s: {why}"
            job.outcome = outcome_of(job, Status.UNVERIFIED, reason=reason, changes=job.changes)
