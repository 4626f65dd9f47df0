"""`agent doctor`: is this agent ready for its tenants? Config, cloud and endpoints, its own credential and
token, certificate expiry, the state directory and lock, and (with --network) each endpoint's TLS certificate.

Every check answers ok, warn or fail with one line; the report is data (`-o json`) like every other one.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CERT_WARN_DAYS = 30
# Who issues Microsoft 365's own TLS certificates; another issuer on a Microsoft host means something in
# between re-signs the traffic (https://learn.microsoft.com/en-us/azure/security/fundamentals/azure-ca-details)
MICROSOFT_ISSUERS = ("Microsoft", "DigiCert")
MICROSOFT_SUFFIXES = (".microsoft.com", ".microsoftonline.com", ".office365.com", ".office.com",
                      ".sharepoint.com", ".microsoft.us", ".microsoftonline.us", ".office365.us", ".apps.mil",
                      ".chinacloudapi.cn", ".sharepoint.us", ".sharepoint.cn", ".outlook.cn")


@dataclass
class Check:
    """One line of the report."""

    area: str
    name: str
    status: str  # ok | warn | fail
    detail: str


def config_checks(path: Path, how: str, config: Any) -> list[Check]:
    checks = [Check("config", "source", "ok", f"{path} ({how})")]
    for tenant in config.tenants:
        e = tenant.endpoints
        checks.append(Check("tenant", f"{tenant.name} cloud", "ok",
                            f"{e.cloud}: authority {e.authority_host}, Graph {e.graph_url}, EWS {e.ews_url}"))
        checks.append(Check("tenant", f"{tenant.name} audiences", "ok",
                            f"Graph {e.graph_resource}, Exchange {e.ews_resource}, SharePoint "
                            f"{e.sharepoint_root or '(not set)'}"))
        checks += credential_checks(tenant)
    return checks


def credential_checks(tenant: Any, now: datetime | None = None) -> list[Check]:
    """Which credential the agent signs in with, and how long its certificate still works."""
    admin = tenant.admin
    method = getattr(admin, "method", "certificate" if admin.certificate is not None else "secret")
    checks = [Check("credential", f"{tenant.name} admin app", "ok",
                    f"{admin.client_id}, signing in with {method}")]
    if method == "secret":
        checks.append(Check("credential", f"{tenant.name} SharePoint", "warn",
                            "no certificate: SharePoint refuses app-only tokens got with a secret"))
        return checks
    if admin.certificate is None:  # a managed or workload identity: no certificate of its own to watch
        return checks
    try:
        from cryptography import x509

        pem = admin.certificate.resolve().encode()
        cert = x509.load_pem_x509_certificate(pem)
    except Exception as exc:  # a reference that does not resolve, or a PEM without a certificate
        return [*checks, Check("credential", f"{tenant.name} certificate", "fail", _short(exc))]
    ends = cert.not_valid_after_utc
    days = (ends - (now or datetime.now(UTC))).days
    status = "fail" if days < 0 else "warn" if days <= CERT_WARN_DAYS else "ok"
    return [*checks, Check("credential", f"{tenant.name} certificate", status,
                           f"expires {ends.date().isoformat()} ({days} day(s)); a scheduled agent whose own "
                           "certificate expired gets 401 itself" if status != "ok" else
                           f"expires {ends.date().isoformat()} ({days} day(s))")]


def token_checks(tenant: Any) -> list[Check]:
    """The admin app's Graph token: its audience, its roles, and how the app proved who it is."""
    from agent.clients.tokens import admin_credential, decode_claims, graph_scope

    credential = None
    try:
        credential = admin_credential(tenant)
        claims = decode_claims(credential.get_token(graph_scope(tenant)).token)
    except Exception as exc:  # any failure is the finding
        return [Check("token", f"{tenant.name} Graph token", "fail", _short(exc))]
    finally:
        close = getattr(credential, "close", None)
        if close is not None:
            close()
    how = {"1": "client secret", "2": "certificate", "0": "none"}.get(str(claims.get("appidacr")), "?")
    roles = sorted(claims.get("roles") or [])
    return [Check("token", f"{tenant.name} Graph token", "ok" if roles else "warn",
                  f"audience {claims.get('aud')}, signed in with {how}, {len(roles)} role(s)"
                  + ("" if roles else ": no application permission is granted"))]


def state_checks(folder: Path) -> list[Check]:
    """The state directory: where it is, whether only this user can read it, and who holds the lock."""
    from agent.journal.lock import LOCK_NAME, read_holder

    if not folder.exists():
        return [Check("state", "directory", "ok", f"{folder} (created on the first run)")]
    info = folder.stat()
    mode = info.st_mode & 0o777
    status = "warn" if mode & 0o077 or info.st_uid != os.getuid() else "ok"
    checks = [Check("state", "directory", status, f"{folder} (mode {mode:o}"
                    + (", not owned by this user" if info.st_uid != os.getuid() else "") + ")")]
    lock = folder / LOCK_NAME
    if lock.is_file() and not lock.is_symlink():
        fd = os.open(lock, os.O_RDONLY)
        try:
            holder = read_holder(fd)
        finally:
            os.close(fd)
        detail = "free" if holder is None else f"held by a {holder.command} run (pid {holder.pid}, " \
                                                f"started {holder.started})"
        checks.append(Check("state", "lock", "ok", detail))
    return checks


def network_checks(urls: Iterable[str], ca_bundle: str | None, timeout_s: float = 10.0) -> list[Check]:
    """A TLS handshake with each endpoint: the issuer of its certificate, and whether it looks inspected."""
    origins = {(urlsplit(u).hostname or "", urlsplit(u).port or 443): None for u in urls}
    return [_handshake(host, port, ca_bundle, timeout_s) for host, port in origins]


def _handshake(host: str, port: int, ca_bundle: str | None, timeout_s: float) -> Check:
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)  # extra CAs add to the default trust
    name = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Check("network", name, "fail", f"certificate not trusted: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        return Check("network", name, "fail", f"no TLS connection: {_short(exc)}")
    rdns = cert.get("issuer", ())
    return judge_issuer(name, host, _field(rdns, "organizationName") or _field(rdns, "commonName"))


def judge_issuer(name: str, host: str, issuer: str) -> Check:
    """A Microsoft host whose certificate another issuer signed is behind a TLS-inspecting proxy."""
    if host.endswith(MICROSOFT_SUFFIXES) and not any(known in issuer for known in MICROSOFT_ISSUERS):
        return Check("network", name, "warn", f"issued by {issuer or '?'}: not Microsoft's issuer, so "
                                              "something between here and Microsoft 365 inspects TLS")
    return Check("network", name, "ok", f"issued by {issuer or '?'}")


def _field(rdns: Any, key: str) -> str:
    for rdn in rdns:
        for k, v in rdn:
            if k == key:
                return str(v)
    return ""


def _short(exc: BaseException) -> str:
    from agent.engine.steps import short_reason

    return short_reason(exc)


def exit_code(checks: Iterable[Check]) -> int:
    """0 all ok, 3 a warning, 4 a check failed (the agent would not work as configured)."""
    statuses = {c.status for c in checks}
    return 4 if "fail" in statuses else 3 if "warn" in statuses else 0


def report(checks: list[Check]) -> dict[str, Any]:
    return {"checks": [asdict(c) for c in checks], "exit_code": exit_code(checks)}
