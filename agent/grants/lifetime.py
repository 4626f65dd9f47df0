"""How long a grant the agent makes may live: `30d`-style lifetimes, and which source sets one for a cause.

Precedence, most specific first: `agent fix --grant-until/--grant-for`, the heal policy's
`grant_lifetime` entry for the cause, the playbook's `fix.expires_after`, the policy's `default` entry.
None of them: the grant is permanent, as before lifetimes existed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from agent import clock
from agent.errors import BadInput

_LIFETIME = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_LIFETIME = timedelta(days=366 * 2)  # a "time box" of years is a standing grant by another name
POLICY_DEFAULT = "default"


def parse_lifetime(text: str, where: str) -> timedelta:
    """`90m`, `12h`, `30d` or `2w`; ValueError names `where` and the bad value."""
    match = _LIFETIME.match(str(text))
    if match is None:
        raise ValueError(f"{where}: expected a lifetime like 30d, 2w or 12h, got {text!r}")
    span = int(match.group(1)) * _UNIT[match.group(2)]
    if span <= timedelta(0) or span > MAX_LIFETIME:
        raise ValueError(f"{where}: must be more than 0 and at most 732d, got {text!r}")
    return span


def format_lifetime(span: timedelta) -> str:
    """The shortest spelling of a lifetime: 30d, 12h, 90m."""
    minutes = int(span.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def parse_until(text: str, now: datetime) -> datetime:
    """--grant-until: a date means the end of that day (UTC); it must lie in the future."""
    value = clock.parse_instant(text, "--grant-until")
    if len(text.strip()) == 10:  # a date alone: the whole of that day is inside the window
        value = datetime.combine(value.date(), time(23, 59, 59), tzinfo=value.tzinfo)
    if value <= now:
        raise BadInput(f"--grant-until: {text} is not in the future (now {clock.stamp(now)})")
    return value


@dataclass(frozen=True)
class Expiry:
    """When a grant expires and which setting said so (shown in the plan)."""

    at: datetime
    source: str

    @property
    def stamp(self) -> str:
        return clock.stamp(self.at)


@dataclass(frozen=True)
class Lifetimes:
    """The lifetime settings of one run; `expiry(cause, playbook_default)` picks the most specific."""

    until: datetime | None = None  # --grant-until
    span: timedelta | None = None  # --grant-for
    per_cause: Mapping[str, timedelta] = field(default_factory=dict)  # heal policy grant_lifetime
    now: datetime = field(default_factory=clock.now)

    def expiry(self, cause: str, playbook_default: str | None) -> Expiry | None:
        if self.until is not None:
            return Expiry(self.until, "--grant-until")
        if self.span is not None:
            return Expiry(self.now + self.span, f"--grant-for {format_lifetime(self.span)}")
        if cause in self.per_cause:
            span = self.per_cause[cause]
            return Expiry(self.now + span, f"heal policy grant_lifetime {cause}: {format_lifetime(span)}")
        if playbook_default:
            span = parse_lifetime(playbook_default, "fix.expires_after")
            return Expiry(self.now + span, f"playbook fix.expires_after: {playbook_default}")
        if POLICY_DEFAULT in self.per_cause:
            span = self.per_cause[POLICY_DEFAULT]
            return Expiry(self.now + span, f"heal policy grant_lifetime default: {format_lifetime(span)}")
        return None

    @property
    def asked(self) -> bool:
        """Whether a person asked for a lifetime on this run (then non-grants say they are not boxed)."""
        return self.until is not None or self.span is not None


def from_cli(grant_for: str | None, grant_until: str | None) -> Lifetimes:
    """The lifetimes `agent fix` was given; bad or clashing values are bad input."""
    if grant_for and grant_until:
        raise BadInput("give --grant-for or --grant-until, not both")
    now = clock.now()
    try:
        span = parse_lifetime(grant_for, "--grant-for") if grant_for else None
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return Lifetimes(until=parse_until(grant_until, now) if grant_until else None, span=span, now=now)
