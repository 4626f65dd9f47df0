"""`agent doctor`: the agent's own readiness (config, cloud, credential, token, state, journal, TLS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from agent.cli.options import ENV_CONFIG, ConfigOpt, JournalOpt, Output, OutputOpt, SimOpt, StateDirOpt


def doctor(config: ConfigOpt = None, sim: SimOpt = False, state_dir: StateDirOpt = None,
           output: OutputOpt = Output.table,
           network: Annotated[bool, typer.Option("--network", help="Also open a TLS connection to each "
                                                 "endpoint: its certificate's issuer, TLS inspection.")]
           = False,
           offline: Annotated[bool, typer.Option("--offline", help="Do not ask for a token (config, "
                                                 "credential files and state only).")] = False,
           journal: JournalOpt = None) -> NoReturn:
    """Is the agent ready? Config, cloud, credential and token, state dir, lock, shared journal, TLS."""
    from agent import doctor as checks
    from agent.cli.session import config_source
    from agent.config.load import load_config
    from agent.doctor_journal import journal_checks
    from agent.journal.statedir import resolve_state_dir
    from agent.report.terminal import to_json

    with config_source(config, sim) as path:
        how = "--sim" if sim else "--config" if config else f"${ENV_CONFIG}" if os.environ.get(ENV_CONFIG) \
            else "./agent.yaml"
        cfg = load_config(path)
        found = checks.config_checks(Path(path), how, cfg)
        for tenant in cfg.tenants:
            if not offline:
                found += checks.token_checks(tenant)
            if network:
                e = tenant.endpoints
                urls = [str(u) for u in (e.authority_host, e.graph_url, e.ews_url, e.sharepoint_root) if u]
                found += checks.network_checks(urls, str(e.ca_bundle) if e.ca_bundle else None)
        found += checks.state_checks(resolve_state_dir(state_dir, configured=cfg.state_dir))
        found += journal_checks(journal, cfg.journal, cfg.tenants)
    data = checks.report(found)
    if output == Output.json:
        typer.echo(to_json(data))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for check in found:
            typer.echo(f"{marks[check.status]}  {check.area:<10} {check.name}: {check.detail}")
    raise typer.Exit(data["exit_code"])
