"""The sites a SharePoint connector migrates: the account is no site collection administrator of them, or
holds no Full Control on them (not-site-collection-admin, no-full-control)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.catalog.shared.site_access import SiteReads, login_of
from agent.clients.errors import WriteFailed
from agent.model import Call, Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.sharepoint_types import SiteUser
    from agent.context import Context

FULL_CONTROL = 1073741829  # role definition id of "Full Control" (RoleTypeKind 5)


# -- not-site-collection-admin -------------------------------------------------------------------------------

@register_detector
class SiteAdminMissing(Detector):
    """The migration account is not among the site collection administrators of a site in scope."""

    name = "site-admin-missing"
    permissions = ("SharePoint:Sites.FullControl.All",)

    async def detect(self, ctx: Context) -> Finding:
        return await self._check(SiteReads(ctx))

    async def verify(self, ctx: Context, found: Finding) -> Finding:
        return await self._check(SiteReads(ctx, verifying=found))

    async def _check(self, reads: SiteReads) -> Finding:
        ctx = reads.ctx
        if reads.skip:
            return Finding.ok(reads.skip)
        async for site, admins in reads.each(ctx.clients.sharepoint.site_admins):
            logins = [u.login_name for u in admins]
            reads.record(site, reads.login.lower() not in (x.lower() for x in logins), admins=logins)
        return await reads.finding(
            found=f"{reads.account} is not a site collection administrator of {{n}} site(s): the "
                  "migration tool's full-fidelity copy (permissions, versions, metadata) is refused",
            ok=f"{reads.account} is a site collection administrator of every site {reads.scope}")


class _SiteFixer(Fixer):
    """Shared plan shape: one step per site lacking the grant, the account ensured on the site first."""

    risk = Risk.MEDIUM
    propagation_s = 60.0
    grant_action: str
    revoke_action: str

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        cause = str(ctx.settings.get("cause", ""))
        plan = Plan(cause, ctx.connector.name, self.name, self.risk)
        login = login_of(ctx.connector)
        for site in finding.evidence.get("missing_sites", []):
            user = await ctx.clients.sharepoint.find_user(site, login)  # read-only: ensureuser would write
            plan.steps.append(self._grant_step(ctx, site, login, user))
        if not plan.steps:
            plan.note = "nothing to grant"
        return plan

    def _grant_step(self, ctx: Context, site: str, login: str, user: SiteUser | None) -> Step:
        raise NotImplementedError

    @staticmethod
    def _ensure(ctx: Context, site: str, login: str, user: SiteUser | None) -> tuple[Call | None, str]:
        """The ensureuser call when the account is not yet in the site's user list, and how to name its id."""
        if user is not None:
            return None, str(user.id)
        return ctx.clients.sharepoint.call("POST", site, "web/ensureuser", {"logonName": login}), "{Id}"


@register_fixer
class MakeSiteAdmin(_SiteFixer):
    """ensureuser, then MERGE IsSiteAdmin=true on the account's site user (undo: MERGE false)."""

    name = "make-site-admin"
    grant_action, revoke_action = "make-site-admin", "unset-site-admin"
    permissions = ("SharePoint:Sites.FullControl.All",)

    def _grant_step(self, ctx: Context, site: str, login: str, user: SiteUser | None) -> Step:
        ensure, uid = self._ensure(ctx, site, login, user)
        merge = ctx.clients.sharepoint.call("MERGE", site, f"web/siteusers/getbyid({uid})",
                                            {"IsSiteAdmin": True})
        first = " after POST web/ensureuser (adds the account to the site's user list, Id from its answer)" \
            if ensure is not None else ""
        return Step(self.grant_action, merge, before={"IsSiteAdmin": False, "in_user_list": user is not None},
                    after={"IsSiteAdmin": True}, params={"site": site, "login": login},
                    undo={"site": site, "login": login},
                    description=f"make {login} a site collection administrator of {site}{first}")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        site, login = step.params["site"], step.params["login"]
        if step.action not in (self.grant_action, self.revoke_action):
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        user = await ctx.clients.sharepoint.set_site_admin(site, login, step.action == self.grant_action)
        return {"user_id": user.id if user is not None else step.params.get("user_id")}

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        site, login = str(undo["site"]), str(undo["login"])
        uid = undo.get("user_id") or "{Id}"
        if step.action == self.revoke_action:
            return self._grant_step(ctx, site, login, await ctx.clients.sharepoint.find_user(site, login))
        merge = ctx.clients.sharepoint.call("MERGE", site, f"web/siteusers/getbyid({uid})",
                                            {"IsSiteAdmin": False})
        return Step(self.revoke_action, merge, before={"IsSiteAdmin": True}, after={"IsSiteAdmin": False},
                    params={"site": site, "login": login, "user_id": undo.get("user_id")}, undo=dict(undo),
                    description=f"remove {login} from the site collection administrators of {site} again")


# -- no-full-control ----------------------------------------------------------------------------------------

@register_detector
class FullControlMissing(Detector):
    """The account has no Full Control role assignment (role definition 1073741829) on a site in scope."""

    name = "full-control-missing"
    permissions = ("SharePoint:Sites.FullControl.All",)

    async def detect(self, ctx: Context) -> Finding:
        return await self._check(SiteReads(ctx))

    async def verify(self, ctx: Context, found: Finding) -> Finding:
        return await self._check(SiteReads(ctx, verifying=found))

    async def _check(self, reads: SiteReads) -> Finding:
        ctx = reads.ctx
        if reads.skip:
            return Finding.ok(reads.skip)
        async for site, assignments in reads.each(ctx.clients.sharepoint.role_assignments):
            mine = [a for a in assignments if (a.login_name or "").lower() == reads.login.lower()]
            roles = sorted({r for a in mine for r in a.role_ids})
            reads.record(site, FULL_CONTROL not in roles, roles=roles)
        return await reads.finding(
            found=f"{reads.account} has no Full Control role assignment (1073741829) on {{n}} site(s): the "
                  "migration tool's permission check fails before it copies anything",
            ok=f"{reads.account} holds Full Control on every site {reads.scope}")


@register_fixer
class GrantFullControl(_SiteFixer):
    """ensureuser, then addroleassignment(principal, 1073741829) (undo: remove that one binding)."""

    name = "grant-full-control"
    grant_action, revoke_action = "grant-full-control", "remove-full-control"
    permissions = ("SharePoint:Sites.FullControl.All",)

    def _grant_step(self, ctx: Context, site: str, login: str, user: SiteUser | None) -> Step:
        ensure, uid = self._ensure(ctx, site, login, user)
        path = f"web/roleassignments/addroleassignment(principalid={uid},roledefid={FULL_CONTROL})"
        first = " after POST web/ensureuser (its answer gives the principal Id)" if ensure is not None else ""
        return Step(self.grant_action, ctx.clients.sharepoint.call("POST", site, path),
                    before={"full_control": False}, after={"full_control": True},
                    params={"site": site, "login": login}, undo={"site": site, "login": login},
                    description=f"give {login} Full Control on {site}{first}")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        sp, p = ctx.clients.sharepoint, step.params
        if step.action == self.grant_action:
            user = await sp.find_user(p["site"], p["login"]) or await sp.ensure_user(p["site"], p["login"])
            await sp.add_role_assignment(p["site"], user.id, FULL_CONTROL)
            return {"principal_id": user.id}
        if step.action == self.revoke_action:
            try:
                await sp.remove_role_assignment(p["site"], int(p["principal_id"]), FULL_CONTROL)
            except WriteFailed as exc:
                if exc.status != 404:
                    raise
            return {}
        raise ValueError(f"{self.name} cannot apply {step.action!r}")

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        site, login = str(undo["site"]), str(undo["login"])
        if step.action == self.revoke_action:
            return self._grant_step(ctx, site, login, await ctx.clients.sharepoint.find_user(site, login))
        if not undo.get("principal_id"):
            raise ValueError("the principal id was not recorded: remove the role assignment by hand")
        pid = int(undo["principal_id"])
        path = f"web/roleassignments/removeroleassignment(principalid={pid},roledefid={FULL_CONTROL})"
        return Step(self.revoke_action, ctx.clients.sharepoint.call("POST", site, path),
                    before={"full_control": True}, after={"full_control": False},
                    params={"site": site, "login": login, "principal_id": pid}, undo=dict(undo),
                    description=f"remove the Full Control binding the fix gave {login} on {site} (that "
                                "binding only, not the account's other roles)")
