"""The `agent.yaml` that `agent init` writes: the tenant, the agent's own app and the connectors it found.
Written whole, in one step, and loaded back with the agent's own validation before it counts as written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

from agent.errors import BadInput
from agent.init.hosts import Hosts

HEADER = ("# Written by `agent init` (run {run_id}). Secrets are referenced, never written here:\n"
          "# the agent's private key is in {key} (mode 0600). `agent connectors add` adds connectors;\n"
          "# `agent undo {run_id}` removes what init created in the tenant.\n")


def endpoints(hosts: Hosts, ca_bundle: Path | None) -> dict[str, Any]:
    found: dict[str, Any] = {"cloud": hosts.cloud, "authority_host": hosts.authority_host,
                             "graph_url": hosts.graph_url, "ews_url": hosts.ews_url}
    for key in ("sharepoint_root", "sharepoint_admin", "onedrive_host"):
        if getattr(hosts, key):
            found[key] = getattr(hosts, key)
    if ca_bundle is not None:
        found["ca_bundle"] = str(ca_bundle.resolve())
    return found


def config_data(name: str, tenant_id: str, hosts: Hosts, ca_bundle: Path | None, client_id: str,
                key_ref: str, connectors: list[dict[str, Any]]) -> dict[str, Any]:
    tenant = {"name": name, "tenant_id": tenant_id, "endpoints": endpoints(hosts, ca_bundle),
              "admin": {"client_id": client_id, "auth": "certificate", "certificate": key_ref}}
    return {"tenants": [tenant], "connectors": [{**c, "tenant": name} for c in connectors]}


def check_writable(out: Path, force: bool) -> None:
    """Never overwrite an existing config without --force."""
    if out.exists() and not force:
        raise BadInput(f"{out} exists; `agent init` does not overwrite it: pass --force, --out FILE, or "
                       "`agent init --update` to re-sync the app's grants")


def write_config(out: Path, data: dict[str, Any], run_id: str, key_path: Path) -> str:
    """Write and validate; returns the file's sha256 (the journal keeps it for undo)."""
    from agent.config.load import load_config

    text = HEADER.format(run_id=run_id, key=key_path.name) + yaml.safe_dump(data, sort_keys=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, out)
    load_config(out)  # a ConfigError here is a defect of init, and says which field
    return hashlib.sha256(text.encode()).hexdigest()


def append_connector(out: Path, connector: dict[str, Any]) -> None:
    """Add one connector to an existing config (re-validated; the old file stays on error)."""
    from agent.config.load import load_config

    data = yaml.safe_load(out.read_text(encoding="utf-8")) or {}
    names = {c.get("name") for c in data.get("connectors") or []}
    if connector["name"] in names:
        raise BadInput(f"{out} has a connector named {connector['name']!r} already; pass --name")
    tenants = data.get("tenants") or []
    if not tenants:
        raise BadInput(f"{out} has no tenant; run `agent init` first")
    data.setdefault("connectors", []).append({**connector, "tenant": connector.get("tenant") or
                                              tenants[0]["name"]})
    text = out.read_text(encoding="utf-8")
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    scratch = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    scratch.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        load_config(scratch)
    except Exception:
        scratch.unlink()
        raise
    os.replace(scratch, out)
