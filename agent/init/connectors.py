"""Connectors found, not typed: the apps that hold or ask for connector-grade roles in the tenant.

Holders: `GET /servicePrincipals/{resource}/appRoleAssignedTo` on Exchange Online, SharePoint and Microsoft
Graph (serviceprincipal-list-approleassignedto); askers: the apps' `requiredResourceAccess`
(application-list). An app whose service principal's `appOwnerOrganizationId` is another tenant is the
vendor's (servicePrincipal resource): its credential is not the tenant's to hold, so the checks that need it
say `unknown (vendor-held credential)` and only its grants and presence are judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.clients.graph_directory import config
from agent.init.graph_setup import SetupGraph

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # Microsoft's first-party apps' owner
CONNECTOR_ROLES = {
    EXCHANGE_APP_ID: frozenset({"full_access_as_app"}),
    SHAREPOINT_APP_ID: frozenset({"Sites.FullControl.All", "Sites.ReadWrite.All"}),
    GRAPH_APP_ID: frozenset({"Files.ReadWrite.All", "Sites.FullControl.All", "Sites.ReadWrite.All",
                             "Mail.ReadWrite"}),
}
RESOURCE_LABEL = {EXCHANGE_APP_ID: "Exchange", SHAREPOINT_APP_ID: "SharePoint", GRAPH_APP_ID: "Graph"}


@dataclass
class Candidate:
    """One app that looks like a migration connector."""

    app_id: str
    display_name: str
    owner: str = "tenant"  # tenant | vendor
    holds: list[str] = field(default_factory=list)  # "Exchange full_access_as_app"
    requests: list[str] = field(default_factory=list)  # asked for in requiredResourceAccess, not held
    role_ids: list[str] = field(default_factory=list)  # every connector-grade role it holds or asks for
    microsoft: bool = False  # a Microsoft first-party app: never a migration connector

    @property
    def kind(self) -> str:
        if any(r.startswith("Exchange ") for r in self.holds + self.requests):
            return "exchange-online"
        return "onedrive"

    def line(self) -> str:
        parts = [f"{self.display_name} ({self.app_id})", f"owner: {self.owner}", f"kind: {self.kind}"]
        if self.holds:
            parts.append("holds " + ", ".join(self.holds))
        if self.requests:
            parts.append("asks for but lacks " + ", ".join(self.requests))
        if self.owner == "vendor":
            parts.append("credential held by the vendor: checks that need it say unknown (vendor-held "
                         "credential); grants and expiry are checked")
        return "; ".join(parts)

    def connector(self, name: str | None = None) -> dict[str, Any]:
        """The config entry (no secret: `agent connectors add` asks for the ones a probe needs)."""
        app: dict[str, Any] = {"client_id": self.app_id, "required_roles": list(dict.fromkeys(self.role_ids))}
        if self.owner == "vendor":
            app["owner"] = "vendor"
        return {"name": name or slug(self.display_name), "kind": self.kind, "app": app}


def slug(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._").lower()
    return (cleaned or "connector")[:64]


async def _resource(graph: SetupGraph, app_id: str) -> tuple[str, dict[str, str]] | None:
    """(sp id, role id -> value) of a resource's connector-grade roles."""
    found = await graph.resource_roles(app_id)
    if found is None:
        return None
    wanted = CONNECTOR_ROLES[app_id]
    return found.sp_id, {rid.lower(): value for value, rid in found.roles.items() if value in wanted}


async def discover(graph: SetupGraph, tenant_id: str, skip_app_ids: set[str]) -> list[Candidate]:
    """Every app (but the agent's own and Microsoft's) holding or asking for a connector-grade role."""
    resources = {app_id: await _resource(graph, app_id) for app_id in CONNECTOR_ROLES}
    found: dict[str, Candidate] = {}
    by_sp: dict[str, set[str]] = {}
    for app_id, info in resources.items():
        if info is not None:
            await _holders(graph, app_id, *info, by_sp)
    for principal, held in by_sp.items():
        await _add_holder(graph, tenant_id, principal, held, found)
    await _askers(graph, resources, found)
    return [c for aid, c in sorted(found.items(), key=lambda kv: kv[1].display_name.lower())
            if aid not in skip_app_ids and not c.microsoft]


async def _holders(graph: SetupGraph, app_id: str, sp_id: str, roles: dict[str, str],
                   by_sp: dict[str, set[str]]) -> None:
    """Who holds one of the resource's connector-grade roles: principal sp id -> {resource|role id|value}."""
    builder = graph.client.service_principals.by_service_principal_id(sp_id).app_role_assigned_to
    grants = await graph.adapter.read_all(builder.get, lambda u: builder.with_url(u).get,
                                          needs="Application.Read.All")
    for g in grants:
        value = roles.get(str(g.app_role_id).lower())
        if value is not None and g.principal_type in (None, "ServicePrincipal"):
            by_sp.setdefault(str(g.principal_id), set()).add(f"{app_id}|{g.app_role_id}|{value}")


async def _add_holder(graph: SetupGraph, tenant_id: str, principal: str, held: set[str],
                      found: dict[str, Candidate]) -> None:
    select = ["id", "appId", "displayName", "appOwnerOrganizationId"]
    item = graph.client.service_principals.by_service_principal_id(principal)
    sp = await graph.adapter.read(lambda: item.get(config(select=select)), needs="Application.Read.All")
    if sp is None or not sp.app_id:
        return
    owner = str(sp.app_owner_organization_id or tenant_id).lower()
    whose = "tenant" if owner == tenant_id.lower() else "vendor"
    name = str(sp.display_name or sp.app_id)
    cand = found.setdefault(str(sp.app_id), Candidate(str(sp.app_id), name, whose))
    cand.microsoft = owner == MICROSOFT_TENANT
    for entry in sorted(held):
        res, role_id, value = entry.split("|")
        cand.holds.append(f"{RESOURCE_LABEL[res]} {value}")
        cand.role_ids.append(role_id.lower())


async def _askers(graph: SetupGraph, resources: dict[str, tuple[str, dict[str, str]] | None],
                  found: dict[str, Candidate]) -> None:
    """Apps of this tenant whose requiredResourceAccess asks for a connector-grade role they lack."""
    builder = graph.client.applications
    apps = await graph.adapter.read_all(
        lambda: builder.get(config(select=["id", "appId", "displayName", "requiredResourceAccess"])),
        lambda u: builder.with_url(u).get, needs="Application.Read.All")
    for app in apps:
        for req in app.required_resource_access or []:
            info = resources.get(str(req.resource_app_id))
            if info is None:
                continue
            for access in req.resource_access or []:
                value = info[1].get(str(access.id).lower())
                if value is None:
                    continue
                cand = found.setdefault(str(app.app_id), Candidate(str(app.app_id), str(app.display_name)))
                label = f"{RESOURCE_LABEL[str(req.resource_app_id)]} {value}"
                if label not in cand.holds and label not in cand.requests:
                    cand.requests.append(label)
                    cand.role_ids.append(str(access.id).lower())
