"""What a detector or fixer is handed: the tenant, the connector, the clients, and the dry-run guard."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent.guard import WriteGuard

if TYPE_CHECKING:
    from agent.clients.ews import EwsAdapter, EwsProbe
    from agent.clients.graph import GraphAdapter
    from agent.clients.sharepoint import SharePointAdapter
    from agent.clients.tokens import TokenProbe, UserRealm
    from agent.config.model import Connector, Tenant


# Whether long-running detectors and fixers may draw a progress bar on stderr: the CLI sets it for a
# person reading a table, never for -o json or a scheduler (asyncio tasks and threads inherit it).
SHOW_PROGRESS: ContextVar[bool] = ContextVar("show_progress", default=False)


class ClientBundle(Protocol):
    """What detectors and fixers call, one adapter per library (agent.clients.Clients is the real one):
    typed here so the type checker sees every call the catalog makes."""

    @property
    def graph(self) -> GraphAdapter: ...

    @property
    def sharepoint(self) -> SharePointAdapter: ...

    @property
    def ews(self) -> EwsAdapter: ...

    @property
    def ews_url(self) -> str: ...

    async def probe_app(self, scope: str, use: str | None = None) -> TokenProbe: ...

    async def probe_password(self, scope: str) -> TokenProbe: ...

    async def probe_ews(self, mailbox: str | None = None, use: str | None = None) -> EwsProbe: ...

    async def user_realm(self, upn: str) -> UserRealm: ...


@dataclass
class Context:
    """Per (connector, cause) view handed to detectors and fixers."""

    tenant: Tenant
    connector: Connector
    guard: WriteGuard
    clients: ClientBundle = None  # type: ignore[assignment]  # None only where no client is touched
    settings: dict[str, Any] = field(default_factory=dict)  # playbook `with:` extras, policy knobs
    cause: str = ""  # the playbook id this detector or fixer runs for (plans and journal rows carry it)

    @property
    def dry_run(self) -> bool:
        return self.guard.dry_run
