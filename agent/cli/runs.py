"""`agent diagnose`, `agent fix` and `agent undo`: runs that read a tenant, change it, or reverse a change."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli import session
from agent.cli.options import (
    DEFAULT_DEADLINE,
    CauseDeadlineOpt,
    ConfigOpt,
    ConnectorOpt,
    DeadlineOpt,
    JournalOpt,
    OnlyOpt,
    OutOpt,
    PlaybooksOpt,
    ReportOpt,
    ReportOutput,
    SimOpt,
    StateDirOpt,
    VerifyScope,
)
from agent.model import Risk

if TYPE_CHECKING:
    from agent.engine.core import Engine
    from agent.model import Plan, RunReport


def diagnose(config: ConfigOpt = None, connector: ConnectorOpt = None, only: OnlyOpt = None,
             output: ReportOpt = ReportOutput.table, out: OutOpt = None, state_dir: StateDirOpt = None,
             sim: SimOpt = False, playbooks: PlaybooksOpt = None,
             deadline: DeadlineOpt = DEFAULT_DEADLINE, cause_deadline: CauseDeadlineOpt = None,
             journal: JournalOpt = None) -> NoReturn:
    """Find which known cause is behind each connector's 401 (reads only)."""
    session.allow_progress(output)
    report = _run(config, sim, state_dir, playbooks, journal, None,
                  lambda engine: engine.diagnose(connector, only or ()),
                  deadline=session.deadline_s(deadline),
                  cause_deadline=session.deadline_s(cause_deadline, "--cause-deadline"))
    raise typer.Exit(session.emit_report(report, output, out))


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
        ] = VerifyScope.changed,
        journal: JournalOpt = None) -> NoReturn:
    """Fix what diagnose finds: plan, approve, apply, verify; every change journaled and undoable."""
    from agent.engine.approval import make_approver
    from agent.grants.lifetime import from_cli
    from agent.grants.timebox import attach

    limit = session.deadline_s(deadline)
    lifetimes = from_cli(grant_for, grant_until)
    approver = make_approver(yes, allow_risk, _confirm, session.stdin_is_terminal())
    session.allow_progress(output)
    report = _run(config, sim, state_dir, playbooks, journal, approver,
                  lambda engine: attach(engine, lifetimes).fix(connector, only or (), dry_run=dry_run),
                  lock=None if dry_run else "fix", deadline=limit, verify_full=verify == VerifyScope.full,
                  cause_deadline=session.deadline_s(cause_deadline, "--cause-deadline"))
    if plan_out is not None:
        from agent.report.terminal import plans_data, to_json, write_text

        write_text(plan_out, to_json(plans_data(report)) + "\n")
    raise typer.Exit(session.emit_report(report, output, out))


def undo(run_id: Annotated[str, typer.Argument(help="The run to undo (see `agent history`).")],
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the undo steps only.")] = False,
         config: ConfigOpt = None, output: ReportOpt = ReportOutput.table, out: OutOpt = None,
         state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None,
         deadline: DeadlineOpt = DEFAULT_DEADLINE, journal: JournalOpt = None) -> NoReturn:
    """Reverse the changes a run made, newest first (irreversible ones are reported, not skipped)."""
    from agent.cli.init import undo_if_init

    # an `agent init` run or an own-certificate renewal: undone by their own module
    undo_if_init(run_id, dry_run, session.history_state_dir(state_dir, config), config)
    report = _run(config, False, state_dir, playbooks, journal, None,
                  lambda engine: engine.undo(run_id, dry_run),
                  lock=None if dry_run else "undo", deadline=session.deadline_s(deadline))
    raise typer.Exit(session.emit_report(report, output, out))


COMMANDS = (diagnose, fix, undo)


def _run(config: Path | None, sim: bool, state_dir: Path | None, playbook_paths: list[Path] | None,
         journal_url: str | None, approver: Any, action: Callable[[Engine], Coroutine[Any, Any, RunReport]],
         lock: str | None = None, deadline: float | None = None, verify_full: bool = False,
         cause_deadline: float | None = None) -> RunReport:
    """One session (the lock held when `lock` names a writing command), `action` run on its engine."""
    from agent import threads  # not at module level: asyncio costs ~50 ms of `agent --help`
    from agent.engine.core import EngineSettings

    settings = EngineSettings(deadline_s=deadline, verify_full=verify_full, cause_deadline_s=cause_deadline)
    with session.open_session(config, sim, state_dir, playbook_paths, lock=lock, journal_url=journal_url,
                              settings=settings, approver=approver) as opened:
        # daemon worker threads: a read stalled past the deadline does not hold the exit
        return threads.run(action(opened.engine))


def _confirm(plan: Plan) -> bool:
    """Show a plan on stderr and ask whether to apply it."""
    from agent.report.terminal import console, render_plan

    render_plan(plan, console(stderr=True))
    return bool(typer.confirm("apply these changes?", default=False, err=True))
