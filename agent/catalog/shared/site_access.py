"""Shared by the SharePoint site causes: per-site verdicts, what the account sees, whether a site exists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from agent.catalog.shared.app_keys import token_evidence
from agent.clients.errors import ReadFailed
from agent.model import Finding

if TYPE_CHECKING:
    from agent.config.model import Connector
    from agent.context import Context

TARGET_SITE_MISSING = "target-site-missing"
MAX_LISTED = 20  # sites named in a summary line; the evidence keeps them all
T = TypeVar("T")


def login_name(upn: str) -> str:
    """The claims login SharePoint knows a member user by (as agent.clients.sharepoint builds it; kept
    here so loading the catalog does not load office365)."""
    return upn if "|" in upn else f"i:0#.f|membership|{upn.lower()}"


def login_of(connector: Connector) -> str:
    """The claims login of the connector's migration account."""
    if connector.account is None:
        raise ValueError(f"connector {connector.name} has no account")
    return login_name(connector.account.username)


class SiteReads:
    """Collects one detector's per-site answers and turns them into ok / found / unknown."""

    def __init__(self, ctx: Context, verifying: Finding | None = None) -> None:
        self.ctx = ctx
        account = ctx.connector.account
        self.account = account.username if account is not None else ""
        self.login = login_name(self.account) if account is not None else ""
        self.sites = list(ctx.connector.scope.sites)
        self.scope = "in scope"
        if verifying is not None and "missing_sites" in verifying.evidence:
            # verify after a fix: only the sites detect found lacking (the fix changed them) or unreadable
            ev = verifying.evidence
            changed = {*ev["missing_sites"], *(f["site"] for f in ev.get("unreadable") or [])}
            self.sites, self.scope = [s for s in self.sites if s in changed], "the fix changed"
        self.skip = "the connector has no migration account" if account is None else (
            "no sites in scope (scope.sites is empty)" if not self.sites else "")
        self.rows: list[dict[str, Any]] = []
        self.missing: list[str] = []
        self.failed: list[dict[str, Any]] = []

    def unreadable(self, site: str, exc: ReadFailed) -> None:
        self.failed.append({"site": site, "status": exc.status, "reason": exc.reason})

    async def each(self, read: Callable[[str], Awaitable[T]]) -> AsyncIterator[tuple[str, T]]:
        """Each site in scope with what `read` answered; a site that cannot be read is noted and skipped."""
        for site in self.sites:
            try:
                value = await read(site)
            except ReadFailed as exc:
                self.unreadable(site, exc)
                continue
            yield site, value

    def record(self, site: str, missing: bool, **details: Any) -> None:
        self.rows.append({"site": site, "missing": missing, **details})
        if missing:
            self.missing.append(site)

    async def finding(self, found: str, ok: str) -> Finding:
        """found when a readable site lacks the grant; unknown when only unreadable sites are left."""
        evidence: dict[str, Any] = {"account": self.account, "login": self.login, "sites": self.rows,
                                    "missing_sites": self.missing, "unreadable": self.failed}
        if self.missing:
            evidence["connector"] = await connector_view(self.ctx, self.missing[0])
            listed = ", ".join(self.missing[:MAX_LISTED])
            return Finding.found(f"{found.replace('{n}', str(len(self.missing)))}: {listed}", **evidence)
        if self.failed:
            why = "; ".join(f"{f['site']}: {f['reason']}" for f in self.failed[:3])
            reason = f"{len(self.failed)} site(s) could not be read: {why}"
            if self._only_target_missing():
                return Finding.masked(f"{reason} (the target site does not exist yet: see "
                                      f"{TARGET_SITE_MISSING})", [TARGET_SITE_MISSING], **evidence)
            return Finding.unknown(reason, **evidence)
        return Finding.ok(ok, **evidence)

    def _only_target_missing(self) -> bool:
        """Every unreadable site is the connector's own target site, and it answered 404 (not there)."""
        target = self.ctx.connector.target_site
        if target is None:
            return False
        url = str(target.url).rstrip("/").lower()
        return all(f["status"] == 404 and str(f["site"]).rstrip("/").lower() == url for f in self.failed)


async def connector_view(ctx: Context, site: str) -> dict[str, Any]:
    """What the migration account itself gets: a SharePoint token (password grant) and a read of the site.

    Evidence only, never the verdict: the admin's reads decide. Any failure is reported, not raised.
    """
    from agent.clients.sharepoint import SharePointAdapter
    from agent.clients.token_cache import CachedCredential
    from agent.clients.tokens import password_credential, sharepoint_scope
    from agent.guard import WriteGuard

    account = ctx.connector.account
    if account is None:
        return {"probed": False}
    try:
        probe = await ctx.clients.probe_password(sharepoint_scope(ctx.tenant))
    except Exception as exc:  # evidence only
        return {"token": f"no answer: {exc}"}
    view: dict[str, Any] = {"token": token_evidence(probe)}
    client_id = account.public_client_id or (ctx.connector.app.client_id if ctx.connector.app else None)
    if not probe.ok or client_id is None:
        return view
    credential = password_credential(ctx.tenant, client_id, account.username, account.password.resolve())
    adapter = SharePointAdapter(ctx.tenant, CachedCredential(credential), WriteGuard(dry_run=True), workers=1)
    try:
        await adapter.web(site)
        view["site"] = "readable"
    except ReadFailed as exc:
        view["site"] = {"status": exc.status, "reason": exc.reason}
    finally:
        adapter.close()
        credential.close()  # type: ignore[attr-defined]
    return view


async def site_problem(ctx: Context, url: str, evidence: dict[str, Any]) -> str | None:
    """None when the site exists; `provisioning`; `unknown:<reason>`; else what says it is missing."""
    parts = urlsplit(url)
    try:
        site = await ctx.clients.graph.get_site_by_path(parts.hostname or "", parts.path)
    except ReadFailed as exc:
        return f"unknown:the site could not be looked up through Graph: {exc.reason}"
    if site is not None and not site.id:  # a 200 without the site's id proves nothing either way
        return "unknown:Graph answered the site lookup without the site's id"
    if site is not None:
        evidence["graph"] = {"id": site.id, "web_url": site.web_url}
        return None
    evidence["graph"] = "404 itemNotFound"
    try:
        status = await ctx.clients.sharepoint.site_status(url)
    except ReadFailed as exc:
        evidence["site_manager"] = f"not read: {exc.reason}"
        return "Graph answers 404"
    evidence["site_manager"] = {"status": status.status, "site_id": status.site_id}
    if status.status == 2:
        return None  # SharePoint has it; Graph has not caught up yet
    if status.status == 1:
        return "provisioning"
    if status.status == 3:
        return "SPSiteManager reports status 3: its creation failed"
    return "Graph answers 404 and SPSiteManager status 0"
