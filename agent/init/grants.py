"""What the agent's app is granted: the tier's permissions from the playbooks (agent.playbook.manifest),
resolved to app role ids on the tenant's own resource service principals, one by one (a name the tenant
does not know is reported, not fatal), and the app's requiredResourceAccess built from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.playbook.manifest import RESOURCE_APP_IDS, for_tier
from agent.playbook.permissions import GRAPH, SHAREPOINT, split

RESOURCE_NAMES = {GRAPH: "Microsoft Graph", SHAREPOINT: "SharePoint"}


@dataclass(frozen=True)
class Wanted:
    """One application permission to grant: on which resource, its name and role id."""

    resource: str  # GRAPH | SHAREPOINT
    name: str
    role_id: str
    resource_sp_id: str

    @property
    def label(self) -> str:
        return f"{RESOURCE_NAMES[self.resource]} {self.name}"


@dataclass
class GrantPlan:
    wanted: list[Wanted] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # permissions the tenant's resource does not offer
    conditional: dict[str, str] = field(default_factory=dict)

    def required_resource_access(self) -> list[dict[str, Any]]:
        by_resource: dict[str, list[dict[str, str]]] = {}
        for w in self.wanted:
            by_resource.setdefault(RESOURCE_APP_IDS[w.resource], []).append({"id": w.role_id, "type": "Role"})
        return [{"resourceAppId": app, "resourceAccess": items} for app, items in by_resource.items()]

    def resources(self) -> set[str]:
        return {w.resource for w in self.wanted}


def tier_permissions(playbooks: Sequence[Any], tier: str) -> list[tuple[str, str, str | None]]:
    """(resource, name, condition) of every permission the tier needs."""
    return [(*split(n.permission), n.condition) for n in for_tier(playbooks, tier)]


def resolve(permissions: list[tuple[str, str, str | None]],
            roles: dict[str, tuple[str, dict[str, str]]]) -> GrantPlan:
    """`roles`: resource -> (its service principal id, app role value -> id) as the tenant lists them."""
    plan = GrantPlan()
    for resource, name, condition in permissions:
        if condition:  # only some connectors need it (a group scope): `agent init --update` adds it then
            plan.conditional[f"{RESOURCE_NAMES.get(resource, resource)} {name}"] = condition
            continue
        sp_id, offered = roles.get(resource, ("", {}))
        role_id = offered.get(name)
        if role_id is None:
            plan.unknown.append(f"{RESOURCE_NAMES.get(resource, resource)} {name}")
            continue
        plan.wanted.append(Wanted(resource, name, role_id, sp_id))
    return plan
