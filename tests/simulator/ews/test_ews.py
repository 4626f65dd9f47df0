"""Simulated EWS over real HTTPS with exchangelib: OAuth app-only on Exchange Online, Basic on-premises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorInvalidExchangeImpersonationHeaderData,
    ErrorNonExistentMailbox,
    UnauthorizedError,
)
from exchangelib.protocol import CachingProtocol
from exchangelib.transport import get_auth_method_from_response

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, INITIAL_DOMAIN

USER1 = f"user0001@{INITIAL_DOMAIN}"
USER2 = f"user0002@{INITIAL_DOMAIN}"
EXO_BUILD = Build(15, 20, 8198, 18)


class Diagnosed401(UnauthorizedError):
    """A 401 with the headers that explain it."""

    def __init__(self, challenge: str, diagnostics: str) -> None:
        super().__init__(f"HTTP 401; WWW-Authenticate={challenge}; x-ms-diagnostics={diagnostics}")
        self.challenge, self.diagnostics = challenge, diagnostics


class DiagFailFast(FailFast):
    """Keeps the 401 headers exchangelib would otherwise drop (sdk-local-endpoints §3.3)."""

    def raise_response_errors(self, response: Any) -> None:
        if response.status_code == 401:
            raise Diagnosed401(response.headers.get("WWW-Authenticate", ""),
                               response.headers.get("x-ms-diagnostics", ""))
        super().raise_response_errors(response)


@pytest.fixture(autouse=True)
def ews_trusts_the_tenant(trust: Simulator) -> Iterator[None]:
    """Every test: the fresh shared tenant, trusted by `requests` (exchangelib and its token POST)."""
    yield
    CachingProtocol.clear_cache()  # protocols are cached per (endpoint, credentials)


def _oauth_credentials(tenant: Simulator, access_token: str | None = None,
                       identity: Identity | None = None) -> OAuth2Credentials:
    class LocalOAuth2Credentials(OAuth2Credentials):
        @property
        def token_url(self) -> str:
            return f"{tenant.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    extra = {"access_token": {"access_token": access_token, "token_type": "Bearer",
                              "expires_at": 4102444800}} if access_token else {}
    secret = tenant.state.extras["connector_secret"]
    return LocalOAuth2Credentials(client_id=CONNECTOR_APP_ID, client_secret=secret,
                                  tenant_id=tenant.state.tenant_id, identity=identity, **extra)


def exo_account(tenant: Simulator, mailbox: str, *, guess_version: bool = False,
                access_token: str | None = None) -> Account:
    """The connector's app, app-only with impersonation, as a migration tool runs it.

    The credentials name the mailbox too, so protocol-level calls (ResolveNames, the version guess) also
    impersonate: Exchange Online refuses an app-only call without ExchangeImpersonation.
    """
    creds = _oauth_credentials(tenant, access_token, Identity(primary_smtp_address=mailbox))
    config = Configuration(service_endpoint=f"{tenant.base_url}/EWS/Exchange.asmx",
                           credentials=creds, auth_type=OAUTH2,
                           version=None if guess_version else Version(build=EXO_BUILD),
                           retry_policy=DiagFailFast())
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)


def onprem_account(tenant: Simulator, password: str, mailbox: str = ACCOUNT_UPN,
                   access: str = DELEGATE, login: str = ACCOUNT_UPN) -> Account:
    config = Configuration(service_endpoint=f"{tenant.base_url}/onprem/EWS/Exchange.asmx",
                           credentials=Credentials(login, password), auth_type=BASIC,
                           retry_policy=DiagFailFast())
    return Account(mailbox, config=config, autodiscover=False, access_type=access)


# -- Exchange Online -----------------------------------------------------------------------------

def test_app_only_impersonation_reads_root_and_inbox(tenant: Simulator) -> None:
    account = exo_account(tenant, USER1)
    assert account.root.name == "Top of Information Store"
    assert account.inbox.name == "Inbox"


def test_version_is_guessed_from_server_version_info(tenant: Simulator) -> None:
    account = exo_account(tenant, USER1, guess_version=True)
    account.root  # noqa: B018 - the property sends ConvertId (version guess) then GetFolder
    assert account.version.build == EXO_BUILD


def test_resolve_names_finds_the_mailbox(tenant: Simulator) -> None:
    account = exo_account(tenant, USER1)
    hits = list(account.protocol.resolve_names(["user0002"]))
    assert [h.email_address for h in hits] == [USER2]


def test_without_full_access_as_app_the_401_says_no_permissions(tenant: Simulator) -> None:
    tenant.reset(breaks=["exo-app-missing-full-access"])
    with pytest.raises(Diagnosed401) as caught:
        exo_account(tenant, USER1).root  # noqa: B018
    assert caught.value.diagnostics == ('2000008;reason="The token contains no permissions, or permissions '
                                        'can not be understood.";error_category="invalid_grant"')


def test_token_for_another_audience_gets_audience_diagnostics(tenant: Simulator) -> None:
    graph_token = tenant.services.tokens.issue(tenant_id=tenant.state.tenant_id, audience="https://graph.microsoft.com",
                                            app_id=CONNECTOR_APP_ID, appidacr="1", roles=["User.Read.All"])
    with pytest.raises(Diagnosed401) as caught:
        exo_account(tenant, USER1, access_token=graph_token).root  # noqa: B018
    assert "The audience claim value is invalid 'https://graph.microsoft.com'" in caught.value.diagnostics


def test_impersonating_an_unlicensed_user_is_non_existent_mailbox(tenant: Simulator) -> None:
    tenant.reset(breaks=["account-unlicensed"])
    with pytest.raises(ErrorNonExistentMailbox, match="has no mailbox"):
        exo_account(tenant, ACCOUNT_UPN).root  # noqa: B018
    assert exo_account(tenant, USER1).root.name == "Top of Information Store"  # others unaffected


def test_basic_auth_is_retired_on_exchange_online(tenant: Simulator) -> None:
    config = Configuration(service_endpoint=f"{tenant.base_url}/EWS/Exchange.asmx",
                           credentials=Credentials(ACCOUNT_UPN, tenant.state.extras["account_password"]),
                           auth_type=BASIC, retry_policy=DiagFailFast())
    with pytest.raises(Diagnosed401) as caught:
        Account(ACCOUNT_UPN, config=config, autodiscover=False, access_type=DELEGATE).root  # noqa: B018
    assert caught.value.challenge.startswith('Bearer client_id="00000002-0000-0ff1-ce00-000000000000"')
    assert "Basic" not in caught.value.challenge


def _delegated_account(tenant: Simulator, mailbox: str, access: str) -> Account:
    token = tenant.services.tokens.issue(tenant_id=tenant.state.tenant_id, audience="https://outlook.office365.com",
                                      app_id=CONNECTOR_APP_ID, appidacr="0", scp="EWS.AccessAsUser.All",
                                      upn=ACCOUNT_UPN, oid=tenant.state.user(ACCOUNT_UPN).id)
    config = Configuration(service_endpoint=f"{tenant.base_url}/EWS/Exchange.asmx",
                           credentials=_oauth_credentials(tenant, token), auth_type=OAUTH2,
                           version=Version(build=EXO_BUILD), retry_policy=DiagFailFast())
    return Account(mailbox, config=config, autodiscover=False, access_type=access)


def test_delegated_token_acts_as_the_user_only(tenant: Simulator) -> None:
    assert _delegated_account(tenant, ACCOUNT_UPN, DELEGATE).root.name == "Top of Information Store"
    # A delegated token with ExchangeImpersonation is refused outright (ecederstrand/exchangelib#735 thread,
    # OfficeDev/ews-managed-api#212): it never gets as far as an impersonation right check.
    with pytest.raises(ErrorInvalidExchangeImpersonationHeaderData, match="must not exist"):
        _delegated_account(tenant, USER1, IMPERSONATION).root  # noqa: B018
    with pytest.raises(ErrorAccessDenied):
        _delegated_account(tenant, USER1, DELEGATE).root  # noqa: B018


# -- Exchange on-premises ------------------------------------------------------------------------

def test_onprem_basic_with_the_right_password(tenant: Simulator) -> None:
    account = onprem_account(tenant, tenant.state.extras["account_password"])
    assert account.root.name == "Top of Information Store"
    assert account.version.build.minor_version == 2  # Exchange 2019, guessed from ServerVersionInfo


def test_onprem_basic_accepts_a_domain_login(tenant: Simulator) -> None:
    account = onprem_account(tenant, tenant.state.extras["account_password"], login="CONTOSO\\migsvc")
    assert account.root.name == "Top of Information Store"


def test_onprem_basic_can_impersonate(tenant: Simulator) -> None:
    account = onprem_account(tenant, tenant.state.extras["account_password"], USER1, IMPERSONATION)
    assert account.root.name == "Top of Information Store"


def test_onprem_wrong_password_is_unauthorized(tenant: Simulator) -> None:
    with pytest.raises(Diagnosed401) as caught:
        onprem_account(tenant, "not-the-password").root  # noqa: B018
    assert 'Basic realm="mail.contoso.com"' in caught.value.challenge


@pytest.mark.parametrize("variant", ["disabled", "locked", "expired"])
def test_onprem_account_state_blocks_basic(tenant: Simulator, variant: str) -> None:
    tenant.reset(breaks=[f"bad-credentials:{variant}"])
    with pytest.raises(Diagnosed401):
        onprem_account(tenant, tenant.state.extras["account_password"]).root  # noqa: B018


def _unauthenticated_challenge(tenant: Simulator) -> requests.Response:
    # What exchangelib's auth-type detection sends: a POST without credentials, no redirects.
    return requests.post(f"{tenant.base_url}/onprem/EWS/Exchange.asmx", data=b"<x/>", allow_redirects=False,
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)


def test_onprem_challenge_lists_each_enabled_scheme(tenant: Simulator) -> None:
    response = _unauthenticated_challenge(tenant)
    assert response.status_code == 401
    schemes = [v for k, v in response.raw.headers.items() if k.lower() == "www-authenticate"]
    assert schemes == ['Basic realm="mail.contoso.com"', "NTLM", "Negotiate"]
    assert get_auth_method_from_response(response) == "NTLM"  # exchangelib prefers NTLM over Basic


def test_when_basic_is_disabled_only_windows_auth_is_offered(tenant: Simulator) -> None:
    tenant.reset(breaks=["legacy-auth-disabled"])
    response = _unauthenticated_challenge(tenant)
    offered = response.headers.get("WWW-Authenticate", "")
    assert response.status_code == 401 and "Basic" not in offered and "Negotiate" in offered
    with pytest.raises(Diagnosed401) as caught:
        onprem_account(tenant, tenant.state.extras["account_password"]).root  # noqa: B018
    assert caught.value.challenge == "Negotiate"


def test_ews_calls_are_logged_as_reads(tenant: Simulator) -> None:
    exo_account(tenant, USER1).root  # noqa: B018
    onprem_account(tenant, tenant.state.extras["account_password"]).root  # noqa: B018
    entries = [e for e in tenant.log if e["service"] == "ews"]
    assert {e["path"] for e in entries} == {"/EWS/Exchange.asmx", "/onprem/EWS/Exchange.asmx"}
    assert not any(e["wrote"] for e in entries)
    # each endpoint answered (a retried or challenged request before it may be logged too, on a busy host)
    assert {e["path"] for e in entries if e["status"] == 200} == {"/EWS/Exchange.asmx",
                                                                   "/onprem/EWS/Exchange.asmx"}
