"""The agent's own app registration as data: the permissions a tier of playbooks needs, as a
`requiredResourceAccess` manifest, Azure CLI commands, and the README's permission table.

Tiers follow heal's risk levels: `read` (what the detectors read with), `fix` (and the fixers up to medium
risk), `fix-high` (every fixer). App role ids: https://learn.microsoft.com/en-us/graph/permissions-reference
(Microsoft Graph) and the app roles of Office 365 SharePoint Online (00000003-0000-0ff1-ce00-000000000000) as
its service principal lists them; requiredResourceAccess:
https://learn.microsoft.com/en-us/graph/api/resources/requiredresourceaccess
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.model import Risk
from agent.playbook.permissions import GRAPH, SHAREPOINT, split

TIERS = ("read", "fix", "fix-high")
TIER_RISK = {"read": None, "fix": Risk.MEDIUM, "fix-high": Risk.HIGH}
RESOURCE_APP_IDS = {GRAPH: "00000003-0000-0000-c000-000000000000",
                    SHAREPOINT: "00000003-0000-0ff1-ce00-000000000000"}
ROLE_IDS: dict[str, dict[str, str]] = {
    GRAPH: {
        "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "Domain.Read.All": "dbb9058a-0e50-45d7-ae91-66909b5d4664",
        "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
        "LicenseAssignment.ReadWrite.All": "5facf0c1-8979-4e95-abcf-ff3d079771c0",
        "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
        "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
        "Policy.ReadWrite.ConditionalAccess": "01c0a623-fc9b-48e9-b794-0756f8e8f067",
        "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
        "Sites.FullControl.All": "a82116e5-55eb-4c41-a434-62fe8a61c773",
        "Sites.Read.All": "332a536c-c7ef-4017-ab91-336970924f0d",
        "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
        "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
        "User-PasswordProfile.ReadWrite.All": "cc117bb9-00cf-4eb8-b580-ea2a878fe8f7",
    },
    SHAREPOINT: {"Sites.FullControl.All": "678536fe-1083-478a-9c59-b99265e6b0d3"},
}


@dataclass
class Need:
    """One permission, the steps that declare it, the lowest tier that needs it, and any condition."""

    permission: str
    users: list[str] = field(default_factory=list)
    tier: str = "fix-high"
    condition: str | None = None  # only needed when ... (a conditional permission)


def _tier_of(step: str, risk: Risk | None) -> str:
    if step == "detect":
        return "read"
    return "fix" if risk is not None and risk.rank <= Risk.MEDIUM.rank else "fix-high"


def needs(playbooks: Sequence[Any]) -> list[Need]:
    """Every declared permission (conditional ones too), sorted by resource and name."""
    found: dict[str, Need] = {}
    for pb in playbooks:
        steps = [("detect", pb.detector_cls)] + ([("fix", pb.fixer_cls)] if pb.fixer_cls else [])
        for step, cls in steps:
            tier = _tier_of(step, pb.risk)
            declared = {p: None for p in getattr(cls, "permissions", ())}
            declared |= dict(getattr(cls, "conditional_permissions", {}))
            for perm, condition in declared.items():
                need = found.setdefault(perm, Need(perm, tier=tier, condition=condition))
                need.users.append(f"{pb.id} ({step})")
                if TIERS.index(tier) < TIERS.index(need.tier):
                    need.tier = tier
                if condition is None:
                    need.condition = None  # someone needs it always
    return sorted(found.values(), key=lambda n: (split(n.permission)[0] != GRAPH, split(n.permission)))


def for_tier(playbooks: Sequence[Any], tier: str) -> list[Need]:
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; valid: {', '.join(TIERS)}")
    return [n for n in needs(playbooks) if TIERS.index(n.tier) <= TIERS.index(tier)]


def manifest(playbooks: Sequence[Any], tier: str, app_id: str = "<APP_ID>") -> dict[str, Any]:
    """requiredResourceAccess for the tier, the Azure CLI commands that grant it, and what is conditional."""
    chosen = for_tier(playbooks, tier)
    access: dict[str, list[dict[str, str]]] = {}
    for need in chosen:
        resource, name = split(need.permission)
        access.setdefault(resource, []).append({"id": ROLE_IDS[resource][name], "type": "Role"})
    required = [{"resourceAppId": RESOURCE_APP_IDS[r], "resourceAccess": items}
                for r, items in access.items()]
    cli = [f"az ad app permission add --id {app_id} --api {RESOURCE_APP_IDS[r]} --api-permissions "
           + " ".join(f"{item['id']}=Role" for item in items) for r, items in access.items()]
    cli.append(f"az ad app permission admin-consent --id {app_id}")
    return {"tier": tier, "permissions": [n.permission for n in chosen],
            "conditional": {n.permission: n.condition for n in chosen if n.condition},
            "requiredResourceAccess": required, "azure_cli": cli}


def readme_table(playbooks: Sequence[Any]) -> str:
    """The README's table of the agent's own application permissions (a test keeps the two equal)."""
    lines = ["| permission | resource | lowest tier | needed by |", "|---|---|---|---|"]
    for need in needs(playbooks):
        resource, name = split(need.permission)
        by = ", ".join(sorted(set(need.users)))
        when = f" (only when {need.condition})" if need.condition else ""
        lines.append(f"| {name} | {'Microsoft Graph' if resource == GRAPH else 'SharePoint'} | {need.tier} | "
                     f"{by}{when} |")
    return "\n".join(lines)
