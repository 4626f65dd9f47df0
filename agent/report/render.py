"""Renderers of one RunReport for files and dashboards: JSON, Markdown, self-contained HTML, JUnit XML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent.journal.store import plain
from agent.model import RunReport
from agent.redact import redact_obj
from agent.report.data import counts

if TYPE_CHECKING:
    from agent.journal.store import Journal

FORMATS = ("json", "md", "html", "junit")


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
    from agent.report import html, json, junit, markdown  # jinja2 loads only when a page is rendered

    renderers = {"json": json.render, "md": markdown.render, "html": html.render, "junit": junit.render}
    text: str = renderers[fmt](prepare(report, extras))
    return text


def from_journal(journal: Journal, run_id: str) -> RunReport:
    """A past run rebuilt from the journal (UnknownRun when it is not there)."""
    run = journal.run(run_id)
    return RunReport(run.id, run.mode, run.started, run.finished, journal.results(run_id),
                     run.exit_code if run.exit_code is not None else 1)
