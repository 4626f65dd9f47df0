"""How the engine spends deadlines (the run's, each cause's): work they cut is reported, never `ok`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from agent import deadline as deadlines
from agent.deadline import DeadlinePassed
from agent.engine.job import CauseBudget, Job
from agent.engine.steps import change_dict
from agent.journal.store import Journal, step_of
from agent.model import Finding, Status

HINT_CAP_S = 20.0  # the connectors' first sign-ins only order the detectors: never worth more than this


@contextlib.asynccontextmanager
async def within(cap_s: float | None = None) -> AsyncIterator[None]:
    """Run the block until the run's deadline (or `cap_s`, the sooner); past it, raise DeadlinePassed."""
    left = deadlines.remaining_s()
    limit = left if cap_s is None else (cap_s if left is None else min(left, cap_s))
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise  # a timeout of the work itself, not ours
        raise DeadlinePassed() from None


async def bounded(work: Awaitable[None], on_deadline: Callable[[], None]) -> None:
    """Await `work` within the run's deadline; when it passes, `on_deadline` says what became of it."""
    try:
        async with within():
            await work
    except DeadlinePassed:
        on_deadline()


def reason(what: str = "this check finished", job: Job | None = None) -> str:
    """The deadline line: the cause's own when `job` spent its budget, else the run's."""
    budget = getattr(job, "budget", None)
    if budget is not None and budget.expired:
        return f"deadline: the cause's {budget.label} deadline passed before {what}"
    current = deadlines.active()
    label = current.label if current is not None else "?"
    return f"deadline: the run's {label} deadline passed before {what}"


def expired(job: Job | None = None) -> bool:
    """The run's deadline passed, or `job`'s own budget is spent."""
    budget = getattr(job, "budget", None)
    if budget is not None and budget.expired:
        return True
    current = deadlines.active()
    return current is not None and current.expired


@contextlib.asynccontextmanager
async def cause_scope(job: Job, seconds: float | None, clock: Callable[[], float] = time.monotonic
                      ) -> AsyncIterator[None]:
    """Run one phase of `job` within the run's deadline and what is left of the cause's own (`seconds`,
    None: no per-cause limit); past either, raise DeadlinePassed and `reason(..., job)` says which."""
    if seconds is not None and job.budget is None:
        job.budget = CauseBudget(seconds)
    budget = job.budget
    if budget is not None and budget.expired:
        raise DeadlinePassed()
    started = clock()
    try:
        async with within(None if budget is None else budget.left):
            yield
    finally:
        if budget is not None:
            budget.spent += clock() - started


def cut_detect(job: Job) -> tuple[Status, str]:
    """A job whose detect or plan the deadline stopped: found stays found (unplanned), else unknown."""
    job.plan = None  # a half-made plan is never applied
    if job.finding is not None and job.finding.status == Status.FOUND:
        return Status.FOUND, reason("its fix was planned", job)
    why = reason(job=job)
    job.finding = Finding.unknown(why)
    return Status.UNKNOWN, why


def interrupted_changes(journal: Journal, run_id: str, job: Job) -> list[dict[str, object]]:
    """This job's journaled changes of the round, as they stand (a write cut mid-way stays pending)."""
    found = [c for c in journal.changes(run_id) if c.connector == job.connector.name and c.cause == job.cause
             and c.round == job.round]
    return [change_dict(step_of(c), c.state, c.error, c.seq, c.round) for c in found]
