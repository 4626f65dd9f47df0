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
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", help="Journal and lock folder (default: "
                                                  "$AGENT_STATE_DIR, else $XDG_STATE_HOME/agent).")]
SimOpt = Annotated[bool, typer.Option("--sim", help="Run against the built-in simulated tenant.")]
PlaybooksOpt = Annotated[list[Path] | None, typer.Option(
    "--playbooks", help="Playbook file or folder (repeatable; default: $AGENT_PLAYBOOKS, else built-in).")]


class GrantsOutput(enum.StrEnum):
    """`agent grants`: a table, JSON, or a page for a wiki or a mail."""

    table = "table"
    json = "json"
    md = "md"
    html = "html"


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


class Tier(enum.StrEnum):
    """The permission tiers of the agent's own app (agent.playbook.manifest.TIERS)."""

    read = "read"
    fix = "fix"
    fix_high = "fix-high"


class VerifyScope(enum.StrEnum):
    """What `fix` probes after applying: the items its fixes changed, or everything detect read."""

    changed = "changed"
    full = "full"


DEFAULT_DEADLINE = "15m"
DeadlineOpt = Annotated[str, typer.Option(
    "--deadline", help="End the run after this long (90s, 15m, 1h): what is left is reported unknown.")]
CauseDeadlineOpt = Annotated[str | None, typer.Option(
    "--cause-deadline", help="Give each cause's own work at most this long (30s, 2m); what it leaves is "
                             "reported unknown. Default: no limit but the run's.")]
JournalOpt = Annotated[str | None, typer.Option(
    "--journal", help="The shared journal, postgresql://USER@HOST/DB (default: $AGENT_JOURNAL_URL, else the "
                      "config's journal:, else SQLite in the state directory).")]
TenantOpt = Annotated[str | None, typer.Option(
    "--tenant", help="Only this tenant (its config name or tenant id): one job per tenant.")]
MetricsFileOpt = Annotated[Path | None, typer.Option(
    "--metrics-file", help="Write Prometheus metrics here (*.prom, for the node exporter's textfile "
                           "collector).")]
PushgatewayOpt = Annotated[str | None, typer.Option(
    "--pushgateway", help="Push Prometheus metrics to this Pushgateway (http://host:9091).")]
LogFormatOpt = Annotated[LogFormat, typer.Option(
    "--log-format", help="text, or json: JSON lines on stderr with run id and tenant.")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Heal policy YAML (default: "
                                                "$AGENT_HEAL_POLICY, else low and medium risk).")]
