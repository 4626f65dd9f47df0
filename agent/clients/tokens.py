"""azure-identity credentials for the agent's admin app, and token probes that see what a connector sees."""

from __future__ import annotations

import json
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from agent.clients.errors import AuthFailed, ReadFailed, Throttled, aadsts_code, one_line, translate
from agent.clients.timeouts import azure_core_timeouts, max_response_bytes
from agent.retry import AZURE_CORE_NO_RETRY, DEFAULT_POLICY, RetryPolicy, SyncSleep, sync_retrying
from agent.trust.ca import bundle_path

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

    from agent.config.model import Tenant

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_realm_lock = threading.Lock()


@dataclass
class TokenProbe:
    """What the token endpoint said to one credential: a token's claims, or the AADSTS error."""

    ok: bool
    aadsts: int | None = None
    error: str | None = None  # OAuth error class (invalid_client, invalid_grant ...) when visible
    message: str = ""  # one redacted line
    status: int | None = None  # HTTP status of the token endpoint's answer when visible
    claims: dict[str, Any] = field(default_factory=dict)  # decoded, unverified access-token claims

    @property
    def roles(self) -> list[str]:
        return list(self.claims.get("roles") or [])

    @property
    def scp(self) -> list[str]:
        return str(self.claims.get("scp") or "").split()

    @property
    def aud(self) -> str | None:
        return self.claims.get("aud")

    @property
    def appidacr(self) -> str | None:
        """"1" for a secret, "2" for a certificate (SharePoint app-only needs "2")."""
        return self.claims.get("appidacr")


@dataclass
class UserRealm:
    """The authority's answer to /common/userrealm: Managed, Federated or Unknown."""

    account_type: str
    domain_name: str | None = None
    federation_protocol: str | None = None
    federation_url: str | None = None  # the IdP's active sign-in URL when federated


def graph_scope(tenant: Tenant) -> str:
    """Microsoft Graph of the tenant's cloud + /.default (graph/sdks/national-clouds: the scope names the
    cloud's own Graph host)."""
    return f"{str(tenant.endpoints.graph_resource).rstrip('/')}/.default"


def ews_scope(tenant: Tenant) -> str:
    """Exchange Online of the tenant's cloud + /.default (outlook.office365.us in GCC High ...)."""
    return f"{str(tenant.endpoints.ews_resource).rstrip('/')}/.default"


def sharepoint_scope(tenant: Tenant) -> str:
    """The SharePoint resource scope: the tenant root URL + /.default."""
    root = tenant.endpoints.sharepoint_root
    if not root:
        raise AuthFailed(f"tenant {tenant.name}: endpoints.sharepoint_root is not set")
    return f"{root.rstrip('/')}/.default"


def credential_options(tenant: Tenant) -> dict[str, Any]:
    """Keyword arguments every credential gets: the tenant's authority, its CA, no library retries."""
    opts: dict[str, Any] = {
        "authority": tenant.endpoints.authority_host,
        # MSAL otherwise asks login.microsoftonline.com about any authority it does not know
        "disable_instance_discovery": True,
        **AZURE_CORE_NO_RETRY,  # tenacity in agent.retry is the one retry layer
        # msal's discovery and token calls go through azure-core's transport: 300 s each by default
        **azure_core_timeouts(tenant),
    }
    if tenant.endpoints.ca_bundle is not None:
        opts["connection_verify"] = bundle_path(tenant.endpoints.ca_bundle)  # extra CAs add to the default
    # msal's http client is azure-core's transport: one that reads no answer past the cap, per credential
    opts["transport"] = capped_transport(tenant)
    return opts


def capped_transport(tenant: Tenant) -> Any:
    """azure-core's requests transport with the tenant's CA, limits and body-size cap."""
    ca = tenant.endpoints.ca_bundle
    from agent.clients.bodycap import azure_transport  # loads requests and httpx: only when signing in

    return azure_transport(max_response_bytes(tenant), connection_verify=bundle_path(ca) or True,
                           **azure_core_timeouts(tenant))


def secret_credential(tenant: Tenant, client_id: str, secret: str, **extra: Any) -> TokenCredential:
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(tenant.tenant_id, client_id, secret, **credential_options(tenant), **extra)


def certificate_credential(tenant: Tenant, client_id: str, cert_pem: str, **extra: Any) -> TokenCredential:
    """A fresh certificate credential; its key parsed once per process (agent.clients.keys).

    A PEM the key cache cannot take (encrypted, or not PEM) goes to CertificateCredential as it is.
    """
    from agent.clients.keys import cached_key_credential

    if "-----BEGIN" in cert_pem and "ENCRYPTED" not in cert_pem:
        return cached_key_credential(tenant.tenant_id, client_id, cert_pem, **credential_options(tenant),
                                     **extra)
    from azure.identity import CertificateCredential

    return CertificateCredential(tenant.tenant_id, client_id, certificate_data=cert_pem.encode(),
                                 **credential_options(tenant), **extra)


def password_credential(tenant: Tenant, client_id: str, username: str, password: str,
                        **extra: Any) -> TokenCredential:
    from azure.identity import UsernamePasswordCredential

    skip_user_realm_discovery(tenant.endpoints.authority_host)
    with warnings.catch_warnings():
        # deprecated because ROPC cannot do MFA; the probe uses it because the connector does
        warnings.simplefilter("ignore", DeprecationWarning)
        return UsernamePasswordCredential(client_id, username, password, tenant_id=tenant.tenant_id,
                                          **credential_options(tenant), **extra)


def admin_credential(tenant: Tenant, *, require_certificate: bool = False) -> TokenCredential:
    """The agent's own credential, as its `auth` says (agent.config.model.AdminApp), through azure-identity's
    own classes. `require_certificate` (SharePoint) is judged from each token's claims, not the config:
    SharePoint refuses an app-only token got with a client secret (appidacr 1), whatever issued it."""
    credential = _admin_credential(tenant)
    return AssertionOnly(credential, tenant.name) if require_certificate else credential


def _admin_credential(tenant: Tenant) -> TokenCredential:
    import azure.identity as identity

    admin, opts = tenant.admin, credential_options(tenant)
    method = admin.method
    if method == "certificate":
        assert admin.certificate is not None  # the config validates it
        return certificate_credential(tenant, admin.client_id, admin.certificate.resolve())
    if method == "secret":
        assert admin.client_secret is not None
        return secret_credential(tenant, admin.client_id, admin.client_secret.resolve())
    if method == "workload-identity":  # the federated token file comes from $AZURE_FEDERATED_TOKEN_FILE
        return identity.WorkloadIdentityCredential(tenant_id=tenant.tenant_id, client_id=admin.client_id,
                                                   **opts)
    if method == "managed-identity":
        return identity.ManagedIdentityCredential(client_id=admin.client_id)
    if method == "azure-cli":
        return identity.AzureCliCredential(tenant_id=tenant.tenant_id)
    return identity.DefaultAzureCredential(authority=opts["authority"],
                                           managed_identity_client_id=admin.client_id,
                                           workload_identity_client_id=admin.client_id)


class AssertionOnly:
    """A credential whose app-only tokens must not come from a client secret (SharePoint's rule)."""

    def __init__(self, credential: TokenCredential, tenant: str) -> None:
        self.credential, self.tenant = credential, tenant

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self.credential.get_token(*scopes, **kwargs)
        if str(decode_claims(token.token).get("appidacr")) == "1":
            raise AuthFailed(f"tenant {self.tenant}: SharePoint refuses app-only tokens got with a client "
                             "secret (appidacr 1): give the admin app a certificate or a federated identity")
        return token

    def close(self) -> None:
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()


def skip_user_realm_discovery(authority_host: str) -> None:
    """Let ROPC work against a loopback authority on a port other than 443.

    MSAL's user-realm lookup drops the port and would call 127.0.0.1:443; adding the host to the
    set MSAL itself fills after a realm 404 makes it skip the lookup. Real authorities (port 443,
    public hosts) are left alone: federation is detected separately by user_realm().
    """
    parts = urlsplit(authority_host)
    if parts.hostname not in _LOOPBACK or parts.port in (None, 443):
        return
    import msal.authority

    with _realm_lock:
        msal.authority.Authority._domains_without_user_realm_discovery.add(parts.hostname)


def probe_app_secret(tenant: Tenant, client_id: str, secret: str, scope: str) -> TokenProbe:
    """Client-credentials token request with a secret, as the connector makes it."""
    return acquire(lambda **kw: secret_credential(tenant, client_id, secret, **kw), scope)[0]


def probe_app_certificate(tenant: Tenant, client_id: str, cert_pem: str, scope: str) -> TokenProbe:
    """Client-credentials token request with a certificate assertion."""
    return acquire(lambda **kw: certificate_credential(tenant, client_id, cert_pem, **kw), scope)[0]


def probe_password(tenant: Tenant, client_id: str, username: str, password: str, scope: str) -> TokenProbe:
    """Password-grant (ROPC) token request for the migration account."""
    return acquire(lambda **kw: password_credential(tenant, client_id, username, password, **kw), scope)[0]


def acquire(make: Callable[..., TokenCredential], scope: str, *, policy: RetryPolicy = DEFAULT_POLICY,
            sleep: SyncSleep = time.sleep) -> tuple[TokenProbe, AccessToken | None]:
    """Build a NEW credential and ask for one token, retried under `policy` like every other call.

    A fresh object each attempt: MSAL caches 400 answers for 60 s per credential, so a re-verify
    after a fix would otherwise see the old error. A throttled answer (429/503 with Retry-After, from
    the token endpoint or MSAL's authority discovery) and a dropped connection are retried; when the
    budget is spent, ReadFailed / Throttled: no AADSTS verdict says nothing about the credential.
    """
    from azure.core.exceptions import AzureError

    try:
        return sync_retrying(policy, sleep=sleep)(_acquire_once, make, scope)
    except AzureError as exc:
        raise translate(exc) from None


def _acquire_once(make: Callable[..., TokenCredential], scope: str) -> tuple[TokenProbe, AccessToken | None]:
    from azure.core.exceptions import ClientAuthenticationError

    seen = _ErrorCapture()
    credential: Any = None
    try:
        credential = make(raw_response_hook=seen)
        token = credential.get_token(scope)
    except ClientAuthenticationError as exc:
        return _failed(exc, seen), None
    except ValueError as exc:  # a certificate that does not load, a malformed authority
        if seen.status is not None:  # MSAL's discovery got an error answer: no verdict on the credential
            raise _no_verdict(f"authority discovery: {one_line(str(exc))}", seen) from None
        return TokenProbe(ok=False, message=one_line(f"credential rejected locally: {exc}")), None
    finally:
        if credential is not None:
            credential.close()
    return TokenProbe(ok=True, message="token issued", status=200, claims=decode_claims(token.token)), token


def _failed(exc: Exception, seen: _ErrorCapture) -> TokenProbe:
    text = _description(str(getattr(exc, "message", None) or exc).removeprefix("Authentication failed: "))
    code = aadsts_code(text)
    status = seen.status or getattr(getattr(exc, "response", None), "status_code", None)
    if code is None or status in (429, 503, 504):
        # no verdict on the credential: unreachable, TLS, throttled or a server error
        seen.status = status
        raise _no_verdict(f"token endpoint: {text}", seen) from None
    return TokenProbe(ok=False, aadsts=code, error=seen.error, message=one_line(text), status=status)


_ENTRA_ERROR = re.compile(r"^Microsoft Entra ID error '(?:\(\w+\) )?(.*)'$", re.S)


def _description(text: str) -> str:
    """The error_description alone, whichever azure-identity client raised (msal's or its own AadClient,
    which wraps it as "Microsoft Entra ID error '(class) description'")."""
    match = _ENTRA_ERROR.match(text.strip())
    return match.group(1) if match else text


def _no_verdict(text: str, seen: _ErrorCapture) -> ReadFailed:
    """Throttled (retried, honouring the Retry-After it carries) or ReadFailed."""
    cls = Throttled if seen.status in (429, 503) else ReadFailed
    error = cls(text, seen.status)
    error.headers = {"Retry-After": seen.retry_after} if seen.retry_after is not None else {}  # type: ignore[attr-defined]
    return error


class _ErrorCapture:
    """azure-core raw_response_hook: keeps the status and OAuth error class of a failed token answer.

    The credential's exception carries only error_description; the class (invalid_client ...)
    is in the body. Only those two fields are kept: a successful body holds the token.
    """

    def __init__(self) -> None:
        self.status: int | None = None
        self.error: str | None = None
        self.retry_after: str | None = None

    def __call__(self, response: Any) -> None:
        http = response.http_response
        if http.status_code < 400:
            return
        self.status = http.status_code
        self.retry_after = http.headers.get("Retry-After")
        try:
            body = json.loads(http.text())
        except (ValueError, TypeError):
            return
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            self.error = body["error"]


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, unverified (the service verifies; the agent only reads)."""
    import jwt

    try:
        return dict(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return {}


def user_realm(tenant: Tenant, upn: str) -> UserRealm:
    """Ask the authority whether the account's domain is managed or federated (no credential needed)."""
    from azure.core import PipelineClient
    from azure.core.rest import HttpRequest

    authority = tenant.endpoints.authority_host.rstrip("/")
    transport = capped_transport(tenant)
    url = f"{authority}/common/userrealm/{quote(upn, safe='@')}?api-version=1.0"
    try:
        client: Any = PipelineClient(authority, transport=transport, policies=[])
        with client:
            response = client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
    except Exception as exc:  # azure-core raises several types; all mean "no answer"
        raise translate(exc) from None
    return UserRealm(
        account_type=str(body.get("account_type") or body.get("NameSpaceType") or "Unknown"),
        domain_name=body.get("domain_name"),
        federation_protocol=body.get("federation_protocol"),
        federation_url=body.get("federation_active_auth_url"),
    )
