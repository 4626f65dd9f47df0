"""One adapter per real client library, built lazily for one (tenant, connector, guard).

Nothing here imports msgraph, azure, exchangelib or office365 at import time: `agent --help`
stays fast and a diagnose that never touches SharePoint never loads its library.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING, Any

from agent.clients.errors import AuthFailed, ClientError, ReadFailed, Throttled, WriteFailed
from agent.guard import WriteGuard

if TYPE_CHECKING:
    from agent.clients.ews import EwsAdapter, EwsProbe
    from agent.clients.graph import GraphAdapter
    from agent.clients.sharepoint import SharePointAdapter
    from agent.clients.token_cache import CachedCredential
    from agent.clients.tokens import TokenProbe, UserRealm
    from agent.config.model import Connector, Tenant

# httpx (msgraph's transport) imports its own command-line tool, and with it rich and click, whenever those
# are installed: about 50 ms of CPU per process for a tool never run here. A None entry in sys.modules
# makes that optional import fail as httpx expects (it keeps a stub `main` that says what is missing).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["AuthFailed", "ClientError", "Clients", "ReadFailed", "Throttled", "WriteFailed",
           "clients_factory"]


class Clients:
    """The adapters for one connector: the admin's Graph and SharePoint, EWS, and the connector's probes."""

    def __init__(self, tenant: Tenant, connector: Connector | None, guard: WriteGuard) -> None:
        self.tenant, self.connector, self.guard = tenant, connector, guard
        self._lock = threading.RLock()  # adapters may be first touched from worker threads; builds nest
        self._made: dict[str, Any] = {}

    def _get(self, name: str, build: Any) -> Any:
        with self._lock:
            if name not in self._made:
                self._made[name] = build()
            return self._made[name]

    def admin_credential(self, *, certificate: bool = False) -> CachedCredential:
        """The agent's own credential, built once; `certificate=True` for SharePoint."""
        from agent.clients.token_cache import CachedCredential
        from agent.clients.tokens import admin_credential

        # with a certificate both are the same credential (one token cache); any other method gets its
        # SharePoint tokens checked for a secret's appidacr (tokens.AssertionOnly)
        name = "admin" if not certificate or self.tenant.admin.method == "certificate" else "cert"
        return self._get(name, lambda: CachedCredential(
            admin_credential(self.tenant, require_certificate=certificate)))

    @property
    def graph(self) -> GraphAdapter:
        from agent.clients.graph import GraphAdapter

        return self._get("graph", lambda: GraphAdapter(self.tenant, self.admin_credential(), self.guard))

    @property
    def sharepoint(self) -> SharePointAdapter:
        from agent.clients.sharepoint import SharePointAdapter

        return self._get("sharepoint", lambda: SharePointAdapter(
            self.tenant, self.admin_credential(certificate=True), self.guard))

    @property
    def ews(self) -> EwsAdapter:
        from agent.clients.ews import EwsAdapter

        return self._get("ews", lambda: EwsAdapter(self.tenant))

    @property
    def ews_url(self) -> str:
        """The EWS endpoint the connector talks to: its own (on-premises), else the tenant's."""
        own = self.connector.ews_url if self.connector is not None else None
        return own or self.tenant.endpoints.ews_url

    # -- probes: what the connector sees, with a fresh credential every time ---------------------
    async def probe_app(self, scope: str, use: str | None = None) -> TokenProbe:
        """Client-credentials token for the connector's app with `use` = "secret" or "certificate";
        by default its certificate when it has one, else its secret."""
        from agent.clients import tokens

        app = self._app()
        if use not in (None, "secret", "certificate"):
            raise ValueError(f"use must be 'secret' or 'certificate', not {use!r}")
        if use == "certificate" and app.certificate is None:
            raise AuthFailed(f"connector {self._name}: the app has no certificate configured")
        if app.certificate is not None and use != "secret":
            pem = app.certificate.resolve()
            return await asyncio.to_thread(tokens.probe_app_certificate, self.tenant, app.client_id, pem,
                                           scope)
        if app.client_secret is None:
            raise AuthFailed(f"connector {self._name}: the app has neither a secret nor a certificate")
        secret = app.client_secret.resolve()
        return await asyncio.to_thread(tokens.probe_app_secret, self.tenant, app.client_id, secret, scope)

    async def probe_password(self, scope: str) -> TokenProbe:
        """Password-grant token for the connector's migration account."""
        from agent.clients import tokens

        account = self._account()
        password = account.password.resolve()
        return await asyncio.to_thread(tokens.probe_password, self.tenant, self._public_client(account),
                                       account.username, password, scope)

    async def probe_ews(self, mailbox: str | None = None, use: str | None = None) -> EwsProbe:
        """EWS as the connector signs in: Basic/NTLM for an on-premises account; app-only impersonating
        `mailbox` (use="certificate" or "secret"; the certificate first by default); or, with
        use="account" or no app configured, the account's own delegated OAuth token."""
        account = self.connector.account if self.connector is not None else None
        if account is not None and account.auth in ("basic", "ntlm"):
            return await self.ews.probe_basic(self.ews_url, account.username, account.password.resolve(),
                                              mailbox=mailbox, auth=account.auth)
        if use == "account" or self.connector is None or self.connector.app is None:
            user = self._account()
            return await self.ews.probe_user(self.ews_url, self._public_client(user), user.username,
                                             user.password.resolve())
        app = self._app()
        target = mailbox or (account.username if account is not None else None)
        if target is None:
            raise AuthFailed(f"connector {self._name}: no mailbox to open (set account.username)")
        pem = app.certificate.resolve() if app.certificate is not None and use != "secret" else None
        secret = app.client_secret.resolve() if pem is None and app.client_secret is not None else None
        return await self.ews.probe_app(self.ews_url, app.client_id, target, secret=secret, cert_pem=pem)

    async def connector_probe(self) -> str | None:
        """Sign in as the connector first does; None when that works, else the error text it met
        (what `explain` ranks causes by, so the likeliest detectors run first)."""
        kind = self.connector.kind if self.connector is not None else None
        if kind in ("exchange-online", "exchange-onprem"):
            ews = await self.probe_ews()
            return None if ews.ok else " ".join(
                filter(None, [ews.code, ews.message, ews.x_ms_diagnostics, *ews.www_authenticate]))
        if kind == "onedrive" and self.connector is not None and self.connector.app is not None:
            from agent.clients.tokens import graph_scope

            token = await self.probe_app(graph_scope(self.tenant))
        elif kind == "sharepoint":
            scope = f"{self.tenant.endpoints.sharepoint_root}/.default"
            has_app = self.connector is not None and self.connector.app is not None
            token = await (self.probe_app(scope) if has_app else self.probe_password(scope))
        else:
            return None
        return None if token.ok else " ".join(filter(None, [token.error, token.message]))

    async def user_realm(self, upn: str) -> UserRealm:
        from agent.clients.tokens import user_realm

        return await asyncio.to_thread(user_realm, self.tenant, upn)

    async def aclose(self) -> None:
        """Close the pools and credentials that were actually built."""
        with self._lock:
            made, self._made = self._made, {}
        if "graph" in made:
            await made["graph"].aclose()
        if "sharepoint" in made:
            made["sharepoint"].close()
        for name in ("admin", "cert"):
            if name in made:
                made[name].close()

    # -- config access --------------------------------------------------------------------------
    @property
    def _name(self) -> str:
        return self.connector.name if self.connector is not None else "(none)"

    def _app(self) -> Any:
        if self.connector is None or self.connector.app is None:
            raise AuthFailed(f"connector {self._name} has no app credentials configured")
        return self.connector.app

    def _public_client(self, account: Any) -> str:
        """The client id the password grant is made with: the account's public client, else the app's."""
        if account.public_client_id is not None:
            return str(account.public_client_id)
        if self.connector is not None and self.connector.app is not None:
            return str(self.connector.app.client_id)
        raise AuthFailed(f"connector {self._name}: set account.public_client_id for the password probe")

    def _account(self) -> Any:
        if self.connector is None or self.connector.account is None:
            raise AuthFailed(f"connector {self._name} has no account configured")
        return self.connector.account


def clients_factory(tenant: Tenant, connector: Connector | None = None,
                    guard: WriteGuard | None = None) -> Clients:
    """The Clients bundle for one connector; without a guard every write is refused (dry run)."""
    return Clients(tenant, connector, guard if guard is not None else WriteGuard(dry_run=True))
