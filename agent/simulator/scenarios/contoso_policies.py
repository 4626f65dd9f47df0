"""The demo tenant's groups, directory roles and the Conditional Access policies scoped by them."""

from __future__ import annotations

from collections.abc import Callable

from agent.simulator.state.policies import EXCHANGE_ADMIN_ROLE, ConditionalAccessPolicy
from agent.simulator.state.tenant import Tenant

GLOBAL_ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"
SHAREPOINT_ADMIN_ROLE = "f28a1f50-f6e7-4571-818b-6a12f2af6b6c"
PHISHING_RESISTANT = "00000000-0000-0000-0000-000000000004"  # built-in authentication strength
REPORT_ONLY = "enabledForReportingButNotEnforced"


def add_scoped_policies(t: Tenant, uid: Callable[[str, str], str], admin: str, members: list[str]) -> None:
    """Groups (Sales nested in MFA pilot), the admin's Global Administrator role, and four policies: by
    group and by role (enforced; the account is in neither), by authentication strength and by location
    (report-only). The scenarios break them by adding the account, or by switching a policy on."""
    pilot, sales = uid("group", "mfa-pilot"), uid("group", "sales")
    t.groups.update({pilot: [sales], sales: list(members)})
    t.group_names.update({pilot: "MFA pilot", sales: "Sales"})
    t.directory_roles[GLOBAL_ADMIN_ROLE] = [admin]
    policies = {
        "group_policy_id": ConditionalAccessPolicy(
            uid("policy", "pilot"), "Require MFA for the MFA pilot group", "enabled", include_groups=[pilot]),
        "role_policy_id": ConditionalAccessPolicy(
            uid("policy", "roles"), "Require MFA for administrators", "enabled", exclude_users=[admin],
            include_roles=[GLOBAL_ADMIN_ROLE, EXCHANGE_ADMIN_ROLE, SHAREPOINT_ADMIN_ROLE]),
        "strength_policy_id": ConditionalAccessPolicy(
            uid("policy", "strength"), "Require phishing-resistant MFA for all users", REPORT_ONLY,
            include_users=["All"], exclude_users=[admin], built_in_controls=[],
            authentication_strength=PHISHING_RESISTANT),
        "location_policy_id": ConditionalAccessPolicy(
            uid("policy", "location"), "Require MFA outside trusted locations", REPORT_ONLY,
            include_users=["All"], exclude_users=[admin],
            locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}),
    }
    for key, policy in policies.items():
        t.ca_policies[policy.id] = policy
        t.extras[key] = policy.id
    t.extras.update(mfa_group_id=sales, mfa_pilot_group_id=pilot)
