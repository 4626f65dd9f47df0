"""no-full-control: the migration account holds no Full Control role assignment on a site it migrates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.catalog.shared.site_access import SiteReads
from agent.catalog.shared.site_fixer import FULL_CONTROL, SiteFixer
from agent.clients.errors import WriteFailed
from agent.model import Finding, Step
from agent.registry import Detector, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.sharepoint_types import SiteUser
    from agent.context import Context


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
class GrantFullControl(SiteFixer):
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
