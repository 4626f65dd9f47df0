"""What the engine's parts share: a job's state through the lifecycle, the run's settings, exit codes, and
the small Protocols its parts (undo, revoke, deadlines) see the engine and the playbooks through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from agent import deadline as deadlines
from agent.engine.approval import Approver
from agent.engine.convergence import DEFAULT_MAX_ROUNDS, blockers
from agent.engine.verify import Backoff
from agent.journal.store import plain
from agent.model import Finding, Outcome, Plan, Risk, Status
from agent.redact import redact, redact_obj
from agent.registry import Detector, Fixer

if TYPE_CHECKING:
    from agent.config.model import Config, Connector, Tenant
    from agent.engine.steps import ClientsFactory
    from agent.journal.store import Journal

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class CauseBudget:
    """The time one cause's own work may take in a run (detect and plan, apply, verify, every round);
    waiting for a turn is not counted, so a cause late in the queue is not cut for others' work."""

    seconds: float
    spent: float = 0.0

    @property
    def label(self) -> str:
        return deadlines.format_duration(self.seconds)

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)

    @property
    def expired(self) -> bool:
        return self.left <= 0


class ExitCode(IntEnum):
    """Process exit codes (DESIGN section 7); monitoring reads them."""

    OK = 0  # healthy, or everything fixed and verified
    ERROR = 1  # the agent itself failed
    BAD_INPUT = 2  # usage, config or playbook
    ATTENTION = 3  # causes found, changes pending (dry-run, approval), or a detector could not tell
    FIX_FAILED = 4  # a fix failed or stayed unverified


def exit_code_for(outcomes: Sequence[Outcome]) -> ExitCode:
    """The worst outcome decides; `unknown` is not healthy, so it needs attention (3)."""
    statuses = {o.status for o in outcomes}
    if statuses & {Status.FAILED, Status.UNVERIFIED}:
        return ExitCode.FIX_FAILED
    if statuses & {Status.FOUND, Status.PLANNED, Status.UNKNOWN, Status.SKIPPED}:
        return ExitCode.ATTENTION
    return ExitCode.OK


class PlaybookLike(Protocol):
    """What the engine needs from a playbook (agent.playbook.load.Playbook)."""

    @property
    def id(self) -> str: ...

    @property
    def applies_to(self) -> Any: ...

    @property
    def advice(self) -> str: ...

    @property
    def risk(self) -> Risk | None: ...

    def make_detector(self) -> Detector: ...

    def make_fixer(self) -> Fixer | None: ...


@dataclass(frozen=True)
class EngineSettings:
    """Knobs of a run: per-tenant concurrency, detector timeout, verify rhythm, converging rounds."""

    concurrency: int = 4
    detect_timeout_s: float | None = 120.0
    verify: Backoff = field(default_factory=Backoff)
    max_rounds: int = DEFAULT_MAX_ROUNDS  # a fix run detects again what its fixes unmasked, this often
    deadline_s: float | None = None  # the whole run; past it the rest is reported, never waited for
    verify_full: bool = False  # verify re-runs the whole detect, not only what the fix changed
    cause_deadline_s: float | None = None  # one cause's own work (all its phases); past it, its rest


@dataclass
class Job:
    """One (connector, cause) pair as it moves through the lifecycle."""

    tenant: Tenant
    connector: Connector
    playbook: PlaybookLike
    detector: Detector
    fixer: Fixer | None
    finding: Finding | None = None
    plan: Plan | None = None
    outcome: Outcome | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)  # every change of the run, all rounds
    round: int = 1  # the round of the converging run that last detected this job
    uncertain: str | None = None  # why its last write's answer was lost: verify's read settles it
    budget: CauseBudget | None = None  # its own deadline (--cause-deadline), once it started
    follows: Job | None = None  # the job whose plan carries this one's write too (shared_targets)

    @property
    def cause(self) -> str:
        return self.playbook.id




def kinds_of(applies_to: Any) -> set[str]:
    return {getattr(k, "value", k) for k in (applies_to or [])}


def connectors_of(jobs: Sequence[Job]) -> list[tuple[Tenant, Connector]]:
    seen: dict[str, tuple[Tenant, Connector]] = {}
    for job in jobs:
        seen.setdefault(job.connector.name, (job.tenant, job.connector))
    return list(seen.values())


def max_risk(*risks: Risk | None) -> Risk:
    """A playbook may raise a fixer's risk, never lower it."""
    return max((r for r in risks if r is not None), key=lambda r: r.rank, default=Risk.MEDIUM)


def outcome_of(job: Job, status: Status, reason: str | None = None,
               changes: list[dict[str, Any]] | None = None) -> Outcome:
    """The job's result line; redacted here so every renderer and the journal get it clean."""
    finding = job.finding or Finding(status)
    why = reason if reason is not None else finding.reason
    return Outcome(
        connector=job.connector.name, cause=job.cause, status=status,
        evidence=redact_obj(plain(finding.evidence)), summary=redact(finding.summary),
        reason=redact(why) if why else why, changes=changes or [],
        advice="" if status == Status.OK else (job.playbook.advice or ""), risk=risk_of(job),
        round=job.round, masked_by=list(finding.masked_by) if status == Status.UNKNOWN else [],
        waits_on=blockers(job) if status == Status.PLANNED else [])


def risk_of(job: Job) -> str | None:
    """The risk a job's result shows: its plan's, else the highest of its fixer's and playbook's."""
    if job.plan is not None:
        return job.plan.risk.value
    if job.fixer is not None:
        return max_risk(job.fixer.risk, job.playbook.risk).value
    return None


@dataclass
class RunHooks:
    """What a caller of `Engine.run_jobs` (heal, approve) plugs into one run, instead of changing the engine:
    its own approver, the run id once known, and each job's first detection (a progress bar)."""

    approver: Approver | None = None
    on_start: Callable[[str], None] | None = None
    on_detected: Callable[[Job], None] | None = None


class EngineParts(Protocol):
    """What undo and revoke use of the engine that runs them (agent.engine.core.Engine)."""

    config: Config
    playbooks: list[PlaybookLike]
    journal: Journal
    clients_factory: ClientsFactory
    settings: EngineSettings
    sleep: Sleep
    clock: Callable[[], float]
    argv: list[str]
