"""The root `agent` app and its global options; agent.cli.main adds the commands to it."""

from __future__ import annotations

from typing import Annotated

import typer

from agent.cli.boundary import AgentGroup, State

# rich_markup_mode=None: plain help, so `agent --help` does not import typer's rich formatting (~0.1 s)
app = typer.Typer(cls=AgentGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Diagnose, fix, verify and undo the causes of (401) Unauthorized in migration "
                       "connectors.")


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show a (redacted) traceback on errors.")]
          = False) -> None:
    State.debug = State.debug or debug
