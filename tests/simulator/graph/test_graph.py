"""The simulated Microsoft Graph over HTTPS, driven by the unmodified msgraph-sdk and azure-identity."""

from __future__ import annotations

import base64
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.identity import CertificateCredential, ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
    RemovePasswordPostRequestBody,
)
from msgraph.generated.models.application import Application
from msgraph.generated.models.key_credential import KeyCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.required_resource_access import RequiredResourceAccess
from msgraph.generated.models.resource_access import ResourceAccess
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.graph_request_adapter import options as GRAPH_DEFAULT_OPTIONS
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ADMIN_APP_ID, CONNECTOR_APP_ID, TENANT_ID, make_certificate
from agent.simulator.state.tenant import (
    EXCHANGE_APP_ID,
    FULL_ACCESS_AS_APP,
    GRAPH_APP_ID,
    SECURITY_DEFAULTS_ID,
    Tenant,
)

# msgraph-sdk's builders warn about their own deprecated per-builder configuration classes on import.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SCOPES = ["https://graph.microsoft.com/.default"]
USERS = 120


@pytest.fixture
def contoso(sim: Simulator) -> Tenant:
    """The shared simulator reset to the healthy demo tenant with a 120-user directory, no faults."""
    return sim.reset(users=USERS)


def secret_credential(sim: Simulator, app_id: str = ADMIN_APP_ID, secret: str | None = None) -> Any:
    """A new credential each time: MSAL caches tokens per object, and roles are fixed at issue time."""
    key = "admin_secret" if app_id == ADMIN_APP_ID else "connector_secret"
    return ClientSecretCredential(TENANT_ID, app_id, secret or sim.state.extras[key], authority=sim.base_url,
                                  disable_instance_discovery=True, connection_verify=sim.ca_path)


def graph_client(sim: Simulator, credential: Any, retries: int = 0) -> GraphServiceClient:
    """msgraph-sdk as the agent builds it: own httpx client trusting the CA, kiota retries off."""
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=sim.ca_path), timeout=30)
    retry = RetryHandlerOption(max_retries=retries, should_retry=retries > 0)
    options = {**GRAPH_DEFAULT_OPTIONS, RetryHandlerOption.get_key(): retry}
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(AzureIdentityAuthenticationProvider(credential, scopes=SCOPES), client=http)
    client = GraphServiceClient(request_adapter=adapter)
    client.request_adapter.base_url = sim.base_url + "/v1.0"
    return client


@pytest.fixture
async def admin(sim: Simulator, contoso: Tenant) -> AsyncIterator[GraphServiceClient]:
    client = graph_client(sim, secret_credential(sim))
    yield client
    await client.request_adapter._http_client.aclose()


def config(**query: Any) -> RequestConfiguration[Any]:
    """OData query options for any builder: every generated query-parameter class maps select, filter
    and top to $select, $filter and $top the same way."""
    params = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(**query)
    return RequestConfiguration(query_parameters=params)


def entries(sim: Simulator, method: str, fragment: str, count: int = 1) -> list[dict[str, Any]]:
    """Log entries of matching requests; the server records an entry just after its response is sent,
    so wait (briefly) for the request the client has just seen answered."""
    deadline = time.monotonic() + 2
    while True:
        found = [e for e in sim.log if e["method"] == method and fragment in e["path"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.005)


async def odata_error(awaitable: Any) -> ODataError:
    with pytest.raises(ODataError) as caught:
        await awaitable
    return caught.value


# -- applications -----------------------------------------------------------------------------------
async def test_application_by_filter_select_and_by_app_id(admin: GraphServiceClient, contoso: Tenant) -> None:
    app = contoso.application(CONNECTOR_APP_ID)
    page = await admin.applications.get(request_configuration=config(
        filter=f"appId eq '{CONNECTOR_APP_ID}'", select=["id", "appId", "passwordCredentials"]))
    assert page is not None and page.value is not None
    [found] = page.value
    assert (found.id, found.display_name) == (app.id, None)  # $select trimmed displayName
    assert found.password_credentials is not None
    assert found.password_credentials[0].hint == app.password_credentials[0].secret[:3]
    assert found.password_credentials[0].secret_text is None
    keys = await admin.applications_with_app_id(CONNECTOR_APP_ID).get(
        request_configuration=config(select=["keyCredentials"]))
    assert keys is not None and keys.key_credentials is not None
    stored = app.key_credentials[0]
    assert keys.key_credentials[0].custom_key_identifier.hex().upper() == stored.thumbprint
    assert keys.key_credentials[0].key is not None
    by_id = await admin.applications.by_application_id(app.id).get()
    assert by_id is not None and by_id.display_name == app.display_name
    assert by_id.key_credentials is not None and by_id.key_credentials[0].key is None  # only with $select


async def test_add_password_returns_a_working_secret_once_and_remove_password_drops_it(
        sim: Simulator, admin: GraphServiceClient, contoso: Tenant) -> None:
    app = contoso.application(CONNECTOR_APP_ID)
    body = AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="migration-2"))
    added = await admin.applications.by_application_id(app.id).add_password.post(body)
    assert added is not None and added.secret_text is not None and len(added.secret_text) == 40
    assert added.hint == added.secret_text[:3]
    connector = graph_client(sim, secret_credential(sim, CONNECTOR_APP_ID, added.secret_text))
    assert await connector.users.by_user_id("user0001@contoso.onmicrosoft.com").get() is not None
    [write] = entries(sim, "POST", "/addPassword")
    assert (write["status"], write["wrote"], write["ops"]) == (200, True, ["add-password"])
    await admin.applications.by_application_id(app.id).remove_password.post(
        RemovePasswordPostRequestBody(key_id=added.key_id))
    assert str(added.key_id) not in {c.key_id for c in app.password_credentials}


async def test_patch_key_credentials_replaces_the_collection(sim: Simulator, admin: GraphServiceClient,
                                                             contoso: Tenant) -> None:
    app = contoso.application(CONNECTOR_APP_ID)
    current = await admin.applications.by_application_id(app.id).get(
        request_configuration=config(select=["keyCredentials"]))
    assert current is not None and current.key_credentials is not None
    cert = make_certificate("rolled-connector-cert")
    new_key = KeyCredential(type="AsymmetricX509Cert", usage="Verify", display_name="rolled",
                            key=base64.b64decode(cert.key_b64))
    patch = Application(key_credentials=[*current.key_credentials, new_key])
    await admin.applications.by_application_id(app.id).patch(patch)
    assert {k.thumbprint for k in app.key_credentials} == {app.key_credentials[0].thumbprint, cert.thumbprint}
    credential = CertificateCredential(TENANT_ID, CONNECTOR_APP_ID, certificate_data=cert.pem.encode(),
                                       authority=sim.base_url, disable_instance_discovery=True,
                                       connection_verify=sim.ca_path)
    assert credential.get_token(*SCOPES).token
    await admin.applications_with_app_id(CONNECTOR_APP_ID).patch(Application(key_credentials=[]))
    assert app.key_credentials == []


async def test_patch_required_resource_access(admin: GraphServiceClient, contoso: Tenant) -> None:
    app = contoso.application(CONNECTOR_APP_ID)
    declared = RequiredResourceAccess(resource_app_id=EXCHANGE_APP_ID, resource_access=[
        ResourceAccess(id=uuid.UUID(FULL_ACCESS_AS_APP), type="Role")])
    await admin.applications.by_application_id(app.id).patch(Application(required_resource_access=[declared]))
    assert app.required_resource_access == [{"resourceAppId": EXCHANGE_APP_ID,
                                             "resourceAccess": [{"id": FULL_ACCESS_AS_APP, "type": "Role"}]}]


# -- service principals and grants ----------------------------------------------------------------------
async def test_service_principal_delete_and_create(admin: GraphServiceClient, contoso: Tenant) -> None:
    sp = contoso.sp_by_app_id(CONNECTOR_APP_ID)
    assert sp is not None
    await admin.service_principals.by_service_principal_id(sp.id).delete()
    assert contoso.sp_by_app_id(CONNECTOR_APP_ID) is None
    page = await admin.service_principals.get(request_configuration=config(
        filter=f"appId eq '{CONNECTOR_APP_ID}'", select=["id", "appId", "accountEnabled"]))
    assert page is not None and page.value == []
    created = await admin.service_principals.post(ServicePrincipal(app_id=CONNECTOR_APP_ID))
    assert created is not None and created.app_id == CONNECTOR_APP_ID
    again = await admin.service_principals_with_app_id(CONNECTOR_APP_ID).get()
    assert again is not None and again.id == created.id
    error = await odata_error(admin.service_principals.post(ServicePrincipal(app_id=CONNECTOR_APP_ID)))
    assert error.response_status_code == 409


async def test_grant_full_access_as_app_then_revoke(sim: Simulator, contoso: Tenant) -> None:
    contoso = sim.reset(users=USERS, breaks=["exo-app-missing-full-access"])
    admin = graph_client(sim, secret_credential(sim))
    exo = await admin.service_principals_with_app_id(EXCHANGE_APP_ID).get(
        request_configuration=config(select=["id", "appRoles"]))
    assert exo is not None and exo.app_roles is not None
    assert any(str(r.id) == FULL_ACCESS_AS_APP and r.value == "full_access_as_app" for r in exo.app_roles)
    client_sp = contoso.sp_by_app_id(CONNECTOR_APP_ID)
    assert client_sp is not None
    held = await admin.service_principals.by_service_principal_id(client_sp.id).app_role_assignments.get()
    assert held is not None and held.value is not None
    assert FULL_ACCESS_AS_APP not in {str(a.app_role_id) for a in held.value}
    assert exo.id is not None
    grant = await admin.service_principals.by_service_principal_id(exo.id).app_role_assigned_to.post(
        _assignment(client_sp.id, exo.id))
    assert grant is not None and grant.principal_type == "ServicePrincipal"
    assert grant.resource_display_name == "Office 365 Exchange Online"
    token = secret_credential(sim, CONNECTOR_APP_ID).get_token("https://outlook.office365.com/.default")
    assert "full_access_as_app" in jwt.decode(token.token, options={"verify_signature": False})["roles"]
    listed = await admin.service_principals.by_service_principal_id(exo.id).app_role_assigned_to.get()
    assert listed is not None and listed.value is not None and grant.id in {a.id for a in listed.value}
    assert grant.id is not None
    assigned_to = admin.service_principals.by_service_principal_id(exo.id).app_role_assigned_to
    await assigned_to.by_app_role_assignment_id(grant.id).delete()
    assert grant.id not in contoso.app_role_assignments


def _assignment(principal_id: str, resource_id: str) -> Any:
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment

    return AppRoleAssignment(principal_id=uuid.UUID(principal_id), resource_id=uuid.UUID(resource_id),
                             app_role_id=uuid.UUID(FULL_ACCESS_AS_APP))


# -- users, licences, drives, groups ---------------------------------------------------------------------
async def test_users_page_with_next_links_until_the_whole_directory(
        sim: Simulator, admin: GraphServiceClient, contoso: Tenant) -> None:
    first = await admin.users.get(request_configuration=config(top=50, select=["id", "userPrincipalName"]))
    assert first is not None and first.odata_next_link is not None and len(first.value or []) == 50
    seen: list[str] = []
    iterator = PageIterator(first, admin.request_adapter)
    await iterator.iterate(lambda user: bool(seen.append(user.user_principal_name)) or True)
    assert len(seen) == len(contoso.users) == USERS + 5
    assert len(entries(sim, "GET", "/v1.0/users", count=3)) == 3
    error = await odata_error(admin.users.get(request_configuration=config(top=1000)))
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")


async def test_user_state_licences_and_plans(admin: GraphServiceClient, contoso: Tenant) -> None:
    account = contoso.user(contoso.extras["account_upn"])
    user = await admin.users.by_user_id(account.upn).get(request_configuration=config(select=[
        "id", "accountEnabled", "passwordPolicies", "lastPasswordChangeDateTime", "userType",
        "onPremisesSyncEnabled", "assignedLicenses", "assignedPlans", "usageLocation"]))
    assert user is not None
    assert (user.id, user.account_enabled, user.usage_location) == (account.id, True, "US")
    assert user.display_name is None and user.last_password_change_date_time is not None
    assert {p.service for p in user.assigned_plans or []} >= {"exchange", "SharePoint"}
    # user-list-licensedetails-permissions.md: "Application: Not supported." (the delegated reading is in
    # test_graph_contract_directory.py)
    refused = await odata_error(admin.users.by_user_id(account.id).license_details.get())
    assert (refused.response_status_code, refused.error.code) == (403, "Authorization_RequestDenied")
    by_upn = await admin.users.get(
        request_configuration=config(filter=f"userPrincipalName eq '{account.upn}'"))
    assert by_upn is not None and [u.id for u in by_upn.value or []] == [account.id]
    prefix = await admin.users.get(
        request_configuration=config(filter="startswith(userPrincipalName,'user01')"))
    assert prefix is not None and len(prefix.value or []) == 21  # user0100 .. user0120
    skus = await admin.subscribed_skus.get()
    assert skus is not None
    e3 = next(s for s in skus.value or [] if s.sku_part_number == "ENTERPRISEPACK")
    assert e3.prepaid_units is not None and e3.consumed_units == contoso.consumed(str(e3.sku_id))


async def test_assign_and_remove_a_licence(sim: Simulator, contoso: Tenant) -> None:
    from msgraph.generated.models.assigned_license import AssignedLicense
    from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
        AssignLicensePostRequestBody,
    )

    contoso = sim.reset(users=USERS, breaks=["account-unlicensed"])
    admin = graph_client(sim, secret_credential(sim))
    account = contoso.user(contoso.extras["account_upn"])
    e3 = next(s.sku_id for s in contoso.skus.values() if s.part_number == "ENTERPRISEPACK")
    licence = AssignedLicense(sku_id=uuid.UUID(e3), disabled_plans=[])
    add = AssignLicensePostRequestBody(add_licenses=[licence], remove_licenses=[])
    user = await admin.users.by_user_id(account.id).assign_license.post(add)
    assert user is not None and user.id == account.id and account.licenses == [e3]
    remove = AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[uuid.UUID(e3)])
    await admin.users.by_user_id(account.id).assign_license.post(remove)
    assert account.licenses == []
    contoso.update_user(account.id, usage_location=None)
    error = await odata_error(admin.users.by_user_id(account.id).assign_license.post(add))
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")
    assert error.error.message == "License assignment cannot be done for user with invalid usage location."


async def test_patch_user_fields_and_password(admin: GraphServiceClient, contoso: Tenant) -> None:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    account = contoso.user(contoso.extras["account_upn"])
    contoso.update_user(account.id, account_enabled=False)
    await admin.users.by_user_id(account.id).patch(User(account_enabled=True, usage_location="GB",
                                                        password_policies="DisablePasswordExpiration"))
    assert (account.account_enabled, account.usage_location, account.password_policies) == (
        True, "GB", "DisablePasswordExpiration")
    profile = PasswordProfile(password="New-Passw0rd!2025", force_change_password_next_sign_in=False)
    await admin.users.by_user_id(account.id).patch(User(password_profile=profile))
    assert account.password == "New-Passw0rd!2025"
    weak = await odata_error(admin.users.by_user_id(account.id).patch(
        User(password_profile=PasswordProfile(password="short"))))
    assert weak.response_status_code == 400 and "complexity" in (weak.error.message or "")


async def test_password_reset_needs_the_password_profile_role(sim: Simulator, contoso: Tenant) -> None:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    _revoke(contoso, ADMIN_APP_ID, "User-PasswordProfile.ReadWrite.All")
    admin = graph_client(sim, secret_credential(sim))
    account = contoso.user(contoso.extras["account_upn"])
    denied = await odata_error(admin.users.by_user_id(account.id).patch(
        User(password_profile=PasswordProfile(password="New-Passw0rd!2025"))))
    assert (denied.response_status_code, denied.error.code) == (403, "Authorization_RequestDenied")
    assert denied.error.message == "Insufficient privileges to complete the operation."
    await admin.users.by_user_id(account.id).patch(User(account_enabled=False))
    assert account.account_enabled is False


def _revoke(contoso: Tenant, app_id: str, role_value: str) -> None:
    client, graph_sp = contoso.sp_by_app_id(app_id), contoso.sp_by_app_id(GRAPH_APP_ID)
    assert client is not None and graph_sp is not None
    role = graph_sp.role_by_value(role_value)
    assert role is not None
    grant = next(a for a in contoso.app_role_assignments.values()
                 if (a.principal_id, a.resource_id, a.app_role_id) == (client.id, graph_sp.id, role.id))
    contoso.delete_app_role_assignment(grant.id)


def _grant(contoso: Tenant, app_id: str, role_value: str) -> None:
    client, graph_sp = contoso.sp_by_app_id(app_id), contoso.sp_by_app_id(GRAPH_APP_ID)
    assert client is not None and graph_sp is not None
    role = graph_sp.role_by_value(role_value)
    assert role is not None
    contoso.assign_app_role(client.id, graph_sp.id, role.id)


async def test_drive_of_a_licensed_user_and_404_without_licence(
        sim: Simulator, admin: GraphServiceClient, contoso: Tenant) -> None:
    from msgraph.generated.users.item.drive.drive_request_builder import DriveRequestBuilder

    upn = "user0001@contoso.onmicrosoft.com"
    select = DriveRequestBuilder.DriveRequestBuilderGetQueryParameters(select=["id", "webUrl"])
    drive = await admin.users.by_user_id(upn).drive.get(RequestConfiguration(query_parameters=select))
    assert drive is not None and drive.id is not None and drive.id.startswith("b!")
    # The drive's webUrl is its document library, not the personal site.
    assert drive.web_url == f"{sim.base_url}/personal/user0001_contoso_onmicrosoft_com/Documents"
    contoso.assign_license(upn, [], list(contoso.user(upn).licenses))
    error = await odata_error(admin.users.by_user_id(upn).drive.get())
    assert (error.response_status_code, error.error.code, error.error.message) == (
        400, "BadRequest", "Unable to retrieve user's mysite URL.")


async def test_group_members_need_a_group_read_role(sim: Simulator, contoso: Tenant) -> None:
    account = contoso.user(contoso.extras["account_upn"])
    contoso.groups["7c1f0b7e-0000-4000-8000-000000000001"] = [account.id]
    admin = graph_client(sim, secret_credential(sim))
    error = await odata_error(admin.groups.by_group_id("7c1f0b7e-0000-4000-8000-000000000001").members.get())
    assert error.response_status_code == 403
    _grant(contoso, ADMIN_APP_ID, "Directory.Read.All")
    admin = graph_client(sim, secret_credential(sim))
    members = await admin.groups.by_group_id("7c1f0b7e-0000-4000-8000-000000000001").members.get()
    assert members is not None and [m.id for m in members.value or []] == [account.id]
    assert type(members.value[0]).__name__ == "User"  # @odata.type drives the SDK's discriminator
    missing = await odata_error(admin.groups.by_group_id("nope").members.get())
    assert (missing.response_status_code, missing.error.code) == (404, "Request_ResourceNotFound")


async def test_domains(admin: GraphServiceClient, contoso: Tenant) -> None:
    domains = await admin.domains.get()
    assert domains is not None
    assert {(d.id, d.authentication_type, d.is_initial) for d in domains.value or []} == {
        ("contoso.onmicrosoft.com", "Managed", True), ("contoso.com", "Federated", False)}
    federated = await admin.domains.by_domain_id("contoso.com").get()
    assert federated is not None and federated.authentication_type == "Federated"


# -- policies ----------------------------------------------------------------------------------------------
async def test_conditional_access_exclusion_is_merged_and_logged(sim: Simulator, contoso: Tenant) -> None:
    from msgraph.generated.models.conditional_access_condition_set import ConditionalAccessConditionSet
    from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy
    from msgraph.generated.models.conditional_access_users import ConditionalAccessUsers

    contoso = sim.reset(users=USERS, breaks=["mfa-blocks-service-account"])
    admin = graph_client(sim, secret_credential(sim))
    account, policy_id = contoso.user(contoso.extras["account_upn"]), contoso.extras["mfa_policy_id"]
    policies = await admin.identity.conditional_access.policies.get()
    assert policies is not None and policy_id in {p.id for p in policies.value or []}
    policy = await admin.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id).get()
    assert policy is not None and policy.conditions is not None and policy.conditions.users is not None
    before = list(policy.conditions.users.exclude_users or [])
    assert account.id not in before and policy.conditions.users.include_users == ["All"]
    update = ConditionalAccessPolicy(conditions=ConditionalAccessConditionSet(
        users=ConditionalAccessUsers(exclude_users=[*before, account.id])))
    await admin.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id).patch(update)
    stored = contoso.ca_policy(policy_id)
    assert stored.exclude_users == [*before, account.id] and stored.include_users == ["All"]
    [write] = entries(sim, "PATCH", policy_id)
    assert (write["status"], write["wrote"], write["ops"]) == (204, True, ["update-ca-policy"])
    assert all(not e["wrote"] for e in sim.log if e["method"] == "GET")


async def test_security_defaults_read_and_update(admin: GraphServiceClient, contoso: Tenant) -> None:
    from msgraph.generated.models.identity_security_defaults_enforcement_policy import (
        IdentitySecurityDefaultsEnforcementPolicy,
    )

    policy = await admin.policies.identity_security_defaults_enforcement_policy.get()
    assert policy is not None and (policy.id, policy.is_enabled) == (SECURITY_DEFAULTS_ID, False)
    await admin.policies.identity_security_defaults_enforcement_policy.patch(
        IdentitySecurityDefaultsEnforcementPolicy(is_enabled=True))
    assert contoso.security_defaults_enabled is True


# -- sites ---------------------------------------------------------------------------------------------------
async def test_site_by_host_and_path(sim: Simulator, contoso: Tenant) -> None:
    admin = graph_client(sim, secret_credential(sim))
    host = sim.base_url.removeprefix("https://")
    site = await admin.sites.by_site_id(f"{host}:{contoso.extras['target_site']}").get()
    assert site is not None and site.web_url == sim.base_url + contoso.extras["target_site"]
    stored = contoso.site(contoso.extras["target_site"])
    assert site.id == f"127.0.0.1,{stored.id},{stored.web_id}"
    again = await admin.sites.by_site_id(site.id).get()
    assert again is not None and again.display_name == stored.title
    contoso = sim.reset(users=USERS, breaks=["target-site-missing"])
    error = await odata_error(admin.sites.by_site_id(f"{host}:{contoso.extras['target_site']}").get())
    assert (error.response_status_code, error.error.code, error.error.message) == (
        404, "itemNotFound", "Requested site could not be found")


# -- $batch -------------------------------------------------------------------------------------------------
def raw(sim: Simulator, token: str | None = None) -> httpx.Client:
    """Plain HTTPS for what the SDK cannot send here ($batch needs msgraph-core's optional `deprecated`)."""
    bearer = token or secret_credential(sim).get_token(*SCOPES).token
    return httpx.Client(base_url=sim.base_url + "/v1.0", headers={"Authorization": f"Bearer {bearer}"},
                        verify=ssl.create_default_context(cafile=sim.ca_path))


def test_batch_runs_each_request_with_the_callers_token(sim: Simulator, contoso: Tenant) -> None:
    account = contoso.user(contoso.extras["account_upn"])
    requests = [
        {"id": "1", "method": "GET", "url": f"/users/{account.upn}?$select=id,accountEnabled"},
        {"id": "2", "method": "PATCH", "url": f"/users/{account.id}", "body": {"usageLocation": "DE"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com"},
        {"id": "4", "method": "GET", "url": "/domains", "dependsOn": ["3"]},
        {"id": "5", "method": "GET", "url": "https://graph.microsoft.com/v1.0/subscribedSkus"},
        {"id": "6", "method": "POST", "url": "/$batch", "body": {"requests": []},
         "headers": {"Content-Type": "application/json"}},
    ]
    with raw(sim) as client:
        answer = client.post("/$batch", json={"requests": requests})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    # user-get.md example 3: a single entity carries its @odata.context, the $select list in it
    context = f"{sim.base_url}/v1.0/$metadata#users(id,accountEnabled)/$entity"
    assert by_id["1"]["body"] == {"@odata.context": context, "id": account.id, "accountEnabled": True}
    assert (by_id["2"]["status"], "body" in by_id["2"], account.usage_location) == (204, False, "DE")
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["4"]["status"] == 424
    assert by_id["5"]["status"] == 200 and by_id["5"]["body"]["value"]
    assert by_id["6"]["status"] == 400
    [entry] = entries(sim, "POST", "/$batch")
    assert (entry["wrote"], entry["ops"]) == (True, ["update-user"])


def test_batch_limits_and_duplicate_ids(sim: Simulator, contoso: Tenant) -> None:
    one = {"method": "GET", "url": "/domains"}
    with raw(sim) as client:
        too_many = client.post("/$batch", json={"requests": [{"id": str(i), **one} for i in range(21)]})
        duplicate = client.post("/$batch", json={"requests": [{"id": "1", **one}, {"id": "1", **one}]})
        twenty = client.post("/$batch", json={"requests": [{"id": str(i), **one} for i in range(20)]})
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (400, "BadRequest")
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (400, "BadRequest")
    assert twenty.status_code == 200 and len(twenty.json()["responses"]) == 20


def test_batch_inner_requests_need_the_same_roles(sim: Simulator, contoso: Tenant) -> None:
    token = secret_credential(sim, CONNECTOR_APP_ID).get_token(*SCOPES).token
    with raw(sim, token) as client:
        answer = client.post("/$batch", json={"requests": [
            {"id": "a", "method": "GET", "url": "/applications"},
            {"id": "u", "method": "GET", "url": "/users?$top=1"}]})
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["a"]["status"] == 403
    assert by_id["a"]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert by_id["u"]["status"] == 200


# -- errors as Graph sends them ---------------------------------------------------------------------------
async def test_missing_role_is_403_authorization_request_denied(sim: Simulator, contoso: Tenant) -> None:
    connector = graph_client(sim, secret_credential(sim, CONNECTOR_APP_ID))  # no Application.* role
    error = await odata_error(connector.applications.get())
    assert (error.response_status_code, error.error.code, error.error.message) == (
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    assert error.error.inner_error is not None and error.error.inner_error.request_id


class OtherAudience:
    """A credential that hands out Exchange Online tokens whatever it is asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self.inner.get_token("https://outlook.office365.com/.default")


async def test_wrong_audience_token_is_401(sim: Simulator, contoso: Tenant) -> None:
    client = graph_client(sim, OtherAudience(secret_credential(sim)))
    error = await odata_error(client.users.get())
    assert (error.response_status_code, error.error.code, error.error.message) == (
        401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    assert error.response_headers is not None
    assert error.response_headers.get("www-authenticate", "").startswith("Bearer ")


def test_no_token_unknown_segment_and_unsupported_filter(sim: Simulator, contoso: Tenant) -> None:
    with httpx.Client(base_url=sim.base_url + "/v1.0",
                      verify=ssl.create_default_context(cafile=sim.ca_path)) as anonymous:
        empty = anonymous.get("/users")
    assert (empty.status_code, empty.json()["error"]["message"]) == (401, "Access token is empty.")
    with raw(sim) as client:
        unknown = client.get("/servicePrincipals/x/notAThing", headers={"client-request-id": "abc-123"})
        unsupported = client.get("/users", params={"$filter": "accountEnabled eq false"})
    assert unknown.status_code == 400 and unknown.headers["content-type"] == "application/json"
    assert unknown.json()["error"]["code"] == "BadRequest"
    assert unknown.json()["error"]["message"] == "Resource not found for the segment 'notAThing'."
    assert unknown.headers["client-request-id"] == "abc-123" and unknown.headers["request-id"]
    assert unknown.json()["error"]["innerError"]["client-request-id"] == "abc-123"
    assert (unsupported.status_code, unsupported.json()["error"]["code"]) == (400, "Request_UnsupportedQuery")


def test_expired_token_is_401_lifetime_validation(sim: Simulator, contoso: Tenant) -> None:
    expired = sim.services.tokens.issue(tenant_id=contoso.tenant_id, audience="https://graph.microsoft.com",
                                        app_id=ADMIN_APP_ID, appidacr="1", roles=["User.Read.All"],
                                        now=time.time() - 7200)
    with raw(sim, expired) as client:
        answer = client.get("/users")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert answer.json()["error"]["message"] == "Lifetime validation failed, the token is expired."


def test_a_user_token_reaches_another_users_onedrive_only_as_its_site_admin(
        sim: Simulator, contoso: Tenant) -> None:
    def delegated(t: Tenant) -> str:
        account = t.user(t.extras["account_upn"])
        return sim.services.tokens.issue(tenant_id=t.tenant_id, audience="https://graph.microsoft.com",
                                         app_id=t.extras["public_client_id"], appidacr="0",
                                         scp="Files.ReadWrite.All User.Read", upn=account.upn, oid=account.id)

    with raw(sim, delegated(contoso)) as client:
        assert client.get("/users/user0001@contoso.onmicrosoft.com/drive").status_code == 200
    contoso = sim.reset(users=USERS, breaks=["no-onedrive-access"])
    with raw(sim, delegated(contoso)) as client:
        denied = client.get("/users/user0001@contoso.onmicrosoft.com/drive")
        own = client.get(f"/users/{contoso.extras['account_upn']}/licenseDetails")
        other = client.get("/users/user0001@contoso.onmicrosoft.com/licenseDetails")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "accessDenied")
    # user-list-licensedetails-permissions.md lists delegated User.Read: it reaches the caller's own user only
    assert (own.status_code, other.status_code) == (200, 403)


async def test_certificate_credential_works_for_graph(sim: Simulator, contoso: Tenant) -> None:
    cert = contoso.extras["admin_cert"]
    credential = CertificateCredential(TENANT_ID, ADMIN_APP_ID, certificate_data=cert.pem.encode(),
                                       authority=sim.base_url, disable_instance_discovery=True,
                                       connection_verify=sim.ca_path)
    me = await graph_client(sim, credential).service_principals_with_app_id(ADMIN_APP_ID).get()
    assert me is not None and me.app_id == ADMIN_APP_ID


# -- wire faults ------------------------------------------------------------------------------------------
async def test_throttle_fault_reaches_the_sdk_as_429_with_retry_after(sim: Simulator,
                                                                      contoso: Tenant) -> None:
    admin = graph_client(sim, secret_credential(sim))
    assert await admin.domains.get() is not None  # token acquired before the fault is armed
    sim.set_faults({"throttle": {"first": 1, "retry_after_s": 2, "services": ["graph"]}})
    error = await odata_error(admin.domains.get())
    assert (error.response_status_code, error.error.code) == (429, "activityLimitReached")
    assert error.response_headers is not None and error.response_headers.get("retry-after") == "2"
    throttled = [e for e in entries(sim, "GET", "/v1.0/domains", count=2) if e["status"] == 429]
    assert len(throttled) == 1 and throttled[0]["fault"] == "throttle" and not throttled[0]["wrote"]


async def test_sdk_retry_honours_retry_after_from_the_fault(sim: Simulator, contoso: Tenant) -> None:
    admin = graph_client(sim, secret_credential(sim), retries=1)
    assert await admin.domains.get() is not None
    sim.set_faults({"throttle": {"first": 1, "retry_after_s": 1, "services": ["graph"]}})
    started = time.monotonic()
    assert await admin.domains.get() is not None
    assert time.monotonic() - started >= 0.9  # kiota waited the Retry-After the fault sent
    statuses = [e["status"] for e in entries(sim, "GET", "/v1.0/domains", count=3)]
    assert statuses == [200, 429, 200]
