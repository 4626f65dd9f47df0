"""The journal's schema: its tables, and the migrations that bring any database up to date, in order.

The same on SQLite and PostgreSQL (agent.journal.db adapts the DDL); agents starting together migrate
one at a time, and a journal newer than this agent is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.errors import BadInput
from agent.journal.db import Database, advisory_key

# active: in force (expired or not); revoked: the agent took it back; removed: someone else took it away
# first; changed: someone else changed it (re-granted, edited), so the agent leaves it alone;
# undone: `agent undo` reversed the change that made it
GRANT_STATES = ("active", "revoked", "removed", "changed", "undone")
GRANTS_TABLE = f"""
CREATE TABLE IF NOT EXISTS grants (
    run TEXT NOT NULL, seq INTEGER NOT NULL, connector TEXT NOT NULL, cause TEXT NOT NULL,
    fixer TEXT NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL, principal TEXT, target TEXT,
    items TEXT, expires_at TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN {GRANT_STATES!r}),
    note TEXT, revoked_run TEXT, created TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (run, seq)
);
"""
CHANGE_STATES = ("pending", "applied", "uncertain", "failed", "undone")
# 2: runs.targets; 3: the rounds of a converging run, masked_by and waits_on; 4: the uncertain state
# and each change's HMAC (changes.mac); 5: the grants table of time-boxed grants (agent.journal.grants)
SCHEMA_VERSION = 5
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, mode TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    exit_code INTEGER, config TEXT, argv TEXT, undoes TEXT, targets TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run TEXT NOT NULL REFERENCES runs(id), connector TEXT NOT NULL, cause TEXT NOT NULL,
    status TEXT NOT NULL, evidence TEXT, summary TEXT, reason TEXT, advice TEXT, risk TEXT,
    changes TEXT, round INTEGER NOT NULL DEFAULT 1, masked_by TEXT, waits_on TEXT,
    PRIMARY KEY (run, connector, cause)
);
CREATE TABLE IF NOT EXISTS changes (
    run TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, connector TEXT NOT NULL,
    cause TEXT NOT NULL, fixer TEXT NOT NULL, action TEXT NOT NULL, description TEXT,
    call TEXT, before TEXT, after TEXT, params TEXT, undo TEXT,
    state TEXT NOT NULL CHECK (state IN {CHANGE_STATES!r}), error TEXT,
    irreversible INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL,
    undone_by TEXT, round INTEGER NOT NULL DEFAULT 1, mac TEXT, PRIMARY KEY (run, seq)
);
"""
CHANGES_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS changes"):]
PENDING_STATES = ("pending", "approved", "stale", "superseded")
PENDING_TABLE = f"""
CREATE TABLE IF NOT EXISTS pending (
    run TEXT NOT NULL, connector TEXT NOT NULL, cause TEXT NOT NULL, fixer TEXT NOT NULL,
    risk TEXT NOT NULL, steps TEXT NOT NULL, fingerprint TEXT NOT NULL, reason TEXT,
    state TEXT NOT NULL CHECK (state IN {PENDING_STATES!r}), note TEXT, resolved_by TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (run, connector, cause)
);
"""
# describes who holds a tenant's lock (the lock itself is PostgreSQL's advisory lock, see tenant_lock)
_LOCKS = """
CREATE TABLE IF NOT EXISTS locks (
    tenant TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, command TEXT NOT NULL,
    started TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Migration:
    """One step of the journal's schema, the same on every backend (agent.journal.db adapts the DDL)."""

    version: int
    what: str
    ddl: str


# applied in order, each once, recorded in schema_version; a new table is one more entry here
MIGRATIONS = (
    Migration(1, "runs, results, and changes with their undo data and HMAC", _SCHEMA),
    Migration(2, "plans pending approval", PENDING_TABLE),
    Migration(3, "holders of the per-tenant locks", _LOCKS),
    Migration(4, "time-boxed grants (agent.journal.grants)", GRANTS_TABLE),
)
_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, what TEXT NOT NULL, applied TEXT NOT NULL)"""
_SCHEMA_LOCK = advisory_key("agent-journal-schema")  # agents starting together migrate one at a time


def upgrade(db: Database, stamp: str) -> None:
    """Apply the migrations this database lacks, in order, under one lock across agents."""
    with db.transaction(lock_key=_SCHEMA_LOCK):
        db.script(_VERSIONS)
        done = {int(r["version"]) for r in db.execute("SELECT version FROM schema_version")}
        newer = sorted(v for v in done if v > MIGRATIONS[-1].version)
        if newer:
            raise BadInput(f"the journal {db.label} has schema version {newer[-1]}, newer than this agent "
                           f"knows ({MIGRATIONS[-1].version}); upgrade the agent")
        for step in MIGRATIONS:
            if step.version not in done:
                db.script(db.dialect.ddl(step.ddl))
                db.execute("INSERT INTO schema_version (version, what, applied) VALUES (?,?,?)",
                           (step.version, step.what, stamp))
        if db.dialect.name == "sqlite":
            db.script(_SCHEMA)  # a journal from before schema_version: its tables exist already
