"""Graph v1.0 servicePrincipals: the objects themselves and their app role assignments (both sides)."""

from __future__ import annotations

from agent.simulator.graph.apps import (
    APP_READ,
    APP_WRITE,
    GRANT_WRITE,
    NOT_FOUND,
    SP_CREATE,
    assignment_json,
    lookup,
    same_item,
    sp_json,
)
from agent.simulator.graph.odata import (
    GraphError,
    GraphRequest,
    GraphRoute,
    Handler,
    Needs,
    Reply,
    collection,
    count_reply,
    entity,
    shape,
)
from agent.simulator.graph.roles import (
    GRANT_WRITE_ROLES,
    GRAPH_GRANT_ROLES,
    GRAPH_RESOURCES,
    SP_WRITE_ROLES,
    require_role,
)
from agent.simulator.state.tenant import ServicePrincipal

_SP = "servicePrincipals/{servicePrincipal-id}"
_SP_BY_APPID = "servicePrincipals(appId='{appId}')"
_SP_E, _GRANT_E = "servicePrincipal", "appRoleAssignment"


def _sp(req: GraphRequest) -> ServicePrincipal:
    tenant = req.tenant
    return lookup(req, tenant.service_principals, tenant.sp_by_app_id, "servicePrincipal_id")


# -- service principals ---------------------------------------------------------------------
def list_sps(req: GraphRequest) -> Reply:
    items = [sp_json(s) for s in req.tenant.service_principals.values()]
    return collection(req, items, "servicePrincipals", filterable=("appId", "displayName", "id"),
                      type_name="ServicePrincipal")


def get_sp(req: GraphRequest) -> Reply:
    return Reply(200, entity(req, "servicePrincipals", shape(req, sp_json(_sp(req)))))


def create_sp(req: GraphRequest) -> Reply:
    require_role(req, SP_WRITE_ROLES)  # rbac-serviceprincipal-apis-create-update-upsert.md (delegated)
    app_id = req.json_body().get("appId")
    if not app_id:
        raise GraphError(400, "Request_BadRequest", "The appId property is required.")
    sp = req.tenant.create_service_principal(str(app_id))
    return Reply(201, entity(req, "servicePrincipals", sp_json(sp)))


def delete_sp(req: GraphRequest) -> Reply:
    req.tenant.delete_service_principal(_sp(req).id)
    return Reply(204)


def list_assignments(req: GraphRequest) -> Reply:
    sp = _sp(req)
    items = [assignment_json(req.tenant, a) for a in req.tenant.app_role_assignments.values()
             if a.principal_id == sp.id]
    # The docs' example context is plain `$metadata#appRoleAssignments`.
    return collection(req, items, "appRoleAssignments")


def list_assigned_to(req: GraphRequest) -> Reply:
    sp = _sp(req)
    items = [assignment_json(req.tenant, a) for a in req.tenant.app_role_assignments.values()
             if a.resource_id == sp.id]
    return collection(req, items, f"servicePrincipals('{sp.id}')/appRoleAssignedTo")


def post_assigned_to(req: GraphRequest) -> Reply:
    resource, body = _sp(req), req.json_body()
    # rbac-approleassignments-apis-write.md (delegated callers); Graph's app roles need more
    require_role(req, GRAPH_GRANT_ROLES if resource.app_id in GRAPH_RESOURCES else GRANT_WRITE_ROLES)
    missing = [p for p in ("principalId", "resourceId", "appRoleId") if not body.get(p)]
    if missing:
        raise GraphError(400, "Request_BadRequest", f"Invalid value specified for property '{missing[0]}' "
                         "of resource 'AppRoleAssignment'.")
    if str(body["resourceId"]).lower() != resource.id.lower():
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'resourceId' of "
                         "resource 'AppRoleAssignment'.")
    principal = req.tenant.service_principals.get(str(body["principalId"]))
    if principal is None:
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(body["principalId"]))
    grant = req.tenant.assign_app_role(principal.id, resource.id, str(body["appRoleId"]).lower())
    # The docs' response names the resource by id in the context, whichever form addressed it.
    return Reply(201, entity(req, f"servicePrincipals('{resource.id}')/appRoleAssignedTo",
                             assignment_json(req.tenant, grant)))


def _delete_assignment(req: GraphRequest, resource_side: bool) -> Reply:
    sp, assignment_id = _sp(req), req.params["appRoleAssignment_id"]
    grant = req.tenant.app_role_assignments.get(assignment_id)
    owner = grant and (grant.resource_id if resource_side else grant.principal_id)
    if grant is None or owner != sp.id:
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(assignment_id))
    req.tenant.delete_app_role_assignment(assignment_id)
    return Reply(204)


def delete_assigned_to(req: GraphRequest) -> Reply:
    return _delete_assignment(req, resource_side=True)


def delete_assignment(req: GraphRequest) -> Reply:
    return _delete_assignment(req, resource_side=False)


def count_sps(req: GraphRequest) -> Reply:
    return count_reply(req, [sp_json(s) for s in req.tenant.service_principals.values()], same_item,
                       ("appId", "displayName", "id"), "ServicePrincipal")


def _both(method: str, suffix: str, handler: Handler, needs: Needs, entity_type: str | None = None,
          delegated: Needs | None = None) -> list[GraphRoute]:
    """A service principal operation the docs address by `/{id}` and by `(appId='...')`."""
    return [GraphRoute(method, base + suffix, handler, needs, entity_type, delegated)
            for base in (_SP, _SP_BY_APPID)]


# `$count` comes first: `servicePrincipals/{servicePrincipal-id}` would otherwise take it as an id.
ROUTES = [
    GraphRoute("GET", "servicePrincipals/$count", count_sps, (APP_READ,)),
    # serviceprincipal-list-permissions.md, serviceprincipal-post-serviceprincipals-permissions.md
    GraphRoute("GET", "servicePrincipals", list_sps, (APP_READ,), _SP_E),
    GraphRoute("POST", "servicePrincipals", create_sp, (SP_CREATE,)),
    # serviceprincipal-get-permissions.md, serviceprincipal-delete.md
    *_both("GET", "", get_sp, (APP_READ,), _SP_E),
    *_both("DELETE", "", delete_sp, (APP_WRITE,)),
    # serviceprincipal-list-approleassignments.md (the page lists only the /{id} form)
    GraphRoute("GET", _SP + "/appRoleAssignments", list_assignments, (APP_READ,), _GRANT_E),
    # serviceprincipal-delete-approleassignments.md
    *_both("DELETE", "/appRoleAssignments/{appRoleAssignment-id}", delete_assignment, (GRANT_WRITE,)),
    # serviceprincipal-list-approleassignedto-permissions.md
    *_both("GET", "/appRoleAssignedTo", list_assigned_to, (APP_READ,), _GRANT_E),
    # serviceprincipal-post-approleassignedto.md: AppRoleAssignment.ReadWrite.All *and* one of
    # Application.Read.All / Directory.Read.All (or a higher one of those, which include reading).
    *_both("POST", "/appRoleAssignedTo", post_assigned_to, (GRANT_WRITE, APP_READ)),
    # serviceprincipal-delete-approleassignedto-permissions.md
    GraphRoute("DELETE", _SP + "/appRoleAssignedTo/{appRoleAssignment-id}", delete_assigned_to,
               (GRANT_WRITE,)),
]
