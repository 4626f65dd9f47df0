"""EWS through exchangelib: app-only (OAuth) and Basic/NTLM probes, and the server's auth challenge."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib.errors import (
    ErrorInternalServerTransientError,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    ResponseMessageError,
    UnauthorizedError,
)
from exchangelib.folders import Root
from exchangelib.protocol import BaseProtocol, CachingProtocol, FailFast, Protocol
from exchangelib.transport import NOAUTH

from agent.clients.bodycap import CappedHTTPAdapter
from agent.clients.errors import one_line, translate
from agent.clients.timeouts import CONNECT_S, READ_S, max_response_bytes, requests_timeout
from agent.clients.tokens import (
    acquire,
    certificate_credential,
    ews_scope,
    password_credential,
    secret_credential,
)
from agent.retry import DEFAULT_POLICY, RetryPolicy, SyncSleep, parse_retry_after, sync_retrying
from agent.trust.ca import bundle_path

if TYPE_CHECKING:
    from agent.config.model import Tenant

# Exchange Online's build; giving a version skips exchangelib's ConvertId version guessing.
EXO_VERSION = Version(build=Build(15, 20, 8198, 18))
_AUTH_TYPES = {"basic": BASIC, "ntlm": NTLM}
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9._~+/-]*)(?:\s|$)")
_NO_VERDICT = (ErrorServerBusy, ErrorTimeoutExpired, ErrorInternalServerTransientError)
_CA_BY_ORIGIN: dict[str, str] = {}
_CAP_BY_ORIGIN: dict[str, int] = {}
_ca_lock = threading.Lock()


@dataclass
class EwsProbe:
    """What EWS answered one probe: ok, or the status, EWS error code, challenge and diagnostics."""

    ok: bool
    status: int | None = None
    code: str | None = None  # ErrorNonExistentMailbox, ErrorImpersonateUserDenied, AADSTS7000215 ...
    www_authenticate: list[str] = field(default_factory=list)  # scheme names: Basic, NTLM, Bearer ...
    x_ms_diagnostics: str | None = None
    message: str = ""


class EwsUnauthorized(UnauthorizedError):
    """exchangelib's UnauthorizedError with the 401's challenge and diagnostics kept."""

    def __init__(self, url: str, www_authenticate: str | None, diagnostics: str | None) -> None:
        self.www_authenticate, self.diagnostics = www_authenticate, diagnostics
        super().__init__(f"HTTP 401 from {url}; WWW-Authenticate={www_authenticate!r}; "
                         f"x-ms-diagnostics={diagnostics!r}")


class DiagFailFast(FailFast):
    """FailFast that keeps a 401's WWW-Authenticate and x-ms-diagnostics, and Retry-After on throttling.

    FaultTolerance would treat a 401 as throttling and back off for minutes; plain FailFast
    drops the headers that tell why the token was refused.
    """

    def raise_response_errors(self, response: Any) -> None:
        if response.status_code == 401:
            raise EwsUnauthorized(str(response.url), response.headers.get("WWW-Authenticate"),
                                  response.headers.get("x-ms-diagnostics"))
        if response.status_code in (429, 503):
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise ErrorServerBusy(f"HTTP {response.status_code}", back_off=wait)
        super().raise_response_errors(response)


class PresetTokenCredentials(OAuth2Credentials):
    """exchangelib credentials carrying a token acquired by azure-identity (secret or certificate).

    exchangelib drops a client-credentials token whenever it retires a session (after any error
    response) and then fetches a new one itself; this token cannot be fetched that way, so a reset
    to None is ignored. token_url points at the tenant's authority, never at Microsoft's host.
    """

    def __init__(self, *, authority_host: str, **kwargs: Any) -> None:
        self._authority_host = authority_host.rstrip("/")
        super().__init__(**kwargs)

    @property
    def access_token(self) -> Any:
        return self._access_token

    @access_token.setter
    def access_token(self, value: Any) -> None:
        if value is not None or getattr(self, "_access_token", None) is None:
            self._access_token = value

    @property
    def token_url(self) -> str:
        return f"{self._authority_host}/{self.tenant_id}/oauth2/v2.0/token"


class _TenantCAAdapter(CappedHTTPAdapter):
    """exchangelib's HTTP adapter: a registered tenant origin is verified against that tenant's CA, and
    no answer from it is read past that tenant's body-size cap.

    exchangelib builds its sessions itself; its documented hook is BaseProtocol.HTTP_ADAPTER_CLS.
    Other origins keep the default verification, so nothing changes for them and os.environ is
    never touched.
    """

    def limit_for(self, url: str) -> int:
        return _CAP_BY_ORIGIN.get(_origin(url), self.max_bytes)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, _ca_for(url, verify), cert)

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                        cert: Any = None) -> Any:
        return super().get_connection_with_tls_context(request, _ca_for(request.url, verify),
                                                       proxies=proxies, cert=cert)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _ca_for(url: str, verify: Any) -> Any:
    return _CA_BY_ORIGIN.get(_origin(url), verify)


def trust_ca(url: str, ca_bundle: Any, max_bytes: int | None = None) -> None:
    """Verify `url`'s origin (and only it) against `ca_bundle` in exchangelib's sessions, and read no
    answer from it past `max_bytes` (exchangelib reads every SOAP answer whole)."""
    with _ca_lock:
        if ca_bundle is not None:  # extra CAs add to the default trust
            _CA_BY_ORIGIN[_origin(url)] = bundle_path(ca_bundle) or str(ca_bundle)
        if max_bytes is not None:
            _CAP_BY_ORIGIN[_origin(url)] = max_bytes
        BaseProtocol.HTTP_ADAPTER_CLS = _TenantCAAdapter


class _DropCapTracebacks(logging.Filter):
    """exchangelib logs an unexpected transport error with the whole request before re-raising it; the
    cap's error is reported once, by the check that met it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and args and args[0] == "RequestsResponseTooLarge")


_util_logger = logging.getLogger("exchangelib.util")
if not any(isinstance(f, _DropCapTracebacks) for f in _util_logger.filters):
    _util_logger.addFilter(_DropCapTracebacks())


def challenge_schemes(value: str | None) -> list[str]:
    """Scheme names offered in a (possibly comma-joined) WWW-Authenticate value."""
    schemes: list[str] = []
    for part in _split_outside_quotes(value or ""):
        match = _SCHEME.match(part)
        if match and "=" not in match.group(1) and match.group(1) not in schemes:
            schemes.append(match.group(1))
    return schemes


def _split_outside_quotes(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _forget(config: Configuration) -> None:
    """Drop the cached Protocol for this endpoint and credential: a re-verify after a fix must not
    reuse old sessions or tokens. Only this key goes (clear_cache() would close the sessions of
    probes running in other threads)."""
    with CachingProtocol._protocol_cache_lock:
        entry = CachingProtocol._protocol_cache.pop(CachingProtocol._cache_key(config), None)
    if entry is None:
        return
    protocol = entry[0]
    if isinstance(protocol, Protocol):
        protocol.close()


def _run(config: Configuration, mailbox: str, access_type: str, policy: RetryPolicy,
         sleep: SyncSleep, timeout: tuple[float, float] = (CONNECT_S, READ_S)) -> EwsProbe:
    """Open the mailbox's root folder as the connector would; transient failures are retried."""

    def attempt() -> EwsProbe:
        _forget(config)
        try:
            account = Account(mailbox, config=config, autodiscover=False, access_type=access_type)
            # exchangelib's documented knob (BaseProtocol.TIMEOUT, 120 s), set on this protocol only;
            # requests takes the (connect, read) tuple as is
            account.protocol.TIMEOUT = timeout
            # not `account.root`: that threaded_cached_property holds one lock shared by every Account, so
            # one stalled probe would hold every other probe of the process until its read timed out
            Root.get_distinguished(account=account)
        except EwsUnauthorized as exc:
            return EwsProbe(False, 401, None, challenge_schemes(exc.www_authenticate), exc.diagnostics,
                            one_line(str(exc)))
        except UnauthorizedError as exc:
            return EwsProbe(False, 401, message=one_line(str(exc)))
        except ResponseMessageError as exc:
            if isinstance(exc, _NO_VERDICT):
                raise  # busy, timed out or a passing server fault: retried, then ReadFailed
            return EwsProbe(False, None, type(exc).__name__, message=one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            _forget(config)
        return EwsProbe(True, 200, message="mailbox opened")

    try:
        return sync_retrying(policy, sleep=sleep)(attempt)
    except (EWSError, requests.RequestException) as exc:
        raise translate(exc) from None


def probe_ews_app(tenant: Tenant, ews_url: str, client_id: str, mailbox: str, *, secret: str | None = None,
                  cert_pem: str | None = None, policy: RetryPolicy = DEFAULT_POLICY,
                  sleep: SyncSleep = time.sleep) -> EwsProbe:
    """App-only EWS as the connector does it: an outlook.office365.com token, then impersonate `mailbox`."""
    pem, key = cert_pem, secret
    if pem is not None:
        probe, token = acquire(lambda **kw: certificate_credential(tenant, client_id, pem, **kw),
                               ews_scope(tenant))
    elif key is not None:
        probe, token = acquire(lambda **kw: secret_credential(tenant, client_id, key, **kw),
                               ews_scope(tenant))
    else:
        raise ValueError("probe_ews_app needs a secret or a certificate")
    if token is None:
        code = f"AADSTS{probe.aadsts}" if probe.aadsts else probe.error
        return EwsProbe(False, probe.status, code, message=probe.message)
    trust_ca(ews_url, tenant.endpoints.ca_bundle, max_response_bytes(tenant))
    # The token comes from azure-identity (secret or certificate alike); exchangelib only sends it.
    creds = PresetTokenCredentials(
        authority_host=tenant.endpoints.authority_host, client_id=client_id, client_secret=None,
        tenant_id=tenant.tenant_id, identity=Identity(primary_smtp_address=mailbox),
        access_token={"access_token": token.token, "token_type": "Bearer", "expires_at": token.expires_on})
    config = Configuration(service_endpoint=ews_url, credentials=creds, auth_type=OAUTH2,
                           version=EXO_VERSION, retry_policy=DiagFailFast())
    return _run(config, mailbox, IMPERSONATION, policy, sleep, requests_timeout(tenant))


def probe_ews_user(tenant: Tenant, ews_url: str, client_id: str, username: str, password: str, *,
                   policy: RetryPolicy = DEFAULT_POLICY, sleep: SyncSleep = time.sleep) -> EwsProbe:
    """Delegated OAuth EWS as a connector with only an account does it: password grant, own mailbox."""
    probe, token = acquire(lambda **kw: password_credential(tenant, client_id, username, password, **kw),
                           ews_scope(tenant))
    if token is None:
        code = f"AADSTS{probe.aadsts}" if probe.aadsts else probe.error
        return EwsProbe(False, probe.status, code, message=probe.message)
    trust_ca(ews_url, tenant.endpoints.ca_bundle, max_response_bytes(tenant))
    creds = PresetTokenCredentials(
        authority_host=tenant.endpoints.authority_host, client_id=client_id, client_secret=None,
        tenant_id=tenant.tenant_id, identity=None,  # exchangelib impersonates whatever identity it has
        access_token={"access_token": token.token, "token_type": "Bearer", "expires_at": token.expires_on})
    config = Configuration(service_endpoint=ews_url, credentials=creds, auth_type=OAUTH2,
                           version=EXO_VERSION, retry_policy=DiagFailFast())
    return _run(config, username, DELEGATE, policy, sleep, requests_timeout(tenant))


def probe_ews_basic(ews_url: str, username: str, password: str, *, mailbox: str | None = None,
                    auth: str = "basic", ca_bundle: Any = None, policy: RetryPolicy = DEFAULT_POLICY,
                    sleep: SyncSleep = time.sleep,
                    timeout: tuple[float, float] = (CONNECT_S, READ_S),
                    max_bytes: int | None = None) -> EwsProbe:
    """Basic or NTLM sign-in to EWS (Exchange on-premises) with the migration account."""
    trust_ca(ews_url, ca_bundle, max_bytes)
    config = Configuration(service_endpoint=ews_url, credentials=Credentials(username, password),
                           auth_type=_AUTH_TYPES[auth], version=EXO_VERSION, retry_policy=DiagFailFast())
    return _run(config, mailbox or username, DELEGATE, policy, sleep, timeout)


def ews_challenge(ews_url: str, *, ca_bundle: Any = None,
                  timeout: tuple[float, float] = (CONNECT_S, READ_S),
                  max_bytes: int | None = None) -> EwsProbe:
    """POST exchangelib's dummy request with no credentials; the 401 lists the schemes the server offers."""
    trust_ca(ews_url, ca_bundle, max_bytes)
    config = Configuration(service_endpoint=ews_url, auth_type=NOAUTH, version=EXO_VERSION,
                           retry_policy=DiagFailFast())
    protocol = Protocol(config=config)
    protocol.TIMEOUT = timeout
    try:
        with protocol.raw_session(ews_url) as session:
            response = session.post(ews_url, data=protocol.dummy_xml(), allow_redirects=False,
                                    timeout=protocol.TIMEOUT)
    except requests.RequestException as exc:
        raise translate(exc) from None
    finally:
        _forget(config)
    headers = response.headers
    diagnostics = headers.get("x-ms-diagnostics") or headers.get("ms-diagnostics-public")
    return EwsProbe(response.status_code in (200, 401), response.status_code,
                    www_authenticate=challenge_schemes(headers.get("WWW-Authenticate")),
                    x_ms_diagnostics=diagnostics, message=f"HTTP {response.status_code}")


class EwsAdapter:
    """The EWS probes for async callers: each runs in a worker thread (exchangelib is synchronous)."""

    def __init__(self, tenant: Tenant, *, policy: RetryPolicy = DEFAULT_POLICY,
                 sleep: SyncSleep = time.sleep) -> None:
        self.tenant, self.policy, self.sleep = tenant, policy, sleep

    async def probe_app(self, ews_url: str, client_id: str, mailbox: str, *, secret: str | None = None,
                        cert_pem: str | None = None) -> EwsProbe:
        return await asyncio.to_thread(probe_ews_app, self.tenant, ews_url, client_id, mailbox, secret=secret,
                                       cert_pem=cert_pem, policy=self.policy, sleep=self.sleep)

    async def probe_user(self, ews_url: str, client_id: str, username: str, password: str) -> EwsProbe:
        return await asyncio.to_thread(probe_ews_user, self.tenant, ews_url, client_id, username, password,
                                       policy=self.policy, sleep=self.sleep)

    async def probe_basic(self, ews_url: str, username: str, password: str, *, mailbox: str | None = None,
                          auth: str = "basic") -> EwsProbe:
        return await asyncio.to_thread(probe_ews_basic, ews_url, username, password, mailbox=mailbox,
                                       auth=auth, ca_bundle=self.tenant.endpoints.ca_bundle,
                                       policy=self.policy, sleep=self.sleep,
                                       timeout=requests_timeout(self.tenant),
                                       max_bytes=max_response_bytes(self.tenant))

    async def challenge(self, ews_url: str) -> EwsProbe:
        return await asyncio.to_thread(ews_challenge, ews_url, ca_bundle=self.tenant.endpoints.ca_bundle,
                                       timeout=requests_timeout(self.tenant),
                                       max_bytes=max_response_bytes(self.tenant))
