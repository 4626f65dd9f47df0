"""Plans a heal run left for approval, stored with their preconditions; `approve` applies exactly those.

The pending table lives in the journal's database (SQLite or PostgreSQL), next to the run that planned
each plan. Each entry keeps the plan's steps (call, before, after: redacted, as journaled) and a
fingerprint of the finding's evidence. Approving re-runs the detector and re-plans: only when the fresh
steps equal the stored ones is the plan applied; otherwise the approval is refused as stale, with what
changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import BadInput
from agent.journal.db import Database, open_sqlite
from agent.journal.schema import PENDING_STATES, PENDING_TABLE
from agent.journal.store import Journal, plain
from agent.model import Outcome, Plan, RunReport, Status, Step
from agent.redact import redact_obj

if TYPE_CHECKING:
    from agent.engine.core import Job

STATES = PENDING_STATES
# the fresh check could not tell (a failed read, a plan that could not be made): the plan stays pending
_UNCHECKED = (Status.UNKNOWN, Status.FAILED)
_COMPARED = ("action", "method", "url", "before", "after", "body", "irreversible")  # preconditions first


@dataclass
class PendingPlan:
    """One plan waiting for `agent approve`."""

    run_id: str
    connector: str
    cause: str
    fixer: str
    risk: str
    steps: list[dict[str, Any]]
    fingerprint: str
    reason: str = ""
    state: str = "pending"
    note: str = ""
    resolved_by: str | None = None
    created: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.connector, self.cause

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = redact_obj(plain(self))
        return data


def step_record(step: Step) -> dict[str, Any]:
    """What a step must still be for its approval to hold (redacted, so it compares with the stored one)."""
    data: dict[str, Any] = redact_obj(plain({
        "action": step.action, "method": step.call.method, "url": step.call.url, "body": step.call.body,
        "before": step.before, "after": step.after, "irreversible": step.irreversible,
        "description": step.description}))
    return data


def fingerprint(evidence: Any) -> str:
    """A short digest of a finding's evidence (redacted, canonical JSON)."""
    text = json.dumps(redact_obj(plain(evidence)), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_reason(stored: Sequence[dict[str, Any]], fresh: Sequence[dict[str, Any]]) -> str | None:
    """None when the fresh plan is the stored one; else what differs, in one line."""
    if len(stored) != len(fresh):
        return f"the plan now has {len(fresh)} step(s), the approved one had {len(stored)}"
    for number, (old, new) in enumerate(zip(stored, fresh, strict=True), start=1):
        for key in _COMPARED:
            if old.get(key) != new.get(key):
                return f"step {number} ({old.get('action')}): {key} was {_short(old.get(key))}, " \
                       f"now {_short(new.get(key))}"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


class PendingStore:
    """The pending table in the journal's database: the journal's own connection, or a SQLite file's."""

    _COLUMNS = ("run", "connector", "cause", "fixer", "risk", "steps", "fingerprint", "reason", "state",
                "note", "resolved_by", "created", "updated")

    def __init__(self, source: str | Path | Journal, now: Any = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._owned = not isinstance(source, Journal)
        if isinstance(source, Journal):
            self._db: Database = source.db
        else:  # a journal file opened on its own (`agent approvals`)
            self._db = open_sqlite(str(source))
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.script(PENDING_TABLE)

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def __enter__(self) -> PendingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stamp(self) -> str:
        return str(self._now().astimezone(UTC).isoformat(timespec="seconds"))

    def add(self, entry: PendingPlan) -> None:
        stamp = self._stamp()
        self._db.execute(
            self._db.dialect.upsert("pending", self._COLUMNS, ("run", "connector", "cause")),
            (entry.run_id, entry.connector, entry.cause, entry.fixer, entry.risk,
             json.dumps(redact_obj(plain(entry.steps))), entry.fingerprint, redact_obj(entry.reason),
             entry.state, entry.note, entry.resolved_by, stamp, stamp))

    def entries(self, run_id: str | None = None, state: str | None = "pending",
                cause: str | None = None) -> list[PendingPlan]:
        """Entries newest first, filtered by run, state and cause."""
        query, args = "SELECT * FROM pending WHERE 1=1", []
        for column, value in (("run", run_id), ("state", state), ("cause", cause)):
            if value is not None:
                query += f" AND {column}=?"
                args.append(value)
        rows = self._db.execute(query + " ORDER BY created DESC, run DESC, rowid", args)
        return [_entry(r) for r in rows]

    def resolve(self, entry: PendingPlan, state: str, by_run: str, note: str = "") -> None:
        self._db.execute("UPDATE pending SET state=?, resolved_by=?, note=?, updated=? "
                         "WHERE run=? AND connector=? AND cause=?",
                         (state, by_run, redact_obj(note), self._stamp(), entry.run_id, entry.connector,
                          entry.cause))

    def supersede(self, keys: Iterable[tuple[str, str]], by_run: str) -> None:
        """Older pending plans of these (connector, cause) pairs: a newer run has looked again."""
        wanted = set(keys)
        for entry in self.entries():
            if entry.key in wanted and entry.run_id != by_run:
                self.resolve(entry, "superseded", by_run, f"run {by_run} diagnosed it again")


def _entry(row: Any) -> PendingPlan:
    return PendingPlan(run_id=row["run"], connector=row["connector"], cause=row["cause"],
                       fixer=row["fixer"], risk=row["risk"], steps=json.loads(row["steps"]),
                       fingerprint=row["fingerprint"], reason=row["reason"] or "", state=row["state"],
                       note=row["note"] or "", resolved_by=row["resolved_by"], created=row["created"])


class JobApprover:
    """An approver that sees the engine's jobs, so it decides with the finding and the playbook's cause."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.refused: dict[tuple[str, str], str] = {}
        self.plans: dict[tuple[str, str], tuple[Plan, Job]] = {}  # refused plans, kept for storing

    def bind(self, jobs: list[Job]) -> None:
        self.jobs = jobs

    def job_of(self, plan: Plan) -> Job | None:
        return next((job for job in self.jobs if job.plan is plan), None)

    def key(self, plan: Plan) -> tuple[str, str]:
        job = self.job_of(plan)
        return (job.connector.name, job.cause) if job is not None else (plan.connector, plan.cause)

    def refuse(self, plan: Plan, reason: str) -> bool:
        key = self.key(plan)
        self.refused[key] = reason
        job = self.job_of(plan)
        if job is not None:
            self.plans[key] = (plan, job)
        return False

    def why_not(self, plan: Plan) -> str:
        return self.refused.get(self.key(plan), "not approved")


class StoredPlanApprover(JobApprover):
    """`agent approve`: approves a fresh plan only when it equals the stored one."""

    def __init__(self, entries: Iterable[PendingPlan]) -> None:
        super().__init__()
        self.entries = {e.key: e for e in entries}
        self.approved: set[tuple[str, str]] = set()

    def __call__(self, plan: Plan) -> bool:
        key = self.key(plan)
        entry = self.entries.get(key)
        if entry is None:
            return self.refuse(plan, "not part of the approved plans")
        why = stale_reason(entry.steps, [step_record(s) for s in plan.steps])
        if why is not None:
            return self.refuse(plan, f"stale plan: {why}; run `agent heal` again for a fresh plan")
        self.approved.add(key)
        return True


def store_refused(store: PendingStore, report: RunReport, approver: JobApprover) -> list[PendingPlan]:
    """Store the plans the run left pending (status planned), superseding older entries of those pairs."""
    store.supersede(((o.connector, o.cause) for o in report.results), report.run_id)
    stored = []
    for outcome in report.results:
        held = approver.plans.get((outcome.connector, outcome.cause))
        if outcome.status != Status.PLANNED or held is None:
            continue
        plan, _ = held
        entry = PendingPlan(report.run_id, outcome.connector, outcome.cause, plan.fixer, plan.risk.value,
                            [step_record(s) for s in plan.steps], fingerprint(outcome.evidence),
                            outcome.reason or "")
        store.add(entry)
        stored.append(entry)
    return stored


@dataclass
class ApprovalResult:
    """What `agent approve` did with each stored plan it was asked to apply."""

    report: RunReport
    applied: list[PendingPlan] = field(default_factory=list)
    refused: list[tuple[PendingPlan, str]] = field(default_factory=list)


def settle(store: PendingStore, report: RunReport, approver: StoredPlanApprover) -> ApprovalResult:
    """Mark each stored plan approved, stale, or still pending (when the check could not tell)."""
    result = ApprovalResult(report)
    outcomes = {(o.connector, o.cause): o for o in report.results}
    for key, entry in approver.entries.items():
        outcome = outcomes.get(key)
        why = _refusal(approver, key, outcome)
        if key in approver.approved:
            store.resolve(entry, "approved", report.run_id)
            store.supersede([key], report.run_id)
            result.applied.append(entry)
        elif outcome is not None and outcome.status in _UNCHECKED and key not in approver.refused:
            result.refused.append((entry, why or "could not check its preconditions; still pending"))
        else:
            reason = why or "stale plan"
            store.resolve(entry, "stale", report.run_id, reason)
            result.refused.append((entry, reason))
    return result


def _refusal(approver: StoredPlanApprover, key: tuple[str, str], outcome: Outcome | None) -> str | None:
    if key in approver.refused:
        return approver.refused[key]
    if outcome is None:
        return "the cause no longer applies to this connector"
    if outcome.status in _UNCHECKED:
        return f"could not check its preconditions ({outcome.reason or outcome.status.value}); " \
               "still pending"
    if key not in approver.approved:
        return f"stale plan: the detector now says {outcome.status.value}" + \
               (f" ({outcome.reason})" if outcome.reason else "") + "; nothing applied"
    return None


def select_entries(store: PendingStore, run_id: str, cause: str | None, known_run: bool) -> list[PendingPlan]:
    """The pending plans `agent approve RUN [--cause ID]` names; BadInput when there are none."""
    if not known_run:
        raise BadInput(f"unknown run id {run_id!r}; `agent approvals` lists the pending plans")
    entries = store.entries(run_id)
    if not entries:
        raise BadInput(f"run {run_id} has no pending plans; `agent approvals` lists them")
    if cause is not None:
        chosen = [e for e in entries if e.cause == cause]
        if not chosen:
            valid = ", ".join(sorted({e.cause for e in entries}))
            raise BadInput(f"run {run_id} has no pending plan for {cause}; pending: {valid}")
        return chosen
    return entries
