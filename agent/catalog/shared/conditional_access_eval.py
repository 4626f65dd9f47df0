"""How a Conditional Access policy bears on the migration account's password sign-in to Exchange Online.

Schema: https://learn.microsoft.com/en-us/graph/api/resources/conditionalaccesspolicy and the resource pages
it links. Evaluation: exclusions override inclusions, groups cover nested members
(https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-users-groups).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_APPS = frozenset({"All", "Office365", EXCHANGE_APP_ID})
# A connector's password sign-in is a desktop/other client; a browser-only policy does not touch it.
CONNECTOR_CLIENT_TYPES = frozenset({"all", "other", "mobileAppsAndDesktopClients"})

def strings(data: dict[str, Any], key: str) -> list[str]:
    return [str(v) for v in (data.get(key) or [])]


@dataclass(frozen=True)
class Account:
    """The account as Conditional Access sees it; None where its memberships could not be read."""

    user_id: str
    groups: frozenset[str] | None = frozenset()  # transitive group ids
    roles: frozenset[str] | None = frozenset()  # directory role template ids


@dataclass
class Assessment:
    """How one policy bears on the account: the controls that stop it, and what could not be evaluated."""

    controls: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # conditions the agent cannot evaluate

    @property
    def blocks(self) -> bool:
        return bool(self.controls) and not self.unknown


def assess(policy: dict[str, Any], account: Account) -> Assessment:
    """Whether an enforced policy stops this account signing in to Exchange, and what is left unknown."""
    if policy.get("state") != "enabled":
        return Assessment()  # disabled, or report-only (enabledForReportingButNotEnforced)
    conditions = policy.get("conditions") or {}
    apps = conditions.get("applications") or {}
    in_apps = bool(EXCHANGE_APPS & set(strings(apps, "includeApplications")))
    out_apps = bool(EXCHANGE_APPS & set(strings(apps, "excludeApplications")))
    types = set(strings(conditions, "clientAppTypes") or ["all"])
    controls = _controls(policy.get("grantControls") or {})
    if not in_apps or out_apps or not types & CONNECTOR_CLIENT_TYPES or not controls:
        return Assessment()
    scope, unknown = _user_scope(conditions.get("users") or {}, account)
    if scope is False:
        return Assessment()
    unknown += _unevaluable(conditions)
    return Assessment(controls, unknown)


def _controls(grant: dict[str, Any]) -> list[str]:
    controls = [c for c in strings(grant, "builtInControls") if c in ("mfa", "block")]
    if grant.get("authenticationStrength"):
        controls.append("authenticationStrength")  # every strength needs more than a password: MFA
    return controls


def _user_scope(users: dict[str, Any], account: Account) -> tuple[bool | None, list[str]]:
    """True/False when the account is surely in/out of the users condition; None with what is unknown.

    Exclusions override inclusions, and a group covers its nested members
    (https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-users-groups).
    """
    unknown: list[str] = []

    def hit(key: str, held: frozenset[str] | None, what: str) -> bool:
        named = set(strings(users, key))
        if named and held is None:
            unknown.append(f"conditions.users.{key} ({what} unreadable)")
        return bool(held and named & held)

    if account.user_id in strings(users, "excludeUsers"):
        return False, []
    if hit("excludeGroups", account.groups, "group memberships") or \
            hit("excludeRoles", account.roles, "directory roles"):
        return False, []
    if users.get("excludeGuestsOrExternalUsers"):
        unknown.append("conditions.users.excludeGuestsOrExternalUsers")
    include = strings(users, "includeUsers")
    if "All" in include or account.user_id in include:
        return True, unknown
    if hit("includeGroups", account.groups, "group memberships") or \
            hit("includeRoles", account.roles, "directory roles"):
        return True, unknown
    if users.get("includeGuestsOrExternalUsers") or "GuestsOrExternalUsers" in include:
        unknown.append("conditions.users.includeGuestsOrExternalUsers")
    included_unknown = [u for u in unknown if "include" in u]
    return (None if included_unknown else False), unknown


def _unevaluable(conditions: dict[str, Any]) -> list[str]:
    """Conditions the agent cannot evaluate for the connector's sign-in (where it runs, what it runs on,
    its risk): a policy that uses them may or may not apply."""
    out: list[str] = []
    for name, include, exclude in (("locations", "includeLocations", "excludeLocations"),
                                   ("platforms", "includePlatforms", "excludePlatforms")):
        section = conditions.get(name) or {}
        if strings(section, exclude) or set(strings(section, include)) - {"All", "all"}:
            out.append(f"conditions.{name}")
    for name in ("signInRiskLevels", "userRiskLevels"):
        if strings(conditions, name):
            out.append(f"conditions.{name}")
    if strings(conditions.get("applications") or {}, "includeAuthenticationContextClassReferences"):
        out.append("conditions.applications.includeAuthenticationContextClassReferences")
    if (conditions.get("devices") or {}).get("deviceFilter"):
        out.append("conditions.devices.deviceFilter")
    return out


def policy_controls(policy: dict[str, Any], user_id: str, groups: set[str],
                    roles: frozenset[str] = frozenset()) -> list[str]:
    """The controls with which an enforced policy surely stops this account ([] if none or unsure)."""
    verdict = assess(policy, Account(user_id, frozenset(groups), roles))
    return verdict.controls if verdict.blocks else []
