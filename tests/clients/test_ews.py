"""EWS probes (exchangelib) over HTTPS: app-only impersonation, Basic on-premises, auth challenges."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.clients import ReadFailed, Throttled, clients_factory
from agent.clients.ews import challenge_schemes, ews_challenge, probe_ews_basic
from agent.config.model import Config
from agent.retry import RetryPolicy
from agent.simulator import Simulator
from tests.clients import RecordingSleep, requests_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _onprem(config: Config) -> tuple[str, str, str, Path]:
    conn = config.connector("mail-onprem")
    assert conn.account is not None and conn.ews_url is not None
    ca = config.tenants[0].endpoints.ca_bundle
    assert ca is not None
    return conn.ews_url, conn.account.username, conn.account.password.resolve(), ca


async def test_app_only_probe_opens_the_mailbox(config: Config, tenant: Simulator) -> None:
    environ = dict(os.environ)
    probe = await clients_factory(config.tenants[0], config.connector("mail-exo")).probe_ews()
    assert probe.ok and probe.status == 200 and probe.code is None
    assert requests_to(tenant, "/EWS/Exchange.asmx", "POST")
    assert dict(os.environ) == environ  # the CA is trusted without touching the environment


async def test_missing_full_access_shows_the_2000008_diagnostics(config: Config, tenant: Simulator) -> None:
    tenant.reset(breaks=["exo-app-missing-full-access"])
    probe = await clients_factory(config.tenants[0], config.connector("mail-exo")).probe_ews(use="secret")
    assert not probe.ok and probe.status == 401
    assert probe.x_ms_diagnostics is not None and probe.x_ms_diagnostics.startswith("2000008;")
    assert "Bearer" in probe.www_authenticate


async def test_reverify_after_the_grant_is_restored_uses_no_stale_protocol(config: Config,
                                                                         tenant: Simulator) -> None:
    clients = clients_factory(config.tenants[0], config.connector("mail-exo"))
    tenant.reset(breaks=["exo-app-missing-full-access"])
    assert (await clients.probe_ews()).status == 401
    tenant.reset()
    assert (await clients.probe_ews()).ok


async def test_unlicensed_mailbox_is_an_ews_error_code(config: Config, tenant: Simulator) -> None:
    tenant.reset(breaks=["account-unlicensed"])
    probe = await clients_factory(config.tenants[0], config.connector("mail-exo")).probe_ews()
    assert not probe.ok and probe.code == "ErrorNonExistentMailbox"


async def test_bad_app_secret_surfaces_the_token_error(config: Config, tenant: Simulator) -> None:
    tenant.reset(breaks=["app-credentials-invalid:wrong-secret"])
    probe = await clients_factory(config.tenants[0], config.connector("mail-exo")).probe_ews(use="secret")
    assert not probe.ok and probe.code == "AADSTS7000215" and probe.status == 401
    assert not requests_to(tenant, "/EWS/Exchange.asmx")  # EWS was never reached


async def test_delegated_probe_with_the_accounts_own_token(config: Config, tenant: Simulator) -> None:
    clients = clients_factory(config.tenants[0], config.connector("mail-exo"))
    assert (await clients.probe_ews(use="account")).ok
    tenant.reset(breaks=["bad-credentials"])
    refused = await clients.probe_ews(use="account")
    assert not refused.ok and refused.code == "AADSTS50126" and refused.status == 400


def test_onprem_challenge_lists_the_offered_schemes(config: Config, tenant: Simulator) -> None:
    url, _, _, ca = _onprem(config)
    probe = ews_challenge(url, ca_bundle=ca)
    assert probe.status == 401 and probe.www_authenticate == ["Basic", "NTLM", "Negotiate"]
    tenant.reset(breaks=["legacy-auth-disabled"])
    assert ews_challenge(url, ca_bundle=ca).www_authenticate == ["Negotiate"]


async def test_onprem_basic_probe(config: Config, tenant: Simulator) -> None:
    clients = clients_factory(config.tenants[0], config.connector("mail-onprem"))
    assert (await clients.probe_ews()).ok
    url, user, password, ca = _onprem(config)
    refused = probe_ews_basic(url, user, "not-the-password", ca_bundle=ca)
    assert not refused.ok and refused.status == 401 and "Basic" in refused.www_authenticate
    assert "not-the-password" not in repr(refused) and password not in repr(refused)


def test_ews_throttling_is_retried_with_the_servers_back_off(config: Config, tenant: Simulator) -> None:
    url, user, password, ca = _onprem(config)
    sleep = RecordingSleep()
    tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 1, "services": ["ews"]}})
    assert probe_ews_basic(url, user, password, ca_bundle=ca, sleep=sleep.sync).ok
    assert [e["status"] for e in requests_to(tenant, "/onprem/EWS")] == [500, 200]  # ErrorServerBusy fault
    assert sleep.waits == [1.0]
    tenant.set_faults({"throttle": {"first": 10, "retry_after_s": 1, "services": ["ews"]}})
    with pytest.raises(Throttled):
        probe_ews_basic(url, user, password, ca_bundle=ca, sleep=sleep.sync, policy=RetryPolicy(attempts=2))


def test_unreachable_ews_is_a_read_failure() -> None:
    with pytest.raises(ReadFailed):
        ews_challenge("https://127.0.0.1:9/EWS/Exchange.asmx")


def test_challenge_scheme_parsing() -> None:
    value = ('Basic realm="mail.contoso.com", NTLM, Negotiate, Bearer client_id="00000002-0000-0ff1-ce00-'
             '000000000000", trusted_issuers="a@b,c@d", authorization_uri="https://login.example/x"')
    assert challenge_schemes(value) == ["Basic", "NTLM", "Negotiate", "Bearer"]
    assert challenge_schemes(None) == []
