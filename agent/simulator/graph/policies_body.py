"""conditionalAccessPolicy JSON both ways: the stored policy as Graph renders it, and a PATCH body as changes.

Property names and enumerations from the resource pages under
https://learn.microsoft.com/en-us/graph/api/resources/conditionalaccesspolicy
(conditionalAccessConditionSet, conditionalAccessUsers, conditionalAccessApplications,
conditionalAccessGrantControls, conditionalAccessLocations, conditionalAccessPlatforms,
conditionalAccessSessionControls).
"""

from __future__ import annotations

from typing import Any

from agent.simulator.graph.odata import EPOCH_CREATED, JSON, GraphError
from agent.simulator.state.policies import AUTH_STRENGTHS, ConditionalAccessPolicy

STATES = {"enabled", "disabled", "enabledForReportingButNotEnforced"}
CLIENT_APP_TYPES = {"all", "browser", "mobileAppsAndDesktopClients", "exchangeActiveSync", "easSupported",
                    "other"}
RISK_LEVELS = {"low", "medium", "high", "hidden", "none", "unknownFutureValue"}
PLATFORMS = {"android", "iOS", "windows", "windowsPhone", "macOS", "linux", "all", "unknownFutureValue"}
CONTROLS = {"block", "mfa", "compliantDevice", "domainJoinedDevice", "approvedApplication",
            "compliantApplication", "passwordChange", "unknownFutureValue"}
# Graph property -> model attribute, for the string collections PATCH replaces wholesale.
USERS = {"includeUsers": "include_users", "excludeUsers": "exclude_users", "includeGroups": "include_groups",
         "excludeGroups": "exclude_groups", "includeRoles": "include_roles", "excludeRoles": "exclude_roles"}
GUESTS = {"includeGuestsOrExternalUsers": "include_guests", "excludeGuestsOrExternalUsers": "exclude_guests"}
APPS = {"includeApplications": "include_applications", "excludeApplications": "exclude_applications",
        "includeUserActions": "include_user_actions",
        "includeAuthenticationContextClassReferences": "include_auth_contexts"}
RISKS = {"signInRiskLevels": "sign_in_risk_levels", "userRiskLevels": "user_risk_levels",
         "servicePrincipalRiskLevels": "service_principal_risk_levels"}
GRANT_LISTS = {"customAuthenticationFactors": "custom_authentication_factors", "termsOfUse": "terms_of_use"}
LOCATION_KEYS = ("includeLocations", "excludeLocations")
PLATFORM_KEYS = ("includePlatforms", "excludePlatforms")


# -- rendering ------------------------------------------------------------------------------------
def conditions_json(p: ConditionalAccessPolicy) -> JSON:
    users: JSON = {prop: list(getattr(p, attr)) for prop, attr in USERS.items()}
    users.update({prop: getattr(p, attr) for prop, attr in GUESTS.items()})
    apps: JSON = {prop: list(getattr(p, attr)) for prop, attr in APPS.items()}
    apps["applicationFilter"] = None
    body: JSON = {prop: list(getattr(p, attr)) for prop, attr in RISKS.items()}
    body.update({"clientAppTypes": list(p.client_app_types), "platforms": p.platforms,
                 "locations": p.locations, "devices": None, "clientApplications": None,
                 "applications": apps, "users": users})
    return body


def grant_json(p: ConditionalAccessPolicy) -> JSON | None:
    """null for a policy without grant controls (session controls only), as Graph renders it."""
    if not (p.built_in_controls or p.authentication_strength or p.terms_of_use
            or p.custom_authentication_factors):
        return None
    return {"operator": p.operator, "builtInControls": list(p.built_in_controls),
            "customAuthenticationFactors": list(p.custom_authentication_factors),
            "termsOfUse": list(p.terms_of_use),
            "authenticationStrength": strength_json(p.authentication_strength)}


def strength_json(strength_id: str | None) -> JSON | None:
    """A built-in authenticationStrengthPolicy (resources/authenticationstrengthpolicy.md).

    Its requirementsSatisfied ("mfa") is left out: msgraph-sdk reads that flags enum as a collection and
    writes it back as one value, so it would not survive the SDK's round trip the contract tests check."""
    if strength_id is None:
        return None
    return {"id": strength_id, "createdDateTime": EPOCH_CREATED, "modifiedDateTime": EPOCH_CREATED,
            "displayName": AUTH_STRENGTHS[strength_id], "description": "", "policyType": "builtIn",
            "allowedCombinations": ["windowsHelloForBusiness", "fido2"]}


# -- PATCH body -----------------------------------------------------------------------------------
def policy_changes(body: JSON) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for prop, value in _properties(body, "").items():
        if prop == "state":
            changes["state"] = _enum(value, STATES, prop)
        elif prop == "displayName":
            changes["display_name"] = _string(value, prop)
        elif prop == "conditions":
            changes.update(_conditions(value))
        elif prop == "grantControls":
            changes.update(_grant(value))
        elif prop == "sessionControls":
            changes["session_controls"] = None if value is None else _properties(value, "sessionControls.")
        elif prop not in ("id", "createdDateTime", "modifiedDateTime", "templateId"):
            raise _bad(f"Invalid property '{prop}'.")
    return changes


def _conditions(value: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for prop, item in _properties(value, "conditions.").items():
        if prop == "users":
            changes.update(_section(item, "conditions.users.", USERS, GUESTS))
        elif prop == "applications":
            changes.update(_section(item, "conditions.applications.", APPS, {"applicationFilter": ""}))
        elif prop == "clientAppTypes":
            changes["client_app_types"] = [_enum(v, CLIENT_APP_TYPES, prop) for v in _strings(item, prop)]
        elif prop in RISKS:
            changes[RISKS[prop]] = [_enum(v, RISK_LEVELS, prop) for v in _strings(item, prop)]
        elif prop == "locations":
            changes["locations"] = _pair(item, prop, LOCATION_KEYS, None)
        elif prop == "platforms":
            changes["platforms"] = _pair(item, prop, PLATFORM_KEYS, PLATFORMS)
        elif prop not in ("devices", "clientApplications") or item is not None:
            raise _bad(f"Updating conditions.{prop} is not supported.")  # not modelled: refuse, never drop
    return changes


def _section(value: Any, where: str, lists: dict[str, str], objects: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for prop, item in _properties(value, where).items():
        if prop in lists:
            changes[lists[prop]] = _strings(item, prop)
        elif prop in objects and item is None:
            if objects[prop]:
                changes[objects[prop]] = None
        elif objects.get(prop):
            changes[objects[prop]] = _properties(item, f"{where}{prop}.")
        else:
            raise _bad(f"Invalid property '{where}{prop}'.")
    return changes


def _grant(value: Any) -> dict[str, Any]:
    if value is None:  # removes every grant control
        return {"built_in_controls": [], "authentication_strength": None, "terms_of_use": [],
                "custom_authentication_factors": []}
    changes: dict[str, Any] = {}
    for prop, item in _properties(value, "grantControls.").items():
        if prop == "operator":
            changes["operator"] = _enum(item, {"AND", "OR"}, prop)
        elif prop == "builtInControls":
            changes["built_in_controls"] = [_enum(v, CONTROLS, prop) for v in _strings(item, prop)]
        elif prop in GRANT_LISTS:
            changes[GRANT_LISTS[prop]] = _strings(item, prop)
        elif prop == "authenticationStrength":
            changes["authentication_strength"] = _strength(item)
        else:
            raise _bad(f"Invalid property 'grantControls.{prop}'.")
    return changes


def _strength(value: Any) -> str | None:
    if value is None:
        return None
    strength_id = _properties(value, "grantControls.authenticationStrength.").get("id")
    if strength_id not in AUTH_STRENGTHS:  # the simulated tenant holds the built-in strengths only
        raise _bad(f"Invalid value '{strength_id}' for property 'grantControls.authenticationStrength.id'.")
    return str(strength_id)


def _pair(value: Any, where: str, keys: tuple[str, str],
          allowed: set[str] | None) -> dict[str, list[str]] | None:
    if value is None:
        return None
    given = _properties(value, f"conditions.{where}.")
    unknown = set(given) - set(keys)
    if unknown:
        raise _bad(f"Invalid property 'conditions.{where}.{sorted(unknown)[0]}'.")
    pair = {k: _strings(given.get(k) or [], k) for k in keys}
    if allowed is not None:
        for k in keys:
            pair[k] = [_enum(v, allowed, k) for v in pair[k]]
    return pair


# -- value checks ---------------------------------------------------------------------------------
def _properties(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"Invalid value for property '{where.rstrip('.') or 'body'}'.")
    return {k: v for k, v in value.items() if not k.startswith("@odata.") and "@odata." not in k}


def _strings(value: Any, prop: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"Invalid value for property '{prop}'.")
    return list(value)


def _string(value: Any, prop: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"Invalid value for property '{prop}'.")
    return value


def _enum(value: Any, allowed: set[str], prop: str) -> str:
    if value not in allowed:
        raise _bad(f"Invalid value '{value}' for property '{prop}'.")
    return str(value)


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)
