"""The lock every writing command (fix, undo, heal, approve) holds while it runs; refused: exit 1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from agent.journal import Journal
    from agent.lock import HealLock


@contextlib.contextmanager
def locked(folder: Path, command: str) -> Iterator[HealLock]:
    """Hold the state directory's lock for `command`; another holder means this run does nothing."""
    from agent.lock import HealLock, LockBusy

    try:
        lock = HealLock(folder, command).acquire()
    except LockBusy as exc:
        typer.echo(f"error: {exc}; nothing was done", err=True)
        raise typer.Exit(1) from None  # it did not run: an error, not a finding
    try:
        yield lock
    finally:
        lock.release()


def close_interrupted(journal: Journal) -> None:
    """With the lock held: mark the writing runs that died unfinished as interrupted, and say so once."""
    for run_id in journal.close_interrupted():
        typer.echo(f"warning: run {run_id} was interrupted before it finished; `agent history {run_id}` "
                   f"shows what it journaled and `agent undo {run_id}` reverses it", err=True)
