"""Writes the agent's connector config that points at the simulated tenant, secrets in files beside it."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from agent.simulator.scenarios.contoso import (
    CONNECTOR_ROLES,
    EXCHANGE_ROLES,
    GRAPH_ROLES,
    SHAREPOINT_ROLES,
)
from agent.simulator.state.tenant import EXCHANGE_APP_ID, GRAPH_APP_ID, SHAREPOINT_APP_ID, Tenant

ROLE_TABLES = {GRAPH_APP_ID: GRAPH_ROLES, EXCHANGE_APP_ID: EXCHANGE_ROLES,
               SHAREPOINT_APP_ID: SHAREPOINT_ROLES}
HEADER = ("# Connector config for the simulated Microsoft 365 tenant (every endpoint points at it).\n"
          "# Secrets live in the files next to this one (mode 0600) and are referenced as file:NAME.\n")


def _write_secret(folder: Path, name: str, value: str) -> str:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    os.chmod(path, 0o600)  # an existing file keeps its old mode otherwise
    return f"file:{name}"


def _role_ids(resource_roles: dict[str, tuple[str, ...]]) -> list[str]:
    """Role ids, not names: `Sites.FullControl.All` exists on Graph and on SharePoint."""
    return [ROLE_TABLES[res][value] for res, values in resource_roles.items() for value in values]


def _tenant_entry(t: Tenant, base_url: str, ca_path: str, secrets: dict[str, str],
                  cloud: str) -> dict[str, object]:
    return {
        "name": "contoso", "tenant_id": t.initial_domain,
        # one origin serves every host: sharepoint_root == sharepoint_admin == onedrive_host; the cloud
        # names the token audiences (the agent derives them from it, as for a real tenant behind a proxy)
        "endpoints": {"cloud": cloud, "authority_host": base_url, "graph_url": f"{base_url}/v1.0",
                      "sharepoint_root": base_url, "sharepoint_admin": base_url, "onedrive_host": base_url,
                      "ews_url": f"{base_url}/EWS/Exchange.asmx", "ca_bundle": ca_path},
        "admin": {"client_id": str(t.extras["admin_app_id"]), "client_secret": secrets["admin"],
                  "certificate": secrets["admin_cert"]},
    }


def build_config(t: Tenant, base_url: str, ca_path: str, secrets: dict[str, str],
                 cloud: str = "public") -> dict[str, object]:
    """The config as data; `secrets` maps each secret to its `file:` reference."""
    account = {"username": str(t.extras["account_upn"]), "password": secrets["account"], "auth": "oauth",
               "public_client_id": str(t.extras["public_client_id"])}
    app = {"client_id": str(t.extras["connector_app_id"]), "client_secret": secrets["connector"],
           "certificate": secrets["connector_cert"], "certificate_public": "connector-public.pem",
           "secret_store": secrets["connector"]}
    # OneDrive needs Graph and SharePoint roles; full_access_as_app is the mail connector's need
    files_roles = {res: CONNECTOR_ROLES[res] for res in (GRAPH_APP_ID, SHAREPOINT_APP_ID)}
    return {
        "tenants": [_tenant_entry(t, base_url, ca_path, secrets, cloud)],
        "connectors": [
            {"name": "mail-exo", "tenant": "contoso", "kind": "exchange-online",
             "app": {**app, "required_roles": _role_ids({EXCHANGE_APP_ID: ("full_access_as_app",)})},
             "account": dict(account)},
            {"name": "mail-onprem", "tenant": "contoso", "kind": "exchange-onprem",
             "account": {**account, "auth": "basic"}, "ews_url": f"{base_url}/onprem/EWS/Exchange.asmx"},
            {"name": "files-onedrive", "tenant": "contoso", "kind": "onedrive",
             "app": {**app, "required_roles": _role_ids(files_roles)}, "account": dict(account),
             "scope": {"users": "all"}},
            {"name": "sp-sites", "tenant": "contoso", "kind": "sharepoint", "account": dict(account),
             "scope": {"sites": [f"{base_url}{t.extras['source_site']}"]},
             "target_site": {"url": f"{base_url}{t.extras['target_site']}", "title": "Migration target",
                             "template": "STS#3", "owner": str(t.extras["admin_upn"]), "lcid": 1033}},
        ],
    }


def write_connector_config(path: Path, t: Tenant, base_url: str, ca_path: str, cloud: str = "public") -> Path:
    """Write the config and its secret files (admin + connector secrets and certificates, password)."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    connector_cert = t.extras["connector_cert"]
    secrets = {
        "admin": _write_secret(folder, "admin.secret", str(t.extras["admin_secret"])),
        "admin_cert": _write_secret(folder, "admin.pem", t.extras["admin_cert"].pem),
        "connector": _write_secret(folder, "connector.secret", str(t.extras["connector_secret"])),
        "connector_cert": _write_secret(folder, "connector.pem", connector_cert.pem),
        "account": _write_secret(folder, "migsvc.password", str(t.extras["account_password"])),
    }
    (folder / "connector-public.pem").write_text(connector_cert.public_pem, encoding="utf-8")
    data = build_config(t, base_url, ca_path, secrets, cloud)
    path.write_text(HEADER + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
