"""The lock every writing command (fix, undo, heal, approve) holds while it runs; refused: exit 1.

With the SQLite journal it is the state directory's file lock (agent.journal.lock); with a shared PostgreSQL
journal it is one advisory lock per tenant the run acts on (agent.journal.tenant_lock), so agents on many
machines run in parallel on different tenants and never two on one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from agent.journal.lock import HealLock
    from agent.journal.store import Journal
    from agent.journal.tenant_lock import TenantLocks


@contextlib.contextmanager
def locked(folder: Path, command: str, journal_url: str | None = None,
           tenant_ids: Iterable[str] = ()) -> Iterator[HealLock | TenantLocks]:
    """Hold the lock for `command`; another holder means this run does nothing."""
    from agent.journal.lock import HealLock, LockBusy
    from agent.journal.tenant_lock import TenantLocks

    try:
        lock = TenantLocks(journal_url, tenant_ids, command).acquire() if journal_url else \
            HealLock(folder, command).acquire()
    except LockBusy as exc:
        typer.echo(f"error: {exc}; nothing was done", err=True)
        raise typer.Exit(1) from None  # it did not run: an error, not a finding
    try:
        yield lock
    finally:
        lock.release()


def close_interrupted(journal: Journal, lock: HealLock | TenantLocks) -> None:
    """With the lock held: mark the writing runs that died unfinished as interrupted, and say so once
    (with per-tenant locks: only the runs on the tenants this one holds)."""
    tenants = getattr(lock, "tenants", None)
    for run_id in journal.close_interrupted(tenants):
        typer.echo(f"warning: run {run_id} was interrupted before it finished; `agent history {run_id}` "
                   f"shows what it journaled and `agent undo {run_id}` reverses it", err=True)
