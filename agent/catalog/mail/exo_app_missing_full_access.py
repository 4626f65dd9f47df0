"""exo-app-missing-full-access: the connector app lacks Exchange Online's full_access_as_app grant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agent.clients.errors import ReadFailed, WriteFailed
from agent.clients.tokens import ews_scope
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

APP_NOT_INSTALLED = "app-not-installed"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
FULL_ACCESS_AS_APP_ID = "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
EXCHANGE_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com")
SCHEME_OF = {"basic": "Basic", "ntlm": "NTLM"}
PENDING_SP = "<service principal that app-not-installed's fix creates>"


class RoleParams(BaseModel):
    """`with: {role: full_access_as_app}`: the Exchange application permission the connector needs."""

    model_config = ConfigDict(extra="forbid")
    role: str = "full_access_as_app"


class GrantState(BaseModel):
    """The ids a grant involves, read with the admin credential."""

    exchange_sp_id: str
    role_id: str
    client_sp_id: str | None
    assignment_id: str | None


async def read_grant(ctx: Context, client_app_id: str, role: str) -> GrantState:
    """Exchange's service principal and role id, the connector's SP, and the assignment if it exists."""
    graph = ctx.clients.graph
    exchange = await graph.get_service_principal(EXCHANGE_APP_ID, select=["id", "appId", "appRoles"])
    if exchange is None:
        raise LookupError("Office 365 Exchange Online has no service principal in this tenant")
    role_id = next((str(r.id) for r in exchange.app_roles or [] if r.value == role),
                   FULL_ACCESS_AS_APP_ID if role == "full_access_as_app" else None)
    if role_id is None:
        raise LookupError(f"Exchange Online has no app role {role!r}")
    client = await graph.get_service_principal(client_app_id, select=["id", "appId", "displayName"])
    state = GrantState(exchange_sp_id=str(exchange.id), role_id=role_id,
                       client_sp_id=str(client.id) if client is not None else None, assignment_id=None)
    if client is not None:
        for grant in await graph.app_role_assignments(str(client.id)):
            if str(grant.resource_id) == state.exchange_sp_id and str(grant.app_role_id) == role_id:
                state.assignment_id = str(grant.id)
    return state


@register_detector
class ExchangeRoleMissing(Detector):
    """The connector app's EWS token lacks full_access_as_app, and the tenant never granted it."""

    name = "app-lacks-exchange-role"
    params_model = RoleParams
    params: RoleParams
    permissions = ("Application.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        app, role = ctx.connector.app, self.params.role
        if app is None:
            return Finding.ok("the connector signs in with an account, not an app: no app permission "
                              "to check")
        if app.client_secret is None and app.certificate is None:  # judged from the grants alone
            why = "vendor-held credential" if app.owner == "vendor" else "no credential configured"
            return await self._from_grants(ctx, role, {"role": role, "token": {"skipped": why}})
        try:
            probe = await ctx.clients.probe_app(ews_scope(ctx.tenant))
        except ReadFailed as exc:
            return Finding.unknown(f"could not request an EWS token as the connector: {exc.reason}")
        token = {"ok": True, "roles": probe.roles} if probe.ok else \
            {"ok": False, "aadsts": probe.aadsts, "message": probe.message}
        evidence: dict[str, Any] = {"role": role, "token": token}
        if probe.ok and role in probe.roles:
            return Finding.ok(f"the connector's EWS token carries {role}", **evidence)
        return await self._from_grants(ctx, role, evidence, probe.ok)

    async def _from_grants(self, ctx: Context, role: str, evidence: dict[str, Any],
                           token_ok: bool = False) -> Finding:
        assert ctx.connector.app is not None
        try:
            grant = await read_grant(ctx, ctx.connector.app.client_id, role)
        except ReadFailed as exc:
            return Finding.unknown(f"the EWS token lacks {role}, but the grants could not be read: "
                                   f"{exc.reason}", **evidence)
        except LookupError as exc:
            return Finding.unknown(str(exc), **evidence)
        evidence.update(grant.model_dump())
        return await self._verdict(ctx, token_ok, role, grant, evidence)

    async def _verdict(self, ctx: Context, token_ok: bool, role: str, grant: GrantState,
                       evidence: dict[str, Any]) -> Finding:
        if grant.client_sp_id is None:  # no service principal, so no app role assignment on it
            return Finding.implied(f"the connector app has no service principal in the tenant (see "
                                   f"{APP_NOT_INSTALLED}), so it holds no {role} grant: EWS refuses its "
                                   "tokens", [APP_NOT_INSTALLED], **evidence)
        if grant.assignment_id is not None:
            if token_ok:  # granted, but tokens do not carry it yet: replication, nothing to change
                return Finding.found(f"{role} is granted but the connector's EWS token does not carry it yet "
                                     "(Entra replication; tokens refresh within an hour)", **evidence)
            return Finding.ok(f"{role} is granted (the token request fails for another reason)", **evidence)
        evidence["ews"] = await self._ews(ctx)
        return Finding.found(f"the connector app has no {role} grant on Office 365 Exchange Online: EWS "
                             "answers 401 (2000008: the token contains no permissions)", **evidence)

    @staticmethod
    async def _ews(ctx: Context) -> dict[str, Any]:
        """What EWS says to the connector: extra evidence, never the verdict."""
        try:
            ews = await ctx.clients.probe_ews()
        except Exception as exc:  # evidence only: any failure is reported, not raised
            return {"error": str(exc)}
        return {"ok": ews.ok, "status": ews.status, "code": ews.code,
                "x_ms_diagnostics": ews.x_ms_diagnostics}


@register_fixer
class GrantExchangeRole(Fixer):
    """Admin consent for one Exchange application permission: POST appRoleAssignedTo (undo: DELETE it)."""

    name = "grant-exchange-app-role"
    params_model = RoleParams
    params: RoleParams
    permissions = ("AppRoleAssignment.ReadWrite.All", "Application.Read.All")
    risk = Risk.HIGH  # full_access_as_app reaches every mailbox in the tenant
    propagation_s = 300.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(ctx.cause, ctx.connector.name,
                    self.name, self.risk)
        app = ctx.connector.app
        if app is None:
            plan.note = "the connector has no app"
            return plan
        grant = await read_grant(ctx, app.client_id, self.params.role)
        if grant.client_sp_id is None:  # planned in full once app-not-installed's fix created it
            plan.steps.append(self._grant_step(ctx, grant.exchange_sp_id, PENDING_SP, grant.role_id))
            plan.waits_on = [APP_NOT_INSTALLED]
            plan.note = f"waits on {APP_NOT_INSTALLED}: the grant names the service principal its fix creates"
        elif grant.assignment_id is not None:
            plan.note = f"{self.params.role} is already granted; tokens pick it up within an hour"
        else:
            plan.steps.append(self._grant_step(ctx, grant.exchange_sp_id, grant.client_sp_id, grant.role_id))
        return plan

    def _grant_step(self, ctx: Context, resource: str, principal: str, role_id: str) -> Step:
        body = {"principalId": principal, "resourceId": resource, "appRoleId": role_id}
        call = ctx.clients.graph.call("POST", f"/servicePrincipals/{resource}/appRoleAssignedTo", body)
        return Step("grant-app-role", call, before={"granted": False}, after={"granted": True, **body},
                    params={"resource_sp_id": resource, "principal_sp_id": principal, "app_role_id": role_id},
                    undo={"resource_sp_id": resource, "principal_sp_id": principal, "app_role_id": role_id},
                    description=f"grant {self.params.role} on Office 365 Exchange Online to the connector "
                                "app (admin consent for one application permission)")

    def _revoke_step(self, ctx: Context, undo: dict[str, Any]) -> Step:
        resource, assignment = str(undo["resource_sp_id"]), undo.get("assignment_id")
        if not assignment:
            raise ValueError("the grant's assignment id was not recorded: revoke it by hand")
        path = f"/servicePrincipals/{resource}/appRoleAssignedTo/{assignment}"
        call = ctx.clients.graph.call("DELETE", path)
        return Step("revoke-app-role", call, before={"granted": True}, after={"granted": False},
                    params={**undo, "assignment_id": str(assignment)}, undo=dict(undo),
                    description=f"remove the {self.params.role} grant the fix added")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        p, graph = step.params, ctx.clients.graph
        if step.action == "grant-app-role":
            created = await graph.grant_app_role(p["resource_sp_id"], p["principal_sp_id"], p["app_role_id"])
            return {"assignment_id": str(created.id)}
        if step.action == "revoke-app-role":
            try:
                await graph.delete_app_role_assignment(p["resource_sp_id"], p["assignment_id"])
            except WriteFailed as exc:
                if exc.status != 404:  # already gone: the undo's goal holds
                    raise
            return {"assignment_id": None}
        raise ValueError(f"{self.name} cannot apply {step.action!r}")

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if step.action == "grant-app-role":
            return self._revoke_step(ctx, undo)
        if step.action == "revoke-app-role":
            return self._grant_step(ctx, undo["resource_sp_id"], undo["principal_sp_id"], undo["app_role_id"])
        raise ValueError(f"{step.action} cannot be undone")
