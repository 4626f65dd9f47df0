"""A RunReport and the run history for people (rich tables, status coloured) and for programs (JSON)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agent.errors import BadInput
from agent.journal.store import plain
from agent.model import Change, Outcome, Plan, RunReport, Status
from agent.redact import redact_obj

if TYPE_CHECKING:
    from rich.console import Console

    from agent.journal.store import RunRecord

STATUS_STYLE = {
    Status.OK: "green", Status.FOUND: "yellow", Status.UNKNOWN: "magenta", Status.PLANNED: "cyan",
    Status.FIXED: "bold green", Status.UNVERIFIED: "bold red", Status.FAILED: "bold red",
    Status.SKIPPED: "dim",
}
WIDE = 140  # rich wraps at 80 columns when not on a terminal; a report file reads better wide


def console(file: TextIO | None = None, stderr: bool = False) -> Console:
    """A console for people: colour on a terminal, plain and wide when piped or written to a file."""
    from rich.console import Console

    probe = Console(file=file, stderr=stderr)
    return probe if probe.is_terminal else Console(file=file, stderr=stderr, width=WIDE, no_color=True,
                                                   highlight=False)


def to_json(data: Any) -> str:
    """Redacted, stable JSON text."""
    return json.dumps(redact_obj(plain(data)), indent=2, sort_keys=False)


def plans_data(report: RunReport) -> dict[str, Any]:
    """What --plan-out writes: every (connector, cause) with changes planned or made, in order."""
    plans = [{"connector": o.connector, "cause": o.cause, "status": o.status.value, "risk": o.risk,
              "steps": o.changes} for o in report.results if o.changes]
    data: dict[str, Any] = redact_obj(plain({"run_id": report.run_id, "mode": report.mode, "plans": plans}))
    return data


def render_report(report: RunReport, out: Console) -> None:
    """The results table, then the changes and advice of each result that has some."""
    from rich.table import Table

    table = Table(title=f"{report.mode} run {report.run_id}", title_justify="left")
    for column in ("connector", "cause", "status", "summary"):
        table.add_column(column, overflow="fold")
    for outcome in report.results:
        table.add_row(outcome.connector, outcome.cause, _status(outcome.status), _summary(outcome))
    out.print(table)
    for outcome in report.results:
        _details(outcome, out)
    if not report.results and report.mode.startswith("undo"):
        out.print("nothing to undo: the run made no changes")
    elif not report.results:
        out.print("nothing to check: no playbook applies to the selected connectors")
    out.print(f"exit code {report.exit_code}")


def _status(status: Status) -> str:
    return f"[{STATUS_STYLE[status]}]{status.value}[/]"


def _summary(outcome: Outcome) -> str:
    from rich.markup import escape

    parts = [outcome.summary]
    if outcome.reason and outcome.reason != outcome.summary:
        parts.append(outcome.reason)
    return escape(" - ".join(p for p in parts if p))


def _details(outcome: Outcome, out: Console) -> None:
    from rich.markup import escape

    if outcome.changes:
        out.print(f"\n[bold]{escape(outcome.connector)} / {escape(outcome.cause)}[/]"
                  + (f" (risk {outcome.risk})" if outcome.risk else ""))
        if outcome.waits_on:
            out.print(f"  waits on {escape(', '.join(outcome.waits_on))}: applied once that fix has landed")
        for change in outcome.changes:
            out.print("  " + escape(describe_change(change)))
    if outcome.advice and outcome.status in (Status.FOUND, Status.SKIPPED, Status.UNVERIFIED):
        out.print(f"\n[bold]advice for {escape(outcome.cause)}:[/] {escape(outcome.advice.strip())}")


def describe_change(change: dict[str, Any]) -> str:
    """`[applied] assign-licence: POST https://... {"sku": "E3"}` on one line."""
    call = change.get("call") or {}
    body = call.get("body")
    body_text = f" {json.dumps(body, sort_keys=True)}" if body not in (None, "", {}) else ""
    line = f"[{change.get('state', '?')}] {change.get('action', '?')}: {call.get('method', '')} " \
           f"{call.get('url', '')}{body_text}"
    for key in ("error", "note", "time_box"):
        if change.get(key):
            line += f" ({change[key]})"
    return line


def render_plan(plan: Plan, out: Console) -> None:
    """A plan as shown before asking for approval."""
    from rich.markup import escape

    out.print(f"[bold]{escape(plan.connector)} / {escape(plan.cause)}[/] with {escape(plan.fixer)} "
              f"(risk {plan.risk.value}):")
    for step in plan.steps:
        data = redact_obj(plain({"action": step.action, "call": step.call, "state": "planned"}))
        out.print("  " + escape(describe_change(data)))
        if step.irreversible:
            out.print("    [bold red]irreversible[/]: undo cannot reverse this step")
        if step.time_box:
            out.print(f"    {escape(step.time_box)}")


def runs_data(runs: Sequence[RunRecord]) -> dict[str, Any]:
    data: dict[str, Any] = redact_obj(plain({"runs": list(runs)}))
    return data


def run_data(run: RunRecord, results: Sequence[Outcome], changes: Sequence[Change]) -> dict[str, Any]:
    """One journaled run: its row, its results (report shape) and its change rows."""
    data = plain(run)
    data["run_id"] = data.pop("id")
    data["state"] = run.state
    data["results"] = [o.to_dict() for o in results]
    data["changes"] = [plain(c) for c in changes]
    result: dict[str, Any] = redact_obj(plain(data))
    return result


def render_runs(runs: Sequence[RunRecord], out: Console) -> None:
    from rich.table import Table

    table = Table(title="runs, newest first", title_justify="left")
    for column in ("run id", "mode", "started", "finished", "exit"):
        table.add_column(column)
    for run in runs:
        ended = {"unfinished": "(not finished)", "interrupted": f"interrupted (noticed {run.finished})"}
        table.add_row(run.id, run.mode, run.started, ended.get(run.state, run.finished or ""),
                      "" if run.exit_code is None else str(run.exit_code))
    out.print(table)


def render_run(run: RunRecord, results: Sequence[Outcome], changes: Sequence[Change], out: Console) -> None:
    """One run in full: its results, then every change with its state."""
    from rich.markup import escape

    if run.state == "finished":
        render_report(RunReport(run.id, run.mode, run.started, run.finished, list(results),
                                run.exit_code or 0), out)
    else:
        _render_unfinished(run, results, bool(changes), out)
    if run.undoes:
        out.print(f"undoes run {run.undoes}")
    if changes:
        out.print("\n[bold]journaled changes[/]")
    for change in changes:
        data = plain(change)
        line = f"{change.seq}. {change.connector} / {change.cause}: {describe_change(data)}"
        if change.undone_by:
            line += f" undone by {change.undone_by}"
        out.print("  " + escape(str(redact_obj(line))))


def _render_unfinished(run: RunRecord, results: Sequence[Outcome], has_changes: bool, out: Console) -> None:
    """A run with no recorded end: never shown as a healthy run with exit code 0."""
    from rich.markup import escape

    if results:  # a converging run records results only at its end, but be exact if some are there
        render_report(RunReport(run.id, run.mode, run.started, run.finished, list(results), 0), out)
    what = ("interrupted: it stopped before it finished (killed, or the machine stopped); a later writing "
            "run noticed it" if run.state == "interrupted"
            else "not finished: it is still running, or it was interrupted")
    out.print(f"{escape(run.mode)} run {escape(run.id)} {what}; no exit code")
    if has_changes:
        out.print(f"its journaled changes are below; `agent undo {escape(run.id)}` reverses them (a change "
                  "left pending or uncertain is checked on the tenant first)")


def emit(as_json: bool, out: Path | None, json_text: Callable[[], str],
         draw: Callable[[Console], None]) -> None:
    """JSON text or a rich rendering, to stdout or to the --out file."""
    if as_json and out is None:
        sys.stdout.write(json_text() + "\n")
    elif as_json and out is not None:
        write_text(out, json_text() + "\n")
    elif out is not None:
        with _open(out) as handle:
            draw(console(file=handle))
    else:
        draw(console())


def write_text(path: Path, text: str) -> None:
    with _open(path) as handle:
        handle.write(text)


@contextlib.contextmanager
def _open(path: Path) -> Iterator[TextIO]:
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle
