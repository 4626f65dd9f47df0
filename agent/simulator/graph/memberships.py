"""Graph v1.0 `users/{id}/transitiveMemberOf`: a user's groups and directory roles, nested ones too."""

from __future__ import annotations

import uuid

from agent.simulator.graph.odata import JSON, GraphRequest, GraphRoute, Reply, collection
from agent.simulator.state.policies import ROLE_TEMPLATES

# user-list-transitivememberof.md: User.Read.All is the least privileged application permission.
MEMBER_OF_READ = ("User.Read.All", "User.ReadWrite.All", "GroupMember.Read.All", "Group.Read.All",
                  "Directory.Read.All", "Directory.ReadWrite.All")
# Without a permission to read a derived type, its objects come back with their type and id only
# (https://learn.microsoft.com/en-us/graph/permissions-overview#limited-information-returned-for-inaccessible-member-objects).
GROUP_READ = {"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All"}
ROLE_READ = {"RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
             "Directory.ReadWrite.All"}


def role_object_id(tenant_id: str, template_id: str) -> str:
    """A directoryRole's object id: per tenant, unlike its roleTemplateId."""
    return str(uuid.uuid5(uuid.UUID(tenant_id), template_id)) if _is_guid(tenant_id) else template_id


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def group_json(req: GraphRequest, group_id: str) -> JSON:
    item: JSON = {"@odata.type": "#microsoft.graph.group", "id": group_id}
    if req.granted & GROUP_READ:
        item.update(displayName=req.tenant.group_names.get(group_id, group_id), securityEnabled=True,
                    mailEnabled=False)
    return item


def role_json(req: GraphRequest, template_id: str) -> JSON:
    item: JSON = {"@odata.type": "#microsoft.graph.directoryRole",
                  "id": role_object_id(req.tenant.tenant_id, template_id)}
    if req.granted & ROLE_READ:
        item.update(displayName=ROLE_TEMPLATES.get(template_id, template_id), roleTemplateId=template_id)
    return item


def transitive_member_of(req: GraphRequest) -> Reply:
    user = req.tenant.user(req.params["user_id"])
    member = req.tenant.membership(user.id)
    items = [group_json(req, g) for g in sorted(member.groups)]
    items += [role_json(req, r) for r in sorted(member.roles)]
    return collection(req, items, "directoryObjects")


ROUTES = [GraphRoute("GET", "users/{user-id}/transitiveMemberOf", transitive_member_of, (MEMBER_OF_READ,))]
