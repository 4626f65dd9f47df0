"""What a detector or fixer is handed: the tenant, the connector, the clients, and the dry-run guard."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.model import Call

if TYPE_CHECKING:
    from agent.config.model import Connector, Tenant


# Whether long-running detectors and fixers may draw a progress bar on stderr: the CLI sets it for a
# person reading a table, never for -o json or a scheduler (asyncio tasks and threads inherit it).
SHOW_PROGRESS: ContextVar[bool] = ContextVar("show_progress", default=False)


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


@dataclass
class Context:
    """Per (connector, cause) view handed to detectors and fixers."""

    tenant: Tenant
    connector: Connector
    guard: WriteGuard
    clients: Any = None  # agent.clients.Clients: lazily built adapters, one per library
    settings: dict[str, Any] = field(default_factory=dict)  # playbook `with:` extras, policy knobs

    @property
    def dry_run(self) -> bool:
        return self.guard.dry_run
