"""`agent explain`: which known causes an error text points at; no config, no tenant, no client library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from agent.cli import session
from agent.cli.options import Output, OutputOpt, PlaybooksOpt


def explain(text: Annotated[str | None, typer.Argument(help="The error text; `-` reads standard input.")]
            = None,
            file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the error text from a log.")]
            = None,
            output: OutputOpt = Output.table, playbooks: PlaybooksOpt = None) -> NoReturn:
    """Which known causes an error message points at, with the evidence and what to run next."""
    import json

    from agent.explain import answer, paste, rank  # no client library on this path: it answers at once

    stdin = getattr(sys.stdin, "buffer", None) or sys.stdin
    raw = paste.read_input(text, file, stdin, session.stdin_is_terminal())
    result = rank.explain(raw, rank.load_knowledge(playbooks))
    if output == Output.json:
        typer.echo(json.dumps(answer.explanation_data(result), indent=2))
    else:
        typer.echo(answer.render_text(result), nl=False)
    raise typer.Exit(0)
