"""`agent heal`, `agent approvals` and `agent approve`: the unattended runs and the plans they leave.

Heavy modules (the engine, the libraries, jinja2) load inside the commands, so `agent --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli import session
from agent.cli.options import (
    DEFAULT_DEADLINE,
    ConfigOpt,
    DeadlineOpt,
    JournalOpt,
    LogFormat,
    LogFormatOpt,
    MetricsFileOpt,
    OutOpt,
    Output,
    OutputOpt,
    PlaybooksOpt,
    PolicyOpt,
    PushgatewayOpt,
    ReportOpt,
    ReportOutput,
    SimOpt,
    StateDirOpt,
    TenantOpt,
)

if TYPE_CHECKING:
    from agent.cli.session import Session
    from agent.journal.lock import HealLock
    from agent.journal.tenant_lock import TenantLocks


def heal(policy: PolicyOpt = None,
         config: ConfigOpt = None,
         connector: Annotated[str | None, typer.Option("--connector", help="Only this connector.")] = None,
         only: Annotated[list[str] | None, typer.Option("--only", help="Only this cause id (repeatable).")]
         = None,
         output: ReportOpt = ReportOutput.table, out: OutOpt = None, state_dir: StateDirOpt = None,
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
    from agent.cli import fleet
    from agent.engine.core import EngineSettings
    from agent.heal.policy import load_policy, policy_path
    from agent.heal.run import run_heal
    from agent.journal.pending import PendingStore

    limit = session.deadline_s(deadline)
    rules = load_policy(policy_path(policy))
    limit = limit or rules.deadline_s or session.deadline_s(DEFAULT_DEADLINE)
    per_cause = session.deadline_s(cause_deadline, "--cause-deadline") or rules.cause_deadline_s
    session.allow_progress(output)
    fleet.check_outputs(metrics_file, pushgateway)
    started = fleet.start(log_format, tenant)
    settings = EngineSettings(deadline_s=limit, cause_deadline_s=per_cause)
    # a policy naming no known cause is bad input, before anything opens
    with session.open_session(config, sim, state_dir, playbooks, lock="heal", journal_url=journal,
                              tenant=tenant, check=rules.check_causes, settings=settings) as opened, \
            PendingStore(opened.journal) as store:
        _note_recovered(opened)
        _renew_own_certificates(opened, rules.own_certificate_renew_days)
        result = run_heal(opened.engine, rules, store, connector, only or ())
    session.emit_report(result.report, output, out, result.extras())
    _warn(result.warnings() + fleet.observe(result.report, opened.config, started, metrics_file,
                                            pushgateway, log_format, result.live_grants,
                                            rules.grant_warn_days))
    raise typer.Exit(result.report.exit_code)


def _renew_own_certificates(opened: Session, renew_days: int) -> None:
    """Before the connectors: the agent's own certificate, renewed when it expires within renew_days."""
    from agent import threads
    from agent.cli.boundary import State
    from agent.trust.own_certificate import renew

    lines, _ = threads.run(renew(opened.config, opened.journal, renew_days, list(State.argv)))
    for line in lines:
        typer.echo(f"heal: {line}", err=True)


def approvals(output: OutputOpt = Output.table, out: OutOpt = None, state_dir: StateDirOpt = None,
              config: ConfigOpt = None, journal: JournalOpt = None) -> NoReturn:
    """List the plans heal runs left pending approval (newest first)."""
    from agent.journal.pending import PendingStore
    from agent.report.terminal import emit, to_json

    entries: list[Any] = []
    with session.past_journal(state_dir, config, journal) as past:
        if past is not None:
            with PendingStore(past) as store:
                entries = store.entries()
    emit(output == Output.json, out, lambda: to_json({"pending": [e.to_dict() for e in entries]}),
         lambda con: _render_pending(entries, con))
    raise typer.Exit(0)


def approve(run_id: Annotated[str, typer.Argument(help="The heal run whose pending plans to apply.")],
            cause: Annotated[str | None, typer.Option("--cause", help="Only this cause's plan.")] = None,
            config: ConfigOpt = None, output: ReportOpt = ReportOutput.table, out: OutOpt = None,
            state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None,
            deadline: DeadlineOpt = DEFAULT_DEADLINE, journal: JournalOpt = None) -> NoReturn:
    """Apply a run's pending plans, after checking that each is still exactly what was planned."""
    from agent.engine.core import EngineSettings
    from agent.grants.lifetime import Lifetimes
    from agent.grants.timebox import attach
    from agent.heal.run import run_approve
    from agent.journal.pending import PendingStore, select_entries
    from agent.journal.store import UnknownRun

    session.allow_progress(output)
    settings = EngineSettings(deadline_s=session.deadline_s(deadline))  # unattended too: bounded like heal
    with session.open_session(config, False, state_dir, playbooks, lock="approve", journal_url=journal,
                              settings=settings) as opened, PendingStore(opened.journal) as store:
        _note_recovered(opened)
        attach(opened.engine, Lifetimes())  # an approved grant gets its playbook's lifetime, if it has one
        try:
            opened.journal.run(run_id)
            known = True
        except UnknownRun:
            known = False
        result = run_approve(opened.engine, store, select_entries(store, run_id, cause, known))
    session.emit_report(result.report, output, out)
    _warn(result.warnings())
    raise typer.Exit(result.report.exit_code)


COMMANDS = (heal, approvals, approve)


def _note_recovered(opened: Session) -> None:
    lock: HealLock | TenantLocks | None = opened.lock
    if lock is not None and lock.recovered is not None:
        dead = lock.recovered
        typer.echo(f"warning: took over the lock of a {dead.command} run that died (pid {dead.pid}, "
                   f"started {dead.started}); `agent history` shows what it did", err=True)


def _warn(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line, err=True)


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
