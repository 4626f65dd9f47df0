"""The agent renews its own certificate before it expires (heal's `own_certificate_renew_days`).

A new key pair is made here; Graph's addKey adds its certificate to the app, proving possession of the
current key with a JWT it signs (application-addkey: `aud` 00000002-0000-0000-c000-000000000000, `iss` the
app's object id, at most 10 minutes; an app needs no permission to roll its own keys). The PEM file is
switched (the old one kept beside it as FILE.previous), a token with the new key proves it, and only then is
the old key removed (removeKey, proof signed by the new key). Each step is journaled in its own run
(mode `own-certificate`), so `agent undo RUN` puts the old key and file back.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.init.steps import Writer, progress
from agent.model import Call

CAUSE = "agent-own-certificate"
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"


def cert_of(pem: str) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode())


def days_left(pem: str, now: datetime | None = None) -> float:
    left = cert_of(pem).not_valid_after_utc - (now or datetime.now(UTC))
    return left.total_seconds() / 86400


def proof(pem: str, app_object_id: str, lifetime_s: int = 600) -> str:
    """The proof-of-possession JWT, signed with `pem`'s private key, naming its certificate by x5t."""
    import jwt
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem.encode(), None)
    der = cert_of(pem).public_bytes(serialization.Encoding.DER)
    x5t = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")
    stamp = int(time.time())
    claims = {"aud": PROOF_AUDIENCE, "iss": app_object_id, "nbf": stamp, "exp": stamp + lifetime_s,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t})  # type: ignore[arg-type]


def _der(pem: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert_of(pem).public_bytes(serialization.Encoding.DER))


def key_id_of(app: Any, pem: str) -> str | None:
    """The keyId of the app's key credential holding `pem`'s certificate."""
    thumb = hashlib.sha1(_der(pem)).digest()
    for cred in app.key_credentials or []:
        ident, key = _binary(cred.custom_key_identifier), _binary(cred.key)
        if ident in (thumb, thumb.hex().upper().encode()) or key == _der(pem):
            return str(cred.key_id)
    return None


def _binary(value: Any) -> bytes | None:
    """An Edm.Binary field: bytes from a typed model, base64 text from Graph's JSON (a detect-path read)."""
    if value is None or isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError:
        return None


async def add_key(graph: Any, object_id: str, der: bytes, signer_pem: str, label: str) -> Any:
    from msgraph.generated.applications.item.add_key.add_key_post_request_body import AddKeyPostRequestBody
    from msgraph.generated.models.key_credential import KeyCredential

    body = AddKeyPostRequestBody(key_credential=KeyCredential(type="AsymmetricX509Cert", usage="Verify",
                                                              key=der, display_name=label),
                                 proof=proof(signer_pem, object_id))
    item = graph.client.applications.by_application_id(object_id)
    call = graph.call("POST", f"/applications/{object_id}/addKey", {"keyCredential": {"displayName": label}})
    return await graph.write(call, lambda: item.add_key.post(body))


async def remove_key(graph: Any, object_id: str, key_id: str, signer_pem: str) -> None:
    from msgraph.generated.applications.item.remove_key.remove_key_post_request_body import (
        RemoveKeyPostRequestBody,
    )

    body = RemoveKeyPostRequestBody(key_id=uuid.UUID(key_id), proof=proof(signer_pem, object_id))
    item = graph.client.applications.by_application_id(object_id)
    call = graph.call("POST", f"/applications/{object_id}/removeKey", {"keyId": key_id})
    await graph.write(call, lambda: item.remove_key.post(body))


def write_pem(path: Path, pem: str) -> None:
    from agent.config.secrets import atomic_write

    atomic_write(path, pem, 0o600)


def proven(tenant: Any, client_id: str, pem: str, tries: int = 6) -> bool:
    """A token with the new key, fresh credential each try (the key replicates)."""
    from agent.clients.tokens import certificate_credential, graph_scope

    delay = 1.0
    for _ in range(tries):
        try:
            certificate_credential(tenant, client_id, pem).get_token(graph_scope(tenant))
            return True
        except Exception:
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    return False


async def rotate(tenant: Any, graph: Any, writer: Writer, path: Path, old_pem: str, days: int) -> str:
    """Add the new key, switch the file, prove it, remove the old key; returns one line for the report."""
    from agent.catalog.shared.cert_rotation import new_certificate

    admin = tenant.admin
    app = await graph.get_application(admin.client_id, select=["id", "keyCredentials"])
    if app is None:
        return f"tenant {tenant.name}: the agent's app {admin.client_id} is not in this tenant: not renewed"
    object_id, old_key = str(app.id), key_id_of(app, old_pem)
    cn = cert_of(old_pem).subject.rfc4514_string().removeprefix("CN=") or "agent"
    new_pem, cert = new_certificate(admin.client_id, cn, days=days)
    label = f"agent {datetime.now(UTC):%Y-%m-%d}"
    progress(f"tenant {tenant.name}: adding a new certificate to the agent's app")
    add_url = graph.call("POST", f"/applications/{object_id}/addKey").url
    await writer.write("add-own-key", Call("POST", add_url),
                       lambda: add_key(graph, object_id, cert.der, old_pem, label),
                       lambda key: {"app_object_id": object_id, "key_id": str(key.key_id)})
    previous = path.with_name(path.name + ".previous")
    write_pem(previous, old_pem)
    write_pem(path, new_pem)
    writer.note_file(str(path), hashlib.sha256(new_pem.encode()).hexdigest(), "the agent's renewed key")
    if not proven(tenant, admin.client_id, new_pem):
        write_pem(path, old_pem)
        return f"tenant {tenant.name}: the new certificate gave no token yet: kept the old one ({path})"
    if old_key is not None:
        old_der = base64.b64encode(_der(old_pem)).decode()
        remove_url = graph.call("POST", f"/applications/{object_id}/removeKey").url
        await writer.write("remove-own-key", Call("POST", remove_url),
                           lambda: remove_key(graph, object_id, old_key, new_pem),
                           lambda _: {"app_object_id": object_id, "key_id": old_key, "certificate": old_der,
                                      "previous": str(previous)})
    return (f"tenant {tenant.name}: renewed the agent's certificate (the new one is valid until "
            f"{cert.not_after:%Y-%m-%d})")


def due(tenant: Any, renew_days: int) -> tuple[Path, str] | None:
    """(the PEM file, its text) when this tenant's own certificate expires within `renew_days`."""
    ref = tenant.admin.certificate
    if renew_days <= 0 or tenant.admin.method != "certificate" or ref is None or ref.scheme != "file":
        return None
    pem = ref.resolve()
    return (ref.path, pem) if days_left(pem) <= renew_days else None


async def renew(config: Any, journal: Any, renew_days: int, argv: list[str]) -> tuple[list[str], bool]:
    """Renew every tenant's own certificate that is due; (report lines, whether one failed)."""
    from agent.clients.errors import ClientError
    from agent.clients.graph import GraphAdapter
    from agent.clients.tokens import admin_credential
    from agent.guard import WriteGuard

    lines, failed = [], False
    for tenant in config.tenants:
        found = due(tenant, renew_days)
        if found is None:
            continue
        path, pem = found
        run_id = journal.start_run("own-certificate", argv=argv, targets={tenant.name: tenant.location()})
        graph = GraphAdapter(tenant, admin_credential(tenant), WriteGuard(dry_run=False))
        code = 0
        try:
            old = cert_of(pem)  # as long as the old one lived, and a month past the next renewal window
            days = max(renew_days + 30, (old.not_valid_after_utc - old.not_valid_before_utc).days)
            writer = Writer(journal, run_id, False, cause=CAUSE)
            lines.append(await rotate(tenant, graph, writer, path, pem, days))
        except ClientError as exc:
            code, failed = 4, True
            lines.append(f"tenant {tenant.name}: renewing the agent's certificate failed: {exc.reason} "
                         f"(`agent undo {run_id}` reverses what was done)")
        finally:
            await graph.aclose()
            journal.finish_run(run_id, code)
        lines[-1] += f" [run {run_id}]"
    return lines, failed
