"""The dry-run guard every adapter asks before a write: in a dry run it refuses, loudly."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.model import Call


class DryRunWrite(RuntimeError):
    """A write was attempted during a dry run: a bug, and it fails loudly."""


@dataclass
class WriteGuard:
    """Every adapter asks the guard before a write; in dry-run the guard refuses."""

    dry_run: bool
    writes: list[Call] = field(default_factory=list)

    def check(self, call: Call) -> None:
        if self.dry_run:
            raise DryRunWrite(f"write attempted during dry run: {call.describe()}")
        self.writes.append(call)
