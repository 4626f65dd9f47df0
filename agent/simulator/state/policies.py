"""Conditional Access: the policy model (Graph's conditionalAccessPolicy), memberships, sign-in evaluation.

Resource pages followed: https://learn.microsoft.com/en-us/graph/api/resources/conditionalaccesspolicy and the
pages it links (conditionalAccessConditionSet, conditionalAccessUsers, conditionalAccessApplications,
conditionalAccessGrantControls, conditionalAccessLocations, conditionalAccessPlatforms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.simulator.state.base import SimError, now

if TYPE_CHECKING:
    from agent.simulator.state.base import User

_EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
_SHAREPOINT = "00000003-0000-0ff1-ce00-000000000000"
# The Office 365 app suite's members the simulator serves (Exchange Online, SharePoint Online):
# https://learn.microsoft.com/en-us/entra/identity/conditional-access/reference-office-365-application-contents
OFFICE365 = frozenset({_EXCHANGE, _SHAREPOINT})
# Built-in directory role templates (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/
# permissions-reference); includeRoles/excludeRoles name roles by these template ids.
ROLE_TEMPLATES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "cf1c38e5-3621-4004-a7cb-879624dced7c": "Application Developer",
}
EXCHANGE_ADMIN_ROLE = "29232cdf-9323-42fd-ade2-1d097af3e4de"
# Built-in authentication strengths (https://learn.microsoft.com/en-us/entra/identity/authentication/
# concept-authentication-strengths); each requires MFA (requirementsSatisfied "mfa").
AUTH_STRENGTHS = {
    "00000000-0000-0000-0000-000000000002": "Multifactor authentication",
    "00000000-0000-0000-0000-000000000003": "Passwordless MFA",
    "00000000-0000-0000-0000-000000000004": "Phishing-resistant MFA",
}
DESKTOP = "mobileAppsAndDesktopClients"
# Grant controls a password-only (ROPC) sign-in can never satisfy, besides mfa and block.
UNSATISFIABLE = frozenset({"compliantDevice", "domainJoinedDevice", "approvedApplication",
                           "compliantApplication", "passwordChange"})


@dataclass
class ConditionalAccessPolicy:
    id: str
    display_name: str
    state: str  # enabled | disabled | enabledForReportingButNotEnforced
    include_users: list[str] = field(default_factory=list)  # "All", "None", "GuestsOrExternalUsers" or ids
    exclude_users: list[str] = field(default_factory=list)
    include_groups: list[str] = field(default_factory=list)
    exclude_groups: list[str] = field(default_factory=list)
    include_roles: list[str] = field(default_factory=list)  # directory role template ids
    exclude_roles: list[str] = field(default_factory=list)
    include_guests: dict[str, Any] | None = None  # conditionalAccessGuestsOrExternalUsers
    exclude_guests: dict[str, Any] | None = None
    include_applications: list[str] = field(default_factory=lambda: ["All"])
    exclude_applications: list[str] = field(default_factory=list)
    include_user_actions: list[str] = field(default_factory=list)
    include_auth_contexts: list[str] = field(default_factory=list)
    client_app_types: list[str] = field(default_factory=lambda: ["all"])
    locations: dict[str, list[str]] | None = None  # {"includeLocations": [...], "excludeLocations": [...]}
    platforms: dict[str, list[str]] | None = None  # {"includePlatforms": [...], "excludePlatforms": [...]}
    sign_in_risk_levels: list[str] = field(default_factory=list)
    user_risk_levels: list[str] = field(default_factory=list)
    service_principal_risk_levels: list[str] = field(default_factory=list)
    operator: str = "OR"
    built_in_controls: list[str] = field(default_factory=lambda: ["mfa"])  # mfa | block | ...
    authentication_strength: str | None = None  # id of a built-in authentication strength
    custom_authentication_factors: list[str] = field(default_factory=list)
    terms_of_use: list[str] = field(default_factory=list)
    session_controls: dict[str, Any] | None = None
    modified: float = field(default_factory=now)

    def applies_to(self, user: User, resource_app_id: str, client_app_type: str = DESKTOP,
                   groups: frozenset[str] = frozenset(), roles: frozenset[str] = frozenset()) -> bool:
        """Whether this enforced policy covers the sign-in (report-only and disabled policies never do)."""
        if self.state != "enabled":
            return False
        # Locations, platforms and risk levels are not evaluated: the sign-in comes from loopback with a
        # library's user agent, so its network location is no named location and its platform cannot be
        # identified; the simulator has no risk engine. Each such condition is therefore taken as met (the
        # policy applies), the stricter choice. Docs: "Any location" includes every IP address, and the
        # platform is read from the unverified user agent, default all platforms
        # (https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-conditions).
        return (self._users_in(user.id, groups, roles) and self._apps_in(resource_app_id)
                and ("all" in self.client_app_types or client_app_type in self.client_app_types))

    def _users_in(self, user_id: str, groups: frozenset[str], roles: frozenset[str]) -> bool:
        # Exclusions override inclusions; a group applies to its nested members
        # (https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-users-groups).
        # Every simulated user is a member (userType Member), so guest selections neither include nor exclude.
        if (user_id in self.exclude_users or groups & set(self.exclude_groups)
                or roles & set(self.exclude_roles)):
            return False
        return ("All" in self.include_users or user_id in self.include_users
                or bool(groups & set(self.include_groups)) or bool(roles & set(self.include_roles)))

    def _apps_in(self, app_id: str) -> bool:
        def named(apps: list[str]) -> bool:
            return app_id in apps or ("Office365" in apps and app_id in OFFICE365)

        # User actions and authentication contexts are never part of a plain token request for a resource.
        return ("All" in self.include_applications or named(self.include_applications)) \
            and not named(self.exclude_applications)

    def grant_error(self) -> int | None:
        """The AADSTS code a password (ROPC) sign-in meets under this policy; None when it passes."""
        # A password grant cannot perform MFA (it is refused, not prompted) nor carry device or app state:
        # https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth-ropc. With operator OR or AND
        # alike, no control of this policy can be met.
        controls = set(self.built_in_controls)
        if "block" in controls:
            return 53003
        if "mfa" in controls or self.authentication_strength:
            return 50076
        if controls & UNSATISFIABLE or self.terms_of_use or self.custom_authentication_factors:
            return 53003  # undocumented for ROPC: the stricter choice, refused as blocked by policy
        return None


@dataclass(frozen=True)
class Membership:
    """What a user belongs to, transitively: groups (through nested groups too) and directory roles."""

    groups: frozenset[str]
    roles: frozenset[str]  # role template ids, held directly or through a role-assignable group


class PolicyStore:
    """The Tenant's Conditional Access, group and role operations (its dataclass holds the fields)."""

    ca_policies: dict[str, ConditionalAccessPolicy]
    groups: dict[str, list[str]]  # group id -> member ids (users, or nested groups)
    group_names: dict[str, str]
    directory_roles: dict[str, list[str]]  # role template id -> principal ids (users or groups)

    if TYPE_CHECKING:
        def touch(self, op: str) -> None: ...

    def ca_policy(self, policy_id: str) -> ConditionalAccessPolicy:
        policy = self.ca_policies.get(policy_id)
        if policy is None:
            raise SimError(404, "ResourceNotFound", f"Policy '{policy_id}' was not found.")
        return policy

    def set_ca_exclusions(self, policy_id: str, exclude_users: list[str]) -> ConditionalAccessPolicy:
        return self.update_ca_policy(policy_id, {"exclude_users": list(exclude_users)})

    def update_ca_policy(self, policy_id: str, changes: dict[str, Any]) -> ConditionalAccessPolicy:
        policy = self.ca_policy(policy_id)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.modified = now()
        self.touch("update-ca-policy")
        return policy

    def add_group_member(self, group_id: str, member_id: str) -> None:
        members = self.groups.setdefault(group_id, [])
        if member_id not in members:
            members.append(member_id)
        self.touch("add-group-member")

    def assign_directory_role(self, template_id: str, principal_id: str) -> None:
        holders = self.directory_roles.setdefault(template_id, [])
        if principal_id not in holders:
            holders.append(principal_id)
        self.touch("assign-directory-role")

    def membership(self, user_id: str) -> Membership:
        groups: set[str] = set()
        todo = [user_id]
        while todo:
            member = todo.pop()
            for gid, members in self.groups.items():
                if member in members and gid not in groups:
                    groups.add(gid)
                    todo.append(gid)
        principals = groups | {user_id}
        roles = {r for r, holders in self.directory_roles.items() if principals & set(holders)}
        return Membership(frozenset(groups), frozenset(roles))

    def blocking_policies(self, user: User, resource_app_id: str,
                          client_app_type: str = DESKTOP) -> list[ConditionalAccessPolicy]:
        """The enforced policies covering this sign-in."""
        member = self.membership(user.id)
        return [p for p in self.ca_policies.values()
                if p.applies_to(user, resource_app_id, client_app_type, member.groups, member.roles)]


def ropc_client_app_type(appidacr: str) -> str:
    """The clientAppTypes value of a password-grant sign-in: a public client is a desktop client, while a
    service registered as an OAuth confidential client counts as browser
    (https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-conditions)."""
    return DESKTOP if appidacr == "0" else "browser"
