"""Graph v1.0 for discovering the tenant: /organization, /me and its roles, directory roleAssignments."""

from __future__ import annotations

import uuid

from agent.simulator.graph.directory import USER_DEFAULT, user_json
from agent.simulator.graph.memberships import group_json, role_json
from agent.simulator.graph.odata import (
    EPOCH_CREATED,
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    collection,
    entity,
    shape,
)
from agent.simulator.state.tenant import Tenant, User

# organization-list-permissions.md: delegated User.Read; application Organization.Read.All or Directory.*.
ORG_READ = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
            "Directory.ReadWrite.All")
ORG_READ_DELEGATED = ("User.Read", *ORG_READ)
# user-get-permissions.md (the signed-in user): User.Read is the least privileged.
ME_READ = ("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
           "Directory.Read.All", "Directory.ReadWrite.All")
# user-list-transitivememberof-permissions.md, delegated row.
ME_MEMBER_OF = ("User.Read", "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All",
                "GroupMember.Read.All", "User.Read.All")
# rbacapplication-list-roleassignments-permissions.md.
ROLE_ASSIGNMENTS_READ = ("EntitlementManagement.Read.All", "EntitlementManagement.ReadWrite.All",
                         "Directory.Read.All", "Directory.ReadWrite.All", "RoleManagement.Read.Directory",
                         "RoleManagement.ReadWrite.Directory")
ROLE_ASSIGNMENTS_READ_DELEGATED = (*ROLE_ASSIGNMENTS_READ, "RoleManagement.Read.All")
# The cast names the type in full (user-list-transitivememberof.md examples) or by the `graph` namespace
# alias msgraph-sdk uses; Graph accepts both.
DIRECTORY_ROLE_CASTS = ("microsoft.graph.directoryRole", "graph.directoryRole")
# An app-only token has no signed-in user: Graph refuses /me with 400 (observed wording, e.g.
# microsoftgraph/msgraph-sdk-python issues; no docs page states it).
ME_APP_ONLY = "/me request is only valid with delegated authentication flow."


def organization_json(t: Tenant) -> JSON:
    """The organization resource's properties an admin tool reads (organization.md)."""
    domains = [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d.is_default,
                "isInitial": d.is_initial, "name": d.name, "type": d.authentication_type}
               for d in t.domains.values()]
    return {"id": t.tenant_id, "displayName": str(t.extras.get("organization_name") or t.name.title()),
            "countryLetterCode": "US", "preferredLanguage": "en", "tenantType": "AAD",
            "createdDateTime": EPOCH_CREATED, "verifiedDomains": domains,
            "onPremisesSyncEnabled": any(u.on_premises_sync_enabled for u in t.users.values()) or None}


def list_organization(req: GraphRequest) -> Reply:
    return collection(req, [organization_json(req.tenant)], "organization")


def _me(req: GraphRequest) -> User:
    if not req.delegated:
        raise GraphError(400, "BadRequest", ME_APP_ONLY)
    return req.tenant.user(str(req.claims.get("oid") or ""))


def get_me(req: GraphRequest) -> Reply:
    user = _me(req)
    return Reply(200, entity(req, "users", shape(req, user_json(req.tenant, user), USER_DEFAULT)))


def my_transitive_member_of(req: GraphRequest) -> Reply:
    """Groups and directory roles; the `/microsoft.graph.directoryRole` cast keeps the roles only."""
    user = _me(req)
    member = req.tenant.membership(user.id)
    roles = [role_json(req, r) for r in sorted(member.roles)]
    if req.path.rstrip("/").lower().endswith(tuple(c.lower() for c in DIRECTORY_ROLE_CASTS)):
        return collection(req, roles, "directoryRoles")
    return collection(req, [*(group_json(req, g) for g in sorted(member.groups)), *roles], "directoryObjects")


def assignment_json(t: Tenant, template_id: str, principal_id: str) -> JSON:
    """A unifiedRoleAssignment: built-in roles' roleDefinitionId is their template id."""
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"{t.tenant_id}/{template_id}/{principal_id}")
    return {"id": str(key), "principalId": principal_id, "roleDefinitionId": template_id,
            "directoryScopeId": "/"}


def list_role_assignments(req: GraphRequest) -> Reply:
    t = req.tenant
    items = [assignment_json(t, role, holder) for role, holders in sorted(t.directory_roles.items())
             for holder in holders]
    return collection(req, items, "roleManagement/directory/roleAssignments",
                      filterable=("principalId", "roleDefinitionId", "directoryScopeId", "id"),
                      type_name="UnifiedRoleAssignment")


_NO_APP_CHECK = ()  # the handler answers app-only tokens itself (400), as Graph does for /me
ROUTES = [
    GraphRoute("GET", "organization", list_organization, (ORG_READ,), None, (ORG_READ_DELEGATED,)),
    GraphRoute("GET", "me", get_me, _NO_APP_CHECK, "user", (ME_READ,)),
    GraphRoute("GET", "me/transitiveMemberOf", my_transitive_member_of, _NO_APP_CHECK, None, (ME_MEMBER_OF,)),
    *(GraphRoute("GET", "me/transitiveMemberOf/" + cast, my_transitive_member_of, _NO_APP_CHECK, None,
                 (ME_MEMBER_OF,)) for cast in DIRECTORY_ROLE_CASTS),
    GraphRoute("GET", "roleManagement/directory/roleAssignments", list_role_assignments,
               (ROLE_ASSIGNMENTS_READ,), None, (ROLE_ASSIGNMENTS_READ_DELEGATED,)),
]
