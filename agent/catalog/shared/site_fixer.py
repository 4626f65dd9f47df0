"""What both site fixers share (make-site-admin, grant-full-control): one step per site lacking the grant,
the account ensured on the site first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.catalog.shared.site_access import login_of
from agent.model import Call, Finding, Plan, Risk, Step
from agent.registry import Fixer

if TYPE_CHECKING:
    from agent.clients.sharepoint_types import SiteUser
    from agent.context import Context

FULL_CONTROL = 1073741829  # role definition id of "Full Control" (RoleTypeKind 5)


class SiteFixer(Fixer):
    """Shared plan shape: one step per site lacking the grant, the account ensured on the site first."""

    risk = Risk.MEDIUM
    propagation_s = 60.0
    grant_action: str
    revoke_action: str

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        cause = ctx.cause
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
