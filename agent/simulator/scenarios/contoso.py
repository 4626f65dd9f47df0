"""The built-in demo tenant `contoso`, healthy: directory, apps and grants, licences, policies, sites."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from agent.simulator.keystore import simulated_key
from agent.simulator.scenarios.contoso_policies import add_scoped_policies
from agent.simulator.state.tenant import (
    EXCHANGE_APP_ID,
    FULL_ACCESS_AS_APP,
    FULL_CONTROL_ROLE_DEF,
    GRAPH_APP_ID,
    SHAREPOINT_APP_ID,
    Application,
    AppRole,
    AppRoleAssignment,
    ConditionalAccessPolicy,
    Domain,
    KeyCredential,
    PasswordCredential,
    RoleAssignment,
    ServicePlan,
    ServicePrincipal,
    Site,
    Sku,
    Tenant,
    User,
    now,
    personal_path,
)

TENANT_ID = "4b1e8c3a-6d2f-4e7b-9a15-3c8d7f2e1a60"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # owner of Microsoft's first-party apps
VENDOR_TENANT = "9c2f4e1a-5b7d-4c3e-8f6a-2d1b3e5c7a90"  # a migration vendor's own tenant
VENDOR_APP_ID = "3e8a1f5c-2b6d-4d9e-a7c4-8f1e2d3c4b5a"  # the vendor's multi-tenant migration app
INITIAL_DOMAIN = "contoso.onmicrosoft.com"
FEDERATED_DOMAIN = "contoso.com"
ADMIN_APP_ID = "a9d3c2e1-7b4f-4e8a-9c61-2f8d4b7e6a10"  # the agent's own app (reads and fixes)
CONNECTOR_APP_ID = "6f1c7b2e-3d4a-4b8e-9f10-7c2d5e8a9b31"  # the migration tool's app
PUBLIC_CLIENT_ID = "c5e2a8f1-9b3d-4c7e-8a26-1d4f6b9e3c72"  # the connector's public client (ROPC)
ACCOUNT_UPN = "migsvc@contoso.onmicrosoft.com"
ADMIN_UPN = "admin@contoso.onmicrosoft.com"
SOURCE_SITE, TARGET_SITE = "/sites/source", "/sites/target"
DAY = 86400.0

GRAPH_ROLES = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Domain.Read.All": "dbb9058a-0e50-45d7-ae91-66909b5d4664",
    "Files.Read.All": "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
    "Files.ReadWrite.All": "75359482-378d-4052-8f01-80520e7db3cd",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "LicenseAssignment.ReadWrite.All": "5facf0c1-8979-4e95-abcf-ff3d079771c0",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
    "Policy.ReadWrite.ConditionalAccess": "01c0a623-fc9b-48e9-b794-0756f8e8f067",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "Sites.FullControl.All": "a82116e5-55eb-4c41-a434-62fe8a61c773",
    "Sites.Read.All": "332a536c-c7ef-4017-ab91-336970924f0d",
    "Sites.ReadWrite.All": "9492366f-7969-46a4-8d15-ed1a20078fff",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
    "User-PasswordProfile.ReadWrite.All": "cc117bb9-00cf-4eb8-b580-ea2a878fe8f7",
}
EXCHANGE_ROLES = {"full_access_as_app": FULL_ACCESS_AS_APP,
                  "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440"}
SHAREPOINT_ROLES = {"Sites.FullControl.All": "678536fe-1083-478a-9c59-b99265e6b0d3",
                    "Sites.ReadWrite.All": "fbcd29d2-fcca-4405-aded-518d457caae4",
                    "Sites.Read.All": "d13f72ca-a275-4b96-b789-48ebcc4da984"}
ADMIN_GRAPH_ROLES = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.ReadWrite.All",
                     "User-PasswordProfile.ReadWrite.All", "LicenseAssignment.ReadWrite.All",
                     "Organization.Read.All", "Domain.Read.All", "Policy.Read.All",
                     "Policy.ReadWrite.ConditionalAccess", "Sites.FullControl.All", "Files.Read.All",
                     "RoleManagement.Read.Directory")
# What the migration connector's app holds when healthy (resource appId -> role values).
CONNECTOR_ROLES = {EXCHANGE_APP_ID: ("full_access_as_app",),
                   GRAPH_APP_ID: ("User.Read.All", "Files.ReadWrite.All", "Sites.FullControl.All",
                                  "Mail.ReadWrite"),
                   SHAREPOINT_APP_ID: ("Sites.FullControl.All",)}
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK (Office 365 E3)
EXCHANGE_STANDARD = "4b9405b0-7788-4568-add1-99614e613b69"
POWER_BI = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235"  # no mailbox: only EXCHANGE_S_FOUNDATION


@dataclass(frozen=True)
class AppCertificate:
    """A self-signed app certificate: the PEM a client loads and what keyCredentials holds."""

    pem: str = field(repr=False)  # private key + certificate (what CertificateCredential reads)
    public_pem: str
    thumbprint: str  # hex SHA-1 of the DER certificate, upper case
    key_b64: str  # base64 DER, the keyCredential `key`
    start: float
    end: float
    subject: str

    def key_credential(self, display_name: str) -> KeyCredential:
        return KeyCredential(_uid("key", self.thumbprint), display_name, self.thumbprint, self.key_b64,
                             self.start, self.end)


@dataclass(frozen=True)
class Material:
    """Credentials shared by every build in this process, so a written config survives resets."""

    admin_secret: str = field(repr=False)
    connector_secret: str = field(repr=False)
    account_password: str = field(repr=False)
    admin_cert: AppCertificate
    connector_cert: AppCertificate


def make_certificate(subject: str, days: int = 365, key: rsa.RSAPrivateKey | None = None) -> AppCertificate:
    """A self-signed app certificate for `subject`, on a new key unless `key` is given."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    public_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return AppCertificate(key_pem + public_pem, public_pem, hashlib.sha1(der).hexdigest().upper(),
                          base64.b64encode(der).decode(), start.timestamp(),
                          (start + datetime.timedelta(days=days)).timestamp(), f"CN={subject}")


@functools.lru_cache(maxsize=1)
def material() -> Material:
    """Generated once per process; the two certificates' keys are kept between processes (keystore)."""
    return Material(admin_secret=_client_secret(), connector_secret=_client_secret(),
                    account_password="Mig-" + secrets.token_urlsafe(12) + "!9",
                    admin_cert=make_certificate("m365-401-agent", key=simulated_key("admin")),
                    connector_cert=make_certificate("contoso-migration-connector",
                                                    key=simulated_key("connector")))


def _client_secret() -> str:
    """Shaped like an Entra client secret: 3 chars, '8Q~', 34 more."""
    return secrets.token_urlsafe(3)[:3] + "8Q~" + secrets.token_urlsafe(26)[:34]


def _uid(kind: str, key: str) -> str:
    """Deterministic object ids: the same tenant gets the same ids on every build."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"contoso:{kind}:{key}"))


def build_contoso(users: int = 50) -> Tenant:
    """The healthy demo tenant with `users` OneDrive users (user0001..userN)."""
    m = material()
    t = Tenant(name="contoso", tenant_id=TENANT_ID, initial_domain=INITIAL_DOMAIN)
    t.domains[INITIAL_DOMAIN] = Domain(INITIAL_DOMAIN, "Managed", is_initial=True, is_default=True)
    t.domains[FEDERATED_DOMAIN] = Domain(FEDERATED_DOMAIN, "Federated")
    _add_skus(t, users)
    _add_resource_principals(t)
    _add_apps(t, m)
    _add_people(t, m, users)
    _add_policies(t)
    _add_sites(t, users)
    t.extras.update(admin_app_id=ADMIN_APP_ID, admin_secret=m.admin_secret, admin_cert=m.admin_cert,
                    connector_app_id=CONNECTOR_APP_ID, connector_secret=m.connector_secret,
                    connector_cert=m.connector_cert, public_client_id=PUBLIC_CLIENT_ID,
                    account_upn=ACCOUNT_UPN, account_password=m.account_password, admin_upn=ADMIN_UPN,
                    mfa_policy_id=_uid("policy", "mfa"), source_site=SOURCE_SITE, target_site=TARGET_SITE)
    return t


def _add_skus(t: Tenant, users: int) -> None:
    def plan(pid: str, name: str, service: str) -> ServicePlan:
        return ServicePlan(pid, name, service)
    t.skus[E3] = Sku(E3, "ENTERPRISEPACK", users + 30, [
        plan("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", "exchange"),
        plan("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE", "SharePoint"),
        plan("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION", "MicrosoftOffice")])
    t.skus[EXCHANGE_STANDARD] = Sku(EXCHANGE_STANDARD, "EXCHANGESTANDARD", 10, [
        plan("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD", "exchange")])
    t.skus[POWER_BI] = Sku(POWER_BI, "POWER_BI_STANDARD", 100, [
        plan("2049e525-b859-401b-b2a0-e0a31c4b1fe4", "BI_AZURE_P0", "PowerBI"),
        plan("113feb6c-3fe4-4440-bddc-54d774bf0318", "EXCHANGE_S_FOUNDATION", "exchange")])


def _resource_sp(t: Tenant, app_id: str, name: str, roles: dict[str, str]) -> None:
    sp = ServicePrincipal(_uid("sp", app_id), app_id, name,
                          [AppRole(rid, value, value) for value, rid in roles.items()],
                          app_owner_organization_id=MICROSOFT_TENANT)
    t.service_principals[sp.id] = sp


def _add_resource_principals(t: Tenant) -> None:
    _resource_sp(t, GRAPH_APP_ID, "Microsoft Graph", GRAPH_ROLES)
    _resource_sp(t, EXCHANGE_APP_ID, "Office 365 Exchange Online", EXCHANGE_ROLES)
    _resource_sp(t, SHAREPOINT_APP_ID, "Office 365 SharePoint Online", SHAREPOINT_ROLES)


def _grant(t: Tenant, client_app_id: str, resource_app_id: str, values: tuple[str, ...]) -> None:
    client, resource = t.sp_by_app_id(client_app_id), t.sp_by_app_id(resource_app_id)
    assert client is not None and resource is not None
    for value in values:
        role = resource.role_by_value(value)
        assert role is not None, value
        grant = AppRoleAssignment(_uid("grant", f"{client.id}:{role.id}"), client.id, resource.id, role.id)
        t.app_role_assignments[grant.id] = grant


def _register(t: Tenant, app: Application) -> None:
    t.applications[app.id] = app
    sp = ServicePrincipal(_uid("sp", app.app_id), app.app_id, app.display_name,
                          app_owner_organization_id=t.tenant_id)
    t.service_principals[sp.id] = sp


def _declared(roles: dict[str, tuple[str, ...]]) -> list[dict[str, object]]:
    tables = {GRAPH_APP_ID: GRAPH_ROLES, EXCHANGE_APP_ID: EXCHANGE_ROLES, SHAREPOINT_APP_ID: SHAREPOINT_ROLES}
    return [{"resourceAppId": res, "resourceAccess": [{"id": tables[res][v], "type": "Role"} for v in values]}
            for res, values in roles.items()]


def _add_apps(t: Tenant, m: Material) -> None:
    start = now() - DAY
    admin = Application(_uid("app", ADMIN_APP_ID), ADMIN_APP_ID, "M365 401 Remediation Agent",
                        [PasswordCredential(_uid("pwd", "admin"), "agent", m.admin_secret, start,
                                            start + 365 * DAY)],
                        [m.admin_cert.key_credential("agent certificate")],
                        _declared({GRAPH_APP_ID: ADMIN_GRAPH_ROLES,
                                   SHAREPOINT_APP_ID: ("Sites.FullControl.All",)}))
    connector = Application(_uid("app", CONNECTOR_APP_ID), CONNECTOR_APP_ID, "Contoso Migration Connector",
                            [PasswordCredential(_uid("pwd", "connector"), "migration", m.connector_secret,
                                                start, start + 180 * DAY)],
                            [m.connector_cert.key_credential("migration certificate")],
                            _declared(CONNECTOR_ROLES))
    public = Application(_uid("app", PUBLIC_CLIENT_ID), PUBLIC_CLIENT_ID,
                         "Contoso Migration Connector (public client)", public_client=True)
    for app in (admin, connector, public):
        _register(t, app)
    _grant(t, ADMIN_APP_ID, GRAPH_APP_ID, ADMIN_GRAPH_ROLES)
    _grant(t, ADMIN_APP_ID, SHAREPOINT_APP_ID, ("Sites.FullControl.All",))
    for resource, values in CONNECTOR_ROLES.items():
        _grant(t, CONNECTOR_APP_ID, resource, values)


def _user(t: Tenant, upn: str, name: str, password: str, *, synced: bool = False) -> User:
    user = User(_uid("user", upn), upn, name, password, licenses=[E3], mail=upn,
                on_premises_sync_enabled=synced, last_password_change=now() - 30 * DAY)
    return t.add_user(user)


def _add_people(t: Tenant, m: Material, users: int) -> None:
    _user(t, ADMIN_UPN, "Contoso Admin", secrets.token_urlsafe(16))
    _user(t, ACCOUNT_UPN, "Migration Service", m.account_password)
    for first in ("alice", "bob", "carol"):  # synced users on the federated domain
        _user(t, f"{first}@{FEDERATED_DOMAIN}", first.title(), secrets.token_urlsafe(16), synced=True)
    for i in range(1, users + 1):
        _user(t, f"user{i:04d}@{INITIAL_DOMAIN}", f"User {i:04d}", secrets.token_urlsafe(12))


def _add_policies(t: Tenant) -> None:
    account, admin = t.user(ACCOUNT_UPN).id, t.user(ADMIN_UPN).id
    for policy in (
        ConditionalAccessPolicy(_uid("policy", "mfa"), "Require MFA for all users", "enabled",
                                include_users=["All"], exclude_users=[admin, account]),
        ConditionalAccessPolicy(_uid("policy", "legacy"), "Block legacy authentication", "disabled",
                                include_users=["All"], client_app_types=["exchangeActiveSync", "other"],
                                built_in_controls=["block"]),
        ConditionalAccessPolicy(_uid("policy", "admins"), "Require MFA for Azure management (report-only)",
                                "enabledForReportingButNotEnforced", include_users=["All"],
                                include_applications=["797f4846-ba00-4fd7-ba43-dac1f8f63013"]),
    ):
        t.ca_policies[policy.id] = policy
    synced = [u.id for u in t.users.values() if u.on_premises_sync_enabled]
    add_scoped_policies(t, _uid, admin, synced)


def _site(t: Tenant, path: str, title: str, owner: str, full_control: tuple[str, ...] = ()) -> Site:
    """A site whose owner and the migration account are site collection admins."""
    site = t.add_site(Site(_uid("site", path), _uid("web", path), path, title, owner))
    t.ensure_site_user(site, owner, is_admin=True, record=False)
    t.ensure_site_user(site, ACCOUNT_UPN, is_admin=True, record=False)
    for upn in full_control:
        entry = t.ensure_site_user(site, upn, record=False)
        site.role_assignments.append(RoleAssignment(entry.id, FULL_CONTROL_ROLE_DEF))
    return site


def _add_sites(t: Tenant, users: int) -> None:
    root = t.add_site(Site(_uid("site", "/"), _uid("web", "/"), "", "Contoso", ADMIN_UPN))
    t.ensure_site_user(root, ADMIN_UPN, is_admin=True, record=False)
    _site(t, SOURCE_SITE, "Migration source", ADMIN_UPN, (ADMIN_UPN, ACCOUNT_UPN))
    _site(t, TARGET_SITE, "Migration target", ADMIN_UPN, (ADMIN_UPN, ACCOUNT_UPN))
    for i in range(1, users + 1):
        upn = f"user{i:04d}@{INITIAL_DOMAIN}"
        _site(t, personal_path(upn), f"User {i:04d}", upn).template = "SPSPERS#10"
