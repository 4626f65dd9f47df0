"""Many customers: a folder of config files, one per customer, read as one config; one tenant's part.

Each `*.yaml` / `*.yml` file in the folder (not in subfolders, in name order) is a whole config of its
own (tenants and connectors, its `file:` references relative to itself), so a managed service provider
adds a customer by adding a file. Tenant and connector names must be unique across the folder: the
journal and the locks know connectors by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.config.model import Config, load_config_file
from agent.errors import ConfigError


def config_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ConfigError(f"{folder}: no *.yaml config files in this folder (one per customer)")
    return files


def load_config_dir(folder: Path) -> Config:
    """Every file's tenants and connectors in one Config; a name used twice names both files."""
    configs = [(path, load_config_file(path)) for path in config_files(folder)]
    seen: dict[tuple[str, str], Path] = {}
    for path, cfg in configs:
        names = [("tenant", t.name) for t in cfg.tenants] + [("connector", c.name) for c in cfg.connectors]
        for kind, name in names:
            if (kind, name) in seen:
                raise ConfigError(f"{path}: {kind} '{name}' is also in {seen[kind, name]}; names must be "
                                  "unique across the folder")
            seen[kind, name] = path
    shared = _shared(configs)
    return Config(tenants=[t for _, c in configs for t in c.tenants],
                  connectors=[k for _, c in configs for k in c.connectors], **shared)


def _shared(configs: list[tuple[Path, Config]]) -> dict[str, Any]:
    """state_dir, journal and network may be set in one file only (or alike in all)."""
    found: dict[str, Any] = {}
    for key in ("state_dir", "journal"):
        values = {str(getattr(c, key)): (p, getattr(c, key)) for p, c in configs if getattr(c, key)}
        if len(values) > 1:
            files = ", ".join(str(p) for p, _ in values.values())
            raise ConfigError(f"{key}: differs between {files}; set it in one file of the folder")
        if values:
            found[key] = next(iter(values.values()))[1]
    return found


def select_tenant(config: Config, name: str) -> Config:
    """Only the tenant called `name` (its config name or tenant id) and its connectors."""
    wanted = name.strip().lower()
    chosen = [t for t in config.tenants if wanted in (t.name.lower(), t.tenant_id.lower())]
    if not chosen:
        valid = ", ".join(t.name for t in config.tenants)
        raise ConfigError(f"unknown tenant '{name}'; valid: {valid}")
    tenant = chosen[0]
    connectors = [c for c in config.connectors if c.tenant == tenant.name]
    if not connectors:
        raise ConfigError(f"tenant '{tenant.name}' has no connectors in the config")
    return Config(tenants=[tenant], connectors=connectors, state_dir=config.state_dir,
                  journal=config.journal, network=config.network)
