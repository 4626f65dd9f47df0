"""The simulated tenant's state: directory, apps, licences, policies, Exchange and SharePoint sites."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from agent.simulator.state.base import SimError, User, new_id, now

# The Conditional Access model lives in state_policies; importers keep using this module.
from agent.simulator.state.policies import ConditionalAccessPolicy as ConditionalAccessPolicy
from agent.simulator.state.policies import PolicyStore

# The site model lives in state_sites; the simulator's modules and tests keep importing it from here.
from agent.simulator.state.sites import FULL_CONTROL_ROLE_DEF as FULL_CONTROL_ROLE_DEF
from agent.simulator.state.sites import RoleAssignment as RoleAssignment
from agent.simulator.state.sites import Site, SiteStore
from agent.simulator.state.sites import SiteUser as SiteUser
from agent.simulator.state.sites import login_name as login_name
from agent.simulator.state.sites import personal_path as personal_path

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"
FULL_ACCESS_AS_APP = "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
SECURITY_DEFAULTS_ID = "00000000-0000-0000-0000-000000000005"


@dataclass
class Domain:
    name: str
    authentication_type: str = "Managed"  # Managed | Federated
    is_initial: bool = False
    is_default: bool = False


@dataclass
class ServicePlan:
    id: str
    name: str
    service: str  # exchange | SharePoint | ...


@dataclass
class Sku:
    sku_id: str
    part_number: str
    prepaid_enabled: int
    plans: list[ServicePlan]
    capability_status: str = "Enabled"


@dataclass
class PasswordCredential:
    key_id: str
    display_name: str
    secret: str  # the simulator keeps it to validate; never returned after creation
    start: float
    end: float

    @property
    def hint(self) -> str:
        return self.secret[:3]


@dataclass
class KeyCredential:
    key_id: str
    display_name: str
    thumbprint: str  # hex SHA-1 of the DER certificate, upper case
    key: str  # base64 DER of the public certificate
    start: float
    end: float
    type: str = "AsymmetricX509Cert"
    usage: str = "Verify"


@dataclass
class AppRole:
    id: str
    value: str
    display_name: str = ""
    allowed_member_types: tuple[str, ...] = ("Application",)


@dataclass
class Application:
    id: str  # object id
    app_id: str
    display_name: str
    password_credentials: list[PasswordCredential] = field(default_factory=list)
    key_credentials: list[KeyCredential] = field(default_factory=list)
    required_resource_access: list[dict[str, Any]] = field(default_factory=list)
    public_client: bool = False  # allows ROPC without a secret
    unique_name: str | None = None  # the alternate key of application-upsert.md
    props: dict[str, Any] = field(default_factory=dict)  # other properties set on create (tags, notes...)
    federated_credentials: list[dict[str, Any]] = field(default_factory=list)  # federatedIdentityCredential


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    app_roles: list[AppRole] = field(default_factory=list)
    account_enabled: bool = True
    app_role_assignment_required: bool = False
    # the tenant that registered the app (servicePrincipal resource): another tenant's for a vendor's
    # multi-tenant app, Microsoft's (f8cdef31-...) for first-party services
    app_owner_organization_id: str | None = None

    def role_by_value(self, value: str) -> AppRole | None:
        return next((r for r in self.app_roles if r.value == value), None)


@dataclass
class AppRoleAssignment:
    id: str
    principal_id: str  # client SP id
    resource_id: str  # resource SP id
    app_role_id: str
    principal_type: str = "ServicePrincipal"
    created: float = field(default_factory=now)


@dataclass
class OnPremExchange:
    """The on-premises Exchange server's EWS virtual directory."""

    auth_schemes: list[str] = field(default_factory=lambda: ["Basic", "NTLM", "Negotiate"])
    realm: str = "mail.contoso.com"


@dataclass
class Tenant(SiteStore, PolicyStore):
    """The whole simulated tenant; every mutation goes through a method that bumps `version`."""

    name: str
    tenant_id: str
    initial_domain: str
    domains: dict[str, Domain] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # by id
    skus: dict[str, Sku] = field(default_factory=dict)  # by skuId
    applications: dict[str, Application] = field(default_factory=dict)  # by object id
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)  # by id
    app_role_assignments: dict[str, AppRoleAssignment] = field(default_factory=dict)  # by id
    ca_policies: dict[str, ConditionalAccessPolicy] = field(default_factory=dict)
    security_defaults_enabled: bool = False
    onprem: OnPremExchange = field(default_factory=OnPremExchange)
    sites: dict[str, Site] = field(default_factory=dict)  # by lower-case path
    groups: dict[str, list[str]] = field(default_factory=dict)  # group id -> member ids (users, groups)
    group_names: dict[str, str] = field(default_factory=dict)  # group id -> displayName
    directory_roles: dict[str, list[str]] = field(default_factory=dict)  # role template id -> principal ids
    extras: dict[str, Any] = field(default_factory=dict)  # builder data: known secrets, cert PEMs
    version: int = 0
    ops: list[str] = field(default_factory=list)
    _upn_index: dict[str, str] = field(default_factory=dict, repr=False)

    # -- bookkeeping ---------------------------------------------------------------
    def touch(self, op: str) -> None:
        """Record a mutation; the request log derives `wrote` from it."""
        self.version += 1
        self.ops.append(op)

    def snapshot(self) -> Tenant:
        return copy.deepcopy(self)

    # -- directory ------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        self._upn_index[user.upn.lower()] = user.id
        return user

    def find_user(self, key: str) -> User | None:
        """By object id or UPN (case-insensitive)."""
        if key in self.users:
            return self.users[key]
        uid = self._upn_index.get(key.lower())
        return self.users.get(uid) if uid else None

    def user(self, key: str) -> User:
        found = self.find_user(key)
        if found is None:
            raise SimError(404, "Request_ResourceNotFound",
                           f"Resource '{key}' does not exist or one of its queried reference-property "
                           "objects are not present.")
        return found

    def domain_of(self, user: User) -> Domain | None:
        return self.domains.get(user.domain)

    def update_user(self, key: str, **changes: Any) -> User:
        user = self.user(key)
        for name, value in changes.items():
            if not hasattr(user, name):
                raise SimError(400, "Request_BadRequest", f"Invalid property '{name}'.")
            setattr(user, name, value)
        if "password" in changes:
            user.password_expired = False
            user.last_password_change = now()
        self.touch("update-user")
        return user

    def rename_user(self, key: str, new_upn: str) -> User:
        user = self.user(key)
        self._upn_index.pop(user.upn.lower(), None)
        user.upn = new_upn
        self._upn_index[new_upn.lower()] = user.id
        self.touch("rename-user")
        return user

    # -- licences ------------------------------------------------------------------
    def consumed(self, sku_id: str) -> int:
        return sum(1 for u in self.users.values() if sku_id in u.licenses)

    def assign_license(self, key: str, add: list[str], remove: list[str]) -> User:
        user = self.user(key)
        if add and not user.usage_location:
            raise SimError(400, "Request_BadRequest",
                           "License assignment cannot be done for user with invalid usage location.")
        for sku_id in add:
            sku = self.skus.get(sku_id)
            if sku is None:
                raise SimError(400, "Request_BadRequest", f"License {sku_id} does not correspond to a "
                               "valid company License.")
            if sku_id not in user.licenses and self.consumed(sku_id) >= sku.prepaid_enabled:
                raise SimError(400, "Request_BadRequest", "Subscription "
                               f"{sku.part_number} does not have any available licenses (CountViolation).")
        for sku_id in remove:
            if sku_id not in user.licenses:
                raise SimError(400, "Request_BadRequest", f"User does not have a corresponding license "
                               f"{sku_id}.")
        user.licenses = [s for s in user.licenses if s not in remove]
        user.licenses += [s for s in add if s not in user.licenses]
        self.touch("assign-license")
        return user

    def exchange_plans(self, user: User) -> list[ServicePlan]:
        """The mailbox-bearing Exchange plans a user's licences carry (FOUNDATION gives no mailbox)."""
        plans = [p for s in user.licenses if s in self.skus for p in self.skus[s].plans]
        return [p for p in plans if p.service == "exchange" and p.name != "EXCHANGE_S_FOUNDATION"]

    def has_mailbox(self, user: User) -> bool:
        return bool(self.exchange_plans(user))

    # -- applications --------------------------------------------------------------
    def application_by_app_id(self, app_id: str) -> Application | None:
        return next((a for a in self.applications.values() if a.app_id == app_id), None)

    def application(self, key: str) -> Application:
        """By object id or appId."""
        app = self.applications.get(key) or self.application_by_app_id(key)
        if app is None:
            raise SimError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of "
                           "its queried reference-property objects are not present.")
        return app

    def add_password(self, key: str, display_name: str, secret: str, end: float) -> PasswordCredential:
        cred = PasswordCredential(new_id(), display_name, secret, now(), end)
        self.application(key).password_credentials.append(cred)
        self.touch("add-password")
        return cred

    def remove_password(self, key: str, key_id: str) -> None:
        app = self.application(key)
        kept = [c for c in app.password_credentials if c.key_id != key_id]
        if len(kept) == len(app.password_credentials):
            raise SimError(404, "Request_ResourceNotFound", f"No password credential found with keyId "
                           f"{key_id}.")
        app.password_credentials = kept
        self.touch("remove-password")

    def set_key_credentials(self, key: str, creds: list[KeyCredential]) -> None:
        """PATCH semantics: the collection is replaced wholesale."""
        self.application(key).key_credentials = list(creds)
        self.touch("set-key-credentials")

    # -- service principals and app roles --------------------------------------------
    def sp_by_app_id(self, app_id: str) -> ServicePrincipal | None:
        return next((s for s in self.service_principals.values() if s.app_id == app_id), None)

    def service_principal(self, key: str) -> ServicePrincipal:
        sp = self.service_principals.get(key) or self.sp_by_app_id(key)
        if sp is None:
            raise SimError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of "
                           "its queried reference-property objects are not present.")
        return sp

    def create_service_principal(self, app_id: str) -> ServicePrincipal:
        if self.sp_by_app_id(app_id) is not None:
            raise SimError(409, "Request_MultipleObjectsWithSameKeyValue",
                           "Another object with the same value for property appId already exists.")
        app = self.application_by_app_id(app_id)
        if app is None:
            raise SimError(400, "Request_BadRequest", f"The appId '{app_id}' of the service principal "
                           "does not reference a valid application object.")
        sp = ServicePrincipal(new_id(), app_id, app.display_name, app_owner_organization_id=self.tenant_id)
        self.service_principals[sp.id] = sp
        self.touch("create-service-principal")
        return sp

    def delete_service_principal(self, key: str) -> None:
        sp = self.service_principal(key)
        del self.service_principals[sp.id]
        for aid in [a.id for a in self.app_role_assignments.values()
                    if sp.id in (a.principal_id, a.resource_id)]:
            del self.app_role_assignments[aid]
        self.touch("delete-service-principal")

    def assign_app_role(self, principal_id: str, resource_id: str, app_role_id: str) -> AppRoleAssignment:
        self.service_principal(principal_id)
        resource = self.service_principal(resource_id)
        if not any(r.id == app_role_id for r in resource.app_roles):
            raise SimError(400, "Request_BadRequest", "Permission being assigned was not found on "
                           f"application '{resource.app_id}'.")
        if any(a.principal_id == principal_id and a.resource_id == resource_id and a.app_role_id ==
               app_role_id for a in self.app_role_assignments.values()):
            raise SimError(400, "Request_BadRequest",
                           "Permission being assigned already exists on the object")
        grant = AppRoleAssignment(new_id(), principal_id, resource_id, app_role_id)
        self.app_role_assignments[grant.id] = grant
        self.touch("assign-app-role")
        return grant

    def delete_app_role_assignment(self, assignment_id: str) -> None:
        if self.app_role_assignments.pop(assignment_id, None) is None:
            raise SimError(404, "Request_ResourceNotFound", f"Resource '{assignment_id}' does not exist.")
        self.touch("delete-app-role-assignment")

    def roles_of(self, client_app_id: str, resource_app_id: str) -> list[str]:
        """Role values granted to a client app on a resource: what goes into the token's `roles`."""
        client, resource = self.sp_by_app_id(client_app_id), self.sp_by_app_id(resource_app_id)
        if client is None or resource is None:
            return []
        ids = {a.app_role_id for a in self.app_role_assignments.values()
               if a.principal_id == client.id and a.resource_id == resource.id}
        return sorted(r.value for r in resource.app_roles if r.id in ids)

    # -- conditional access: ca_policy, set_ca_exclusions, blocking_policies are PolicyStore's -----------
    def set_security_defaults(self, enabled: bool) -> None:
        self.security_defaults_enabled = enabled
        self.touch("update-security-defaults")
