"""Plain data passed between detectors, fixers, the engine, the journal and the reports."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """The status of one (connector, cause) pair in a run; DESIGN section 7."""

    OK = "ok"
    FOUND = "found"
    UNKNOWN = "unknown"
    PLANNED = "planned"
    FIXED = "fixed"
    UNVERIFIED = "unverified"
    FAILED = "failed"
    SKIPPED = "skipped"


class Risk(enum.StrEnum):
    """How much harm a fix can do if it is wrong; decides who must approve it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


@dataclass
class Finding:
    """A detector's answer: ok, found (with evidence) or unknown (with the reason it could not tell)."""

    status: Status
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # why the answer is unknown (403, throttled, missing permission...)
    summary: str = ""  # one human line: what was seen
    masked_by: list[str] = field(default_factory=list)  # causes that keep this check from judging
    depends_on: list[str] = field(default_factory=list)  # causes whose fix must land before this one's

    @classmethod
    def ok(cls, summary: str = "", **evidence: Any) -> Finding:
        return cls(Status.OK, dict(evidence), summary=summary)

    @classmethod
    def found(cls, summary: str, **evidence: Any) -> Finding:
        return cls(Status.FOUND, dict(evidence), summary=summary)

    @classmethod
    def unknown(cls, reason: str, **evidence: Any) -> Finding:
        return cls(Status.UNKNOWN, dict(evidence), reason=reason, summary=reason)

    @classmethod
    def masked(cls, reason: str, masked_by: Sequence[str], **evidence: Any) -> Finding:
        """`unknown` because another cause keeps the check from running or from judging."""
        return cls(Status.UNKNOWN, dict(evidence), reason=reason, summary=reason, masked_by=list(masked_by))

    @classmethod
    def implied(cls, summary: str, depends_on: Sequence[str], **evidence: Any) -> Finding:
        """`found` because another cause implies this one; its fix waits for that cause's fix."""
        return cls(Status.FOUND, dict(evidence), summary=summary, depends_on=list(depends_on))


@dataclass
class Call:
    """One exact API call a fix or an undo will make; the body is already redacted."""

    method: str
    url: str
    body: Any = None

    def describe(self) -> str:
        return f"{self.method} {self.url}"


@dataclass
class Step:
    """One write of a plan: the call, the state before and after, and what undoing it needs."""

    action: str  # kebab-case verb of the fixer, e.g. "grant-app-role"
    call: Call
    before: Any = None
    after: Any = None
    params: dict[str, Any] = field(default_factory=dict)  # what apply needs (no secrets)
    undo: dict[str, Any] | None = None  # filled from the plan and completed by apply
    irreversible: bool = False
    description: str = ""
    expires: str | None = None  # a time-boxed grant: when the agent revokes it (agent.grants.timebox)
    time_box: str = ""  # one line on its lifetime, or why it has none (a password reset cannot have one)


@dataclass
class Plan:
    """Everything a fix would do, computed read-only; the same object is applied, journaled and shown."""

    cause: str
    connector: str
    fixer: str
    risk: Risk
    steps: list[Step] = field(default_factory=list)
    note: str = ""  # e.g. "nothing to change"
    waits_on: list[str] = field(default_factory=list)  # causes whose fix must land before these steps

    @property
    def empty(self) -> bool:
        return not self.steps


@dataclass
class Change:
    """A step as recorded in the journal, with its outcome."""

    run_id: str
    seq: int
    connector: str
    cause: str
    fixer: str
    action: str
    call: Call
    before: Any
    after: Any
    undo: dict[str, Any] | None
    state: str  # pending | applied | uncertain | failed | undone
    error: str | None = None
    irreversible: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the step's params, so undo can rebuild it
    description: str = ""
    undone_by: str | None = None  # the undo run that reversed this change
    round: int = 1  # the round of the run that made it
    sealed: bool = True  # its undo data carries the journal key's HMAC: nobody edited it since


@dataclass
class Outcome:
    """The result line for one (connector, cause) pair."""

    connector: str
    cause: str
    status: Status
    evidence: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    reason: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    advice: str = ""
    risk: str | None = None
    round: int = 1  # the round of a converging fix run in which this status was reached
    masked_by: list[str] = field(default_factory=list)  # causes that kept the check from judging
    waits_on: list[str] = field(default_factory=list)  # causes whose fix this one's plan waits for

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class RunReport:
    """One run of diagnose, fix, heal or undo, as reported and journaled."""

    run_id: str
    mode: str  # diagnose | fix | dry-run | heal | undo
    started: str
    finished: str | None = None
    results: list[Outcome] = field(default_factory=list)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "started": self.started,
            "finished": self.finished,
            "exit_code": self.exit_code,
            "results": [r.to_dict() for r in self.results],
        }
