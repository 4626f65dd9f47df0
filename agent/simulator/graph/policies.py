"""Graph v1.0 Conditional Access policies and the security defaults policy."""

from __future__ import annotations

from agent.simulator.graph.odata import (
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
from agent.simulator.graph.policies_body import conditions_json, grant_json, policy_changes
from agent.simulator.state.tenant import SECURITY_DEFAULTS_ID, ConditionalAccessPolicy

POLICY_READ = ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
# Update needs all three, as the permission table of conditionalaccesspolicy-update lists them
# (api-reference/v1.0/includes/permissions/conditionalaccesspolicy-update-permissions.md); a ReadWrite
# permission includes its Read (https://learn.microsoft.com/en-us/graph/permissions-reference).
CA_WRITE = (("Policy.ReadWrite.ConditionalAccess",), ("Policy.Read.All",),
            ("Application.Read.All", "Application.ReadWrite.All"))
DEFAULTS_READ = ("Policy.Read.All",)
DEFAULTS_WRITE = ("Policy.ReadWrite.SecurityDefaults", "Policy.ReadWrite.ConditionalAccess")
DEFAULTS_DESCRIPTION = (
    "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When "
    "enabled, these recommendations will be automatically enforced in your organization. Administrators "
    "and users will be better protected from common identity related attacks.")


def policy_json(policy: ConditionalAccessPolicy) -> JSON:
    """The full conditionalAccessPolicy (conditionalaccesspolicy-get.md); unset conditions are null/[]."""
    return {"id": policy.id, "templateId": None, "displayName": policy.display_name,
            "createdDateTime": EPOCH_CREATED, "modifiedDateTime": iso(policy.modified), "state": policy.state,
            "conditions": conditions_json(policy), "grantControls": grant_json(policy),
            "sessionControls": policy.session_controls}


def list_policies(req: GraphRequest) -> Reply:
    items = [policy_json(p) for p in req.tenant.ca_policies.values()]
    return collection(req, items, "identity/conditionalAccess/policies",
                      filterable=("displayName", "id", "state"), type_name="ConditionalAccessPolicy")


def get_policy(req: GraphRequest) -> Reply:
    policy = req.tenant.ca_policy(req.params["conditionalAccessPolicy_id"])
    return Reply(200, shape(req, policy_json(policy)))


def patch_policy(req: GraphRequest) -> Reply:
    """Merge the given properties; each given collection replaces the stored one wholesale, as Graph does
    (conditionalaccesspolicy-update.md: properties left out keep their values)."""
    policy = req.tenant.ca_policy(req.params["conditionalAccessPolicy_id"])
    req.tenant.update_ca_policy(policy.id, policy_changes(req.json_body()))
    return Reply(204)


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
