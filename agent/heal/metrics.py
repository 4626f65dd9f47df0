"""Prometheus metrics of a run (prometheus_client): a textfile for the node exporter, or a Pushgateway push.

A per-tenant job is short-lived, so nothing is scraped from it: it writes its metrics when it ends,
to a `.prom` file that the node exporter's textfile collector reads (written whole, then renamed), or
pushes them to a Pushgateway grouped by tenant. Labels carry only config names, cause ids and statuses:
no secret, no account, no URL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from agent.errors import BadInput
from agent.model import RunReport

if TYPE_CHECKING:
    from agent.journal.grants import Grant

JOB = "agent"
# the statuses an operator alerts on get a series even at zero, so "fixed went to 0" is visible
WATCHED = ("found", "fixed", "unverified", "unknown", "failed")


def registry_for(report: RunReport, tenant_of: Mapping[str, str], duration_s: float,
                 retries: Mapping[str, int], finished_at: float) -> CollectorRegistry:
    """The run's metrics: its result, duration, causes by tenant and status, throttling retries."""
    registry = CollectorRegistry()
    tenants = sorted(set(tenant_of.values())) or ["-"]
    tenant_label = ",".join(tenants)  # a per-tenant job names one
    labels = {"mode": report.mode, "tenant": tenant_label}
    Gauge("agent_run_exit_code", "Exit code of the last run (0 healthy or all fixed, 3 found, 4 failed or "
          "unverified)", list(labels), registry=registry).labels(**labels).set(report.exit_code)
    Gauge("agent_run_duration_seconds", "Wall time of the last run", list(labels),
          registry=registry).labels(**labels).set(duration_s)
    Gauge("agent_run_last_timestamp_seconds", "When the last run finished (Unix time)", list(labels),
          registry=registry).labels(**labels).set(finished_at)
    causes = Gauge("agent_causes", "Connectors per cause and status in the last run",
                   ["tenant", "cause", "status"], registry=registry)
    counted = Counter((tenant_of.get(o.connector, "-"), o.cause, o.status.value) for o in report.results)
    for tenant, cause in {(t, c) for t, c, _ in counted}:
        for status in WATCHED:
            causes.labels(tenant, cause, status).set(counted.get((tenant, cause, status), 0))
    for (tenant, cause, status), count in counted.items():
        causes.labels(tenant, cause, status).set(count)
    retried = Gauge("agent_retries", "Requests retried in the last run, by reason (throttled: 429 or "
                    "server busy)", ["tenant", "reason"], registry=registry)
    for reason in ("throttled", "transient"):
        retried.labels(tenant_label, reason).set(int(retries.get(reason, 0)))
    return registry


def add_grants(registry: CollectorRegistry, grants: Sequence[Grant], tenant_of: Mapping[str, str],
               now: datetime, warn_days: int) -> None:
    """The time-boxed grants in force after the run, per tenant and cause: how many, how many expire within
    the heal policy's grant_warn_days, and the soonest expiry. Only the configured connectors' grants: a
    shared journal also holds other tenants', which their own jobs report."""
    from agent import clock
    from agent.grants.timebox import expiring

    ours = [g for g in grants if g.state == "active" and g.connector in tenant_of]
    soon = {(g.run_id, g.seq) for g in expiring(ours, now, warn_days)}
    live: Counter[tuple[str, str]] = Counter()
    warned: Counter[tuple[str, str]] = Counter()
    nearest: dict[tuple[str, str], datetime] = {}
    for grant in ours:
        key = (tenant_of[grant.connector], grant.cause)
        live[key] += 1
        warned[key] += (grant.run_id, grant.seq) in soon
        at = clock.parse_instant(grant.expires_at, "expires_at")
        nearest[key] = min(at, nearest.get(key, at))
    count = Gauge("agent_grants_live", "Time-boxed grants the agent made that are in force, by tenant and "
                  "cause (an expired one whose revocation failed included)", ["tenant", "cause"],
                  registry=registry)
    within = Gauge("agent_grants_expiring", "Live time-boxed grants that expire within the heal policy's "
                   "grant_warn_days (agent_grants_warn_window_seconds)", ["tenant", "cause"],
                   registry=registry)
    left = Gauge("agent_grants_next_expiry_seconds", "Seconds from the end of the run to the soonest expiry "
                 "of a live grant (negative: an expired grant is still in force)", ["tenant", "cause"],
                 registry=registry)
    when = Gauge("agent_grants_next_expiry_timestamp_seconds", "When the soonest live grant expires (Unix "
                 "time; compare with time() between runs)", ["tenant", "cause"], registry=registry)
    window = Gauge("agent_grants_warn_window_seconds", "The heal policy's grant_warn_days, in seconds",
                   ["tenant"], registry=registry)
    for tenant in sorted(set(tenant_of.values())):
        window.labels(tenant).set(warn_days * 86400)
    for key, n in live.items():
        count.labels(*key).set(n)
        within.labels(*key).set(warned[key])
        left.labels(*key).set((nearest[key] - now).total_seconds())
        when.labels(*key).set(nearest[key].timestamp())


def write_textfile(path: Path, registry: CollectorRegistry) -> None:
    """Write for the textfile collector (prometheus_client writes a temporary file, then renames it)."""
    if path.suffix != ".prom":
        raise BadInput(f"--metrics-file {path}: the node exporter's textfile collector reads *.prom files")
    if not path.parent.is_dir():
        raise BadInput(f"--metrics-file {path}: the folder {path.parent} does not exist")
    write_to_textfile(str(path), registry)


def push(url: str, registry: CollectorRegistry, tenant: str) -> str | None:
    """Push to a Pushgateway grouped by tenant; a failure is a one-line warning (the run itself stands)."""
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key={"tenant": tenant}, timeout=10)
    except Exception as exc:  # urllib errors vary; the run's outcome must not depend on monitoring
        from agent.redact import redact

        return f"warning: could not push metrics to the Pushgateway ({redact(type(exc).__name__)}: " \
               f"{redact(' '.join(str(exc).split()))[:160]})"
    return None
