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
import threading
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
    return ClientAssertionCredential(tenant_id, client_id, lambda: key.assertion(audience, client_id),
                                     authority=authority, **options)


def cache_size() -> int:
    """How many distinct keys this process has parsed."""
    with _lock:
        return len(_cache)
