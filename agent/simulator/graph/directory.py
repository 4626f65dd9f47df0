"""Graph v1.0 directory: users, their licences, groups' members, subscribedSkus and domains."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from agent.simulator.graph.odata import (
    EPOCH_CREATED,
    JSON,
    NOT_SUPPORTED,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    collection,
    count_reply,
    denied,
    entity,
    iso,
    shape,
)
from agent.simulator.state.tenant import ServicePlan, Sku, Tenant, User

# Permission rows from the docs' tables (api-reference/v1.0/includes/permissions/*-permissions.md in
# microsoftgraph/microsoft-graph-docs-contrib), named next to each route below.
USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
USER_READ_DELEGATED = ("User.ReadBasic.All", *USER_READ)
USER_WRITE = ("User.ReadWrite.All",)
PASSWORD_WRITE = ("User-PasswordProfile.ReadWrite.All",)
LICENSE_WRITE = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
# user-list-licensedetails-permissions.md: delegated only ("Application: Not supported.").
LICENSE_DETAILS_DELEGATED = ("LicenseAssignment.Read.All", "Directory.Read.All", "Directory.ReadWrite.All",
                             "User.Read", "User.Read.All", "User.ReadWrite.All")
ORG_READ = ("Organization.Read.All", "Organization.ReadWrite.All")
DOMAIN_READ = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
GROUP_MEMBERS_READ = ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All")
# What Graph v1.0 returns for a user when no $select is given.
USER_DEFAULT = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
USER_FILTERABLE = ("userPrincipalName", "displayName", "mail", "id")
PASSWORD_POLICIES = {"None", "DisablePasswordExpiration", "DisableStrongPassword",
                     "DisablePasswordExpiration, DisableStrongPassword"}
WEAK_PASSWORD = ("The specified password does not comply with password complexity requirements. "
                 "Please provide a different password.")


# -- rendering ----------------------------------------------------------------------------
def plan_info(plan: ServicePlan) -> JSON:
    return {"servicePlanId": plan.id, "servicePlanName": plan.name, "provisioningStatus": "Success",
            "appliesTo": "User"}


def user_json(tenant: Tenant, user: User) -> JSON:
    skus = [tenant.skus[s] for s in user.licenses if s in tenant.skus]
    plans = [{"assignedDateTime": EPOCH_CREATED, "capabilityStatus": "Enabled", "service": p.service,
              "servicePlanId": p.id} for sku in skus for p in sku.plans]
    return {"id": user.id, "userPrincipalName": user.upn, "displayName": user.display_name,
            "mail": user.mail, "accountEnabled": user.account_enabled,
            "passwordPolicies": user.password_policies,
            "lastPasswordChangeDateTime": iso(user.last_password_change), "userType": "Member",
            "onPremisesSyncEnabled": True if user.on_premises_sync_enabled else None,
            "usageLocation": user.usage_location,
            "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in user.licenses],
            "assignedPlans": plans, "businessPhones": [], "givenName": None, "surname": None,
            "jobTitle": None, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None}


def license_detail_json(user: User, sku: Sku) -> JSON:
    # Graph's licenseDetails ids are opaque base64 strings; derive a stable one from user and SKU.
    raw = uuid.UUID(user.id).bytes + uuid.UUID(sku.sku_id).bytes if _is_guid(user.id, sku.sku_id) \
        else f"{user.id}|{sku.sku_id}".encode()
    return {"id": base64.urlsafe_b64encode(raw).decode().rstrip("="), "skuId": sku.sku_id,
            "skuPartNumber": sku.part_number, "servicePlans": [plan_info(p) for p in sku.plans]}


def _is_guid(*values: str) -> bool:
    try:
        for value in values:
            uuid.UUID(value)
    except ValueError:
        return False
    return True


def sku_json(tenant: Tenant, sku: Sku) -> JSON:
    return {"id": f"{tenant.tenant_id}_{sku.sku_id}", "skuId": sku.sku_id, "skuPartNumber": sku.part_number,
            "capabilityStatus": sku.capability_status, "consumedUnits": tenant.consumed(sku.sku_id),
            "appliesTo": "User", "accountId": tenant.tenant_id,
            "prepaidUnits": {"enabled": sku.prepaid_enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
            "servicePlans": [plan_info(p) for p in sku.plans]}


def domain_json(tenant: Tenant, name: str) -> JSON:
    domain = tenant.domains[name]
    return {"id": domain.name, "authenticationType": domain.authentication_type,
            "isDefault": domain.is_default, "isInitial": domain.is_initial, "isVerified": True,
            "isAdminManaged": True, "isRoot": True,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"]}


# -- users ----------------------------------------------------------------------------------
def list_users(req: GraphRequest) -> Reply:
    tenant = req.tenant
    return collection(req, list(tenant.users.values()), "users", render=lambda u: user_json(tenant, u),
                      filterable=USER_FILTERABLE,
                      type_name="User", default=USER_DEFAULT)


def get_user(req: GraphRequest) -> Reply:
    user = req.tenant.user(req.params["user_id"])
    return Reply(200, entity(req, "users", shape(req, user_json(req.tenant, user), USER_DEFAULT)))


def count_users(req: GraphRequest) -> Reply:
    tenant = req.tenant
    return count_reply(req, list(tenant.users.values()), lambda u: user_json(tenant, u), USER_FILTERABLE,
                       "User")


def license_details(req: GraphRequest) -> Reply:
    user = req.tenant.user(req.params["user_id"])
    _only_self_with_user_read(req, user)
    items = [license_detail_json(user, req.tenant.skus[s]) for s in user.licenses if s in req.tenant.skus]
    return collection(req, items, f"users('{user.id}')/licenseDetails")


def _only_self_with_user_read(req: GraphRequest, user: User) -> None:
    """Delegated User.Read covers the signed-in user only (permissions reference: "User.Read")."""
    if req.granted.intersection(set(LICENSE_DETAILS_DELEGATED) - {"User.Read"}):
        return
    caller = str(req.claims.get("oid") or "")
    if caller.lower() != user.id.lower():
        raise denied()


def assign_license(req: GraphRequest) -> Reply:
    body = req.json_body()
    # Graph refuses a body without both collections (the SDKs' users report 400 without removeLicenses).
    for prop in ("addLicenses", "removeLicenses"):
        if not isinstance(body.get(prop), list):
            raise GraphError(400, "Request_BadRequest",
                             f"Invalid value specified for property '{prop}' of resource 'User'.")
    add = [str(item.get("skuId", "")).lower() for item in body["addLicenses"] if isinstance(item, dict)]
    remove = [str(s).lower() for s in body["removeLicenses"]]
    user = req.tenant.assign_license(req.params["user_id"], add, remove)
    return Reply(200, shape(req, user_json(req.tenant, user), USER_DEFAULT))


def patch_user(req: GraphRequest) -> Reply:
    body = req.json_body()
    changes = _user_changes(body)
    if "password" in changes and not req.granted.intersection(PASSWORD_WRITE):
        raise denied()
    req.tenant.update_user(req.params["user_id"], **changes)
    return Reply(204)


def _user_changes(body: JSON) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for prop, value in body.items():
        if prop.startswith("@odata."):
            continue
        if prop == "accountEnabled":
            changes["account_enabled"] = bool(value)
        elif prop == "usageLocation":
            changes["usage_location"] = _usage_location(value)
        elif prop == "passwordPolicies":
            changes["password_policies"] = _password_policies(value)
        elif prop == "passwordProfile":
            changes.update(_password_profile(value))
        else:
            raise GraphError(400, "Request_BadRequest", f"Invalid property '{prop}'.")
    return changes


def _usage_location(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value):
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'usageLocation' "
                         "of resource 'User'.")
    return value.upper()


def _password_policies(value: Any) -> str | None:
    if value not in PASSWORD_POLICIES and value is not None:
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'passwordPolicies' "
                         "of resource 'User'.")
    return None if value in (None, "None") else str(value)


def _password_profile(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("password"), str):
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'passwordProfile' "
                         "of resource 'User'.")
    password = value["password"]
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if len(password) < 8 or classes < 3:
        raise GraphError(400, "Request_BadRequest", WEAK_PASSWORD)
    return {"password": password}


# -- groups, SKUs, domains ----------------------------------------------------------------------
def group_members(req: GraphRequest) -> Reply:
    groups = req.tenant.groups
    group_id = req.params["group_id"]
    if group_id not in groups:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not exist or one of "
                         "its queried reference-property objects are not present.")
    members = [req.tenant.users[m] for m in groups[group_id] if m in req.tenant.users]
    items = [{"@odata.type": "#microsoft.graph.user", **user_json(req.tenant, u)} for u in members]
    return collection(req, items, "directoryObjects", default=USER_DEFAULT)


def list_skus(req: GraphRequest) -> Reply:
    items = [sku_json(req.tenant, s) for s in req.tenant.skus.values()]
    return collection(req, items, "subscribedSkus")


def list_domains(req: GraphRequest) -> Reply:
    items = [domain_json(req.tenant, d) for d in req.tenant.domains]
    return collection(req, items, "domains")


def get_domain(req: GraphRequest) -> Reply:
    name = req.params["domain_id"].lower()
    if name not in req.tenant.domains:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{name}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    return Reply(200, entity(req, "domains", shape(req, domain_json(req.tenant, name))))


_USER = "users/{user-id}"

# `users/$count` comes first: `users/{user-id}` would otherwise take `$count` as an id.
ROUTES = [
    GraphRoute("GET", "users/$count", count_users, (USER_READ,), delegated=(USER_READ_DELEGATED,)),
    # user-list and user-get permission tables
    GraphRoute("GET", "users", list_users, (USER_READ,), "user", (USER_READ_DELEGATED,)),
    GraphRoute("GET", _USER, get_user, (USER_READ,), "user", (USER_READ_DELEGATED,)),
    # user-update.md
    GraphRoute("PATCH", _USER, patch_user, (USER_WRITE,)),
    GraphRoute("GET", _USER + "/licenseDetails", license_details, NOT_SUPPORTED, "licenseDetails",
               (LICENSE_DETAILS_DELEGATED,)),
    # user-assignlicense-permissions.md
    GraphRoute("POST", _USER + "/assignLicense", assign_license, (LICENSE_WRITE,)),
    # group-list-members-permissions.md
    GraphRoute("GET", "groups/{group-id}/members", group_members, (GROUP_MEMBERS_READ,), "directoryObject"),
    # subscribedsku-list-permissions.md, domain-list.md, domain-get.md
    GraphRoute("GET", "subscribedSkus", list_skus, (ORG_READ,), "subscribedSku"),
    GraphRoute("GET", "domains", list_domains, (DOMAIN_READ,), "domain"),
    GraphRoute("GET", "domains/{domain-id}", get_domain, (DOMAIN_READ,), "domain"),
]
