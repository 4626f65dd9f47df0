"""The connector's target site collection does not exist (target-site-missing): create it, wait till ready."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.catalog.shared.site_access import connector_view, site_problem
from agent.clients.errors import WriteFailed
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, PartialFailure, Settled, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

Sleep = Callable[[float], Awaitable[None]]
NOT_FOUND, PROVISIONING, READY, FAILED = 0, 1, 2, 3


@register_detector
class TargetSiteMissing(Detector):
    """Graph `/sites/{host}:/{path}` answers 404 and SPSiteManager/status says 0 (not found)."""

    name = "target-site-missing"
    permissions = ("Sites.Read.All", "SharePoint:Sites.FullControl.All")

    async def detect(self, ctx: Context) -> Finding:
        target = ctx.connector.target_site
        if target is None:
            return Finding.ok("the connector has no target site configured")
        evidence: dict[str, Any] = {"url": target.url}
        problem = await site_problem(ctx, target.url, evidence)
        if problem is None:
            return Finding.ok(f"the target site {target.url} exists", **evidence)
        if problem == "provisioning":
            return Finding.unknown(f"the target site {target.url} is still being provisioned", **evidence)
        if problem.startswith("unknown:"):
            return Finding.unknown(problem.removeprefix("unknown:"), **evidence)
        evidence["connector"] = await connector_view(ctx, target.url)
        return Finding.found(f"the target site collection {target.url} does not exist ({problem}): every "
                             "write the connector makes to it fails", **evidence)


class CreateParams(BaseModel):
    """How often and how long to poll SPSiteManager/status for the new site to be ready."""

    model_config = ConfigDict(extra="forbid")
    poll_interval_s: float = Field(2.0, ge=0, le=60)
    poll_timeout_s: float = Field(300.0, ge=0, le=3600)


@register_fixer
class CreateTargetSite(Fixer):
    """SPSiteManager/create with the connector's title, template, owner, lcid (undo: SPSiteManager/delete)."""

    name = "create-target-site"
    params_model = CreateParams
    params: CreateParams
    permissions = ("SharePoint:Sites.FullControl.All",)
    risk = Risk.MEDIUM
    propagation_s = 120.0

    def __init__(self, params: BaseModel | None = None, *, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(params)
        self.sleep, self.clock = sleep, clock

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        target, account = ctx.connector.target_site, ctx.connector.account
        owner = (target.owner if target is not None else None) or (account.username if account else None)
        if target is None or owner is None:
            plan.note = "set target_site (and its owner) in the connector config"
            return plan
        request = {"Title": target.title, "Url": target.url, "Owner": owner, "Lcid": target.lcid,
                   "WebTemplate": target.template}
        plan.steps.append(self._create_step(ctx, request))
        return plan

    @staticmethod
    def _create_step(ctx: Context, request: dict[str, Any]) -> Step:
        sp = ctx.clients.sharepoint
        return Step("create-site", sp.call("POST", sp.root, "SPSiteManager/create", {"request": request}),
                    before={"exists": False}, after={"exists": True, "status": READY},
                    params={"request": request}, undo={"request": request},
                    description=f"create the site collection {request['Url']} ({request['WebTemplate']}, "
                                f"owner {request['Owner']}) and wait until SharePoint reports it ready")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        sp = ctx.clients.sharepoint
        if step.action == "delete-site":
            try:
                await sp.delete_site(step.params["site_id"])
            except WriteFailed as exc:
                if exc.status != 404:  # already gone: the undo's goal holds
                    raise
            return {}
        if step.action != "create-site":
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        r = step.params["request"]
        status = await sp.create_site(r["Url"], r["Title"], r["Owner"], r["WebTemplate"], int(r["Lcid"]))
        done = {"site_id": status.site_id}
        deadline = self.clock() + self.params.poll_timeout_s
        while status.status == PROVISIONING and self.clock() < deadline:
            status = await sp.site_status(r["Url"])  # first poll at once: often ready already
            if status.status == PROVISIONING:
                await self.sleep(self.params.poll_interval_s)
        if status.status != READY:
            # the site collection may exist half-made: keep its id so undo can delete it
            state = "failed to provision" if status.status == FAILED else \
                f"was not ready after {self.params.poll_timeout_s:g}s"
            raise PartialFailure(f"the site {r['Url']} {state} (SPSiteManager status {status.status})", done)
        return done

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """Made when SPSiteManager knows the site now (the plan saw it missing); undo deletes it by id."""
        if step.action != "create-site":
            return None
        status = await ctx.clients.sharepoint.site_status(step.params["request"]["Url"])
        if status.status == NOT_FOUND or not status.site_id:
            return Settled(False)
        return Settled(True, {"site_id": status.site_id})

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo, sp = step.undo or {}, ctx.clients.sharepoint
        if step.action == "delete-site":
            return self._create_step(ctx, dict(undo["request"]))
        if step.action != "create-site" or not undo.get("site_id"):
            raise ValueError(f"{step.action}: the created site's id was not recorded; delete it by hand")
        call = sp.call("POST", sp.root, "SPSiteManager/delete", {"siteId": undo["site_id"]})
        return Step("delete-site", call, before={"exists": True}, after={"exists": False},
                    params={"site_id": undo["site_id"]}, undo=dict(undo),
                    description=f"delete the site collection {undo['request']['Url']} the fix created "
                                "(it goes to the tenant recycle bin)")
