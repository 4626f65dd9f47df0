"""One acting run per tenant across every agent sharing a PostgreSQL journal: advisory locks.

`pg_try_advisory_lock` on a 64-bit hash of the tenant id, session-level, on a connection of its own: the
database releases it when that connection ends, however the agent ends (SIGKILL, OOM, a lost node), so
a crashed agent never blocks the next run. The locks table only *describes* each holder (pid, host,
start) for the message a refused run prints; a row left behind names a holder that died holding it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType

from agent.journal.db import Database, advisory_key, open_postgres
from agent.journal.lock import Holder, LockBusy


def tenant_key(tenant_id: str) -> int:
    return advisory_key("agent-tenant:" + tenant_id.strip().lower())


class TenantLocks:
    """`with TenantLocks(url, tenant_ids, command):` holds every tenant's lock, or raises LockBusy."""

    def __init__(self, url: str, tenant_ids: Iterable[str], command: str = "heal") -> None:
        self.url, self.command = url, command
        self.tenants = sorted({t.strip().lower() for t in tenant_ids})  # one order: no two agents deadlock
        self._db: Database | None = None
        self.held: list[str] = []
        self.recovered: Holder | None = None  # a holder that died without releasing

    def acquire(self) -> TenantLocks:
        from agent.journal.schema import upgrade

        # the lock comes before the journal opens, so it brings the schema (its locks table) up itself
        self._db = open_postgres(self.url, "agent-lock")
        try:
            upgrade(self._db, datetime.now(UTC).isoformat(timespec="seconds"))
            for tenant in self.tenants:
                self._lock(tenant)
        except BaseException:
            self.release()
            raise
        return self

    def _lock(self, tenant: str) -> None:
        assert self._db is not None
        got = self._db.execute("SELECT pg_try_advisory_lock(?) AS got", (tenant_key(tenant),)).fetchone()
        if not got["got"]:
            raise LockBusy(self._holder(tenant))
        self.held.append(tenant)
        previous = self._holder(tenant)
        if previous is not None:
            self.recovered = previous
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self._db.execute(self._db.dialect.upsert("locks", ("tenant", "pid", "host", "command", "started"),
                                                 ("tenant",)),
                         (tenant, os.getpid(), socket.gethostname(), self.command, started))

    def _holder(self, tenant: str) -> Holder | None:
        assert self._db is not None
        row = self._db.execute("SELECT * FROM locks WHERE tenant=?", (tenant,)).fetchone()
        if row is None:
            return None
        return Holder(int(row["pid"]), str(row["started"]), str(row["host"]), str(row["command"]))

    def release(self) -> None:
        if self._db is None:
            return
        db, self._db = self._db, None
        with contextlib.suppress(Exception):  # closing the connection releases the locks regardless
            for tenant in self.held:
                db.execute("DELETE FROM locks WHERE tenant=? AND pid=?", (tenant, os.getpid()))
                db.execute("SELECT pg_advisory_unlock(?)", (tenant_key(tenant),))
        self.held = []
        db.close()

    def __enter__(self) -> TenantLocks:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
