"""The agent's exception hierarchy: what becomes exit code 2 and what carries file:line problems."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class BadInput(AgentError):
    """Bad config, playbook or command-line input: one clear line on stderr and exit code 2."""


class ConfigError(BadInput):
    """The connector configuration is wrong (file, field path, valid choices)."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in an input file, rendered as `file:line: message`."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class PlaybookError(BadInput):
    """Every problem found while loading playbooks, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        # Sort so the output reads file by file, top to bottom; unknown lines (None) first.
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One `file:line: message` line per problem."""
        return [str(p) for p in self.problems]


class SecretError(ConfigError):
    """A secret reference cannot be resolved or written; names the reference, never a value."""

    def __init__(self, ref: str, reason: str) -> None:
        self.ref, self.reason = ref, reason
        super().__init__(f"secret {ref}: {reason}")
