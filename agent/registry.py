"""Detectors and fixers registered by kebab-case name, each with its own parameter schema and permissions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from agent.model import Finding, Plan, Risk, Step

if TYPE_CHECKING:
    from agent.context import Context


class NoParams(BaseModel):
    """The schema of a detector or fixer that takes no `with:` parameters."""

    model_config = ConfigDict(extra="forbid")


class UnknownName(LookupError):
    """A `use:` name that no detector or fixer is registered under."""

    def __init__(self, kind: str, name: str, choices: list[str]) -> None:
        self.kind, self.name, self.choices = kind, name, choices
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(choices) or '(none registered)'}")


class PartialFailure(Exception):
    """Raised by `apply_step` when a step did part of its writes (a fleet chunk): the engine journals
    `undo` as applied (what was done stays undoable), goes on with the plan's next step, and reports
    the fix failed with `reason`."""

    def __init__(self, reason: str, undo: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.undo = reason, dict(undo or {})


class AlreadyReversed(Exception):
    """Raised by `undo_step` when the tenant already shows the change reversed (an earlier undo whose
    answer was lost did it): the change is marked undone without another write."""


@dataclass
class Settled:
    """What the tenant shows about a step whose answer was lost: `made`, and if so the undo data
    completed from what the tenant shows (e.g. the id of what the write created)."""

    made: bool
    undo: dict[str, Any] = field(default_factory=dict)
    note: str = ""


class Detector(ABC):
    """Answers ok / found / unknown for one cause; reads only."""

    name: ClassVar[str]
    params_model: ClassVar[type[BaseModel]] = NoParams
    permissions: ClassVar[tuple[str, ...]] = ()  # Graph application permissions it reads with
    roles: ClassVar[tuple[str, ...]] = ()  # directory roles it needs, if any
    conditional_permissions: ClassVar[dict[str, str]] = {}  # permission -> when it is needed

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.params_model()

    @abstractmethod
    async def detect(self, ctx: Context) -> Finding:
        """Probe as the connector would, read why with the admin credential."""

    async def verify(self, ctx: Context, found: Finding) -> Finding:
        """After a fix of what `found` showed: probe again, with the fresh clients of `ctx`.

        By default the whole detect. A detector over many items (sites, OneDrives) probes only those
        `found` named as lacking or unreadable, since the fix changed those alone; `--verify full`
        makes the engine call detect() instead.
        """
        return await self.detect(ctx)


class Fixer(ABC):
    """Plans (read-only), applies and undoes the writes that repair one cause."""

    name: ClassVar[str]
    params_model: ClassVar[type[BaseModel]] = NoParams
    permissions: ClassVar[tuple[str, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ()
    conditional_permissions: ClassVar[dict[str, str]] = {}  # permission -> when it is needed
    risk: ClassVar[Risk] = Risk.MEDIUM
    propagation_s: ClassVar[float] = 30.0  # how long verify may poll before `unverified`

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.params_model()

    @abstractmethod
    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        """The exact calls the fix would make; must not write."""

    @abstractmethod
    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        """Make one write; return what undoing it needs beyond `step.undo` (e.g. a created id)."""

    @abstractmethod
    async def undo_step(self, ctx: Context, step: Step) -> Step:
        """Build the step that reverses an applied step (its call and undo data); must not write."""

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """Read the tenant to tell whether a step whose answer was lost (or that a kill interrupted) was
        made; must not write. None: this fixer cannot tell, a person must check."""
        return None


D = TypeVar("D", bound=type[Detector])
F = TypeVar("F", bound=type[Fixer])

_DETECTORS: dict[str, type[Detector]] = {}
_FIXERS: dict[str, type[Fixer]] = {}


def register_detector(cls: D) -> D:
    """Class decorator: make a detector available to playbooks under `cls.name`."""
    _register(_DETECTORS, "detector", cls)
    return cls


def register_fixer(cls: F) -> F:
    """Class decorator: make a fixer available to playbooks under `cls.name`."""
    _register(_FIXERS, "fixer", cls)
    return cls


def _register(table: dict[str, Any], kind: str, cls: Any) -> None:
    existing = table.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"{kind} {cls.name!r} registered twice ({existing.__module__}, {cls.__module__})")
    table[cls.name] = cls


def detector(name: str) -> type[Detector]:
    """The detector class registered under `name`; UnknownName lists the valid ones."""
    try:
        return _DETECTORS[name]
    except KeyError:
        raise UnknownName("detector", name, sorted(_DETECTORS)) from None


def fixer(name: str) -> type[Fixer]:
    """The fixer class registered under `name`; UnknownName lists the valid ones."""
    try:
        return _FIXERS[name]
    except KeyError:
        raise UnknownName("fixer", name, sorted(_FIXERS)) from None


def detector_names() -> list[str]:
    return sorted(_DETECTORS)


def fixer_names() -> list[str]:
    return sorted(_FIXERS)


def unregister(name: str) -> None:
    """Remove a detector or fixer (tests register their own and clean up)."""
    _DETECTORS.pop(name, None)
    _FIXERS.pop(name, None)
