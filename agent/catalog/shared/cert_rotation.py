"""A new self-signed certificate for the connector, and where its PEM (private key + certificate) goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from agent import redact
from agent.catalog.shared.app_keys import ConnectorCert
from agent.config.secrets import SecretStore, atomic_write, file_mode

if TYPE_CHECKING:
    from agent.config.model import Connector

LIFETIME_DAYS = 365
KEY_BITS = 2048


def common_name(der: bytes) -> str:
    """The CN of a DER certificate's subject ("" when it has none)."""
    from cryptography import x509  # cryptography loads when a certificate is at hand, not with the catalog
    from cryptography.x509.oid import NameOID

    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def rotation_store(connector: Connector) -> tuple[SecretStore | None, str]:
    """Where a new PEM can be written (the `file:` the connector reads it from), or why there is none."""
    app = connector.app
    ref = app.certificate if app is not None else None
    if ref is None:
        return None, ("the connector has only a public certificate configured: the agent cannot hand it a "
                      "new private key; issue a new certificate and configure it in the migration tool")
    if ref.scheme != "file":
        return None, (f"the connector's certificate comes from {ref.scheme}:, which the agent does not "
                      "write; issue a new certificate, store it there and upload its public part to the app")
    return SecretStore(ref.text, ref.base_dir), ""


def new_certificate(client_id: str, cn: str, days: int = LIFETIME_DAYS) -> tuple[str, ConnectorCert]:
    """A fresh RSA key and self-signed certificate: (PEM with the private key, its public description).

    The PEM is registered with the redactor before it is returned, so no later output can show it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or "migration connector")])
    # a few minutes back: clocks differ, and Entra ID refuses a certificate that is not valid yet
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    redact.register(key_pem)
    pem = key_pem + cert.public_bytes(serialization.Encoding.PEM).decode()
    redact.register(pem)
    public = ConnectorCert(client_id, None, cert.public_bytes(serialization.Encoding.DER),
                           cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc)
    return pem, public


def public_pem(cert: ConnectorCert) -> str:
    """The certificate alone, PEM-encoded (what a `certificate_public` file holds)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    loaded = x509.load_der_x509_certificate(cert.der)
    return loaded.public_bytes(serialization.Encoding.PEM).decode()


def write_public_certificate(path: Path, cert: ConnectorCert) -> None:
    """Replace the connector's public certificate file in one step (a reader never sees half of it)."""
    atomic_write(path, public_pem(cert), file_mode(path, new=0o644))  # a certificate is no secret
