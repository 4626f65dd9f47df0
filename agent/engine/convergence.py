"""One fix run that converges: jobs in dependency order, plans that wait on another cause's fix, and the
jobs a round's fixes make worth checking again (agent.playbook.relations says how causes relate)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from agent.model import Finding, Outcome, Plan, Status
from agent.playbook.relations import fix_order, relations_of

DEFAULT_MAX_ROUNDS = 4
LANDED = (Status.FIXED, Status.UNVERIFIED)  # the fix's writes were made (verified or not yet)


class JobLike(Protocol):
    """What convergence reads of an engine job (agent.engine.core.Job)."""

    @property
    def tenant(self) -> Any: ...

    @property
    def playbook(self) -> Any: ...

    @property
    def cause(self) -> str: ...

    finding: Finding | None
    plan: Plan | None
    outcome: Outcome | None


J = TypeVar("J", bound=JobLike)


def ordered(jobs: Sequence[J]) -> list[J]:
    """The jobs in the order given, except that each follows the jobs of its tenant whose cause's fix
    goes first (implied_by, after)."""
    keys = [str(i) for i in range(len(jobs))]
    first: dict[str, set[str]] = {}
    for key, job in zip(keys, jobs, strict=True):
        before = set(relations_of(job.playbook).first)
        first[key] = {k for k, other in zip(keys, jobs, strict=True)
                      if other.cause in before and other.tenant.name == job.tenant.name}
    return [jobs[int(key)] for key in fix_order(keys, first)]


def blockers(job: JobLike) -> list[str]:
    """The causes whose fix must land before this job's plan can be applied (it names what they create)."""
    waits = list(job.plan.waits_on) if job.plan is not None else []
    if job.finding is not None:
        waits += [c for c in job.finding.depends_on if c not in waits]
    return waits


def waiting_reason(job: JobLike, jobs: Sequence[JobLike]) -> str:
    """One line on what the job's plan waits for, and whether this run can bring it."""
    waits = blockers(job)
    names = ", ".join(waits)
    here = {other.cause for other in jobs if other.tenant.name == job.tenant.name}
    absent = [c for c in waits if c not in here]
    if absent:
        return (f"waits on {names}: its fix must land first, and this run does not check "
                f"{', '.join(absent)} (add it to --only)")
    return f"waits on {names}: planned in full once that fix has landed"


def landed(jobs: Iterable[JobLike]) -> set[tuple[str, str]]:
    """(tenant, cause) of every job whose fix wrote something in this round."""
    return {(job.tenant.name, job.cause) for job in jobs
            if job.outcome is not None and job.outcome.status in LANDED}


def next_round(jobs: Sequence[J], applied: Sequence[J]) -> list[J]:
    """Jobs worth detecting again after `applied` landed: those that waited on, were masked by, or relate
    to a cause fixed this round. A fix that failed is not retried unless such a cause changed."""
    fixed = landed(applied)
    again = []
    for job in jobs:
        if job in applied or (job.outcome is not None and job.outcome.status == Status.FIXED):
            continue
        triggers = set(blockers(job)) | relations_of(job.playbook).related
        if job.finding is not None:
            triggers |= set(job.finding.masked_by)
        if any((job.tenant.name, cause) in fixed for cause in triggers):
            again.append(job)
    return again
