"""The CLI's shared option types and output formats (one definition each), for every command module."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

ENV_CONFIG = "AGENT_CONFIG"
DEFAULT_CONFIG = "agent.yaml"


class Output(enum.StrEnum):
    table = "table"
    json = "json"


class ReportOutput(enum.StrEnum):
    """A run's report: for people (table), machines (json), wikis (md), mail (html), CI (junit)."""

    table = "table"
    json = "json"
    md = "md"
    html = "html"
    junit = "junit"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help=f"Connector config (default: "
                                                f"${ENV_CONFIG}, else ./{DEFAULT_CONFIG}).")]
ConnectorOpt = Annotated[str | None, typer.Option("--connector", help="Only this connector.")]
OnlyOpt = Annotated[list[str] | None, typer.Option("--only", help="Only this cause id (repeatable).")]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json.")]
ReportOpt = Annotated[ReportOutput, typer.Option("--output", "-o", help="table, json, md, html or junit.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the output to this file.")]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", help="Journal folder (default: "
                                                  "$AGENT_STATE_DIR, else $XDG_STATE_HOME/agent).")]
SimOpt = Annotated[bool, typer.Option("--sim", help="Run against the built-in simulated tenant.")]
PlaybooksOpt = Annotated[list[Path] | None, typer.Option(
    "--playbooks", help="Playbook file or folder (repeatable; default: $AGENT_PLAYBOOKS, else built-in).")]
