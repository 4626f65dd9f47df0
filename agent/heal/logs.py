"""Logs as JSON lines (`--log-format json`): one object per record, with the run id and tenant it is for.

Log collectors (Loki, Elasticsearch, Azure Monitor) parse JSON lines without a pattern. The run id and
the tenant ride in context variables, so a library's record logged in a worker thread carries them too.
Every message goes through the redactor (agent.redact) before it is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

from agent.model import RunReport

RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_run_id", default=None)
TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_tenant", default=None)
LOGGER = "agent.run"


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "run_id", "tenant", ...extra fields}, one per line."""

    def format(self, record: logging.LogRecord) -> str:
        from agent.redact import redact, redact_obj

        data = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name,
                "message": redact(record.getMessage()),
                "run_id": getattr(record, "run_id", None) or RUN_ID.get(),
                "tenant": getattr(record, "tenant", None) or TENANT.get()}
        data.update(redact_obj(getattr(record, "fields", {})))
        if record.exc_info:
            data["error"] = redact(repr(record.exc_info[1]))
        return json.dumps(data, sort_keys=False, default=str)


class _AgentInfoOrErrors(logging.Filter):
    """The agent's own INFO records; from the libraries only errors (they warn on every probed 401)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("agent") or record.levelno >= logging.ERROR


TEXT = logging.Formatter("%(levelname)s %(name)s: %(message)s")
_ONLY_AGENT_INFO = _AgentInfoOrErrors()


def use_json(handler: logging.Handler) -> None:
    """Turn the command line's stderr handler into a JSON-lines one (for this command)."""
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    handler.addFilter(_ONLY_AGENT_INFO)
    logging.getLogger("agent").setLevel(logging.INFO)


def use_text(handler: logging.Handler) -> None:
    """Every command starts with plain text lines; only `--log-format json` changes that."""
    handler.setFormatter(TEXT)
    handler.removeFilter(_ONLY_AGENT_INFO)
    logging.getLogger("agent").setLevel(logging.NOTSET)


def log_report(report: RunReport, tenant_of: dict[str, str], duration_s: float) -> None:
    """One record per result, then one for the run."""
    log = logging.getLogger(LOGGER)
    for outcome in report.results:
        fields = {"connector": outcome.connector, "cause": outcome.cause, "status": outcome.status.value}
        if outcome.reason:
            fields["reason"] = outcome.reason
        log.info("%s %s: %s", outcome.connector, outcome.cause, outcome.status.value,
                 extra={"run_id": report.run_id, "tenant": tenant_of.get(outcome.connector),
                        "fields": fields})
    tenants = ",".join(sorted(set(tenant_of.values())))
    log.info("%s run finished: exit %d", report.mode, report.exit_code,
             extra={"run_id": report.run_id, "tenant": tenants or None,
                    "fields": {"mode": report.mode, "exit_code": report.exit_code,
                               "duration_s": round(duration_s, 3), "results": len(report.results)}})
