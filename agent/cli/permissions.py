"""`agent permissions`: what each detector and fixer needs, the app manifest, and what the tokens hold."""

from __future__ import annotations

import contextlib
from typing import Annotated, NoReturn

import typer

from agent.cli import session
from agent.cli.options import ConfigOpt, OutOpt, Output, OutputOpt, PlaybooksOpt, SimOpt, Tier


def permissions(config: ConfigOpt = None, sim: SimOpt = False, output: OutputOpt = Output.table,
                out: OutOpt = None, playbooks: PlaybooksOpt = None,
                manifest: Annotated[bool, typer.Option("--manifest", help="Print the requiredResourceAccess "
                                                       "of the agent's app and the Azure CLI commands that "
                                                       "grant it, for --tier.")] = False,
                tier: Annotated[Tier, typer.Option("--tier", help="With --manifest: read (detect only), fix "
                                                   "(and fixes up to medium risk), fix-high (every fix).")]
                = Tier.fix_high,
                app_id: Annotated[str, typer.Option("--app-id", help="With --manifest: the agent's app id in "
                                                    "the Azure CLI commands.")] = "<APP_ID>",
                readme_table: Annotated[bool, typer.Option("--readme-table", help="Print the README's "
                                                           "permission table (Markdown).")] = False,
                ) -> NoReturn:
    """What each detector and fixer needs, and whether the agent's own tokens have it (or have more)."""
    from agent.playbook import manifest as app_manifest
    from agent.playbook import permissions as perms
    from agent.playbook.load import load_playbooks
    from agent.report.terminal import emit, to_json

    books = load_playbooks(playbooks or None)
    if manifest or readme_table:
        text = app_manifest.readme_table(books) if readme_table else \
            to_json(app_manifest.manifest(books, tier.value, app_id))
        emit(False, out, lambda: text, lambda con: typer.echo(text))
        raise typer.Exit(0)
    with contextlib.ExitStack() as stack:
        path = stack.enter_context(session.config_source(config, sim)) \
            if sim or session.configured(config) else None
        report = perms.permissions_report(path, books)
    emit(output == Output.json, out, lambda: to_json(report), lambda con: perms.render_report(report, con))
    raise typer.Exit(perms.report_exit_code(report))
