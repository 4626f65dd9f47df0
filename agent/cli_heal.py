"""`agent heal`, `agent approvals`, `agent approve` and `agent report`: thin commands mounted on agent.cli.

Heavy modules (the engine, the libraries, jinja2) load inside the commands, so `agent --help` stays fast.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli_fleet import JournalOpt, LogFormat, LogFormatOpt, MetricsFileOpt, PushgatewayOpt, TenantOpt
from agent.errors import BadInput

if TYPE_CHECKING:
    from agent.engine import Engine
    from agent.lock import HealLock
    from agent.model import RunReport
    from agent.pending import PendingStore
    from agent.tenant_lock import TenantLocks


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"
    md = "md"
    html = "html"
    junit = "junit"


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Connector config (default: "
                                                "$AGENT_CONFIG, else ./agent.yaml).")]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", help="Journal and lock folder (default: "
                                                  "$AGENT_STATE_DIR, else $XDG_STATE_HOME/agent).")]
PlaybooksOpt = Annotated[list[Path] | None, typer.Option(
    "--playbooks", help="Playbook file or folder (repeatable; default: $AGENT_PLAYBOOKS, else built-in).")]
FormatOpt = Annotated[ReportFormat, typer.Option("--output", "-o", help="table, json, md, html or junit.")]
ListOpt = Annotated[ListFormat, typer.Option("--output", "-o", help="table or json.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the output to this file.")]


PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Heal policy YAML (default: "
                                                "$AGENT_HEAL_POLICY, else low and medium risk).")]
SimOpt = Annotated[bool, typer.Option("--sim", help="Run against the built-in simulated tenant.")]


def heal(policy: PolicyOpt = None,
         config: ConfigOpt = None,
         connector: Annotated[str | None, typer.Option("--connector", help="Only this connector.")] = None,
         only: Annotated[list[str] | None, typer.Option("--only", help="Only this cause id (repeatable).")]
         = None,
         output: FormatOpt = ReportFormat.table, out: OutOpt = None, state_dir: StateDirOpt = None,
         sim: SimOpt = False,
         playbooks: PlaybooksOpt = None,
         deadline: Annotated[str | None, typer.Option(
             "--deadline", help="End the run after this long (90s, 15m, 1h); what is left is reported "
                                "unknown (default: the policy's deadline:, else 15m).")] = None,
         cause_deadline: Annotated[str | None, typer.Option(
             "--cause-deadline", help="Give each cause's own work at most this long; what it leaves is "
                                      "reported unknown (default: the policy's cause_deadline:, else no "
                                      "limit but the run's).")] = None,
         journal: JournalOpt = None, tenant: TenantOpt = None, metrics_file: MetricsFileOpt = None,
         pushgateway: PushgatewayOpt = None, log_format: LogFormatOpt = LogFormat.text) -> NoReturn:
    """Scheduled self-heal: fix what the policy allows, keep the rest for approval, notify, exit code."""
    from agent import cli, cli_fleet
    from agent.heal import run_heal
    from agent.policy import load_policy, policy_path

    limit = cli.deadline_s(deadline)
    rules = load_policy(policy_path(policy))
    limit = limit or rules.deadline_s or cli.deadline_s(cli.DEFAULT_DEADLINE)
    per_cause = cli.deadline_s(cause_deadline, "--cause-deadline") or rules.cause_deadline_s
    _quiet_for(output)
    cli_fleet.check_outputs(metrics_file, pushgateway)
    started = cli_fleet.start(log_format, tenant)
    check = rules.check_causes  # a policy naming no known cause is bad input, before anything opens
    limits = (limit, per_cause)
    with _session(config, sim, state_dir, playbooks, "heal", check, limits, journal, tenant) as \
            (engine, store, lock):
        _note_recovered(lock)
        _renew_own_certificates(engine, rules.own_certificate_renew_days)
        result = run_heal(engine, rules, store, connector, only or ())
    _emit(result.report, output, out, result.extras())
    _warn(result.warnings() + cli_fleet.observe(result.report, engine.config, started, metrics_file,
                                                pushgateway, log_format, result.live_grants,
                                                rules.grant_warn_days))
    raise typer.Exit(result.report.exit_code)


def _renew_own_certificates(engine: Any, renew_days: int) -> None:
    """Before the connectors: the agent's own certificate, renewed when it expires within renew_days."""
    from agent import threads
    from agent.cli_boundary import State
    from agent.own_certificate import renew

    lines, _ = threads.run(renew(engine.config, engine.journal, renew_days, list(State.argv)))
    for line in lines:
        typer.echo(f"heal: {line}", err=True)


def approvals(output: ListOpt = ListFormat.table, out: OutOpt = None, state_dir: StateDirOpt = None,
              config: ConfigOpt = None) -> NoReturn:
    """List the plans heal runs left pending approval (newest first)."""
    from agent.output import emit, to_json

    entries = _pending_entries(state_dir, config)
    emit(output == ListFormat.json, out, lambda: to_json({"pending": [e.to_dict() for e in entries]}),
         lambda con: _render_pending(entries, con))
    raise typer.Exit(0)


def approve(run_id: Annotated[str, typer.Argument(help="The heal run whose pending plans to apply.")],
            cause: Annotated[str | None, typer.Option("--cause", help="Only this cause's plan.")] = None,
            config: ConfigOpt = None, output: FormatOpt = ReportFormat.table, out: OutOpt = None,
            state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None,
            deadline: Annotated[str, typer.Option(
                "--deadline", help="End the run after this long (90s, 15m, 1h): what is left is reported "
                                   "unknown.")] = "15m") -> NoReturn:
    """Apply a run's pending plans, after checking that each is still exactly what was planned."""
    from agent import cli
    from agent.heal import run_approve
    from agent.journal import UnknownRun
    from agent.pending import select_entries

    _quiet_for(output)
    limit = cli.deadline_s(deadline)  # approve runs unattended too: bounded like heal
    limits = (limit, None)
    with _session(config, False, state_dir, playbooks, "approve", None, limits) as (engine, store, lock):
        from agent.grants import attach
        from agent.lifetime import Lifetimes

        _note_recovered(lock)
        attach(engine, Lifetimes())  # an approved grant gets its playbook's lifetime, if it has one
        try:
            engine.journal.run(run_id)
            known = True
        except UnknownRun:
            known = False
        result = run_approve(engine, store, select_entries(store, run_id, cause, known))
    _emit(result.report, output, out)
    _warn(result.warnings())
    raise typer.Exit(result.report.exit_code)


def report(run_id: Annotated[str, typer.Argument(help="The run to render (see `agent history`).")],
           output: FormatOpt = ReportFormat.table, out: OutOpt = None, state_dir: StateDirOpt = None,
           config: ConfigOpt = None) -> NoReturn:
    """Render any past run from the journal as a table, JSON, Markdown, HTML or JUnit XML."""
    from agent import cli
    from agent.journal import UnknownRun
    from agent.journal_open import journal_target, open_journal
    from agent.report import from_journal
    from agent.statedir import JOURNAL_NAME

    folder = cli._history_state_dir(state_dir, config)
    target = journal_target()
    if target is None and not (folder / JOURNAL_NAME).is_file():
        raise BadInput(f"unknown run id {run_id!r}: no journal in {folder}")
    with open_journal(folder, target) as journal:
        try:
            past = from_journal(journal, run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent history` lists the runs") from None
    _emit(past, output, out)
    raise typer.Exit(0)


COMMANDS = (heal, approvals, approve, report)


# internals ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _session(config: Path | None, sim: bool, state_dir: Path | None, playbook_paths: list[Path] | None,
             command: str, check: Callable[[Iterable[str]], None] | None = None,
             deadlines: tuple[float | None, float | None] = (None, None), journal_url: str | None = None,
             tenant: str | None = None) -> Iterator[tuple[Engine, PendingStore, HealLock | TenantLocks]]:
    """Config and playbooks loaded (one tenant's part with `tenant`), the lock held, then the journal,
    pending store and engine opened; `deadlines`: the run's and each cause's, in seconds."""
    from agent import cli
    from agent.cli_boundary import State
    from agent.cli_lock import close_interrupted, locked
    from agent.config import load_config
    from agent.config_dir import select_tenant
    from agent.engine import Engine, EngineSettings
    from agent.journal_open import journal_target, open_journal
    from agent.pending import PendingStore
    from agent.playbook import load_playbooks
    from agent.statedir import state_dir as make_state_dir

    with cli._config_source(config, sim) as path:
        cfg = load_config(path)
        cfg = select_tenant(cfg, tenant) if tenant else cfg
        books = load_playbooks(playbook_paths or None)
        if check is not None:
            check([pb.id for pb in books])
        folder = make_state_dir(state_dir, configured=cfg.state_dir)
        cli.check_tls(cfg)
        target = journal_target(journal_url, cfg.journal)
        # the lock first: a refused run opens nothing and records nothing
        with locked(folder, command, target, [t.tenant_id for t in cfg.tenants]) as lock, \
                open_journal(folder, target) as journal, PendingStore(journal) as store:
            close_interrupted(journal, lock)
            engine = Engine(cfg, books, journal, cli.default_clients_factory(), config_path=str(path),
                            argv=State.argv, settings=EngineSettings(deadline_s=deadlines[0],
                                                                     cause_deadline_s=deadlines[1]))
            yield engine, store, lock


def _note_recovered(lock: HealLock | TenantLocks) -> None:
    if lock.recovered is not None:
        dead = lock.recovered
        typer.echo(f"warning: took over the lock of a {dead.command} run that died (pid {dead.pid}, "
                   f"started {dead.started}); `agent history` shows what it did", err=True)


def _quiet_for(output: ReportFormat) -> None:
    """Machine-readable output means a program is reading: no progress bars."""
    from agent import progress

    if output in (ReportFormat.json, ReportFormat.junit):
        progress.configure(False)


def _emit(run: RunReport, output: ReportFormat, out: Path | None,
          extras: dict[str, Any] | None = None) -> None:
    from agent.output import emit, render_report, write_text

    if output == ReportFormat.table:
        emit(False, out, lambda: "", lambda con: render_report(run, con))
        return
    from agent.report import render

    text = render(run, output.value, extras)
    if out is not None:
        write_text(out, text)
    else:
        typer.echo(text, nl=False)


def _warn(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line, err=True)


def _pending_entries(state_dir: Path | None, config: Path | None) -> list[Any]:
    from agent import cli
    from agent.journal_open import journal_target, open_journal
    from agent.pending import PendingStore
    from agent.statedir import JOURNAL_NAME

    folder = cli._history_state_dir(state_dir, config)
    target = journal_target()
    if target is not None:
        with open_journal(folder, target) as journal, PendingStore(journal) as store:
            return store.entries()
    if not (folder / JOURNAL_NAME).is_file():
        return []
    with PendingStore(folder / JOURNAL_NAME) as store:
        return store.entries()


def _render_pending(entries: list[Any], con: Any) -> None:
    from rich.table import Table

    if not entries:
        con.print("no plans are pending approval")
        return
    table = Table(title="plans pending approval, newest first", title_justify="left")
    for column in ("run id", "connector", "cause", "risk", "steps", "planned", "why pending"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(e.run_id, e.connector, e.cause, e.risk, str(len(e.steps)), e.created, e.reason)
    con.print(table)
    con.print("approve one with: agent approve RUN_ID [--cause ID]")
