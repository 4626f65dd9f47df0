"""Helpers of the app-credential causes: the connector's certificate, the app's keys, token evidence."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.clients.graph_view import GraphObject
    from agent.clients.tokens import TokenProbe
    from agent.config.model import Connector

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def token_evidence(probe: TokenProbe) -> dict[str, Any]:
    """What the token endpoint told the connector's credential, without the token itself."""
    if probe.ok:
        return {"ok": True, "roles": probe.roles, "appidacr": probe.appidacr}
    return {"ok": False, "aadsts": probe.aadsts, "error": probe.error, "status": probe.status,
            "message": probe.message}


@dataclass(frozen=True)
class ConnectorCert:
    """The certificate the connector signs its client assertions with (public part only, plus its PEM)."""

    client_id: str
    pem: str | None  # private key + certificate, when the config holds it (for the token probe)
    der: bytes
    subject: str
    not_before: datetime
    not_after: datetime

    @property
    def thumbprint(self) -> str:
        """Hex SHA-1 of the DER certificate, upper case: what Entra ID and the portal show."""
        return hashlib.sha1(self.der).hexdigest().upper()

    def key_credential(self) -> dict[str, Any]:
        """The keyCredentials entry for the public certificate (never the private key)."""
        return {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(self.der).decode(),
                "displayName": self.subject, "startDateTime": _iso(self.not_before),
                "endDateTime": _iso(self.not_after)}


def connector_certificate(connector: Connector) -> ConnectorCert | None:
    """The connector's certificate from `app.certificate` (PEM with key) or `app.certificate_public`."""
    app = connector.app
    if app is None or (app.certificate is None and app.certificate_public is None):
        return None
    pem = app.certificate.resolve() if app.certificate is not None else None
    text = pem if pem is not None else _read(app.certificate_public)
    match = _PEM_CERT.search(text)
    if match is None:
        raise ValueError(f"connector {connector.name}: its configured certificate holds no PEM certificate")
    from cryptography import x509  # loaded with the first certificate, not with the catalog
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(match.group(0).encode())

    return ConnectorCert(app.client_id, pem, cert.public_bytes(Encoding.DER), cert.subject.rfc4514_string(),
                         cert.not_valid_before_utc, cert.not_valid_after_utc)


def _read(path: Any) -> str:
    try:
        return str(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the public certificate {path}: {exc.strerror or exc}") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class KeyView:
    """One keyCredentials entry as Graph returned it (`data`, re-sendable in a PATCH) and what it means."""

    data: dict[str, Any]

    @classmethod
    def of_dict(cls, data: dict[str, Any]) -> KeyView:
        return cls(dict(data))

    @property
    def thumbprint(self) -> str:
        key, ident = self.data.get("key"), self.data.get("customKeyIdentifier")
        if key:
            return hashlib.sha1(base64.b64decode(key)).hexdigest().upper()
        return base64.b64decode(ident).hex().upper() if ident else ""

    @property
    def end(self) -> datetime | None:
        raw = self.data.get("endDateTime")
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None

    @property
    def expired(self) -> bool:
        end = self.end
        return end is not None and end < datetime.now(UTC)

    def summary(self) -> dict[str, Any]:
        """What a person needs to recognise the key; the certificate bytes stay out of reports."""
        end = self.end
        return {"key_id": self.data.get("keyId"), "display_name": self.data.get("displayName"),
                "thumbprint": self.thumbprint, "end": end.isoformat() if end else None,
                "expired": self.expired}


def key_views(app: GraphObject) -> list[KeyView]:
    from agent.clients.graph_json import as_dict

    return [KeyView(as_dict(k)) for k in app.key_credentials or []]


def key_dicts(keys: list[KeyView]) -> list[dict[str, Any]]:
    return [dict(k.data) for k in keys]
