"""The `agent` command line: every command and sub-app mounted on the root app, and the process's exit."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn

from agent.cli import heal, history, runs
from agent.cli.app import app
from agent.cli.doctor import doctor
from agent.cli.explain import explain
from agent.cli.grants import grants_app
from agent.cli.init import connectors_app, init
from agent.cli.journal import journal_app
from agent.cli.permissions import permissions
from agent.cli.playbooks import playbooks_app
from agent.cli.sim import sim_app

for _command in (*runs.COMMANDS, *history.COMMANDS, explain, permissions, *heal.COMMANDS, doctor, init):
    app.command()(_command)
for _sub, _name in ((playbooks_app, "playbooks"), (sim_app, "sim"), (grants_app, "grants"),
                    (connectors_app, "connectors"), (journal_app, "journal")):
    app.add_typer(_sub, name=_name)


def main() -> None:
    """Console-script entry point. The process ends right after the command (output flushed, journal and
    simulator already closed by their own context managers): tearing down the thousands of library
    modules a run imported would cost another ~0.3 s for nothing."""
    try:
        app()
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what SystemExit("text") prints, as the interpreter would
        code = 1
    _end(code or 0)


def _end(code: int) -> NoReturn:
    import logging

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said there
            stream.flush()
    logging.shutdown()
    os._exit(code)
