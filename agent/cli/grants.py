"""`agent grants`: the time-boxed grants the agent made; `revoke` takes them back, `extend` moves expiry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli import session
from agent.cli.options import (
    ConfigOpt,
    GrantsOutput,
    JournalOpt,
    OutOpt,
    PlaybooksOpt,
    ReportOutput,
    StateDirOpt,
)
from agent.errors import BadInput

if TYPE_CHECKING:
    from agent.engine.core import Engine
    from agent.journal.grants import Grant, GrantStore


grants_app = typer.Typer(no_args_is_help=False, add_completion=False, rich_markup_mode=None,
                         invoke_without_command=True,
                         help="The time-boxed grants the agent made: list, revoke, extend.")
OutputOpt = Annotated[GrantsOutput, typer.Option("--output", "-o", help="table, json, md or html.")]
CauseOpt = Annotated[str | None, typer.Option("--cause", help="Only grants made for this cause id.")]
ConnectorOpt = Annotated[str | None, typer.Option("--connector", help="Only this connector's grants.")]


@grants_app.callback()
def grants(ctx: typer.Context, config: ConfigOpt = None, state_dir: StateDirOpt = None,
           playbooks: PlaybooksOpt = None, connector: ConnectorOpt = None, cause: CauseOpt = None,
           every: Annotated[bool, typer.Option("--all", help="Also grants revoked, removed or undone.")]
           = False,
           expired: Annotated[bool, typer.Option("--expired", help="Only expired grants.")] = False,
           no_check: Annotated[bool, typer.Option("--no-check", help="Skip the fresh read of the tenant.")]
           = False,
           output: OutputOpt = GrantsOutput.table, out: OutOpt = None, journal: JournalOpt = None) -> None:
    """List the live grants the agent made: expiry, what revoking calls, and whether each still holds."""
    if ctx.invoked_subcommand is not None:
        return
    from agent import clock
    from agent.grants.view import emit_grants, grant_rows

    now = clock.now()
    with _session(config, state_dir, playbooks, None, journal) as (engine, store):
        chosen = _select(engine, store, None, cause, connector, expired, every, now)
        rows = grant_rows(engine, chosen, now, check=not no_check)
    emit_grants(rows, now, output.value, out)
    raise typer.Exit(0)


@grants_app.command()
def revoke(run_id: Annotated[str | None, typer.Argument(help="Revoke the grants this run made.")] = None,
           expired: Annotated[bool, typer.Option("--expired", help="Revoke every expired grant.")] = False,
           cause: CauseOpt = None, connector: ConnectorOpt = None,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be revoked.")] = False,
           config: ConfigOpt = None, state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None,
           output: OutputOpt = GrantsOutput.table, out: OutOpt = None,
           journal: JournalOpt = None) -> NoReturn:
    """Revoke grants now (by run, cause or expiry), verified and journaled as a `revoke` run."""
    from agent import clock, threads

    if not (run_id or expired or cause):
        raise BadInput("say which grants to revoke: RUN_ID, --expired or --cause ID")
    now = clock.now()
    with _session(config, state_dir, playbooks, None if dry_run else "revoke", journal) as (engine, store):
        chosen = _select(engine, store, run_id, cause, connector, expired, False, now)
        if not chosen:
            typer.echo("no live grant matches: nothing to revoke", err=True)
            raise typer.Exit(0)
        report = threads.run(engine.revoke(chosen, store, dry_run))
    session.emit_report(report, ReportOutput(output.value), out)
    raise typer.Exit(report.exit_code)


@grants_app.command()
def extend(run_id: Annotated[str, typer.Argument(help="The run whose grants to extend.")],
           by: Annotated[str, typer.Option("--by", help="How much longer (14d, 2w, 12h).")],
           cause: CauseOpt = None, config: ConfigOpt = None, state_dir: StateDirOpt = None,
           playbooks: PlaybooksOpt = None, output: OutputOpt = GrantsOutput.table,
           out: OutOpt = None, journal: JournalOpt = None) -> NoReturn:
    """Push the expiry of a run's live grants later by --by; journaled as a `grants-extend` run."""
    from agent.grants.lifetime import parse_lifetime
    from agent.grants.view import extend_grants

    try:
        span = parse_lifetime(by, "--by")
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    with _session(config, state_dir, playbooks, "extend", journal) as (engine, store):
        chosen = store.grants(("active",), run_id=run_id, cause=cause)
        if not chosen:
            raise BadInput(f"run {run_id} has no live grant{' for ' + cause if cause else ''}; "
                           "`agent grants` lists them")
        report = extend_grants(engine.journal, store, chosen, span, engine.argv)
    session.emit_report(report, ReportOutput(output.value), out)
    raise typer.Exit(0)


def _select(engine: Engine, store: GrantStore, run_id: str | None, cause: str | None, connector: str | None,
            expired: bool, every: bool, now: Any) -> list[Grant]:
    from agent.grants.timebox import sync_undone
    from agent.journal.schema import GRANT_STATES

    if run_id is not None:
        from agent.journal.store import UnknownRun

        try:
            engine.journal.run(run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent grants` lists the grants") from None
    chosen = sync_undone(store, engine.journal, store.grants(("active",), run_id, cause, connector))
    if every:
        chosen = store.grants(GRANT_STATES, run_id, cause, connector)
    return [g for g in chosen if not expired or g.expired(now)]


@contextlib.contextmanager
def _session(config: Path | None, state_dir: Path | None, playbook_paths: list[Path] | None,
             lock: str | None, journal_url: str | None) -> Iterator[tuple[Engine, GrantStore]]:
    """The command's session (the lock held when `lock` names a writing command) and its grants."""
    from agent.journal.grants import GrantStore

    with session.open_session(config, False, state_dir, playbook_paths, lock=lock,
                              journal_url=journal_url) as opened, GrantStore(opened.journal) as store:
        yield opened.engine, store
