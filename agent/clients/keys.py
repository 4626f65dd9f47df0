"""Certificate credentials whose private key is parsed once per process and reused for every assertion.

azure-identity's CertificateCredential parses the PEM in its constructor, and msal parses it again for
every client assertion it signs (about 34 ms each: OpenSSL validates the RSA key on every load). A run
builds fresh credentials for each probe and each verify, so the same key was parsed dozens of times. Here
the key is parsed once, keyed by the SHA-256 digest of its PEM (the secret itself is never a key or a
field of anything printable), and each fresh credential is a ClientAssertionCredential that signs with
it through msal's own JWT assertion creator: a fresh credential still means a fresh token.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

_ASSERTION_LIFETIME_S = 600  # msal's own default for a client assertion


class LoadedKey:
    """A parsed private key and its certificate's SHA-1 thumbprint; prints as nothing secret."""

    __slots__ = ("_key", "thumbprint")

    def __init__(self, key: Any, thumbprint: str) -> None:
        self._key, self.thumbprint = key, thumbprint

    def __repr__(self) -> str:
        return f"LoadedKey(thumbprint={self.thumbprint})"

    def assertion(self, audience: str, client_id: str) -> str:
        """A signed RFC 7523 client assertion (RS256, x5t), as msal builds one for a certificate."""
        from msal.oauth2cli import JwtAssertionCreator

        creator = JwtAssertionCreator(self._key, "RS256", sha1_thumbprint=self.thumbprint)
        signed = creator.create_normal_assertion(audience, client_id, expires_in=_ASSERTION_LIFETIME_S)
        return signed.decode() if isinstance(signed, bytes) else str(signed)


_cache: dict[bytes, LoadedKey] = {}
_lock = threading.Lock()


def load_key(pem: str) -> LoadedKey:
    """The key of a PEM holding a private key and its certificate, parsed on first use in this process.

    Raises ValueError (as CertificateCredential does) when the PEM holds no usable RSA key or certificate.
    """
    digest = hashlib.sha256(pem.encode()).digest()
    with _lock:
        found = _cache.get(digest)
        if found is None:
            found = _cache[digest] = _parse(pem.encode())
        return found


def _parse(data: bytes) -> LoadedKey:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    key = serialization.load_pem_private_key(data, None)
    cert = x509.load_pem_x509_certificate(data)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("The certificate must have an RSA private key because RS256 is used for signing")
    return LoadedKey(key, cert.fingerprint(hashes.SHA1()).hex())  # nosec: SHA-1 is only the x5t thumbprint


def token_endpoint(authority_host: str, tenant_id: str) -> str:
    """Entra's v2.0 token endpoint of the tenant: the audience a client assertion names."""
    return f"{authority_host.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"


def cached_key_credential(tenant_id: str, client_id: str, pem: str, *, authority: str,
                          **options: Any) -> TokenCredential:
    """A new ClientAssertionCredential signing with the process's parsed key of `pem`.

    Every token request gets a new assertion (new jti, new expiry), as msal's own are; only the key
    parse is shared. `authority` is the authority host (https://login.microsoftonline.com ...).
    """
    from azure.identity import ClientAssertionCredential

    key = load_key(pem)
    audience = token_endpoint(authority if "://" in authority else f"https://{authority}", tenant_id)
    options.pop("disable_instance_discovery", None)  # no discovery here: the endpoint is the tenant's own
    options["raw_response_hook"] = _guarded(options.get("raw_response_hook"))
    return ClientAssertionCredential(tenant_id, client_id, lambda: key.assertion(audience, client_id),
                                     authority=authority, **options)


MAX_TOKEN_ANSWER = 256 * 1024  # a token answer is a few KB; anything far larger is not one


def _guarded(hook: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """A raw_response_hook that refuses a token answer azure-identity's own client would quote whole.

    Its AadClient puts an unexpected body into the exception text ("Unexpected response from Microsoft
    Entra ID: {body}"): a 200 missing a field but carrying a token would leak it into logs, and a huge
    body holds the interpreter while it is formatted. Such answers fail here, before that, with a short
    message and as a dropped answer (retried under the read policy like one)."""
    def check(response: Any) -> None:
        if hook is not None:
            hook(response)
        _check_token_answer(response.http_response)
    return check


def _check_token_answer(http: Any) -> None:
    from azure.core.exceptions import ServiceResponseError

    body = http.body() or b""
    if len(body) > MAX_TOKEN_ANSWER:
        raise ServiceResponseError(f"the token endpoint answered {len(body)} bytes: not a token answer")
    if http.status_code >= 400:
        return  # an OAuth error body (error, error_description) says nothing secret: let it through
    try:
        content = json.loads(body)
    except ValueError:
        raise ServiceResponseError("the token endpoint's answer is not JSON") from None
    if not isinstance(content, dict) or "access_token" not in content or not (
            "expires_in" in content or "expires_on" in content):
        raise ServiceResponseError("the token endpoint's answer lacks access_token or its expiry")


def cache_size() -> int:
    """How many distinct keys this process has parsed."""
    with _lock:
        return len(_cache)
