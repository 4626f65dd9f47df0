"""Before a run talks to a tenant: can each endpoint be reached over verified TLS? If not, say which and why.

A wrong-host or self-signed certificate otherwise surfaces as the same `CERTIFICATE_VERIFY_FAILED` in
every check's reason. One handshake per origin, verified as the client libraries verify, names the
endpoint and the certificate's issuer in one line; verification is never turned off for the run. Only
to name the issuer is the refused certificate read a second time, unverified, and nothing is sent.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.trust.ca import bundle_path, file_context

if TYPE_CHECKING:
    from agent.config.model import Config, Tenant


class UntrustedCertificate(Exception):
    """An endpoint's certificate failed verification; the message is the one line to show."""


def _ca_file(tenant: Tenant) -> str | None:
    """The CA file the libraries verify against: the tenant's bundle, the environment's, else certifi."""
    if tenant.endpoints.ca_bundle is not None:
        return bundle_path(tenant.endpoints.ca_bundle)
    env = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if env:
        return env
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests and httpx
        return None
    return str(certifi.where())


def endpoints(config: Config) -> Iterator[tuple[Tenant, str, str]]:
    """(tenant, field name, URL) of every distinct https origin the run may call."""
    seen: set[tuple[str, str]] = set()
    for tenant in config.tenants:
        urls = list(tenant.endpoints.model_dump(mode="json", exclude={"ca_bundle"}).items())
        urls += [(f"connector {c.name} ews_url", c.ews_url) for c in config.connectors
                 if c.tenant == tenant.name and getattr(c, "ews_url", None)]
        for name, url in urls:
            parts = urlsplit(str(url or ""))
            if parts.scheme != "https" or not parts.hostname:
                continue
            origin = f"{parts.hostname}:{parts.port or 443}"
            if (tenant.name, origin) not in seen:
                seen.add((tenant.name, origin))
                yield tenant, name, f"https://{parts.netloc}"


def check(config: Config, connect_s: float | None = None) -> None:
    """Raise UntrustedCertificate for the first endpoint whose certificate does not verify."""
    for tenant, name, origin in endpoints(config):
        limit = connect_s if connect_s is not None else _connect_s(tenant)
        problem = verify_failure(origin, _ca_file(tenant), limit)
        if problem is not None:
            raise UntrustedCertificate(f"TLS: {origin} ({name} of tenant {tenant.name}) presented a "
                                       f"certificate that does not verify: {problem}; trust its issuer "
                                       "with endpoints.ca_bundle or fix the server's certificate")


def _connect_s(tenant: Tenant) -> float:
    timeouts = getattr(tenant, "timeouts", None)
    return float(timeouts.connect_s) if timeouts is not None else 10.0


def verify_failure(origin: str, ca_file: str | None, timeout_s: float) -> str | None:
    """Why `origin`'s certificate fails verification, with its issuer; None when it verifies or when
    the endpoint cannot be reached at all (that is each check's to report, not a certificate's)."""
    parts = urlsplit(origin)
    host, port = parts.hostname or "", parts.port or 443
    # the context the requests-based libraries verify with, shared: loading a bundle costs 20 ms or more
    context = file_context(ca_file) if ca_file else ssl.create_default_context()
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        why = exc.verify_message or str(exc)
    except (OSError, ssl.SSLError):
        return None
    issuer, subject = _names(host, port, timeout_s)
    return f"{why} (issued by {issuer} to {subject})"


def _names(host: str, port: int, timeout_s: float) -> tuple[str, str]:
    """The refused certificate's issuer and subject, read without verifying and without sending data."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return "an unknown issuer", "an unknown subject"
    if not der:
        return "an unknown issuer", "an unknown subject"
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    issuer, subject = cert.issuer.rfc4514_string(), cert.subject.rfc4514_string()
    if issuer == subject:
        return f"'{issuer}' (self-signed)", f"'{subject}'"
    return f"'{issuer}'", f"'{subject}'"
