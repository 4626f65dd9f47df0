"""Renderers of one RunReport for files and dashboards: JSON, Markdown, self-contained HTML, JUnit XML."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent.journal import plain
from agent.model import RunReport
from agent.redact import redact_obj

if TYPE_CHECKING:
    from agent.journal import Journal

FORMATS = ("json", "md", "html", "junit")
# worst first: the order of summaries and of the statuses shown at the top of every report
STATUS_ORDER = ("failed", "unverified", "unknown", "found", "planned", "skipped", "fixed", "ok")
GOOD = frozenset({"ok", "fixed"})


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    """Results per status, worst first, only the statuses that occur."""
    seen = Counter(str(r.get("status")) for r in results)
    return {status: seen[status] for status in STATUS_ORDER if seen[status]}


def prepare(report: RunReport, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report as plain data, redacted once here for every renderer, with per-status counts."""
    data = plain(report.to_dict())
    data["summary"] = counts(data["results"])
    data.update(plain(dict(extras or {})))
    prepared: dict[str, Any] = redact_obj(data)
    return prepared


def render(report: RunReport, fmt: str, extras: Mapping[str, Any] | None = None) -> str:
    """The report as text in one of FORMATS; ValueError names the valid ones."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; valid: {', '.join(FORMATS)}")
    module = importlib.import_module(f"agent.report.{fmt if fmt != 'md' else 'markdown'}")
    text: str = module.render(prepare(report, extras))
    return text


def from_journal(journal: Journal, run_id: str) -> RunReport:
    """A past run rebuilt from the journal (UnknownRun when it is not there)."""
    run = journal.run(run_id)
    return RunReport(run.id, run.mode, run.started, run.finished, journal.results(run_id),
                     run.exit_code if run.exit_code is not None else 1)


def by_connector(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by connector, in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault(str(row.get("connector")), []).append(row)
    return groups
