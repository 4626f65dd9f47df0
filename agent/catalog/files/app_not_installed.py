"""The migration app is not installed in the tenant: no service principal, or no admin consent for the
application permissions it needs (app-not-installed)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from agent.catalog.shared.app_keys import token_evidence
from agent.clients.errors import ReadFailed, WriteFailed
from agent.clients.tokens import graph_scope
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.graph_view import GraphObject
    from agent.config.model import ConnectorApp
    from agent.context import Context

# Resources whose app roles a migration connector asks for (Graph, Exchange Online, SharePoint Online).
WELL_KNOWN_RESOURCES = ("00000003-0000-0000-c000-000000000000", "00000002-0000-0ff1-ce00-000000000000",
                        "00000003-0000-0ff1-ce00-000000000000")
NEW_SP = "<id of the service principal created above>"


@dataclass(frozen=True)
class RoleRef:
    """One application permission the connector needs, resolved to its resource's service principal."""

    resource_sp_id: str
    resource_app_id: str
    resource_name: str
    role_id: str
    value: str


async def _declared(ctx: Context, app: ConnectorApp) -> dict[str, str]:
    """Role id -> resource appId the app registration declares (requiredResourceAccess, type Role)."""
    registration = await ctx.clients.graph.get_application(app.client_id,
                                                            select=["id", "requiredResourceAccess"])
    declared: dict[str, str] = {}
    for entry in (registration.required_resource_access or []) if registration is not None else []:
        for access in entry.resource_access or []:
            if access.type == "Role":
                declared[str(access.id).lower()] = str(entry.resource_app_id)
    return declared


async def needed_roles(ctx: Context, app: ConnectorApp) -> tuple[list[RoleRef], list[str]]:
    """The roles the connector needs (`app.required_roles`, else what its registration declares), resolved
    against the resource service principals' appRoles; also the names that could not be resolved."""
    declared = await _declared(ctx, app)
    wanted = list(app.required_roles) or list(declared)
    resource_ids = sorted(set(WELL_KNOWN_RESOURCES) | set(declared.values()))
    graph = ctx.clients.graph
    found = await asyncio.gather(*(graph.get_service_principal(r, select=["id", "appId", "displayName",
                                                                          "appRoles"]) for r in resource_ids))
    resources = [sp for sp in found if sp is not None]
    refs: list[RoleRef] = []
    unresolved: list[str] = []
    for want in wanted:
        matches = _matches(resources, want, declared)
        if len(matches) == 1:
            refs.append(matches[0])
        else:
            unresolved.append(want)
    return refs, unresolved


def _matches(resources: list[GraphObject], want: str, declared: dict[str, str]) -> list[RoleRef]:
    """Roles matching an id or a value; a value on several resources (Sites.FullControl.All) is settled by
    what the registration declares."""
    hits = [RoleRef(str(sp.id), str(sp.app_id), str(sp.display_name), str(role.id).lower(), str(role.value))
            for sp in resources for role in sp.app_roles or []
            if str(role.id).lower() == want.lower() or role.value == want]
    if len(hits) > 1:
        hits = [h for h in hits if declared.get(h.role_id) == h.resource_app_id]
    return hits


async def granted_pairs(ctx: Context, sp_id: str) -> set[tuple[str, str]]:
    """(resource SP id, app role id) of every application permission consented for the service principal."""
    grants = await ctx.clients.graph.app_role_assignments(sp_id)
    return {(str(g.resource_id), str(g.app_role_id).lower()) for g in grants}


@register_detector
class ServicePrincipalMissing(Detector):
    """No service principal for the connector's appId (AADSTS700016), or no consent for roles it needs."""

    name = "service-principal-missing"
    permissions = ("Application.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        app = ctx.connector.app
        if app is None:
            return Finding.ok("the connector signs in with an account, not an app")
        evidence: dict[str, Any] = {"client_id": app.client_id}
        try:
            evidence["token"] = token_evidence(await ctx.clients.probe_app(graph_scope(ctx.tenant)))
        except ReadFailed as exc:
            evidence["token"] = f"no answer: {exc.reason}"
        try:
            sp = await ctx.clients.graph.get_service_principal(
                app.client_id, select=["id", "appId", "displayName", "accountEnabled"])
        except ReadFailed as exc:
            return Finding.unknown(f"could not look for the app's service principal: {exc.reason}",
                                   **evidence)
        if sp is None:
            evidence["service_principal"] = None
            return Finding.found(f"the app {app.client_id} has no service principal in this tenant: it was "
                                 "never installed (admin consent), so Entra ID answers AADSTS700016",
                                 **evidence)
        evidence["service_principal"] = {"id": str(sp.id), "name": sp.display_name,
                                         "enabled": sp.account_enabled}
        try:
            refs, unresolved = await needed_roles(ctx, app)
            granted = await granted_pairs(ctx, str(sp.id))
        except ReadFailed as exc:
            return Finding.unknown(f"the app is installed, but its consented permissions could not be read: "
                                   f"{exc.reason}", **evidence)
        missing = [r for r in refs if (r.resource_sp_id, r.role_id) not in granted]
        evidence.update(required=[f"{r.resource_name}: {r.value}" for r in refs],
                        missing=[f"{r.resource_name}: {r.value}" for r in missing], unresolved=unresolved)
        if missing:
            return Finding.found(f"the app is installed but admin consent is missing for {len(missing)} "
                                 f"permission(s): {', '.join(evidence['missing'])}", **evidence)
        return Finding.ok("the app is installed and every permission it needs is consented", **evidence)


@register_fixer
class InstallServicePrincipal(Fixer):
    """POST /servicePrincipals, then one appRoleAssignedTo per missing role (undo: delete them)."""

    name = "install-service-principal"
    permissions = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")
    risk = Risk.HIGH  # admin consent for application permissions across the tenant
    propagation_s = 120.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        app = ctx.connector.app
        if app is None:
            plan.note = "the connector has no app"
            return plan
        graph = ctx.clients.graph
        sp = await graph.get_service_principal(app.client_id, select=["id", "appId"])
        refs, unresolved = await needed_roles(ctx, app)
        granted = set() if sp is None else await granted_pairs(ctx, str(sp.id))
        sp_id = str(sp.id) if sp is not None else None
        if sp is None:
            plan.steps.append(self._create_step(ctx, app.client_id))
        for ref in refs:
            if (ref.resource_sp_id, ref.role_id) not in granted:
                plan.steps.append(self._grant_step(ctx, app.client_id, sp_id, ref))
        if unresolved:
            plan.note = f"not found on any resource, grant by hand: {', '.join(unresolved)}"
        return plan

    @staticmethod
    def _create_step(ctx: Context, app_id: str) -> Step:
        call = ctx.clients.graph.call("POST", "/servicePrincipals", {"appId": app_id})
        return Step("create-service-principal", call, before={"service_principal": None},
                    after={"service_principal": "created"}, params={"app_id": app_id},
                    undo={"app_id": app_id},
                    description="install the connector's app in the tenant (create its service principal)")

    @staticmethod
    def _grant_step(ctx: Context, app_id: str, sp_id: str | None, ref: RoleRef) -> Step:
        body = {"principalId": sp_id or NEW_SP, "resourceId": ref.resource_sp_id, "appRoleId": ref.role_id}
        path = f"/servicePrincipals/{ref.resource_sp_id}/appRoleAssignedTo"
        call = ctx.clients.graph.call("POST", path, body)
        params = {"app_id": app_id, "principal_sp_id": sp_id, **asdict(ref)}
        return Step("grant-app-role", call, before={"granted": False}, after={"granted": True},
                    params=params, undo=dict(params),
                    description=f"admin consent: grant {ref.value} on {ref.resource_name} to the app")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        graph, p = ctx.clients.graph, step.params
        if step.action == "create-service-principal":
            return {"sp_id": str((await graph.create_service_principal(p["app_id"])).id)}
        if step.action == "grant-app-role":
            principal = p.get("principal_sp_id") or await self._sp_id(ctx, p["app_id"])
            created = await graph.grant_app_role(p["resource_sp_id"], principal, p["role_id"])
            return {"assignment_id": str(created.id), "principal_sp_id": principal}
        try:
            if step.action == "delete-service-principal":
                await graph.delete_service_principal(p["sp_id"])
            elif step.action == "revoke-app-role":
                await graph.delete_app_role_assignment(p["resource_sp_id"], p["assignment_id"])
            else:
                raise ValueError(f"{self.name} cannot apply {step.action!r}")
        except WriteFailed as exc:
            if exc.status != 404:  # already gone (deleting the SP removes its grants): the goal holds
                raise
        return {}

    @staticmethod
    async def _sp_id(ctx: Context, app_id: str) -> str:
        sp = await ctx.clients.graph.get_service_principal(app_id, select=["id"])
        if sp is None:
            raise LookupError(f"the app {app_id} still has no service principal")
        return str(sp.id)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo, graph = step.undo or {}, ctx.clients.graph
        if step.action == "create-service-principal" and undo.get("sp_id"):
            call = graph.call("DELETE", f"/servicePrincipals/{undo['sp_id']}")
            return Step("delete-service-principal", call,
                        before={"service_principal": undo["sp_id"]}, after={"service_principal": None},
                        params=dict(undo), undo=dict(undo),
                        description="uninstall the app again (deleting the service principal removes "
                                    "its consents with it)")
        if step.action == "grant-app-role" and undo.get("assignment_id"):
            path = f"/servicePrincipals/{undo['resource_sp_id']}/appRoleAssignedTo/{undo['assignment_id']}"
            return Step("revoke-app-role", graph.call("DELETE", path), before={"granted": True},
                        after={"granted": False}, params=dict(undo), undo=dict(undo),
                        description=f"remove the {undo.get('value')} consent the fix granted")
        if step.action == "delete-service-principal":
            return self._create_step(ctx, str(undo["app_id"]))
        if step.action == "revoke-app-role":
            ref = RoleRef(*(str(undo[k]) for k in ("resource_sp_id", "resource_app_id", "resource_name",
                                                   "role_id", "value")))
            return self._grant_step(ctx, str(undo["app_id"]), undo.get("principal_sp_id"), ref)
        raise ValueError(f"{step.action} cannot be undone (its created id was not recorded)")
