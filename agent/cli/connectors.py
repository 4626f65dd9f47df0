"""`agent connectors discover` and `agent connectors add`: found in the tenant, added to the config with
only the secrets its probes need (asked with getpass, written 0600 beside the config, referenced as file:)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any, get_args

from agent.config.secrets import atomic_write
from agent.errors import BadInput
from agent.init.config_out import append_connector
from agent.init.connectors import discover, slug
from agent.kinds import ConnectorKind


async def discover_lines(tenant: str, sign_in: str, client_id: str | None, authority_host: str | None,
                         graph_url: str | None, ca_bundle: Path | None) -> list[str]:
    from agent.init import run as phases
    from agent.init.discovery import PUBLIC_AUTHORITY
    from agent.init.discovery import discover as find_tenant
    from agent.init.hosts import tenant_hosts
    from agent.init.signin import SignInRefused

    opts = phases.InitOptions(tenant=tenant, out=Path("agent.yaml"), authority_host=authority_host,
                              graph_url=graph_url, ca_bundle=ca_bundle, sign_in=sign_in, client_id=client_id,
                              dry_run=True)
    info = find_tenant(tenant, authority_host or PUBLIC_AUTHORITY, str(ca_bundle) if ca_bundle else None)
    hosts = tenant_hosts(info.cloud, None, authority_host=authority_host, graph_url=graph_url)
    try:
        _, graph = await phases.sign_in(opts, phases.config_tenant(opts, info.tenant_id, hosts))
    except SignInRefused as exc:
        raise BadInput(str(exc)) from None
    try:
        found = await discover(graph, info.tenant_id, set())
    finally:
        await graph.adapter.aclose()
    if not found:
        return ["no app holds or asks for a connector-grade role (full_access_as_app, Sites.FullControl.All, "
                "Files.ReadWrite.All, Mail.ReadWrite)"]
    return [c.line() for c in found] + ["add one with `agent connectors add --from-sp APP_ID --kind KIND`"]


def _secret_file(folder: Path, name: str, value: str) -> str:
    path = folder / name
    atomic_write(path, value, 0o600)
    return f"file:{name}"


def pfx_to_pem(data: bytes, password: str) -> str:
    """A PFX (PKCS#12: key + certificate) as the PEM the agent's probes read."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from agent import redact

    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        raise BadInput("the PFX file could not be opened: wrong password or not a PFX") from None
    if key is None or cert is None:
        raise BadInput("the PFX file holds no private key and certificate")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pem += cert.public_bytes(serialization.Encoding.PEM).decode()
    redact.register(pem)
    return pem


def add_connector(config: Path, client_id: str, kind: str, name: str | None, *, secret: bool,
                  pfx: Path | None, account: str | None, vendor: bool,
                  ask: Any = getpass.getpass) -> str:
    if not config.is_file():
        raise BadInput(f"config file not found: {config}; run `agent init` first")
    kinds = get_args(ConnectorKind)
    if kind not in kinds:
        raise BadInput(f"unknown --kind {kind!r}; valid: {', '.join(kinds)}")
    if vendor and (secret or pfx):
        raise BadInput("--vendor: the vendor holds the app's credential; leave out --secret and --pfx")
    name = slug(name or f"{kind}-{client_id[:8]}")
    folder = config.parent
    app: dict[str, Any] = {"client_id": client_id}
    if vendor:
        app["owner"] = "vendor"
    if secret:
        app["client_secret"] = _secret_file(folder, f"{name}.secret", ask("the app's client secret: "))
        app["secret_store"] = app["client_secret"]
    if pfx is not None:
        pem = pfx_to_pem(pfx.read_bytes(), ask(f"password of {pfx.name}: "))
        app["certificate"] = _secret_file(folder, f"{name}.pem", pem)
    entry: dict[str, Any] = {"name": name, "kind": kind, "app": app}
    if account:
        entry["account"] = {"username": account, "password": _secret_file(
            folder, f"{name}-account.password", ask(f"password of {account}: "))}
    append_connector(config, entry)
    return f"added connector {name} ({kind}) to {config}"
