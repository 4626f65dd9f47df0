"""`agent history` and `agent report`: what past runs did, read from the journal (no lock, no tenant)."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from agent.cli import session
from agent.cli.options import (
    ConfigOpt,
    JournalOpt,
    OutOpt,
    Output,
    OutputOpt,
    ReportOpt,
    ReportOutput,
    StateDirOpt,
)
from agent.errors import BadInput


def history(run_id: Annotated[str | None, typer.Argument(help="Show this run in full.")] = None,
            output: OutputOpt = Output.table, out: OutOpt = None, state_dir: StateDirOpt = None,
            config: ConfigOpt = None,
            limit: Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                               help="How many runs to list.")] = 20,
            journal: JournalOpt = None) -> NoReturn:
    """List recent runs, or show one run's results and changes."""
    from agent.journal.store import UnknownRun
    from agent.report.terminal import emit, render_run, render_runs, run_data, runs_data, to_json

    as_json = output == Output.json
    with session.past_journal(state_dir, config, journal) as past:
        if past is None:
            folder = session.history_state_dir(state_dir, config)
            if run_id:
                raise BadInput(f"unknown run id {run_id!r}: no journal in {folder}")
            text = to_json({"runs": []}) if as_json else f"no runs recorded in {folder}"
            emit(as_json, out, lambda: text, lambda con: con.print(text))
            raise typer.Exit(0)
        if run_id is None:
            runs = past.runs(limit)
            emit(as_json, out, lambda: to_json(runs_data(runs)), lambda con: render_runs(runs, con))
            raise typer.Exit(0)
        try:
            run = past.run(run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent history` lists the runs") from None
        results, changes = past.results(run_id), past.changes(run_id)
    emit(as_json, out, lambda: to_json(run_data(run, results, changes)),
         lambda con: render_run(run, results, changes, con))
    raise typer.Exit(0)


def report(run_id: Annotated[str, typer.Argument(help="The run to render (see `agent history`).")],
           output: ReportOpt = ReportOutput.table, out: OutOpt = None, state_dir: StateDirOpt = None,
           config: ConfigOpt = None, journal: JournalOpt = None) -> NoReturn:
    """Render any past run from the journal as a table, JSON, Markdown, HTML or JUnit XML."""
    from agent.journal.store import UnknownRun
    from agent.report.render import from_journal

    with session.past_journal(state_dir, config, journal) as past:
        if past is None:
            folder = session.history_state_dir(state_dir, config)
            raise BadInput(f"unknown run id {run_id!r}: no journal in {folder}")
        try:
            done = from_journal(past, run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent history` lists the runs") from None
    session.emit_report(done, output, out)
    raise typer.Exit(0)


COMMANDS = (history, report)
