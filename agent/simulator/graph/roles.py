"""Graph's second check for delegated calls: the signed-in user's Microsoft Entra roles, where a page asks.

Each API page's "Permissions" section names, besides the delegated permission, the least privileged roles
the signed-in user needs (the rbac-for-apis includes of microsoftgraph/microsoft-graph-docs-contrib).
Global Administrator holds every role permission (entra-docs identity/role-based-access-control/
permissions-reference.md), so it passes every check. App-only tokens skip this check.
"""

from __future__ import annotations

from agent.simulator.graph.errors import denied
from agent.simulator.graph.odata import GraphRequest

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
APPLICATION_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMIN = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_DEVELOPER = "cf1c38e5-3621-4004-a7cb-879624dced7c"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HYBRID_IDENTITY_ADMIN = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
IDENTITY_GOVERNANCE_ADMIN = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e"
DIRECTORY_WRITERS = "9360feb5-f418-4baa-8175-e2a00bac4301"
# rbac-application-apis-write.md: creating an app also needs no role at all for a member while the tenant
# lets members register apps (users-default-permissions.md); updating or deleting an app the user does
# not own needs one of these (the tenant model keeps no owners, so ownership never helps: stricter).
APP_CREATE_ROLES = frozenset({GLOBAL_ADMIN, APPLICATION_DEVELOPER, SECURITY_ADMIN, CLOUD_APPLICATION_ADMIN,
                              APPLICATION_ADMIN})
APP_WRITE_ROLES = frozenset({GLOBAL_ADMIN, SECURITY_ADMIN, CLOUD_APPLICATION_ADMIN, APPLICATION_ADMIN})
# rbac-serviceprincipal-apis-create-update-upsert.md: Application Developer only for apps the user owns
# (no owners in the tenant model, so never).
SP_WRITE_ROLES = frozenset({GLOBAL_ADMIN, APPLICATION_ADMIN, CLOUD_APPLICATION_ADMIN})
# rbac-approleassignments-apis-write.md (appRoleAssignedTo POST and DELETE).
GRANT_WRITE_ROLES = frozenset({GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN, USER_ADMIN, APPLICATION_ADMIN,
                               CLOUD_APPLICATION_ADMIN, HYBRID_IDENTITY_ADMIN, IDENTITY_GOVERNANCE_ADMIN,
                               DIRECTORY_WRITERS})
# The same page: for Microsoft Graph's and Azure AD Graph's app roles, Privileged Role Administrator is the
# least privileged role; the other roles above do not suffice there.
GRAPH_GRANT_ROLES = frozenset({GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN})
GRAPH_RESOURCES = frozenset({"00000003-0000-0000-c000-000000000000", "00000002-0000-0000-c000-000000000000"})
# The tenant's authorizationPolicy defaultUserRolePermissions.allowedToCreateApps, when a scenario sets it.
MEMBERS_CREATE_APPS_KEY = "allowed_to_create_apps"


def caller_roles(req: GraphRequest) -> frozenset[str]:
    """The role template ids the signed-in user holds now (directly or through a group)."""
    user = req.tenant.find_user(str(req.claims.get("oid") or ""))
    return req.tenant.membership(user.id).roles if user is not None else frozenset()


def require_role(req: GraphRequest, roles: frozenset[str]) -> None:
    """403 Authorization_RequestDenied for a delegated caller holding none of `roles`."""
    if req.delegated and not caller_roles(req) & roles:
        raise denied()


def require_app_create(req: GraphRequest) -> None:
    """Members may register apps unless the tenant restricts it; then one of APP_CREATE_ROLES is needed."""
    if req.delegated and req.tenant.extras.get(MEMBERS_CREATE_APPS_KEY, True):
        return
    require_role(req, APP_CREATE_ROLES)
