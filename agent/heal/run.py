"""Scheduled self-heal: diagnose every connector, apply what the policy allows, keep the rest for approval.

`agent heal` runs the engine's fix lifecycle as a `heal` run under a policy approver; plans the policy
does not allow are stored as pending (agent.journal.pending) for `agent approve`, which re-checks and applies
exactly those as an `approve` run. The CLI holds the heal lock (agent.journal.lock) around both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import clock, threads
from agent.engine.job import RunHooks
from agent.grants.timebox import attach, closed_windows
from agent.heal.grants import grant_news, revoke_expired
from agent.heal.notify import Delivery, failed_lines, notify, post
from agent.heal.policy import Policy, decide
from agent.journal.grants import Grant, GrantStore
from agent.journal.pending import (
    ApprovalResult,
    JobApprover,
    PendingPlan,
    PendingStore,
    StoredPlanApprover,
    settle,
    store_refused,
)
from agent.model import Plan, RunReport
from agent.progress import Advance, progress

if TYPE_CHECKING:
    from agent.engine.core import Engine, Job
    from agent.heal.notify import Post

WARN_DAYS_PARAM = "warn_days"  # detectors that warn before a credential expires take this parameter


class PolicyApprover(JobApprover):
    """Approves what the heal policy allows; the rest is refused with the rule that held it back."""

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy
        self.run_id = "RUN_ID"  # set when the run starts, so a pending reason names the real run
        self.closed: dict[tuple[str, str], Any] = {}  # revoked time-boxed grants: a person re-grants them

    def started(self, run_id: str) -> None:
        self.run_id = run_id

    def __call__(self, plan: Plan) -> bool:
        job = self.job_of(plan)
        cause = job.cause if job is not None else plan.cause
        closed = self.closed.get(self.key(plan))
        if closed is not None:
            how = f"was revoked (run {closed.revoked_run})" if closed.state == "revoked" else \
                "had been removed by someone else"
            return self.refuse(plan, f"pending approval: its time-boxed grant expired at {closed.expires_at} "
                                     f"and {how}, so heal does not grant it again; apply it with "
                                     f"`agent approve {self.run_id} --cause {cause}`")
        decision = decide(self.policy, cause, plan.risk, job.finding if job is not None else None)
        if decision.apply:
            return True
        return self.refuse(plan, f"pending approval: {decision.reason}; apply it with "
                                 f"`agent approve {self.run_id} --cause {cause}`")


@dataclass
class HealResult:
    """A heal (or approve) run: its report, what stayed pending, and what the webhooks said."""

    report: RunReport
    pending: list[PendingPlan] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line warnings for stderr
    grants: dict[str, Any] = field(default_factory=dict)  # expiring soon, revoked, left alone
    live_grants: list[Grant] = field(default_factory=list)  # in force after the run (for the metrics)

    def extras(self) -> dict[str, Any]:
        """What reports show beyond the results: pending plans and notification outcomes."""
        data: dict[str, Any] = {}
        if self.pending:
            data["pending"] = [{"connector": p.connector, "cause": p.cause, "risk": p.risk,
                                "steps": len(p.steps), "reason": p.reason} for p in self.pending]
        if self.grants:
            data["grants"] = self.grants
        if self.deliveries:
            data["notifications"] = [d.to_dict() for d in self.deliveries]
        return data

    def warnings(self) -> list[str]:
        return [*self.notes, *failed_lines(self.deliveries)]


def widen_warnings(jobs: Sequence[Job], days: int) -> None:
    """Let expiry-warning detectors look as far ahead as the policy rotates (never narrower)."""
    if days <= 0:
        return
    for job in jobs:
        params = job.detector.params
        current = getattr(params, WARN_DAYS_PARAM, None)
        if WARN_DAYS_PARAM in type(params).model_fields and isinstance(current, int) and current < days:
            job.detector.params = params.model_copy(update={WARN_DAYS_PARAM: days})


def first_detections(jobs: Sequence[Job], advance: Advance) -> Callable[[Job], None]:
    """An engine hook advancing the progress bar once per job, when its first detection ends (verify
    probes and later rounds do not count)."""
    waiting = {id(job) for job in jobs}

    def detected(job: Job) -> None:
        if id(job) in waiting:
            waiting.discard(id(job))
            advance(1)

    return detected


async def heal(engine: Engine, policy: Policy, store: PendingStore, connector: str | None = None,
               only: Sequence[str] = ()) -> HealResult:
    """One heal run: diagnose, apply what the policy allows, verify, journal, store what stays pending."""
    policy.check_causes(pb.id for pb in engine.playbooks)
    jobs = engine.jobs(connector, only)
    widen_warnings(jobs, policy.rotate_expiring_days)
    approver = PolicyApprover(policy)
    approver.bind(jobs)
    with GrantStore(engine.journal) as grant_store:
        revocation = await revoke_expired(attach(engine, policy.lifetimes()), grant_store, connector, only)
        approver.closed = closed_windows(grant_store, clock.now())
        with progress("checking connectors", len(jobs)) as advance:
            hooks = RunHooks(approver, approver.started, first_detections(jobs, advance))
            report = await engine.run_jobs("heal", jobs, hooks)
        news = grant_news(grant_store, revocation, policy.grant_warn_days)
        live = grant_store.grants(("active",))
    if revocation is not None and report.exit_code in (0, 3) and revocation.exit_code > report.exit_code:
        report.exit_code = revocation.exit_code  # a failed revocation is a failed fix of this run
    return HealResult(report, store_refused(store, report, approver), grants=news, live_grants=live)


def run_heal(engine: Engine, policy: Policy, store: PendingStore, connector: str | None = None,
             only: Sequence[str] = (), sender: Post = post) -> HealResult:
    """heal() in its own event loop, then the webhooks (a failing hook only adds a warning)."""
    result = threads.run(heal(engine, policy, store, connector, only))
    result.deliveries = notify(result.report, policy.notify, policy.base_dir, sender, result.grants)
    return result


async def approve(engine: Engine, store: PendingStore, entries: Sequence[PendingPlan]) -> ApprovalResult:
    """Re-detect and re-plan the stored plans' causes; apply each only if its plan is unchanged."""
    wanted = {entry.key for entry in entries}
    causes = sorted({entry.cause for entry in entries})
    jobs = [job for job in engine.jobs(None, causes) if (job.connector.name, job.cause) in wanted]
    approver = StoredPlanApprover(entries)
    approver.bind(jobs)
    with progress("re-checking approved plans", len(jobs)) as advance:
        hooks = RunHooks(approver, None, first_detections(jobs, advance))
        report = await engine.run_jobs("approve", jobs, hooks)
    return settle(store, report, approver)


def run_approve(engine: Engine, store: PendingStore, entries: Sequence[PendingPlan]) -> HealResult:
    """approve() in its own event loop, as a HealResult whose notes say what was refused and why."""
    outcome = threads.run(approve(engine, store, entries))
    notes = [f"{entry.connector} / {entry.cause}: {why}" for entry, why in outcome.refused]
    return HealResult(outcome.report, notes=notes)
