"""Plain data passed between detectors, fixers, the engine, the journal and the reports."""

from __future__ import annotations

import enum
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

    @classmethod
    def ok(cls, summary: str = "", **evidence: Any) -> Finding:
        return cls(Status.OK, dict(evidence), summary=summary)

    @classmethod
    def found(cls, summary: str, **evidence: Any) -> Finding:
        return cls(Status.FOUND, dict(evidence), summary=summary)

    @classmethod
    def unknown(cls, reason: str, **evidence: Any) -> Finding:
        return cls(Status.UNKNOWN, dict(evidence), reason=reason, summary=reason)


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


@dataclass
class Plan:
    """Everything a fix would do, computed read-only; the same object is applied, journaled and shown."""

    cause: str
    connector: str
    fixer: str
    risk: Risk
    steps: list[Step] = field(default_factory=list)
    note: str = ""  # e.g. "nothing to change"

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
    state: str  # pending | applied | failed | undone
    error: str | None = None
    irreversible: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the step's params, so undo can rebuild it
    description: str = ""
    undone_by: str | None = None  # the undo run that reversed this change


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
