"""The migration account's Exchange Online licence: a missing mailbox plan, and a SKU that carries one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.catalog.mail.bad_credentials import AccountParams, account_upn, cannot_read, read_account
from agent.clients.errors import ReadFailed
from agent.clients.graph_json import as_dict
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, Settled, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

# Service plans that give a mailbox (api-facts section 0); EXCHANGE_S_FOUNDATION does not.
MAILBOX_PLANS = {
    "9aaf7827-d63c-4b61-89c3-182f06f82e5c": "EXCHANGE_S_STANDARD",
    "efb87545-963c-4e0d-99df-69c6916d9eb0": "EXCHANGE_S_ENTERPRISE",
    "4a82b400-a79f-41a4-b4e2-e94f5787b113": "EXCHANGE_S_DESKLESS",
    "1126bef5-da20-4f07-b45e-ad25d2581aa8": "EXCHANGE_S_ESSENTIALS",
}
FOUNDATION_PLAN = "113feb6c-3fe4-4440-bddc-54d774bf0318"
LICENCE_FIELDS = ["id", "userPrincipalName", "assignedLicenses", "assignedPlans", "usageLocation"]


def mailbox_plans(user: dict[str, Any]) -> list[str]:
    """Names of the enabled mailbox-bearing Exchange plans the user's licences carry."""
    enabled = [str(p.get("servicePlanId")).lower() for p in user.get("assignedPlans") or []
               if p.get("capabilityStatus") == "Enabled"]
    return [MAILBOX_PLANS[plan] for plan in enabled if plan in MAILBOX_PLANS]


@register_detector
class ExchangePlanMissing(Detector):
    """The account's licences carry no enabled Exchange Online mailbox plan."""

    name = "user-lacks-exchange-plan"
    params_model = AccountParams
    params: AccountParams
    permissions = ("User.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        upn = account_upn(ctx, self.params.account)
        if upn is None:
            return Finding.ok("the connector has no migration account")
        try:
            user = await read_account(ctx, upn, LICENCE_FIELDS)
        except ReadFailed as exc:
            return cannot_read(f"the licences of {upn}", exc, account=upn)
        if user is None:
            return Finding.masked(f"{upn} does not exist in the tenant (see bad-credentials)",
                                  ["bad-credentials"], account=upn)
        absent = [f for f in ("assignedLicenses", "assignedPlans") if not isinstance(user.get(f), list)]
        if absent:  # Graph always returns both when selected (empty when unlicensed): a cut answer
            return Finding.unknown(f"the answer about {upn} lacks {', '.join(absent)}: cannot judge its "
                                   "licences", account=upn)
        plans = mailbox_plans(user)
        skus = [str(s.get("skuId")) for s in user.get("assignedLicenses") or []]
        evidence: dict[str, Any] = {"account": upn, "account_id": user.get("id"), "skus": skus,
                                    "exchange_plans": plans, "usage_location": user.get("usageLocation")}
        if plans:
            return Finding.ok(f"{upn} has {', '.join(plans)}", **evidence)
        foundation = any(str(p.get("servicePlanId")).lower() == FOUNDATION_PLAN
                         for p in user.get("assignedPlans") or [])
        evidence["foundation_only"] = foundation
        what = "only EXCHANGE_S_FOUNDATION (no mailbox)" if foundation else \
            ("no licence" if not skus else "licences without an Exchange Online plan")
        return Finding.found(f"{upn} has {what}: Exchange has no mailbox for it, so EWS refuses it",
                             **evidence)


class AssignParams(BaseModel):
    """`with: {prefer_skus: [...], usage_location: US}`."""

    model_config = ConfigDict(extra="forbid")
    prefer_skus: list[str] = Field(default_factory=lambda: ["EXCHANGESTANDARD", "ENTERPRISEPACK"])
    usage_location: str = "US"  # set only when the account has none (assignment requires one)

    @field_validator("usage_location")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter country code such as US or GB")
        return value.upper()


def choose_sku(skus: list[dict[str, Any]], prefer: list[str]) -> dict[str, Any] | None:
    """An enabled SKU with free units that carries a mailbox plan: preferred ones first, in their order."""
    def usable(sku: dict[str, Any]) -> bool:
        free = int((sku.get("prepaidUnits") or {}).get("enabled") or 0) - int(sku.get("consumedUnits") or 0)
        plans = {str(p.get("servicePlanId")).lower() for p in sku.get("servicePlans") or []}
        return sku.get("capabilityStatus") == "Enabled" and free > 0 and bool(plans & set(MAILBOX_PLANS))

    order = {name.upper(): i for i, name in enumerate(prefer)}
    candidates = sorted((s for s in skus if usable(s)),
                        key=lambda s: (order.get(str(s.get("skuPartNumber")).upper(), len(order)),
                                       str(s.get("skuPartNumber"))))
    return candidates[0] if candidates else None


@register_fixer
class AssignExchangeLicence(Fixer):
    """Set usageLocation if missing, then assign a SKU that carries Exchange (undo: remove it, restore)."""

    name = "assign-exchange-licence"
    params_model = AssignParams
    params: AssignParams
    permissions = ("Organization.Read.All", "LicenseAssignment.ReadWrite.All", "User.ReadWrite.All")
    risk = Risk.MEDIUM  # consumes a paid licence
    propagation_s = 900.0  # mailbox provisioning takes minutes in Microsoft 365

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        upn = finding.evidence.get("account") or account_upn(ctx)
        user = await read_account(ctx, str(upn), LICENCE_FIELDS) if upn else None
        if user is None:
            plan.note = "the migration account does not exist"
            return plan
        if mailbox_plans(user):
            plan.note = "the account already has an Exchange Online plan"
            return plan
        skus = [as_dict(s) for s in await ctx.clients.graph.subscribed_skus()]
        sku = choose_sku(skus, self.params.prefer_skus)
        if sku is None:
            plan.note = ("no subscribed SKU with free units carries Exchange Online: buy or free a licence "
                         "(e.g. Exchange Online Plan 1), then run fix again")
            return plan
        user_id = str(user["id"])
        if not user.get("usageLocation"):
            plan.steps.append(self._location_step(ctx, user_id, None, self.params.usage_location))
        plan.steps.append(self._licence_step(ctx, user_id, str(sku["skuId"]), str(sku.get("skuPartNumber")),
                                             add=True))
        return plan

    @staticmethod
    def _location_step(ctx: Context, user_id: str, before: str | None, after: str | None) -> Step:
        body = {"usageLocation": after}
        return Step("set-usage-location", ctx.clients.graph.call("PATCH", f"/users/{user_id}", body),
                    before={"usageLocation": before}, after=body,
                    params={"user_id": user_id, "usage_location": after},
                    undo={"user_id": user_id, "usage_location": before},
                    description=f"set the account's usage location to {after}" if after else
                    "clear the account's usage location again")

    @staticmethod
    def _licence_step(ctx: Context, user_id: str, sku_id: str, part: str, add: bool) -> Step:
        body = {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}] if add else [],
                "removeLicenses": [] if add else [sku_id]}
        return Step("assign-licence" if add else "remove-licence",
                    ctx.clients.graph.call("POST", f"/users/{user_id}/assignLicense", body),
                    before={"licensed": not add, "sku": part}, after={"licensed": add, "sku": part},
                    params={"user_id": user_id, "sku_id": sku_id, "sku": part},
                    undo={"user_id": user_id, "sku_id": sku_id, "sku": part},
                    description=f"assign {part} (it carries Exchange Online) to the migration account" if add
                    else f"remove the {part} licence the fix assigned")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        p, graph = step.params, ctx.clients.graph
        if step.action == "set-usage-location":
            await graph.patch_user(p["user_id"], {"usageLocation": p["usage_location"]})
        elif step.action in ("assign-licence", "remove-licence"):
            add = step.action == "assign-licence"
            sku = [p["sku_id"]]
            await graph.assign_license(p["user_id"], sku if add else [], [] if add else sku)
        else:
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        return {}

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """Read the account: does it hold the SKU (or the usage location) the step was to set?"""
        p = step.params
        user = await ctx.clients.graph.get_user(p["user_id"], select=["id", "assignedLicenses",
                                                                      "usageLocation"])
        if user is None:
            return Settled(False, note="(the account is gone)")
        if step.action == "set-usage-location":
            return Settled(user.usage_location == p["usage_location"] != (step.before or {}).get(
                "usageLocation"))
        if step.action in ("assign-licence", "remove-licence"):
            if user.assigned_licenses is None:
                return None  # no licence list in the answer: cannot tell
            held = {str(a.sku_id) for a in user.assigned_licenses}
            return Settled((str(p["sku_id"]) in held) == (step.action == "assign-licence"))
        return None

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if step.action == "set-usage-location":
            return self._location_step(ctx, undo["user_id"], (step.after or {}).get("usageLocation"),
                                       undo.get("usage_location"))
        if step.action in ("assign-licence", "remove-licence"):
            return self._licence_step(ctx, undo["user_id"], undo["sku_id"], str(undo.get("sku")),
                                      add=step.action == "remove-licence")
        raise ValueError(f"{step.action} cannot be undone")
