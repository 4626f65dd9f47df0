"""GraphAdapter (msgraph-sdk) over HTTPS: reads, guarded writes, dry run, errors, one retry layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from agent import redact
from agent.clients import Clients, ReadFailed, Throttled, WriteFailed, clients_factory
from agent.clients.graph import GraphAdapter, as_dict, graph_base_url
from agent.config.model import Config
from agent.guard import DryRunWrite, WriteGuard
from agent.retry import RetryPolicy
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import (
    ADMIN_APP_ID,
    CONNECTOR_APP_ID,
    E3,
    EXCHANGE_STANDARD,
    GRAPH_ROLES,
)
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP, GRAPH_APP_ID
from tests.clients import RecordingSleep, requests_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ACCOUNT = "migsvc@contoso.onmicrosoft.com"


@pytest.fixture
async def clients(config: Config) -> AsyncIterator[Clients]:
    bundle = clients_factory(config.tenants[0], config.connector("files-onedrive"), WriteGuard(dry_run=False))
    yield bundle
    await bundle.aclose()


@pytest.fixture
async def graph(clients: Clients) -> GraphAdapter:
    return clients.graph


async def test_reads_applications_and_grants(graph: GraphAdapter) -> None:
    app = await graph.get_application(CONNECTOR_APP_ID, select=["id", "appId", "passwordCredentials"])
    assert app is not None and app.app_id == CONNECTOR_APP_ID and app.password_credentials
    assert await graph.get_application("00000000-0000-0000-0000-0000000000aa") is None
    sp = await graph.get_service_principal(CONNECTOR_APP_ID)
    exo = await graph.get_service_principal(EXCHANGE_APP_ID)
    assert sp is not None and exo is not None and sp.id and exo.id
    grants = await graph.app_role_assignments(sp.id)
    assert any(str(g.app_role_id) == FULL_ACCESS_AS_APP and str(g.resource_id) == exo.id for g in grants)


async def test_reads_directory_policies_and_sites(graph: GraphAdapter, config: Config) -> None:
    user = await graph.get_user(ACCOUNT, select=["id", "accountEnabled", "usageLocation"])
    assert user is not None and user.account_enabled is True and user.usage_location == "US"
    assert await graph.get_user("nobody@contoso.onmicrosoft.com") is None
    # licenseDetails takes no app-only token (user-list-licensedetails-permissions.md): licences are read
    # from the user's assignedLicenses, as the catalog does
    licensed = await graph.get_user(ACCOUNT, select=["id", "assignedLicenses"])
    assert licensed is not None and {str(a.sku_id) for a in licensed.assigned_licenses or []} == {E3}
    assert E3 in {str(s.sku_id) for s in await graph.subscribed_skus()}
    domain = await graph.get_domain("contoso.com")
    assert domain is not None and domain.authentication_type == "Federated"
    assert any(p.display_name == "Require MFA for all users" for p in await graph.ca_policies())
    defaults = await graph.security_defaults()
    assert defaults is not None and defaults.is_enabled is False
    root = config.tenants[0].endpoints.sharepoint_root
    site = await graph.get_site_by_url(f"{root}/sites/source")
    assert site is not None and site.web_url == f"{root}/sites/source"
    assert await graph.get_site_by_url(f"{root}/sites/no-such-site") is None


async def test_paged_reads_follow_next_links(tenant: Simulator, graph: GraphAdapter) -> None:
    tenant.reset(users=130)
    users = graph.client.users
    everyone = await graph.read_all(users.get, lambda url: users.with_url(url).get)
    assert len(everyone) == len(tenant.state.users) > 100
    assert len(requests_to(tenant, "/v1.0/users", "GET")) == 2


async def test_writes_change_the_tenant_and_are_recorded(tenant: Simulator, clients: Clients) -> None:
    graph = clients.graph
    app = await graph.get_application(CONNECTOR_APP_ID, select=["id"])
    assert app is not None and app.id
    created = await graph.add_password(app.id, "agent-test", datetime.now(UTC) + timedelta(days=30))
    assert created.secret_text and redact.redact(f"x {created.secret_text} y") == "x *** y"
    stored = tenant.state.application(CONNECTOR_APP_ID).password_credentials
    assert any(c.key_id == str(created.key_id) for c in stored)
    await graph.remove_password(app.id, str(created.key_id))
    assert all(c.key_id != str(created.key_id) for c in tenant.state.application(CONNECTOR_APP_ID)
               .password_credentials)
    calls = [c.describe() for c in clients.guard.writes]
    assert calls == [f"POST {graph.base_url}/applications/{app.id}/addPassword",
                     f"POST {graph.base_url}/applications/{app.id}/removePassword"]


async def test_grant_and_revoke_an_app_role(tenant: Simulator, graph: GraphAdapter) -> None:
    tenant.reset(breaks=["exo-app-missing-full-access"])
    sp = await graph.get_service_principal(CONNECTOR_APP_ID)
    exo = await graph.get_service_principal(EXCHANGE_APP_ID)
    assert sp is not None and exo is not None and sp.id and exo.id
    grant = await graph.grant_app_role(exo.id, sp.id, FULL_ACCESS_AS_APP)
    assert tenant.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID) == ["full_access_as_app"]
    assert grant.id
    await graph.delete_app_role_assignment(exo.id, grant.id)
    assert tenant.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID) == []


async def test_service_principal_create_and_delete(tenant: Simulator, graph: GraphAdapter) -> None:
    tenant.reset(breaks=["app-not-installed"])
    assert await graph.get_service_principal(CONNECTOR_APP_ID) is None
    sp = await graph.create_service_principal(CONNECTOR_APP_ID)
    assert sp.id and tenant.state.sp_by_app_id(CONNECTOR_APP_ID) is not None
    await graph.delete_service_principal(sp.id)
    assert tenant.state.sp_by_app_id(CONNECTOR_APP_ID) is None


async def test_user_licence_and_policy_writes(tenant: Simulator, clients: Clients) -> None:
    tenant.reset(breaks=["account-unlicensed", "mfa-blocks-service-account"])
    graph = clients.graph
    await graph.patch_user(ACCOUNT, {"usageLocation": "GB", "passwordProfile": {
        "password": "N3w-Pa55word!x", "forceChangePasswordNextSignIn": False}})
    user = tenant.state.user(ACCOUNT)
    assert user.usage_location == "GB" and user.password == "N3w-Pa55word!x"
    assert clients.guard.writes[-1].body["passwordProfile"]["password"] == "***"
    await graph.assign_license(ACCOUNT, [EXCHANGE_STANDARD], [])
    assert tenant.state.user(ACCOUNT).licenses == [EXCHANGE_STANDARD]
    policy_id = str(tenant.state.extras["mfa_policy_id"])
    policy = await graph.get_ca_policy(policy_id)
    assert policy is not None and policy.conditions is not None and policy.conditions.users is not None
    before = list(policy.conditions.users.exclude_users or [])
    await graph.set_ca_excluded_users(policy_id, [*before, user.id])
    assert user.id in tenant.state.ca_policy(policy_id).exclude_users
    assert as_dict(policy)["id"] == policy_id


async def test_dry_run_write_raises_before_any_request(tenant: Simulator, config: Config) -> None:
    guard = WriteGuard(dry_run=True)
    clients = clients_factory(config.tenants[0], config.connector("files-onedrive"), guard)
    try:
        app = await clients.graph.get_application(CONNECTOR_APP_ID, select=["id"])
        assert app is not None and app.id
        seq = tenant.request_log.last_seq
        with pytest.raises(DryRunWrite, match="addPassword"):
            await clients.graph.add_password(app.id, "never", datetime.now(UTC) + timedelta(days=1))
        assert tenant.log[-1]["seq"] == seq  # nothing at all was sent
        assert not requests_to(tenant, "addPassword")
        assert guard.writes == []
    finally:
        await clients.aclose()


async def test_missing_permission_is_a_read_failure_naming_it(tenant: Simulator, config: Config) -> None:
    state = tenant.state
    admin, graph_sp = state.sp_by_app_id(ADMIN_APP_ID), state.sp_by_app_id(GRAPH_APP_ID)
    assert admin is not None and graph_sp is not None
    grant = next(a for a in state.app_role_assignments.values() if a.principal_id == admin.id
                 and a.resource_id == graph_sp.id and a.app_role_id == GRAPH_ROLES["Domain.Read.All"])
    state.delete_app_role_assignment(grant.id)
    clients = clients_factory(config.tenants[0], None, WriteGuard(dry_run=False))
    try:
        with pytest.raises(ReadFailed) as caught:
            await clients.graph.get_domain("contoso.com")
    finally:
        await clients.aclose()
    assert caught.value.status == 403 and caught.value.code == "Authorization_RequestDenied"
    assert str(caught.value) == ("403 Authorization_RequestDenied: Insufficient privileges to complete the "
                                 "operation. (needs Domain.Read.All)")


async def test_a_refused_write_is_write_failed(tenant: Simulator, graph: GraphAdapter) -> None:
    with pytest.raises(WriteFailed) as caught:
        await graph.assign_license(ACCOUNT, ["00000000-0000-0000-0000-000000000001"], [])
    assert caught.value.status == 400


async def test_throttling_is_retried_once_by_the_single_retry_layer(tenant: Simulator,
                                                                     config: Config) -> None:
    sleep = RecordingSleep()
    graph = GraphAdapter(config.tenants[0], clients_factory(config.tenants[0]).admin_credential(),
                         WriteGuard(dry_run=False), sleep=sleep)
    try:
        tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 1, "services": ["graph"]}})
        user = await graph.get_user(ACCOUNT, select=["id"])
        assert user is not None
        sp = await graph.get_service_principal(CONNECTOR_APP_ID)  # not throttled: the rule fired once
        assert sp is not None
    finally:
        await graph.aclose()
    hits = requests_to(tenant, f"/v1.0/users/{ACCOUNT}")
    assert [e["status"] for e in hits] == [429, 200]  # one retry: kiota's RetryHandler did not stack
    assert sleep.waits == [1.0]  # the server's Retry-After, honoured by tenacity


async def test_throttled_write_is_retried_and_a_spent_budget_raises(tenant: Simulator,
                                                                     config: Config) -> None:
    sleep = RecordingSleep()
    cred = clients_factory(config.tenants[0]).admin_credential()
    graph = GraphAdapter(config.tenants[0], cred, WriteGuard(dry_run=False), sleep=sleep,
                         read_policy=RetryPolicy(attempts=2))
    try:
        app = await graph.get_application(CONNECTOR_APP_ID, select=["id"])
        assert app is not None and app.id
        tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 1, "services": ["graph"]}})
        created = await graph.add_password(app.id, "retried", datetime.now(UTC) + timedelta(days=1))
        assert [e["status"] for e in requests_to(tenant, "addPassword")] == [429, 200]
        assert len(tenant.state.application(CONNECTOR_APP_ID).password_credentials) == 2
        assert created.key_id
        tenant.set_faults({"throttle": {"first": 10, "retry_after_s": 1, "services": ["graph"]}})
        with pytest.raises(Throttled) as caught:
            await graph.get_user(ACCOUNT)
        assert caught.value.status == 429
    finally:
        await graph.aclose()


def test_graph_base_url_adds_the_version_only_to_a_bare_host() -> None:
    assert graph_base_url("https://127.0.0.1:8443") == "https://127.0.0.1:8443/v1.0"
    assert graph_base_url("https://graph.microsoft.com/v1.0/") == "https://graph.microsoft.com/v1.0"
    assert graph_base_url("https://graph.microsoft.com/beta") == "https://graph.microsoft.com/beta"
