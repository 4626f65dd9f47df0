"""The grants table: each time-boxed grant the agent made, its expiry and what became of it.

One row per journaled change that granted something (agent.catalog.shared.grant_kinds says which do). `items`
holds the targets still granted (a fleet change's OneDrives): a revocation that fails on some of them
leaves only those, so the next run retries exactly those and never revokes one twice. Plain SQL, created
by the journal's migration 4 (SQLite's user_version 5), in the journal's own database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agent import clock
from agent.journal.db import Database, open_sqlite
from agent.journal.schema import GRANTS_TABLE


class HasDatabase(Protocol):
    """What the store needs of a journal: its open database (agent.journal.store.Journal has one)."""

    @property
    def db(self) -> Database: ...

@dataclass
class Grant:
    """One grant the agent made: where, to whom, until when, and its state."""

    run_id: str
    seq: int
    connector: str
    cause: str
    fixer: str
    action: str
    kind: str
    principal: str
    target: str
    expires_at: str
    items: list[str] = field(default_factory=list)  # fleet targets still granted; empty: a single target
    state: str = "active"
    note: str = ""
    revoked_run: str | None = None
    created: str = ""

    def expired(self, now: datetime) -> bool:
        return clock.parse_instant(self.expires_at, "expires_at") <= now

    def days_left(self, now: datetime) -> float:
        left = clock.parse_instant(self.expires_at, "expires_at") - now
        return round(left.total_seconds() / 86400, 2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GrantStore:
    """The grants table in the journal's database: the journal's own connection (SQLite or PostgreSQL), or
    a connection of its own to the journal's file (autocommit, like the journal)."""

    def __init__(self, source: str | Path | HasDatabase) -> None:
        self._owned = isinstance(source, str | Path)
        if not isinstance(source, str | Path):
            self._db: Database = source.db
        else:
            self._db = open_sqlite(str(source))
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.script(GRANTS_TABLE)  # a journal older than version 5 gets it here too

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def __enter__(self) -> GrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, grant: Grant) -> None:
        stamp = clock.stamp(clock.now())
        self._db.execute(
            "INSERT INTO grants (run, seq, connector, cause, fixer, action, kind, principal, target, items,"
            " expires_at, state, note, revoked_run, created, updated)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (grant.run_id, grant.seq, grant.connector, grant.cause, grant.fixer, grant.action, grant.kind,
             grant.principal, grant.target, json.dumps(grant.items), grant.expires_at, grant.state,
             grant.note, grant.revoked_run, stamp, stamp))

    def grants(self, states: Sequence[str] = ("active",), run_id: str | None = None,
               cause: str | None = None, connector: str | None = None) -> list[Grant]:
        """Grants in `states` (all when empty), soonest expiry first."""
        query, args = "SELECT * FROM grants WHERE 1=1", []
        if states:
            query += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        for column, value in (("run", run_id), ("cause", cause), ("connector", connector)):
            if value is not None:
                query += f" AND {column}=?"
                args.append(value)
        rows = self._db.execute(query + " ORDER BY expires_at, run, seq", args)
        return [_grant(r) for r in rows]

    def update(self, grant: Grant, *, state: str | None = None, items: list[str] | None = None,
               note: str | None = None, revoked_run: str | None = None,
               expires_at: str | None = None) -> None:
        """Change a grant's row (and the object), e.g. after a revocation or an extension."""
        grant.state = state or grant.state
        grant.items = grant.items if items is None else list(items)
        grant.note = grant.note if note is None else note
        grant.revoked_run = revoked_run or grant.revoked_run
        grant.expires_at = expires_at or grant.expires_at
        self._db.execute("UPDATE grants SET state=?, items=?, note=?, revoked_run=?, expires_at=?, updated=?"
                         " WHERE run=? AND seq=?",
                         (grant.state, json.dumps(grant.items), grant.note, grant.revoked_run,
                          grant.expires_at, clock.stamp(clock.now()), grant.run_id, grant.seq))


def _grant(row: Any) -> Grant:
    return Grant(run_id=row["run"], seq=row["seq"], connector=row["connector"], cause=row["cause"],
                 fixer=row["fixer"], action=row["action"], kind=row["kind"], principal=row["principal"] or "",
                 target=row["target"] or "", expires_at=row["expires_at"],
                 items=json.loads(row["items"] or "[]"), state=row["state"], note=row["note"] or "",
                 revoked_run=row["revoked_run"], created=row["created"])
