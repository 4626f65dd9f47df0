"""SharePointAdapter (office365-rest-python-client) over HTTPS: admins, role assignments, sites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.clients import AuthFailed, Throttled, clients_factory
from agent.clients.sharepoint import SharePointAdapter
from agent.clients.sharepoint_types import FULL_CONTROL, FULL_MASK, login_name
from agent.clients.token_cache import CachedCredential
from agent.clients.tokens import secret_credential
from agent.config.model import Config
from agent.guard import DryRunWrite, WriteGuard
from agent.retry import RetryPolicy
from agent.simulator import Simulator
from agent.simulator.state.tenant import login_name as sim_login
from tests.clients import RecordingSleep, requests_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ACCOUNT = "migsvc@contoso.onmicrosoft.com"


@pytest.fixture
def sharepoint(config: Config) -> Iterator[SharePointAdapter]:
    adapter = clients_factory(config.tenants[0], None, WriteGuard(dry_run=False)).sharepoint
    yield adapter
    adapter.close()


def _is_admin(sim: Simulator, upn: str, path: str = "/sites/source") -> bool:
    entry = sim.state.site(path).user_by_login(sim_login(upn))
    return entry is not None and entry.is_site_admin


def _site(config: Config, path: str = "/sites/source") -> str:
    return f"{config.tenants[0].endpoints.sharepoint_root}{path}"


async def test_lists_site_admins_and_the_web(config: Config, sharepoint: SharePointAdapter) -> None:
    web = await sharepoint.web(_site(config))
    assert web["title"] == "Migration source" and web["url"] == _site(config)
    admins = await sharepoint.site_admins(_site(config))
    assert login_name(ACCOUNT) in {a.login_name for a in admins} and all(a.is_site_admin for a in admins)


async def test_make_and_unmake_site_collection_admin(config: Config, tenant: Simulator,
                                                     sharepoint: SharePointAdapter) -> None:
    tenant.reset(breaks=["not-site-collection-admin"])
    assert not _is_admin(tenant, ACCOUNT)
    user = await sharepoint.set_site_admin(_site(config), ACCOUNT, True)
    assert user is not None and user.is_site_admin and _is_admin(tenant, ACCOUNT)
    await sharepoint.set_site_admin(_site(config), ACCOUNT, False)
    assert not _is_admin(tenant, ACCOUNT)
    assert [c.method for c in sharepoint.guard.writes] == ["MERGE", "MERGE"]
    # unsetting someone who is not on the site changes nothing
    assert await sharepoint.set_site_admin(_site(config), "alice@contoso.com", False) is None


async def test_ensure_user_adds_a_missing_user(config: Config, tenant: Simulator,
                                               sharepoint: SharePointAdapter) -> None:
    target = "admin@contoso.onmicrosoft.com"
    site_url = _site(config, "/sites/target")
    before = await sharepoint.find_user(site_url, "user0001@contoso.onmicrosoft.com")
    added = await sharepoint.ensure_user(site_url, "user0001@contoso.onmicrosoft.com")
    assert before is None and added.id > 0
    assert tenant.state.site("/sites/target").user_by_login(sim_login("user0001@contoso.onmicrosoft.com"))
    assert (await sharepoint.find_user(site_url, target)) is not None


async def test_role_assignment_add_and_remove_by_principal_and_role(config: Config, tenant: Simulator,
                                                                    sharepoint: SharePointAdapter) -> None:
    tenant.reset(breaks=["no-full-control"])
    site_url = _site(config)
    user = await sharepoint.find_user(site_url, ACCOUNT)
    assert user is not None
    assert await sharepoint.user_permissions(site_url, ACCOUNT) != FULL_MASK or user.is_site_admin
    await sharepoint.add_role_assignment(site_url, user.id, FULL_CONTROL)
    found = {(r.principal_id, rid) for r in await sharepoint.role_assignments(site_url) for rid in r.role_ids}
    assert (user.id, FULL_CONTROL) in found
    assert await sharepoint.user_permissions(site_url, ACCOUNT) == FULL_MASK
    await sharepoint.remove_role_assignment(site_url, user.id, FULL_CONTROL)
    state_site = tenant.state.site("/sites/source")
    assert not any(r.principal_id == user.id and r.role_def_id == FULL_CONTROL
                   for r in state_site.role_assignments)
    assert requests_to(tenant, f"removeroleassignment(principalid={user.id},roledefid={FULL_CONTROL})")


async def test_create_and_delete_a_site_collection(config: Config, tenant: Simulator,
                                                   sharepoint: SharePointAdapter) -> None:
    tenant.reset(breaks=["target-site-missing"])
    url = _site(config, "/sites/target")
    assert (await sharepoint.site_status(url)).status == 0
    created = await sharepoint.create_site(url, "Migration target", "admin@contoso.onmicrosoft.com")
    assert created.status in (1, 2) and created.site_id
    site = tenant.state.find_site("/sites/target")
    assert site is not None and site.template == "STS#3"
    await sharepoint.delete_site(created.site_id)
    assert tenant.state.find_site("/sites/target") is None


async def test_dry_run_write_sends_nothing(config: Config, tenant: Simulator) -> None:
    adapter = clients_factory(config.tenants[0], None, WriteGuard(dry_run=True)).sharepoint
    try:
        seq = tenant.request_log.last_seq
        with pytest.raises(DryRunWrite, match="ensureuser"):
            await adapter.ensure_user(_site(config), "user0001@contoso.onmicrosoft.com")
        assert tenant.request_log.last_seq == seq
    finally:
        adapter.close()


async def test_one_token_serves_every_site(config: Config, tenant: Simulator,
                                           sharepoint: SharePointAdapter) -> None:
    tenant.reset(users=5)
    personal = [p for p in tenant.state.sites if p.startswith("/personal/")]
    for path in personal[:3]:
        await sharepoint.site_admins(_site(config, path))
    assert len(requests_to(tenant, "/oauth2/v2.0/token", "POST")) == 1


async def test_secret_based_admin_token_is_refused(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    t = config.tenants[0]
    secret = t.admin.client_secret
    assert secret is not None
    cred = CachedCredential(secret_credential(t, t.admin.client_id, secret.resolve()))
    adapter = SharePointAdapter(t, cred, WriteGuard(dry_run=False))
    try:
        with pytest.raises(AuthFailed) as caught:
            await adapter.site_admins(_site(config))
    finally:
        adapter.close()
    assert caught.value.status == 401
    assert 'x-ms-diagnostics: 3000003;reason="Unsupported app only token."' in str(caught.value)
    # office365 logs the failed digest hook with a full traceback before raising it: silenced
    assert not [r for r in caplog.records if "Unhandled exception in listener" in r.getMessage()]


async def test_throttling_is_retried_once(config: Config, tenant: Simulator) -> None:
    sleep = RecordingSleep()
    cred = clients_factory(config.tenants[0]).admin_credential(certificate=True)
    adapter = SharePointAdapter(config.tenants[0], cred, WriteGuard(dry_run=False), sleep=sleep.sync,
                                read_policy=RetryPolicy(attempts=2))
    try:
        await adapter.web(_site(config))  # contextinfo first, so the fault hits the call under test
        tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 1, "services": ["sharepoint"],
                                        "path": "siteUsers"}})
        assert await adapter.site_admins(_site(config))
        assert [e["status"] for e in requests_to(tenant, "/_api/Web/siteUsers")] == [429, 200]
        assert sleep.waits == [1.0]
        tenant.set_faults({"throttle": {"first": 5, "retry_after_s": 1, "services": ["sharepoint"],
                                        "path": "siteUsers"}})
        with pytest.raises(Throttled):
            await adapter.site_admins(_site(config))
    finally:
        adapter.close()
