"""Graph v1.0 Conditional Access policies and the security defaults policy."""

from __future__ import annotations

from typing import Any

from .graph_odata import (
    EPOCH_CREATED,
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    collection,
    iso,
    shape,
)
from .state import SECURITY_DEFAULTS_ID, ConditionalAccessPolicy, now

POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
CA_WRITE = (("Policy.ReadWrite.ConditionalAccess",), ("Policy.Read.All",))
DEFAULTS_READ = ("Policy.Read.All",)
DEFAULTS_WRITE = ("Policy.ReadWrite.SecurityDefaults", "Policy.ReadWrite.ConditionalAccess")
CA_STATES = {"enabled", "disabled", "enabledForReportingButNotEnforced"}
# conditions.users collections the tenant model keeps, by Graph property name.
USER_FIELDS = {"includeUsers": "include_users", "excludeUsers": "exclude_users",
               "includeGroups": "include_groups", "excludeGroups": "exclude_groups"}
DEFAULTS_DESCRIPTION = (
    "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When "
    "enabled, these recommendations will be automatically enforced in your organization. Administrators "
    "and users will be better protected from common identity related attacks.")


def policy_json(policy: ConditionalAccessPolicy) -> JSON:
    users = {"includeUsers": list(policy.include_users), "excludeUsers": list(policy.exclude_users),
             "includeGroups": list(policy.include_groups), "excludeGroups": list(policy.exclude_groups),
             "includeRoles": [], "excludeRoles": []}
    apps = {"includeApplications": list(policy.include_applications), "excludeApplications": []}
    return {"id": policy.id, "displayName": policy.display_name, "state": policy.state,
            "createdDateTime": EPOCH_CREATED, "modifiedDateTime": iso(policy.modified),
            "conditions": {"users": users, "applications": apps,
                           "clientAppTypes": list(policy.client_app_types)},
            "grantControls": {"operator": "OR", "builtInControls": list(policy.built_in_controls),
                              "customAuthenticationFactors": [], "termsOfUse": []}}


def list_policies(req: GraphRequest) -> Reply:
    items = [policy_json(p) for p in req.tenant.ca_policies.values()]
    return collection(req, items, "identity/conditionalAccess/policies",
                      filterable=("displayName", "id", "state"), type_name="ConditionalAccessPolicy")


def get_policy(req: GraphRequest) -> Reply:
    return Reply(200, shape(req, policy_json(req.tenant.ca_policy(req.params["conditionalAccessPolicy_id"]))))


def patch_policy(req: GraphRequest) -> Reply:
    """Merge the given fields; each given collection replaces the stored one wholesale, as Graph does."""
    policy, body = req.tenant.ca_policy(req.params["conditionalAccessPolicy_id"]), req.json_body()
    updates: dict[str, Any] = {}
    for prop, value in body.items():
        if prop in ("displayName", "state"):
            updates.update(_top_level(prop, value))
        elif prop == "conditions":
            updates.update(_user_conditions(value))
        elif not prop.startswith("@odata."):
            raise GraphError(400, "BadRequest", f"Invalid property '{prop}'.")
    for attr, value in updates.items():
        setattr(policy, attr, value)
    policy.modified = now()
    req.tenant.touch("update-ca-policy")
    return Reply(204)


def _top_level(prop: str, value: Any) -> dict[str, Any]:
    if prop == "state":
        if value not in CA_STATES:
            raise GraphError(400, "BadRequest", f"Invalid value '{value}' for property 'state'.")
        return {"state": value}
    return {"display_name": str(value)}


def _user_conditions(conditions: Any) -> dict[str, Any]:
    if not isinstance(conditions, dict):
        raise GraphError(400, "BadRequest", "Invalid value for property 'conditions'.")
    others = [k for k in conditions if k not in ("users", "@odata.type")]
    if others:
        raise GraphError(400, "BadRequest", f"Updating conditions.{others[0]} is not supported.")
    users = conditions.get("users") or {}
    updates: dict[str, Any] = {}
    for prop, value in users.items():
        if prop in USER_FIELDS:
            if not isinstance(value, list):
                raise GraphError(400, "BadRequest", f"Invalid value for property '{prop}'.")
            updates[USER_FIELDS[prop]] = [str(v) for v in value]
        elif prop in ("includeRoles", "excludeRoles") and not value:
            continue  # the tenant model keeps no directory roles; empty lists are a no-op
        elif not prop.startswith("@odata."):
            raise GraphError(400, "BadRequest", f"Updating conditions.users.{prop} is not supported.")
    return updates


def defaults_json(enabled: bool) -> JSON:
    return {"id": SECURITY_DEFAULTS_ID, "displayName": "Security Defaults",
            "description": DEFAULTS_DESCRIPTION, "isEnabled": enabled}


def get_defaults(req: GraphRequest) -> Reply:
    return Reply(200, shape(req, defaults_json(req.tenant.security_defaults_enabled)))


def patch_defaults(req: GraphRequest) -> Reply:
    body = req.json_body()
    if not isinstance(body.get("isEnabled"), bool):
        raise GraphError(400, "BadRequest", "Invalid value for property 'isEnabled'.")
    req.tenant.set_security_defaults(body["isEnabled"])
    return Reply(204)


_POLICY = "identity/conditionalAccess/policies/{conditionalAccessPolicy-id}"
_DEFAULTS = "policies/identitySecurityDefaultsEnforcementPolicy"

ROUTES = [
    GraphRoute("GET", "identity/conditionalAccess/policies", list_policies, (POLICY_READ,)),
    GraphRoute("GET", _POLICY, get_policy, (POLICY_READ,)),
    GraphRoute("PATCH", _POLICY, patch_policy, CA_WRITE),
    GraphRoute("GET", _DEFAULTS, get_defaults, (DEFAULTS_READ,)),
    GraphRoute("PATCH", _DEFAULTS, patch_defaults, (DEFAULTS_WRITE,)),
]
