"""`agent journal migrate --to postgresql://...`: move the state directory's SQLite journal to PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.options import ConfigOpt, StateDirOpt

journal_app = typer.Typer(help="The journal: move it to a shared PostgreSQL database.", no_args_is_help=True,
                          add_completion=False)


@journal_app.callback()
def _group() -> None:
    """The journal: move it to a shared PostgreSQL database."""


@journal_app.command("migrate")
def migrate(to: Annotated[str, typer.Option("--to", help="The PostgreSQL journal, postgresql://USER@HOST/DB "
                                                         "(its schema is made or brought up to date).")],
            state_dir: StateDirOpt = None, config: ConfigOpt = None) -> None:
    """Copy every run, result, change (with its undo data) and pending plan into PostgreSQL."""
    from agent.cli import session
    from agent.errors import BadInput
    from agent.journal.connect import journal_target, open_journal
    from agent.journal.copy import copy_journal
    from agent.journal.statedir import JOURNAL_NAME
    from agent.journal.store import Journal

    folder: Path = session.history_state_dir(state_dir, config)
    url = journal_target(to, env={})
    if not (folder / JOURNAL_NAME).is_file():
        raise BadInput(f"no journal to migrate: {folder / JOURNAL_NAME} does not exist (--state-dir DIR)")
    with Journal.in_dir(folder) as source, open_journal(folder, url) as target:
        copied = copy_journal(source, target)
    for item in copied:
        typer.echo(f"{item.table}: {item.rows} row(s), {item.new} new")
    typer.echo(f"journal copied to {target.label}; use it with --journal or $AGENT_JOURNAL_URL, with this "
               "state directory's journal.key (it seals the undo data)")
