"""Which fixes are grants (time-boxed, revoked when they expire) and how to read whether one still holds.

A grant is a change that hands the migration account or app standing access it did not have: site
collection admin on OneDrives and sites, Full Control, app role assignments (full_access_as_app and the
roles an install consents to), Conditional Access exclusions. Everything else the catalog does repairs
state and is not boxed: a licence (removing one starts the mailbox's deletion clock), re-enabling an
account or stopping its password expiry (restoring that would break the account again), secrets and
certificates (they carry their own expiry), a created site or service principal (content and identity,
not access), and a password reset, which cannot be revoked at all.

"Changed by someone else" (the grant is then reported and never touched), per kind:
- app role: our assignment id is gone but the same role is assigned to the same app again (another id):
  someone re-granted it, so it is theirs now; our id gone and no such assignment: removed.
- Conditional Access exclusion: the policy's modifiedDateTime differs from the one our write left:
  someone edited the policy since, and restoring our saved list would undo their edit.
- site collection admin, Full Control, OneDrive admin: SharePoint keeps no author or time on the flag or
  binding, so only removal can be seen; to keep one of these for good, extend it (`agent grants extend`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.catalog.files.no_onedrive_access import ADMINS_PATH, SERVICE, personal_url
from agent.catalog.shared.conditional_access_eval import strings
from agent.catalog.shared.fleet import fleet_map_threads, tenant_limit
from agent.catalog.shared.site_fixer import FULL_CONTROL
from agent.clients.graph_json import as_dict
from agent.model import Step

if TYPE_CHECKING:
    from agent.context import Context

HOLDS, REMOVED, CHANGED, UNKNOWN = "holds", "removed", "changed", "unknown"
FLEET_WORKERS = 32


@dataclass
class Holding:
    """A fresh read of a grant: holds, removed or changed (by someone else), or unknown (with why)."""

    state: str
    note: str = ""
    holding: list[str] = field(default_factory=list)  # fleet targets still granted
    gone: list[str] = field(default_factory=list)  # fleet targets someone else took the grant from
    unreadable: list[str] = field(default_factory=list)  # fleet targets that could not be read


Check = Callable[["Context", Step, list[str]], Awaitable[Holding]]


@dataclass(frozen=True)
class GrantKind:
    """One kind of grant: its name, the fixer action that makes it, and its fresh-read check."""

    name: str
    fixer: str
    action: str
    check: Check
    fleet: bool = False

    def describe(self, step: Step) -> tuple[str, str, list[str]]:
        """(principal, target, fleet items) of a step that made this grant, from its params and undo."""
        p, undo = step.params or {}, step.undo or {}
        if self.fleet:
            items = sorted({*(undo.get("users") or []), *(undo.get("maybe") or [])}, key=str.lower)
            return str(p.get("login", "")), f"{len(items)} OneDrive(s)", items
        if "policy_id" in p:
            return str(p.get("user_id", "")), f"Conditional Access policy {p['policy_id']}", []
        if "site" in p:
            return str(p.get("login", "")), str(p["site"]), []
        role = undo.get("value") or undo.get("app_role_id") or undo.get("role_id")
        return str(undo.get("principal_sp_id", "")), f"app role {role} on {undo.get('resource_sp_id')}", []


# -- the checks ---------------------------------------------------------------------------------------------

async def _onedrive(ctx: Context, step: Step, items: list[str]) -> Holding:
    host = ctx.tenant.endpoints.onedrive_host or ""
    login = str(step.params.get("login", "")).lower()
    sp = ctx.clients.sharepoint

    def is_admin(upn: str) -> bool:
        answer = sp.read_now(lambda: sp.rest(personal_url(host, upn), "GET", ADMINS_PATH))
        return login in {str(u.get("LoginName", "")).lower() for u in (answer or {}).get("value", [])}

    limit = tenant_limit(ctx.tenant.name, SERVICE, FLEET_WORKERS)
    results = await fleet_map_threads(items, is_admin, limit, f"reading {len(items)} OneDrives",
                                      sp.in_pool, min(FLEET_WORKERS, sp.threads))
    held = Holding(HOLDS)
    for r in results:
        if r.ok:
            (held.holding if r.value else held.gone).append(r.item)
        elif r.error is not None and r.error.status == 404:
            held.gone.append(r.item)  # the OneDrive itself is gone: nothing left to revoke there
        else:
            held.unreadable.append(r.item)
    if not held.holding:
        held.state = UNKNOWN if held.unreadable else REMOVED
        held.note = f"{len(held.unreadable)} OneDrive(s) could not be read" if held.unreadable else \
            "the account is no longer admin of any of these OneDrives: someone removed it"
    return held


async def _site_admin(ctx: Context, step: Step, items: list[str]) -> Holding:
    p = step.params
    user = await ctx.clients.sharepoint.find_user(str(p["site"]), str(p["login"]))
    if user is not None and user.is_site_admin:
        return Holding(HOLDS)
    return Holding(REMOVED, f"{p['login']} is no longer a site collection admin of {p['site']}")


async def _full_control(ctx: Context, step: Step, items: list[str]) -> Holding:
    p, undo = step.params, step.undo or {}
    assignments = await ctx.clients.sharepoint.role_assignments(str(p["site"]))
    pid = undo.get("principal_id")
    if any(a.principal_id == pid and FULL_CONTROL in a.role_ids for a in assignments):
        return Holding(HOLDS)
    return Holding(REMOVED, f"the Full Control binding on {p['site']} is gone")


async def _app_role(ctx: Context, step: Step, items: list[str]) -> Holding:
    undo = step.undo or {}
    principal, ours = str(undo.get("principal_sp_id") or ""), str(undo.get("assignment_id") or "")
    role = str(undo.get("app_role_id") or undo.get("role_id") or "")
    resource = str(undo.get("resource_sp_id") or "")
    if not principal or not ours:
        return Holding(UNKNOWN, "the grant's assignment id was not recorded")
    assignments = await ctx.clients.graph.app_role_assignments(principal)
    ids = {str(a.id) for a in assignments}
    if ours in ids:
        return Holding(HOLDS)
    again = [str(a.id) for a in assignments
             if str(a.resource_id) == resource and str(a.app_role_id) == role]
    if again:
        return Holding(CHANGED, f"the role was granted again by someone else (assignment {again[0]}, not "
                                f"ours {ours}): left in place")
    return Holding(REMOVED, f"assignment {ours} is gone: someone removed the grant")


async def _ca_exclusion(ctx: Context, step: Step, items: list[str]) -> Holding:
    p, undo = step.params, step.undo or {}
    policy_obj = await ctx.clients.graph.get_ca_policy(str(p["policy_id"]))
    if policy_obj is None:
        return Holding(REMOVED, f"Conditional Access policy {p['policy_id']} no longer exists")
    policy: dict[str, Any] = as_dict(policy_obj)
    excluded = strings((policy.get("conditions") or {}).get("users") or {}, "excludeUsers")
    name = policy.get("displayName")
    if str(p["user_id"]) not in excluded:
        return Holding(REMOVED, f"policy '{name}' no longer excludes the account")
    if undo.get("modified") and policy.get("modifiedDateTime") != undo["modified"]:
        return Holding(CHANGED, f"policy '{name}' was modified at {policy.get('modifiedDateTime')}, after "
                                f"our exclusion ({undo['modified']}): left as it is")
    return Holding(HOLDS)


KINDS: dict[tuple[str, str], GrantKind] = {(k.fixer, k.action): k for k in (
    GrantKind("onedrive-site-admin", "grant-onedrive-admin", "grant-onedrive-admins", _onedrive, fleet=True),
    GrantKind("site-collection-admin", "make-site-admin", "make-site-admin", _site_admin),
    GrantKind("full-control", "grant-full-control", "grant-full-control", _full_control),
    GrantKind("app-role", "grant-exchange-app-role", "grant-app-role", _app_role),
    GrantKind("app-role", "install-service-principal", "grant-app-role", _app_role),
    GrantKind("ca-exclusion", "exclude-account-from-ca", "exclude-account", _ca_exclusion),
)}

# steps that are not grants, and why a lifetime does not apply to them (shown in the plan when one is asked)
NOT_BOXED = {
    "reset-password": "a password reset cannot be time-boxed: it cannot be revoked, only replaced by "
                      "another reset",
    "assign-licence": "a licence is not an access grant: removing it later would start the mailbox's "
                      "deletion, so it is not time-boxed",
    "set-usage-location": "not an access grant: not time-boxed",
}


def grant_kind(fixer: str, action: str) -> GrantKind | None:
    """The kind of grant a fixer's step makes, or None when the step is not a grant."""
    return KINDS.get((fixer, action))


def not_boxed(action: str, irreversible: bool) -> str:
    """Why a step that is not a grant gets no lifetime."""
    if action in NOT_BOXED:
        return NOT_BOXED[action]
    if irreversible:
        return "cannot be time-boxed: this step cannot be reversed"
    return "not an access grant: not time-boxed (agent undo reverses it)"
