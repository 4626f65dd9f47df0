"""Token probes and admin credentials (azure-identity) against the simulated Entra ID."""

from __future__ import annotations

import socket
import time

import pytest

from agent.clients import AuthFailed, ReadFailed, clients_factory
from agent.clients.errors import Throttled, aadsts_code, translate
from agent.clients.token_cache import CachedCredential
from agent.clients.tokens import (
    TokenProbe,
    admin_credential,
    decode_claims,
    probe_app_certificate,
    probe_app_secret,
    probe_password,
    sharepoint_scope,
    user_realm,
)
from agent.config.model import Config
from agent.simulator import Simulator
from tests.clients import requests_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"  # the simulated tenant is in the public cloud


def _token_posts(sim: Simulator) -> int:
    return len(requests_to(sim, "/oauth2/v2.0/token", "POST"))


def test_app_secret_probe_returns_the_tokens_claims(config: Config, tenant: Simulator) -> None:
    t, app = config.tenants[0], config.connector("mail-exo").app
    assert app is not None and app.client_secret is not None
    probe = probe_app_secret(t, app.client_id, app.client_secret.resolve(), "https://outlook.office365.com/.default")
    assert probe.ok and probe.aadsts is None
    assert probe.aud == "https://outlook.office365.com"
    assert "full_access_as_app" in probe.roles
    assert probe.appidacr == "1"


def test_certificate_probe_gets_a_certificate_token(config: Config) -> None:
    t, app = config.tenants[0], config.connector("files-onedrive").app
    assert app is not None and app.certificate is not None
    probe = probe_app_certificate(t, app.client_id, app.certificate.resolve(), sharepoint_scope(t))
    assert probe.ok and probe.appidacr == "2"
    assert probe.aud == t.endpoints.sharepoint_root


@pytest.mark.parametrize(("cause", "code"), [("app-credentials-invalid:wrong-secret", 7000215),
                                             ("app-credentials-invalid:expired", 7000222)])
def test_secret_probe_reports_the_aadsts_code(config: Config, tenant: Simulator, cause: str,
                                              code: int) -> None:
    tenant.reset(breaks=[cause])
    t, app = config.tenants[0], config.connector("files-onedrive").app
    assert app is not None and app.client_secret is not None
    secret = app.client_secret.resolve()
    probe = probe_app_secret(t, app.client_id, secret, GRAPH_SCOPE)
    assert not probe.ok and probe.aadsts == code
    assert probe.error == "invalid_client" and probe.status == 401
    assert probe.message.startswith(f"AADSTS{code}:") and "\n" not in probe.message
    assert secret not in repr(probe) and probe.claims == {}


def test_unknown_app_is_700016(config: Config) -> None:
    probe = probe_app_secret(config.tenants[0], "00000000-0000-0000-0000-0000000000aa", "whatever-secret",
                             GRAPH_SCOPE)
    assert not probe.ok and probe.aadsts == 700016


@pytest.mark.parametrize(("cause", "code"), [("bad-credentials", 50126), ("bad-credentials:disabled", 50057),
                                             ("mfa-blocks-service-account", 50076)])
def test_password_probe_reports_the_aadsts_code(config: Config, tenant: Simulator, cause: str,
                                                code: int) -> None:
    tenant.reset(breaks=[cause])
    t, account = config.tenants[0], config.connector("mail-exo").account
    assert account is not None and account.public_client_id is not None
    password = account.password.resolve()
    probe = probe_password(t, account.public_client_id, account.username, password, GRAPH_SCOPE)
    assert not probe.ok and probe.aadsts == code
    assert probe.error == "invalid_grant" and probe.status == 400
    assert password not in repr(probe)


async def test_fresh_probe_after_repair_sees_the_new_state(config: Config, tenant: Simulator) -> None:
    """MSAL caches 400s for 60 s per credential object; every probe builds a new one."""
    tenant.reset(breaks=["mfa-blocks-service-account"])
    clients = clients_factory(config.tenants[0], config.connector("mail-exo"))
    first = await clients.probe_password(GRAPH_SCOPE)
    assert first.aadsts == 50076
    tenant.reset()  # the repair: the account is excluded from the MFA policy again (log cleared)
    second = await clients.probe_password(GRAPH_SCOPE)
    assert second.ok and second.aadsts is None
    assert second.claims.get("upn") == "migsvc@contoso.onmicrosoft.com"
    assert _token_posts(tenant) == 1  # the second answer came over the wire, not from a cache


async def test_clients_probe_app_can_choose_secret_or_certificate(config: Config, tenant: Simulator) -> None:
    tenant.reset(breaks=["app-credentials-invalid"])
    clients = clients_factory(config.tenants[0], config.connector("files-onedrive"))
    assert (await clients.probe_app(GRAPH_SCOPE, use="secret")).aadsts == 7000222
    assert (await clients.probe_app(GRAPH_SCOPE, use="certificate")).ok
    assert (await clients.probe_app(GRAPH_SCOPE)).ok  # certificate first when configured
    with pytest.raises(ValueError, match="use must be"):
        await clients.probe_app(GRAPH_SCOPE, use="password")


def test_unreachable_authority_is_a_read_failure_not_a_verdict(config: Config) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    t = config.tenants[0].model_copy(deep=True)
    t.endpoints.authority_host = f"https://127.0.0.1:{port}"
    with pytest.raises(ReadFailed) as caught:
        probe_app_secret(t, config.tenants[0].admin.client_id, "some-secret-value", GRAPH_SCOPE)
    assert "some-secret-value" not in str(caught.value)


def test_throttled_token_endpoint_raises_throttled(config: Config, tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"first": 5, "services": ["identity"], "path": "/token",
                                    "retry_after_s": 0}})
    app = config.connector("mail-exo").app
    assert app is not None and app.client_secret is not None
    posts = _token_posts(tenant)
    with pytest.raises(Throttled) as caught:
        probe_app_secret(config.tenants[0], app.client_id, app.client_secret.resolve(), GRAPH_SCOPE)
    assert caught.value.status == 429
    assert _token_posts(tenant) - posts == 5  # the whole retry budget (5 attempts), not 1 or 2


def test_throttled_password_probe_is_retried_after_retry_after(config: Config, tenant: Simulator) -> None:
    """The review's M8: two 429s with Retry-After: 1 made the connector's probe `unknown`."""
    tenant.set_faults({"throttle": {"first": 2, "services": ["identity"], "path": "oauth2/v2.0/token",
                                    "retry_after_s": 1}})
    account = config.connector("mail-exo").account
    assert account is not None and account.public_client_id is not None
    started, posts = time.monotonic(), _token_posts(tenant)
    probe = probe_password(config.tenants[0], str(account.public_client_id), account.username,
                           account.password.resolve(), GRAPH_SCOPE)
    assert probe.ok, probe
    assert _token_posts(tenant) - posts == 3 and time.monotonic() - started >= 2.0  # waited as asked


def test_throttled_authority_discovery_is_retried(config: Config, tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"first": 2, "services": ["identity"], "path": "openid-configuration",
                                    "retry_after_s": 0}})
    app = config.connector("mail-exo").app
    assert app is not None and app.client_secret is not None
    probe = probe_app_secret(config.tenants[0], app.client_id, app.client_secret.resolve(), GRAPH_SCOPE)
    assert probe.ok, probe
    assert len(requests_to(tenant, "openid-configuration", "GET")) >= 3


def test_admin_credential_prefers_the_certificate(config: Config, tenant: Simulator) -> None:
    cred = CachedCredential(admin_credential(config.tenants[0]))
    first = cred.get_token(GRAPH_SCOPE)
    posts = _token_posts(tenant)
    assert cred.get_token(GRAPH_SCOPE) is first  # reused until near expiry
    assert _token_posts(tenant) == posts
    probe = TokenProbe(ok=True, claims=decode_claims(first.token))
    assert probe.appidacr == "2" and "Application.ReadWrite.All" in probe.roles
    cred.close()


def test_sharepoint_refuses_a_secret_token_judged_from_its_claims(config: Config, tenant: Simulator) -> None:
    # decided from the token (appidacr 1: a client secret), not from what the config holds
    t = config.tenants[0].model_copy(deep=True)
    t.admin.certificate = None
    credential = admin_credential(t, require_certificate=True)
    with pytest.raises(AuthFailed, match="SharePoint refuses app-only tokens got with a client secret"):
        credential.get_token(sharepoint_scope(t))
    with_cert = admin_credential(config.tenants[0], require_certificate=True)
    assert with_cert.get_token(sharepoint_scope(config.tenants[0])).token  # appidacr 2: accepted


def test_user_realm_tells_managed_from_federated(config: Config, tenant: Simulator) -> None:
    t = config.tenants[0]
    assert user_realm(t, "migsvc@contoso.onmicrosoft.com").account_type == "Managed"
    realm = user_realm(t, "someone@contoso.com")
    assert realm.account_type == "Federated" and realm.domain_name == "contoso.com"


def test_aadsts_parsing_and_translation() -> None:
    assert aadsts_code("Authentication failed: AADSTS50126: Error validating") == 50126
    assert aadsts_code("no code here") is None

    class ClientAuthenticationError(Exception):
        response = None

    text = "Authentication failed: AADSTS7000222: expired\r\nTrace ID: x"
    failed = translate(ClientAuthenticationError(text))
    assert isinstance(failed, AuthFailed)
    assert failed.code == "AADSTS7000222" and failed.reason == "AADSTS7000222: expired"
