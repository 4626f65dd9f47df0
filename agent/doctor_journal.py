"""`agent doctor` on a shared PostgreSQL journal: it connects, its schema fits this agent, tenant locks work.

Read-only like the rest of doctor: it migrates nothing and writes no lock row. The lock check takes each
configured tenant's advisory lock and releases it at once, so a tenant a running agent holds is named
(with what the locks table says of the holder) rather than waited for. The URL is shown password-masked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from agent.doctor import Check
from agent.errors import BadInput, SecretError

AREA = "journal"


def journal_checks(explicit: str | None, configured: Any, tenants: Sequence[Any]) -> list[Check]:
    """No lines for the SQLite default; for PostgreSQL: connection, schema version, tenant locks."""
    from agent.journal.connect import ENV_JOURNAL_URL, journal_target

    where = "--journal" if explicit else f"${ENV_JOURNAL_URL}" if os.environ.get(ENV_JOURNAL_URL) \
        else "the config's journal:"
    try:
        target = journal_target(explicit, configured)
    except SecretError as exc:  # the config names where the URL is kept, and it is not there
        return [Check(AREA, "source", "fail", str(exc))]
    if target is None:
        return []
    return postgres_checks(target, where, [(t.name, t.tenant_id) for t in tenants])


def postgres_checks(url: str, where: str, tenants: Sequence[tuple[str, str]]) -> list[Check]:
    """Connect (one line either way), then the schema and lock checks on that connection."""
    from agent.journal.db import open_postgres

    try:
        db = open_postgres(url, "agent-doctor")
    except BadInput as exc:  # refused, unknown host, bad password: its message masks the password
        return [Check(AREA, "connection", "fail", f"{exc} ({where})")]
    import psycopg

    checks: list[Check] = []
    try:
        version = db.execute("SHOW server_version").fetchone()["server_version"]
        checks.append(Check(AREA, "connection", "ok", f"{db.label} (PostgreSQL {version}; {where})"))
        checks.append(schema_check(db))
        checks += lock_checks(db, tenants)
    except psycopg.Error as exc:  # e.g. no permission on the journal's tables
        from agent.redact import redact

        checks.append(Check(AREA, "query", "fail", redact(" ".join(str(exc).split()))[:200]))
    finally:
        db.close()
    return checks


def schema_check(db: Any) -> Check:
    """The schema versions applied against the migrations this agent knows."""
    import psycopg

    from agent.journal.schema import MIGRATIONS

    latest = MIGRATIONS[-1].version
    try:
        done = {int(r["version"]) for r in db.execute("SELECT version FROM schema_version")}
    except psycopg.errors.UndefinedTable:
        return Check(AREA, "schema", "warn", f"no journal tables yet: the first run creates them (version "
                                             f"{latest}), which needs CREATE on the schema")
    newest = max(done, default=0)
    if newest > latest:
        return Check(AREA, "schema", "fail", f"version {newest}, newer than this agent knows ({latest}): "
                                             "upgrade the agent; it refuses to run on this journal")
    missing = [m.version for m in MIGRATIONS if m.version not in done]
    if missing:
        return Check(AREA, "schema", "warn", f"version {newest}, older than this agent's {latest} (missing "
                                             f"{', '.join(map(str, missing))}): the next run upgrades it")
    return Check(AREA, "schema", "ok", f"version {latest}, as this agent expects")


def lock_checks(db: Any, tenants: Sequence[tuple[str, str]]) -> list[Check]:
    """Take and release each tenant's advisory lock; one line for the free ones, one per busy tenant."""
    from agent.journal.tenant_lock import tenant_key

    free, checks = 0, []
    for name, tenant_id in tenants:
        key = tenant_key(tenant_id)
        if not db.execute("SELECT pg_try_advisory_lock(?) AS got", (key,)).fetchone()["got"]:
            checks.append(Check(AREA, f"lock {name}", "warn",
                                f"held by another agent: {holder(db, tenant_id)}"))
            continue
        if not db.execute("SELECT pg_advisory_unlock(?) AS released", (key,)).fetchone()["released"]:
            checks.append(Check(AREA, f"lock {name}", "fail", "taken but could not be released"))
            continue
        free += 1
    if free:
        checks.insert(0, Check(AREA, "locks", "ok", f"took and released the advisory lock of {free} "
                                                    "tenant(s)"))
    return checks


def holder(db: Any, tenant_id: str) -> str:
    """What the locks table says of the run holding a tenant (it only describes; the lock is the truth)."""
    try:
        row = db.execute("SELECT * FROM locks WHERE tenant=?", (tenant_id.strip().lower(),)).fetchone()
    except Exception:  # no locks table yet (an older schema): the lock itself still answered
        row = None
    if row is None:
        return "a run that did not describe itself"
    return f"a {row['command']} run (pid {row['pid']} on {row['host']}, started {row['started']})"
