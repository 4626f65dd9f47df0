"""The `agent` command line: thin typer commands that parse, build the engine, render and exit."""

from __future__ import annotations

import contextlib
import enum
import importlib
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli_boundary import AgentGroup, State
from agent.cli_options import (  # re-exported: other modules and tests name them here
    DEFAULT_CONFIG,
    ENV_CONFIG,
    ConfigOpt,
    ConnectorOpt,
    OnlyOpt,
    OutOpt,
    Output,
    OutputOpt,
    PlaybooksOpt,
    ReportOpt,
    ReportOutput,
    SimOpt,
    StateDirOpt,
)
from agent.errors import BadInput
from agent.model import Risk

if TYPE_CHECKING:  # the engine, the libraries and the simulator load inside the commands
    from agent.engine import Engine
    from agent.engine_steps import ClientsFactory
    from agent.model import Plan, RunReport

# sub-apps other modules provide, mounted when present: (module, attribute, command name)
SUB_APPS = (("agent.cli_playbooks", "playbooks_app", "playbooks"), ("agent.cli_sim", "sim_app", "sim"),
            ("agent.cli_grants", "grants_app", "grants"), ("agent.cli_init", "connectors_app", "connectors"),
            ("agent.cli_journal", "journal_app", "journal"))


# rich_markup_mode=None: plain help, so `agent --help` does not import typer's rich formatting (~0.1 s)
app = typer.Typer(cls=AgentGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Diagnose, fix, verify and undo the causes of (401) Unauthorized in migration "
                       "connectors.")


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show a (redacted) traceback on errors.")]
          = False) -> None:
    State.debug = State.debug or debug


class Tier(enum.StrEnum):
    """The permission tiers of the agent's own app (agent.permission_manifest.TIERS)."""

    read = "read"
    fix = "fix"
    fix_high = "fix-high"


class VerifyScope(enum.StrEnum):
    """What `fix` probes after applying: the items its fixes changed, or everything detect read."""

    changed = "changed"
    full = "full"


DeadlineOpt = Annotated[str, typer.Option(
    "--deadline", help="End the run after this long (90s, 15m, 1h): what is left is reported unknown.")]
DEFAULT_DEADLINE = "15m"
CauseDeadlineOpt = Annotated[str | None, typer.Option(
    "--cause-deadline", help="Give each cause's own work at most this long (30s, 2m); what it leaves is "
                             "reported unknown. Default: no limit but the run's.")]


@app.command()
def diagnose(config: ConfigOpt = None, connector: ConnectorOpt = None, only: OnlyOpt = None,
             output: ReportOpt = ReportOutput.table, out: OutOpt = None, state_dir: StateDirOpt = None,
             sim: SimOpt = False, playbooks: PlaybooksOpt = None,
             deadline: DeadlineOpt = DEFAULT_DEADLINE, cause_deadline: CauseDeadlineOpt = None) -> NoReturn:
    """Find which known cause is behind each connector's 401 (reads only)."""
    _allow_progress(output)
    report = _run(config, sim, state_dir, playbooks, None,
                  lambda engine: engine.diagnose(connector, only or ()), deadline=deadline_s(deadline),
                  cause_deadline=deadline_s(cause_deadline, "--cause-deadline"))
    raise typer.Exit(_emit(report, output, out))


@app.command()
def fix(dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve low and medium risk fixes.")] = False,
        allow_risk: Annotated[Risk | None, typer.Option("--allow-risk", help="With --yes: the highest "
                                                        "risk approved (high approves everything).")] = None,
        plan_out: Annotated[Path | None, typer.Option("--plan-out", help="Write the plans as JSON.")] = None,
        config: ConfigOpt = None, connector: ConnectorOpt = None, only: OnlyOpt = None,
        output: ReportOpt = ReportOutput.table, out: OutOpt = None, state_dir: StateDirOpt = None,
        sim: SimOpt = False, playbooks: PlaybooksOpt = None,
        deadline: DeadlineOpt = DEFAULT_DEADLINE, cause_deadline: CauseDeadlineOpt = None,
        grant_for: Annotated[str | None, typer.Option("--grant-for", help="Time-box the grants this fix "
                                                      "makes (30d, 2w, 12h): heal revokes them then.")]
        = None,
        grant_until: Annotated[str | None, typer.Option("--grant-until", help="Time-box the grants until "
                                                        "this date or time (2027-01-31).")] = None,
        verify: Annotated[VerifyScope, typer.Option(
            "--verify", help="What verify probes after a fix: what it changed, or a full re-scan.")
        ] = VerifyScope.changed) -> NoReturn:
    """Fix what diagnose finds: plan, approve, apply, verify; every change journaled and undoable."""
    from agent.approval import make_approver
    from agent.grants import attach
    from agent.lifetime import from_cli

    limit = deadline_s(deadline)
    lifetimes = from_cli(grant_for, grant_until)
    approver = make_approver(yes, allow_risk, _confirm, stdin_is_terminal())
    _allow_progress(output)
    report = _run(config, sim, state_dir, playbooks, approver,
                  lambda engine: attach(engine, lifetimes).fix(connector, only or (), dry_run=dry_run),
                  lock=None if dry_run else "fix", deadline=limit, verify_full=verify == VerifyScope.full,
                  cause_deadline=deadline_s(cause_deadline, "--cause-deadline"))
    if plan_out is not None:
        from agent.output import plans_data, to_json, write_text

        write_text(plan_out, to_json(plans_data(report)) + "\n")
    raise typer.Exit(_emit(report, output, out))


@app.command()
def undo(run_id: Annotated[str, typer.Argument(help="The run to undo (see `agent history`).")],
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the undo steps only.")] = False,
         config: ConfigOpt = None, output: ReportOpt = ReportOutput.table, out: OutOpt = None,
         state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None,
         deadline: DeadlineOpt = DEFAULT_DEADLINE) -> NoReturn:
    """Reverse the changes a run made, newest first (irreversible ones are reported, not skipped)."""
    from agent.cli_init import undo_if_init

    # an `agent init` run or an own-certificate renewal: undone by their own module
    undo_if_init(run_id, dry_run, _history_state_dir(state_dir, config), config)
    report = _run(config, False, state_dir, playbooks, None, lambda engine: engine.undo(run_id, dry_run),
                  lock=None if dry_run else "undo", deadline=deadline_s(deadline))
    raise typer.Exit(_emit(report, output, out))


@app.command()
def history(run_id: Annotated[str | None, typer.Argument(help="Show this run in full.")] = None,
            output: OutputOpt = Output.table, out: OutOpt = None, state_dir: StateDirOpt = None,
            config: ConfigOpt = None,
            limit: Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                               help="How many runs to list.")] = 20,
            ) -> NoReturn:
    """List recent runs, or show one run's results and changes."""
    from agent.journal import UnknownRun
    from agent.journal_open import journal_target, open_journal
    from agent.output import emit, render_run, render_runs, run_data, runs_data, to_json
    from agent.statedir import JOURNAL_NAME

    folder = _history_state_dir(state_dir, config)
    target = journal_target()  # $AGENT_JOURNAL_URL: the shared journal
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"state directory {folder} is not a directory; give a folder (--state-dir DIR)")
    if (folder / JOURNAL_NAME).exists() and not (folder / JOURNAL_NAME).is_file():
        raise BadInput(f"the journal {folder / JOURNAL_NAME} is not a file; move it away")
    if target is None and not (folder / JOURNAL_NAME).is_file():
        if run_id:
            raise BadInput(f"unknown run id {run_id!r}: no journal in {folder}")
        text = to_json({"runs": []}) if output == Output.json else f"no runs recorded in {folder}"
        emit(output == Output.json, out, lambda: text, lambda con: con.print(text))
        raise typer.Exit(0)
    with open_journal(folder, target) as journal:
        if run_id is None:
            runs = journal.runs(limit)
            emit(output == Output.json, out, lambda: to_json(runs_data(runs)),
                 lambda con: render_runs(runs, con))
            raise typer.Exit(0)
        try:
            run = journal.run(run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent history` lists the runs") from None
        results, changes = journal.results(run_id), journal.changes(run_id)
    emit(output == Output.json, out, lambda: to_json(run_data(run, results, changes)),
         lambda con: render_run(run, results, changes, con))
    raise typer.Exit(0)


@app.command()
def explain(text: Annotated[str | None, typer.Argument(help="The error text; `-` reads standard input.")]
            = None,
            file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the error text from a log.")]
            = None,
            output: OutputOpt = Output.table, playbooks: PlaybooksOpt = None) -> NoReturn:
    """Which known causes an error message points at, with the evidence and what to run next."""
    import json

    from agent import explain as explaining  # no client library on this path: it answers at once

    stdin = getattr(sys.stdin, "buffer", None) or sys.stdin
    raw = explaining.read_input(text, file, stdin, stdin_is_terminal())
    result = explaining.explain(raw, explaining.load_knowledge(playbooks))
    if output == Output.json:
        typer.echo(json.dumps(explaining.explanation_data(result), indent=2))
    else:
        typer.echo(explaining.render_text(result), nl=False)
    raise typer.Exit(0)


@app.command()
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
    from agent import permissions as perms
    from agent.output import emit, to_json
    from agent.playbook import load_playbooks

    books = load_playbooks(playbooks or None)
    if manifest or readme_table:
        from agent import permission_manifest

        text = permission_manifest.readme_table(books) if readme_table else \
            to_json(permission_manifest.manifest(books, tier.value, app_id))
        emit(False, out, lambda: text, lambda con: typer.echo(text))
        raise typer.Exit(0)
    with contextlib.ExitStack() as stack:
        configured = sim or config or os.environ.get(ENV_CONFIG) or Path(DEFAULT_CONFIG).is_file()
        path = stack.enter_context(_config_source(config, sim)) if configured else None
        report = perms.permissions_report(path, books)
    emit(output == Output.json, out, lambda: to_json(report), lambda con: perms.render_report(report, con))
    raise typer.Exit(perms.report_exit_code(report))


# internals ------------------------------------------------------------------------------
def _run(config: Path | None, sim: bool, state_dir: Path | None, playbook_paths: list[Path] | None,
         approver: Any, action: Callable[[Engine], Coroutine[Any, Any, RunReport]],
         lock: str | None = None, deadline: float | None = None, verify_full: bool = False,
         cause_deadline: float | None = None) -> RunReport:
    """Load config and playbooks, hold the lock when `lock` names a writing command, open the journal,
    build the engine, run `action` on it."""
    from agent.approval import deny_all
    from agent.cli_lock import close_interrupted, locked
    from agent.config import load_config
    from agent.engine import Engine, EngineSettings
    from agent.journal_open import journal_target, open_journal
    from agent.playbook import load_playbooks
    from agent.statedir import state_dir as make_state_dir

    with _config_source(config, sim) as path:
        cfg = load_config(path)
        books = load_playbooks(playbook_paths or None)
        folder = make_state_dir(state_dir, configured=cfg.state_dir)
        check_tls(cfg)
        target = journal_target(None, cfg.journal)
        with contextlib.ExitStack() as held:
            if lock is not None:  # one writer per state directory (or per tenant): fix, undo, heal, approve
                tenants = [t.tenant_id for t in cfg.tenants]
                lock_held = held.enter_context(locked(folder, lock, target, tenants))
            journal = held.enter_context(open_journal(folder, target))
            if lock is not None:
                close_interrupted(journal, lock_held)
            engine = Engine(cfg, books, journal, default_clients_factory(), approver or deny_all,
                            config_path=str(path), argv=State.argv,
                            settings=EngineSettings(deadline_s=deadline, verify_full=verify_full,
                                                    cause_deadline_s=cause_deadline))
            from agent import threads  # not at module level: asyncio costs ~50 ms of `agent --help`

            # daemon worker threads: a read stalled past the deadline does not hold the exit
            return threads.run(action(engine))


@contextlib.contextmanager
def _config_source(config: Path | None, sim: bool) -> Iterator[Path]:
    """The config file: the simulator's with --sim, else --config, $AGENT_CONFIG, ./agent.yaml."""
    if not sim:
        yield config_path(config)
        return
    if config is not None:
        raise BadInput("--sim writes its own config; leave out --config")
    try:
        module = importlib.import_module("agent.cli_sim")
        embedded_sim = module.embedded_sim
    except (ModuleNotFoundError, AttributeError) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name != "agent.cli_sim":
            raise
        raise BadInput("simulator not available") from None
    with embedded_sim() as path:
        yield Path(path)


def check_tls(cfg: Any) -> None:
    """Every endpoint's certificate verifies, or one line says which does not (real clients only: a
    test's toy factory talks to no server)."""
    factory = default_clients_factory()
    if getattr(factory, "__module__", None) == "agent.clients":
        from agent import tls

        tls.check(cfg)


def deadline_s(text: str | None, option: str = "--deadline") -> float | None:
    """--deadline (or `option`) in seconds; a bad value is bad input (None: not given)."""
    if text is None:
        return None
    from agent.deadline import parse_duration

    try:
        return parse_duration(text, option)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def config_path(config: Path | None) -> Path:
    """--config, else $AGENT_CONFIG, else ./agent.yaml; a missing file is bad input."""
    path = config or Path(os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)
    if not (path.is_file() or path.is_dir()):  # a folder: one config file per customer
        where = "--config" if config else (f"${ENV_CONFIG}" if os.environ.get(ENV_CONFIG) else "default")
        if where == "default":  # a first run: say how to begin, not only what is missing
            raise BadInput(f"config file not found: {path}; run `agent init --tenant YOUR-DOMAIN` to set "
                           "the agent up in your tenant and write it, or write one from configs/example.yaml "
                           f"and pass it with --config FILE or ${ENV_CONFIG}, or try the built-in simulated "
                           "tenant with --sim")
        raise BadInput(f"config file not found: {path} ({where}; use --config FILE or ${ENV_CONFIG})")
    return path


def _history_state_dir(state_dir: Path | None, config: Path | None) -> Path:
    """History needs no config, but honours the config's state_dir when a config is at hand."""
    from agent.statedir import resolve_state_dir

    configured = None
    if state_dir is None and (config or os.environ.get(ENV_CONFIG) or Path(DEFAULT_CONFIG).is_file()):
        from agent.config import load_config

        configured = load_config(config_path(config)).state_dir
    return resolve_state_dir(state_dir, configured=configured)


def default_clients_factory() -> ClientsFactory:
    """The real client adapters (agent.clients.clients_factory); tests swap in a toy factory here."""
    try:
        module = importlib.import_module("agent.clients")
    except ModuleNotFoundError:
        module = None
    factory: ClientsFactory | None = getattr(module, "clients_factory", None)
    if factory is not None:
        return factory

    def missing(tenant: Any, connector: Any, guard: Any) -> Any:
        raise RuntimeError("the client adapters (agent.clients.clients_factory) are not available")

    return missing


def stdin_is_terminal() -> bool:
    """Whether a person can answer a prompt (a scheduler cannot: plans then stay pending)."""
    return sys.stdin.isatty()


def _confirm(plan: Plan) -> bool:
    """Show a plan on stderr and ask whether to apply it."""
    from agent.output import console, render_plan

    render_plan(plan, console(stderr=True))
    return bool(typer.confirm("apply these changes?", default=False, err=True))


def _emit(report: RunReport, output: ReportOutput, out: Path | None) -> int:
    """Render the report to stdout or --out; the exit code is the report's."""
    from agent.output import emit, render_report, report_data, to_json, write_text

    if output in (ReportOutput.md, ReportOutput.html, ReportOutput.junit):
        from agent.report import render

        text = render(report, output.value)
        if out is None:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write_text(out, text)
        return report.exit_code
    emit(output == ReportOutput.json, out, lambda: to_json(report_data(report)),
         lambda con: render_report(report, con))
    return report.exit_code


def _allow_progress(output: ReportOutput) -> None:
    """Fleet-sized detectors and fixers may draw a progress bar on a terminal's stderr for a person
    reading a table; never around machine output (json, junit ...)."""
    from agent.context import SHOW_PROGRESS

    SHOW_PROGRESS.set(output == ReportOutput.table)


def _mount() -> None:
    for module_name, attribute, name in SUB_APPS:
        try:
            sub = getattr(importlib.import_module(module_name), attribute)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        app.add_typer(sub, name=name)


_mount()


def _mount_commands() -> None:
    """Top-level commands kept in their own module: heal, approvals, approve, report (agent.cli_heal)."""
    from agent.cli_doctor import doctor
    from agent.cli_heal import COMMANDS
    from agent.cli_init import init

    for command in (*COMMANDS, doctor, init):
        app.command()(command)


_mount_commands()


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
