"""not-site-collection-admin: the migration account is no site collection administrator of a site."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.catalog.shared.site_access import SiteReads
from agent.catalog.shared.site_fixer import SiteFixer
from agent.model import Finding, Step
from agent.registry import Detector, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.sharepoint_types import SiteUser
    from agent.context import Context

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


@register_fixer
class MakeSiteAdmin(SiteFixer):
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
