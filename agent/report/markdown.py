"""A report as Markdown: the summary first, a results table, then each result's evidence, changes, advice."""

from __future__ import annotations

import json
from typing import Any

from agent.report.data import by_connector


def _cell(value: Any) -> str:
    """Table-cell safe: one line, pipes escaped."""
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return "```json\n" + text.replace("```", "`\u200b``") + "\n```"


def render(data: dict[str, Any]) -> str:
    lines = [f"# {data.get('mode')} run {data.get('run_id')}", "",
             f"Started {data.get('started')}, finished {data.get('finished') or '(not finished)'}, "
             f"exit code {data.get('exit_code')}.", ""]
    summary = data.get("summary") or {}
    lines += ["| status | count |", "|---|---|"]
    lines += [f"| {status} | {count} |" for status, count in summary.items()] or ["| (none) | 0 |"]
    lines += ["", "| connector | cause | status | risk | summary |", "|---|---|---|---|---|"]
    for row in data.get("results", []):
        lines.append(f"| {_cell(row.get('connector'))} | {_cell(row.get('cause'))} | "
                     f"**{_cell(row.get('status'))}** | {_cell(row.get('risk'))} | "
                     f"{_cell(_summary(row))} |")
    for connector, rows in by_connector(data.get("results", [])).items():
        lines += ["", f"## {connector}"]
        for row in rows:
            lines += _details(row)
    for key in ("pending", "notifications", "grants"):
        if data.get(key):
            lines += ["", f"## {key}", "", _code(data[key])]
    return "\n".join(lines) + "\n"


def _summary(row: dict[str, Any]) -> str:
    parts = [str(row.get("summary") or ""), str(row.get("reason") or "")]
    return " - ".join(p for i, p in enumerate(parts) if p and p not in parts[:i])


def _details(row: dict[str, Any]) -> list[str]:
    lines = ["", f"### {row.get('cause')}: {row.get('status')}", ""]
    if _summary(row):
        lines += [_summary(row), ""]
    if row.get("evidence"):
        lines += ["Evidence:", "", _code(row["evidence"]), ""]
    changes = row.get("changes") or []
    if changes:
        lines += ["| state | action | call | before | after |", "|---|---|---|---|---|"]
        for change in changes:
            call = change.get("call") or {}
            lines.append(f"| {_cell(change.get('state'))} | {_cell(change.get('action'))} | "
                         f"`{_cell(call.get('method'))} {_cell(call.get('url'))}` | "
                         f"{_cell(json.dumps(change.get('before'), default=str))} | "
                         f"{_cell(json.dumps(change.get('after'), default=str))} |")
        lines.append("")
    if row.get("advice") and row.get("status") not in ("ok", "fixed"):
        lines += ["Advice:", "", "> " + "\n> ".join(str(row["advice"]).strip().splitlines()), ""]
    return lines
