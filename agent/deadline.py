"""Deadlines of a run: parsed from `15m`-style text, visible to every layer, spent work reported `unknown`.

One run is active per process at a time (the CLI runs one command), so the run's deadline is kept in a
module-level slot that worker threads see too: a retry loop in exchangelib's or office365's thread stops
retrying once the run has no time left for another attempt.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

DEFAULT_DEADLINE = "15m"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str | float | int, where: str = "deadline") -> float:
    """Seconds from `90`, `90s`, `15m`, `1.5h` or `500ms`; ValueError names `where` and the bad value."""
    if isinstance(text, bool):
        raise ValueError(f"{where}: expected a duration like 15m, 90s or 1h, got {text!r}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise ValueError(f"{where}: expected a duration like 15m, 90s or 1h, got {text!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{where}: must be more than 0, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest plain spelling: 15m, 90s, 1h, 1.5s."""
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class DeadlinePassed(Exception):
    """Raised when the run's deadline, not some other timeout, stopped the work (the engine reports it)."""


@dataclass
class Deadline:
    """A point in monotonic time after which a run starts no more work and reports the rest `unknown`."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def label(self) -> str:
        return format_duration(self.seconds)

    def remaining(self) -> float:
        return max(0.0, self.started + self.seconds - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def reason(self, what: str = "this check finished") -> str:
        """The one line a result cut short by the deadline carries."""
        return f"deadline: the run's {self.label} deadline passed before {what}"


_active: Deadline | None = None
_lock = threading.Lock()


def active() -> Deadline | None:
    """The running run's deadline, if any (read from any thread)."""
    return _active


def remaining_s() -> float | None:
    """Seconds left in the running run, or None when no deadline is in force."""
    current = _active
    return None if current is None else current.remaining()


@contextlib.contextmanager
def in_force(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make `deadline` the active one for the duration of a run (nested runs keep the outer one)."""
    global _active
    with _lock:
        previous = _active
        _active = deadline if deadline is not None else previous
    try:
        yield _active
    finally:
        with _lock:
            _active = previous


def is_deadline_reason(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith("deadline:")
