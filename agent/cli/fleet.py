"""What `agent heal` does as one job of a fleet: JSON logs from the start, metrics and log lines at the end.

The options are in agent.cli.options; `observe` writes the metrics and the log lines once a run has its
report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.cli.options import LogFormat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agent.config.model import Config
    from agent.journal.grants import Grant
    from agent.model import RunReport


def start(log_format: LogFormat, tenant: str | None) -> float:
    """Set up the logs before the run; returns its start time (monotonic)."""
    from agent.cli.boundary import State
    from agent.heal import logs

    if log_format == LogFormat.json and State.log_handler is not None:
        logs.use_json(State.log_handler)
    if tenant:
        logs.TENANT.set(tenant)
    return time.monotonic()


def tenants_of(config: Config) -> dict[str, str]:
    """connector name -> tenant name."""
    return {c.name: c.tenant for c in config.connectors}


def observe(report: RunReport, config: Config, started: float, metrics_file: Path | None,
            pushgateway: str | None, log_format: LogFormat, grants: Sequence[Grant] = (),
            warn_days: int = 7) -> list[str]:
    """Write the metrics and the JSON log lines of a finished run; returns warning lines. `grants`: those
    in force after it, `warn_days`: the heal policy's grant_warn_days."""
    from agent import clock
    from agent.heal import logs, metrics
    from agent.retry import RETRIES

    duration = time.monotonic() - started
    tenant_of = tenants_of(config)
    if log_format == LogFormat.json:
        logs.log_report(report, tenant_of, duration)
    if metrics_file is None and pushgateway is None:
        return []
    registry = metrics.registry_for(report, tenant_of, duration, RETRIES, time.time())
    metrics.add_grants(registry, grants, tenant_of, clock.now(), warn_days)
    if metrics_file is not None:
        metrics.write_textfile(metrics_file, registry)
    if pushgateway is not None:
        note = metrics.push(pushgateway, registry, ",".join(sorted(set(tenant_of.values()))))
        return [note] if note else []
    return []


def check_outputs(metrics_file: Path | None, pushgateway: str | None) -> None:
    """Bad monitoring options are bad input before the run starts, not after it acted."""
    from agent.errors import BadInput

    if metrics_file is not None and (metrics_file.suffix != ".prom" or not metrics_file.parent.is_dir()):
        raise BadInput(f"--metrics-file {metrics_file}: give a *.prom file in an existing folder (the node "
                       "exporter's textfile collector directory)")
    if pushgateway is not None and not pushgateway.startswith(("http://", "https://")):
        raise BadInput("--pushgateway must be an http:// or https:// URL")
