"""What every command builds the same way: config, playbooks, state folder, lock, journal and engine; and
how a run's report reaches stdout or --out (one renderer per format, JSON included)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.boundary import State
from agent.cli.options import DEFAULT_CONFIG, ENV_CONFIG, ReportOutput
from agent.errors import BadInput

if TYPE_CHECKING:  # the engine, the libraries and the simulator load inside the commands
    from agent.config.model import Config
    from agent.engine.core import Engine, EngineSettings
    from agent.engine.steps import ClientsFactory
    from agent.journal.lock import HealLock
    from agent.journal.store import Journal
    from agent.journal.tenant_lock import TenantLocks
    from agent.model import RunReport
    from agent.playbook.load import Playbook


@dataclass
class Session:
    """One command's world: what it read, the lock it holds (writing commands), its journal and engine."""

    config: Config
    playbooks: list[Playbook]
    folder: Path
    journal: Journal
    lock: HealLock | TenantLocks | None
    engine: Engine


@contextlib.contextmanager
def open_session(config: Path | None, sim: bool, state_dir: Path | None,
                 playbook_paths: list[Path] | None, *, lock: str | None = None,
                 journal_url: str | None = None, tenant: str | None = None,
                 check: Callable[[Iterable[str]], None] | None = None,
                 settings: EngineSettings | None = None, approver: Any = None) -> Iterator[Session]:
    """Load config and playbooks, hold the lock when `lock` names a writing command (before anything
    opens: a refused run records nothing), open the journal, build the engine."""
    from agent.cli.lock import close_interrupted, locked
    from agent.config.directory import select_tenant
    from agent.config.load import load_config
    from agent.engine.approval import deny_all
    from agent.engine.core import Engine
    from agent.journal.connect import journal_target, open_journal
    from agent.journal.statedir import state_dir as make_state_dir
    from agent.playbook.load import load_playbooks

    with config_source(config, sim) as path:
        cfg = load_config(path)
        cfg = select_tenant(cfg, tenant) if tenant else cfg
        books = load_playbooks(playbook_paths or None)
        if check is not None:
            check([pb.id for pb in books])
        folder = make_state_dir(state_dir, configured=cfg.state_dir)
        check_tls(cfg)
        target = journal_target(journal_url, cfg.journal)
        with contextlib.ExitStack() as held:
            held_lock = None
            if lock is not None:  # one writer per state directory (or per tenant)
                tenants = [t.tenant_id for t in cfg.tenants]
                held_lock = held.enter_context(locked(folder, lock, target, tenants))
            journal = held.enter_context(open_journal(folder, target))
            if held_lock is not None:
                close_interrupted(journal, held_lock)
            engine = Engine(cfg, books, journal, default_clients_factory(), approver or deny_all,
                            config_path=str(path), argv=State.argv, settings=settings)
            yield Session(cfg, books, folder, journal, held_lock, engine)


@contextlib.contextmanager
def past_journal(state_dir: Path | None, config: Path | None,
                 journal_url: str | None = None) -> Iterator[Journal | None]:
    """The journal a reading command (history, report, approvals) looks in; None when no run was ever
    recorded there. No lock: reading never waits for a writer."""
    from agent.journal.connect import journal_target, open_journal
    from agent.journal.statedir import JOURNAL_NAME

    folder = history_state_dir(state_dir, config)
    target = journal_target(journal_url)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"state directory {folder} is not a directory; give a folder (--state-dir DIR)")
    file = folder / JOURNAL_NAME
    if file.exists() and not file.is_file():
        raise BadInput(f"the journal {file} is not a file; move it away")
    if target is None and not file.is_file():
        yield None
        return
    with open_journal(folder, target) as journal:
        yield journal


@contextlib.contextmanager
def config_source(config: Path | None, sim: bool) -> Iterator[Path]:
    """The config file: the simulator's with --sim, else --config, $AGENT_CONFIG, ./agent.yaml."""
    if not sim:
        yield config_path(config)
        return
    if config is not None:
        raise BadInput("--sim writes its own config; leave out --config")
    from agent.cli.sim import embedded_sim

    with embedded_sim() as path:
        yield Path(path)


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


def configured(config: Path | None) -> bool:
    """Whether a config is at hand: --config, $AGENT_CONFIG, or ./agent.yaml."""
    return bool(config or os.environ.get(ENV_CONFIG) or Path(DEFAULT_CONFIG).is_file())


def history_state_dir(state_dir: Path | None, config: Path | None) -> Path:
    """Reading commands need no config, but honour the config's state_dir when a config is at hand."""
    from agent.journal.statedir import resolve_state_dir

    folder = None
    if state_dir is None and configured(config):
        from agent.config.load import load_config

        folder = load_config(config_path(config)).state_dir
    return resolve_state_dir(state_dir, configured=folder)


def check_tls(cfg: Config) -> None:
    """Every endpoint's certificate verifies, or one line says which does not (real clients only: a
    test's toy factory talks to no server)."""
    from agent.clients import clients_factory

    if default_clients_factory() is clients_factory:
        from agent.trust import tls

        tls.check(cfg)


def default_clients_factory() -> ClientsFactory:
    """The real client adapters (agent.clients.clients_factory); tests swap in a toy factory here."""
    from agent.clients import clients_factory

    return clients_factory


def deadline_s(text: str | None, option: str = "--deadline") -> float | None:
    """--deadline (or `option`) in seconds; a bad value is bad input (None: not given)."""
    if text is None:
        return None
    from agent.deadline import parse_duration

    try:
        return parse_duration(text, option)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def stdin_is_terminal() -> bool:
    """Whether a person can answer a prompt (a scheduler cannot: plans then stay pending)."""
    return sys.stdin.isatty()


def allow_progress(output: ReportOutput) -> None:
    """Fleet-sized work may draw a progress bar on a terminal's stderr for a person reading a table;
    never around machine output (json, junit ...)."""
    from agent import progress
    from agent.context import SHOW_PROGRESS

    SHOW_PROGRESS.set(output == ReportOutput.table)
    if output in (ReportOutput.json, ReportOutput.junit):
        progress.configure(False)


def emit_report(report: RunReport, output: ReportOutput, out: Path | None,
                extras: dict[str, Any] | None = None) -> int:
    """The report as a table for people, else through the one renderer of its format, to stdout or --out;
    returns the report's exit code."""
    from agent.report.terminal import emit, render_report, write_text

    if output == ReportOutput.table:
        emit(False, out, lambda: "", lambda con: render_report(report, con))
        return report.exit_code
    from agent.report.render import render

    text = render(report, output.value, extras)
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_text(out, text)
    return report.exit_code
