"""OneDrive at fleet scale (no-onedrive-access): the migration account must be a site collection admin of
every in-scope user's personal site; checked and granted concurrently, failures reported per user."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.catalog.shared.fleet import THROTTLED, fleet_map, fleet_map_threads, tenant_limit
from agent.catalog.shared.site_access import login_name
from agent.clients.csom import MAX_ACTIONS, PROCESS_QUERY
from agent.clients.errors import ClientError, ReadFailed, answer_lost
from agent.model import Call, Finding, Plan, Risk, Step
from agent.registry import (
    AlreadyReversed,
    Detector,
    Fixer,
    PartialFailure,
    Settled,
    register_detector,
    register_fixer,
)

if TYPE_CHECKING:
    from agent.context import Context

SERVICE = "sharepoint"
MAX_NAMED = 5  # names in a one-line summary or reason; the evidence lists them all
ADMINS_PATH = "web/siteusers?$filter=IsSiteAdmin%20eq%20true&$select=LoginName"


class FleetParams(BaseModel):
    """`workers`: concurrent SharePoint calls per tenant (SharePoint throttles per tenant, not per site)."""

    model_config = ConfigDict(extra="forbid")
    workers: int = Field(32, ge=1, le=128)


class GrantParams(FleetParams):
    """`chunk_size`: sites per journaled step (each step is journaled before and after its writes);
    `batch_size`: sites per tenant CSOM request."""

    chunk_size: int = Field(250, ge=1, le=10_000)
    batch_size: int = Field(100, ge=1, le=MAX_ACTIONS)


def personal_url(host: str, upn: str) -> str:
    """A user's OneDrive: every character of the UPN but letters and digits becomes `_`."""
    return f"{host.rstrip('/')}/personal/{re.sub(r'[^a-z0-9]', '_', upn.lower())}"


def site_template(host: str) -> str:
    """How personal_url() builds a user's OneDrive URL, for plans and evidence."""
    return f"{host.rstrip('/')}/personal/{{user with every non-alphanumeric as _}}"


def _host(ctx: Context) -> str:
    host = ctx.tenant.endpoints.onedrive_host
    if not host:
        raise ValueError(f"tenant {ctx.tenant.name}: endpoints.onedrive_host is not set")
    return host


async def users_in_scope(ctx: Context) -> list[str]:
    """The UPNs whose OneDrives the connector migrates (scope.users), the migration account left out."""
    from agent.config.model import GroupScope  # the config's models load with a run, not with the catalog

    scope, graph = ctx.connector.scope.users, ctx.clients.graph
    if scope == "all":
        upns = await graph.user_principal_names()
    elif isinstance(scope, GroupScope):
        upns = await graph.user_principal_names(scope.group)
    else:
        upns = list(scope)
    account = (ctx.connector.account.username if ctx.connector.account else "").lower()
    return sorted({u for u in upns if u and u.lower() != account}, key=str.lower)


def _named(users: list[str]) -> str:
    more = f" and {len(users) - MAX_NAMED} more" if len(users) > MAX_NAMED else ""
    return ", ".join(users[:MAX_NAMED]) + more


@register_detector
class OneDriveAdminMissing(Detector):
    """Per personal site in scope: is the migration account among its site collection administrators?"""

    name = "onedrive-admin-missing"
    params_model = FleetParams
    params: FleetParams
    permissions = ("User.Read.All", "SharePoint:Sites.FullControl.All")
    conditional_permissions = {"GroupMember.Read.All": "the connector's scope.users is a group"}

    async def detect(self, ctx: Context) -> Finding:
        account = ctx.connector.account
        if account is None:
            return Finding.ok("the connector has no migration account to check")
        try:
            users = await users_in_scope(ctx)
        except ReadFailed as exc:
            return Finding.unknown(f"could not list the users in scope: {exc.reason}")
        if not users:  # "every OneDrive in scope (0)" would be a healthy verdict on nothing
            return Finding.unknown("no users in scope (scope.users is empty, or its group has no members "
                                   "besides the migration account): nothing was checked")
        return self._verdict(await self._scan(ctx, account.username, users))

    async def verify(self, ctx: Context, found: Finding) -> Finding:
        """Probe only the OneDrives detect found lacking the grant (the fix granted them, or failed on
        them) or could not read: the others were not touched. No user listing, no re-scan of the rest."""
        account, ev = ctx.connector.account, found.evidence
        if account is None or "missing_users" not in ev:
            return await self.detect(ctx)
        users = [*ev["missing_users"], *(u["user"] for u in ev.get("unreadable") or [])]
        evidence = await self._scan(ctx, account.username, sorted(set(users), key=str.lower))
        evidence["verified"] = "the OneDrives the fix changed or could not read"
        return self._verdict(evidence, scope="the fix changed")

    async def _scan(self, ctx: Context, username: str, users: list[str]) -> dict[str, Any]:
        """One read of each user's OneDrive site collection admins, on the adapter's threads."""
        host, login, sp = _host(ctx), login_name(username), ctx.clients.sharepoint

        def is_admin(upn: str) -> bool:  # runs on the adapter's threads
            answer = sp.read_now(lambda: sp.rest(personal_url(host, upn), "GET", ADMINS_PATH))
            return login in {str(u.get("LoginName", "")).lower() for u in (answer or {}).get("value", [])}

        limit = tenant_limit(ctx.tenant.name, SERVICE, self.params.workers)
        results = await fleet_map_threads(users, is_admin, limit, f"checking {len(users)} OneDrives",
                                          sp.in_pool, min(self.params.workers, sp.threads))
        evidence: dict[str, Any] = {"account": username, "users": len(users),
                                    "site_url": site_template(host), "admin_already": 0,
                                    "missing_users": [], "no_onedrive": [], "unreadable": []}
        for r in results:
            if r.ok and r.value:
                evidence["admin_already"] += 1
            elif r.ok:
                evidence["missing_users"].append(r.item)
            elif r.error is not None and r.error.status == 404:
                evidence["no_onedrive"].append(r.item)  # no personal site at its URL: nothing to migrate
            elif r.error is not None:
                evidence["unreadable"].append({"user": r.item, "site": personal_url(host, r.item),
                                               "status": r.error.status, "reason": r.error.reason})
        return evidence

    @staticmethod
    def _verdict(evidence: dict[str, Any], scope: str = "in scope") -> Finding:
        missing, unreadable = evidence["missing_users"], evidence["unreadable"]
        evidence["missing"] = len(missing)
        with_drive = evidence["users"] - len(evidence["no_onedrive"])
        if missing:
            return Finding.found(f"{evidence['account']} is not a site collection admin of {len(missing)} of "
                                 f"{with_drive} OneDrive(s): {_named(missing)}", **evidence)
        if unreadable:
            why = unreadable[0]["reason"]
            return Finding.unknown(f"{len(unreadable)} OneDrive(s) could not be read ({why}): "
                                   f"{_named([u['user'] for u in unreadable])}", **evidence)
        return Finding.ok(f"{evidence['account']} is a site collection admin of every OneDrive {scope} "
                          f"({evidence['admin_already']})", **evidence)


@register_fixer
class GrantOneDriveAdmin(Fixer):
    """Tenant.SetSiteAdmin(site, account, true) on each personal site lacking it, many sites per CSOM
    ProcessQuery, in journaled chunks (undo: SetSiteAdmin false on exactly the sites the run changed).

    The tenant-level call needs no access to the OneDrive itself and adds the account to the site's
    users in the same action, so one request serves a whole batch where site REST needs ensureuser plus
    MERGE per site. Each site runs in its own exception scope: one failing site fails only itself."""

    name = "grant-onedrive-admin"
    params_model = GrantParams
    params: GrantParams
    permissions = ("SharePoint:Sites.FullControl.All",)
    risk = Risk.MEDIUM
    propagation_s = 60.0

    def __init__(self, params: BaseModel | None = None) -> None:
        super().__init__(params)
        self._finding: Finding | None = None  # per-site failures are added to its evidence

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        self._finding = finding
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        account, users = ctx.connector.account, list(finding.evidence.get("missing_users") or [])
        if account is None or not users:
            plan.note = "every OneDrive in scope already has the grant"
            return plan
        size = self.params.chunk_size
        for start in range(0, len(users), size):
            plan.steps.append(self._step(ctx, "grant-onedrive-admins", users[start:start + size], True))
        return plan

    def _step(self, ctx: Context, action: str, users: list[str], value: bool,
              undo: dict[str, Any] | None = None) -> Step:
        account = ctx.connector.account
        assert account is not None
        login = login_name(account.username)
        call = Call("POST", f"{ctx.clients.sharepoint.admin_url}/{PROCESS_QUERY}",
                    {"method": "Tenant.SetSiteAdmin", "siteUrl": site_template(_host(ctx)),
                     "loginName": login, "isSiteAdmin": value})
        verb = "make" if value else "unmake"
        batches = -(-len(users) // self.params.batch_size)
        return Step(action, call, before={"IsSiteAdmin": not value, "users": users},
                    after={"IsSiteAdmin": value, "sites": len(users)},
                    params={"users": users, "login": login},
                    undo=dict(undo or {}),
                    description=f"{verb} {account.username} site collection admin of {len(users)} "
                                f"OneDrive(s) ({users[0]} .. {users[-1]}): Tenant.SetSiteAdmin "
                                f"isSiteAdmin={str(value).lower()} in {batches} ProcessQuery request(s)")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action not in ("grant-onedrive-admins", "revoke-onedrive-admins"):
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        grant = step.action == "grant-onedrive-admins"
        users, login, host = list(step.params["users"]), str(step.params["login"]), _host(ctx)
        sites = {personal_url(host, upn): upn for upn in users}
        outcome = await self._set_admins(ctx, list(sites), login, grant)
        # a revoke that finds no site (deleted since) has nothing left to undo: not a failure
        changed = [sites[s] for s, e in outcome.items() if e is None]
        failed = [{"user": sites[s], "site": s, "status": e.status, "reason": e.reason}
                  for s, e in outcome.items() if e is not None and (grant or e.status != 404)]
        # a batch whose answer was lost may have changed its sites: undo reverses those too (setting
        # the flag back on a site that never got it is harmless: the chunk holds only sites without it)
        maybe = [sites[s] for s, e in outcome.items() if e is not None and answer_lost(e)]
        done: dict[str, Any] = {"users": changed}  # the sites this step changed ...
        if maybe:
            done["maybe"] = maybe  # ... or may have
        step.after = {**(step.after or {}), "changed": len(changed), "failed": failed}
        if failed:
            self._report(failed)
            names = _named([f["user"] for f in failed])
            raise PartialFailure(f"{len(failed)} of {len(users)} OneDrive(s) could not be changed: "
                                 f"{names} ({failed[0]['reason']})", done)
        return done

    async def _set_admins(self, ctx: Context, sites: list[str], login: str,
                          value: bool) -> dict[str, ClientError | None]:
        """Every site's outcome; sites still throttled after their request's retries get one more round."""
        sp, size = ctx.clients.sharepoint, self.params.batch_size
        limit = tenant_limit(ctx.tenant.name, SERVICE, self.params.workers)
        verb = "granting" if value else "revoking"
        outcome: dict[str, ClientError | None] = {}
        pending = sites
        for round_ in range(2):
            batches = [pending[i:i + size] for i in range(0, len(pending), size)]

            async def one(batch: list[str]) -> dict[str, ClientError | None]:
                return await sp.set_site_admins(batch, login, value)

            label = f"{verb} {len(pending)} OneDrives" + (" (throttled, again)" if round_ else "")
            for result in await fleet_map(batches, one, limit, label, weight=len):
                if result.ok and result.value is not None:
                    outcome.update(result.value)
                else:
                    outcome.update({site: result.error for site in result.item})
            pending = [s for s in pending if (e := outcome[s]) is not None and e.status in THROTTLED]
            if not pending:
                break
        return outcome

    def _report(self, failed: list[dict[str, Any]]) -> None:
        if self._finding is not None:
            self._finding.evidence.setdefault("failed", []).extend(failed)

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """A chunk interrupted (killed) or unanswered: revoking its sites again is idempotent and safe,
        since a chunk holds only sites that lacked the grant, so undo treats all of them as changed."""
        if step.action != "grant-onedrive-admins":
            return None
        return Settled(True, {"maybe": list(step.params["users"])})

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        # journals written before the tenant-CSOM fix kept {"ids": {user: site user id}}
        users = sorted({*(undo.get("users") or list(undo.get("ids") or {})), *(undo.get("maybe") or [])},
                       key=str.lower)
        if step.action == "grant-onedrive-admins":
            if not users:  # every site failed: a no-op step must not block the older changes' undo
                raise AlreadyReversed("no OneDrive was changed by this step: nothing to undo")
            return self._step(ctx, "revoke-onedrive-admins", users, False, {"users": users})
        if step.action == "revoke-onedrive-admins":
            return self._step(ctx, "grant-onedrive-admins", users, True)
        raise ValueError(f"{step.action} cannot be undone")

