"""Run history, results and every change with its undo data, in SQLite (WAL), redacted before storing."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from agent.errors import BadInput
from agent.journal.db import Database, open_sqlite
from agent.journal.schema import CHANGES_TABLE, SCHEMA_VERSION, upgrade
from agent.journal.statedir import JOURNAL_NAME, check_private
from agent.model import Call, Change, Outcome, Status, Step
from agent.redact import redact_obj

Now = Callable[[], datetime]
# uncertain: the write was sent but its answer was lost; the tenant may or may not have it
KEY_NAME = "journal.key"
# the modes of runs that hold the lock (agent.cli.lock) while they run
WRITING_MODES = ("fix", "undo", "heal", "approve")
_RESULT_COLUMNS = ("run", "connector", "cause", "status", "evidence", "summary", "reason", "advice", "risk",
                   "changes", "round", "masked_by", "waits_on")
_SEALED = ("run", "seq", "connector", "cause", "fixer", "action", "call", "before", "after", "params",
           "undo", "irreversible")

class UnknownRun(LookupError):
    """A run id that is not in the journal."""


@dataclass
class RunRecord:
    """One row of the runs table."""

    id: str
    mode: str
    started: str
    finished: str | None
    exit_code: int | None
    config: str | None
    argv: list[str]
    undoes: str | None
    targets: dict[str, dict[str, str]] | None = None  # connector -> Tenant.location() when it ran

    @property
    def state(self) -> str:
        """`finished`; `interrupted` (a later writer found it dead: an end time, no exit code); or
        `unfinished` (still running, or killed with no writer run since to notice)."""
        if self.finished is None:
            return "unfinished"
        return "interrupted" if self.exit_code is None else "finished"


def plain(obj: Any) -> Any:
    """Dataclasses, pydantic models, enums and sets as plain JSON-able data (then redactable)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump"):
        return plain(obj.model_dump(mode="json"))
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def dump(obj: Any) -> str:
    """Redacted JSON text of anything the engine hands the journal."""
    return json.dumps(redact_obj(plain(obj)), sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def new_run_id(now: datetime) -> str:
    """Short, sortable run id: 20261125-142233-ab12."""
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class Journal:
    """The journal database; every write is committed at once so a killed run leaves it consistent."""

    def __init__(self, path: str | os.PathLike[str] | None, now: Now | None = None,
                 database: Database | None = None, key_dir: Path | None = None) -> None:
        """A SQLite file at `path`, or an open `database` (PostgreSQL) whose HMAC key lives in `key_dir`."""
        self._now = now or (lambda: datetime.now(UTC))
        self.path: Path | None = None if path is None else Path(path)
        if database is not None:
            self._db, self.label = database, database.label
            self._key = load_key((key_dir or Path.cwd()) / KEY_NAME)
            self._upgrade()
            return
        memory = str(path) == ":memory:"
        assert self.path is not None
        if not memory:
            check_private(self.path.parent, "state directory")
            if not self.path.exists() and not self.path.is_symlink():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))  # private
            check_private(self.path, "journal")
            if not self.path.is_file():
                raise BadInput(f"the journal {self.path} is not a file; move it away")
        # autocommit: each statement is its own transaction, durable before the write it precedes
        self._db, self.label = open_sqlite(str(path)), str(path)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise BadInput(f"the journal {self.path} cannot be used ({exc}); move it away to start a new "
                           "one") from None
        self._key = secrets.token_bytes(32) if memory else load_key(self.path.parent / KEY_NAME)
        self._migrate()
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def db(self) -> Database:
        """The connection, for the stores that share the journal's database (pending plans)."""
        return self._db

    @property
    def backend(self) -> str:
        return self._db.dialect.name

    def _upgrade(self) -> None:
        upgrade(self._db, datetime.now(UTC).isoformat(timespec="seconds"))  # not the injected clock

    def schema_versions(self) -> list[int]:
        return [int(r["version"]) for r in self._db.execute("SELECT version FROM schema_version "
                                                            "ORDER BY version")]

    def _migrate(self) -> None:
        """Bring a journal written by an older agent up to date; its runs keep working."""
        added = {"runs": ("targets TEXT",),
                 "results": ("round INTEGER NOT NULL DEFAULT 1", "masked_by TEXT", "waits_on TEXT"),
                 "changes": ("round INTEGER NOT NULL DEFAULT 1", "mac TEXT")}
        for table, wanted in added.items():
            columns = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in wanted:
                if column.split()[0] not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        sql = self._db.execute("SELECT sql FROM sqlite_master WHERE name='changes'").fetchone()["sql"]
        if "'uncertain'" not in sql:
            self._rebuild_changes()

    def _rebuild_changes(self) -> None:
        """Recreate the changes table with the new state CHECK (SQLite cannot alter a CHECK), sealing the
        rows it copies: they are trusted as they were when this agent first opens them."""
        columns = [row["name"] for row in self._db.execute("PRAGMA table_info(changes)")]
        names = ", ".join(columns)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("ALTER TABLE changes RENAME TO changes_v3")
            self._db.execute(CHANGES_TABLE)
            self._db.execute(f"INSERT INTO changes ({names}) SELECT {names} FROM changes_v3")
            self._db.execute("DROP TABLE changes_v3")
            for row in self._db.execute("SELECT run, seq FROM changes").fetchall():
                self._seal(row["run"], row["seq"])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @classmethod
    def in_dir(cls, directory: Path, now: Now | None = None) -> Journal:
        """The journal file inside a (created) state directory."""
        return cls(directory / JOURNAL_NAME, now)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stamp(self, when: datetime | None = None) -> str:
        return (when or self._now()).astimezone(UTC).isoformat(timespec="seconds")

    # runs -----------------------------------------------------------------------------------
    def start_run(self, mode: str, config: str | None = None, argv: Sequence[str] = (),
                  undoes: str | None = None, targets: Mapping[str, Mapping[str, str]] | None = None) -> str:
        """Record a new run and return its id; `targets`: each connector's Tenant.location()."""
        started = self._now()
        for _ in range(20):  # the random suffix makes a clash within one second unlikely, not impossible
            run_id = new_run_id(started)
            try:
                self._db.execute("INSERT INTO runs (id, mode, started, config, argv, undoes, targets) "
                                 "VALUES (?,?,?,?,?,?,?)",
                                 (run_id, mode, self._stamp(started), config, dump(list(argv)), undoes,
                                  None if targets is None else dump(targets)))
                return run_id
            except self._db.dialect.integrity_errors:
                continue
        raise RuntimeError("could not allocate a run id")

    def finish_run(self, run_id: str, exit_code: int) -> None:
        self._db.execute("UPDATE runs SET finished=?, exit_code=? WHERE id=?",
                         (self._stamp(), int(exit_code), run_id))

    def close_interrupted(self, tenant_ids: Collection[str] | None = None) -> list[str]:
        """Mark the writing runs that never finished as interrupted, and return their ids. Only a caller
        holding the state directory's lock may call this: every writing run holds that lock while it
        runs, so one that is unfinished while another holds the lock has died. With per-tenant locks
        (`tenant_ids`: the tenants held) only runs that acted on those tenants alone are closed: an
        unfinished run on another tenant may be alive on another machine."""
        rows = self._db.execute("SELECT id, targets FROM runs WHERE finished IS NULL AND mode IN "
                                f"({','.join('?' * len(WRITING_MODES))})", WRITING_MODES).fetchall()
        held = None if tenant_ids is None else {t.strip().lower() for t in tenant_ids}
        closed = [row["id"] for row in rows if held is None or _only_on(_load(row["targets"]), held)]
        for run_id in closed:
            self._db.execute("UPDATE runs SET finished=?, exit_code=NULL WHERE id=?", (self._stamp(), run_id))
        return closed

    def run(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        return _run_record(row)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        rows = self._db.execute("SELECT * FROM runs ORDER BY started DESC, rowid DESC LIMIT ?", (limit,))
        return [_run_record(r) for r in rows]

    # results --------------------------------------------------------------------------------
    def add_result(self, run_id: str, outcome: Outcome) -> None:
        self._db.execute(
            self._db.dialect.upsert("results", _RESULT_COLUMNS, ("run", "connector", "cause")),
            (run_id, outcome.connector, outcome.cause, outcome.status.value, dump(outcome.evidence),
             redact_obj(outcome.summary), redact_obj(outcome.reason), redact_obj(outcome.advice),
             outcome.risk, dump(outcome.changes), int(outcome.round), dump(outcome.masked_by),
             dump(outcome.waits_on)))

    def results(self, run_id: str) -> list[Outcome]:
        rows = self._db.execute("SELECT * FROM results WHERE run=? ORDER BY rowid", (run_id,))
        return [Outcome(connector=r["connector"], cause=r["cause"], status=Status(r["status"]),
                        evidence=_load(r["evidence"]) or {}, summary=r["summary"] or "",
                        reason=r["reason"], changes=_load(r["changes"]) or [],
                        advice=r["advice"] or "", risk=r["risk"], round=r["round"],
                        masked_by=_load(r["masked_by"]) or [], waits_on=_load(r["waits_on"]) or [])
                for r in rows]

    # changes --------------------------------------------------------------------------------
    def change_pending(self, run_id: str, connector: str, cause: str, fixer: str, step: Step,
                       round_no: int = 1) -> int:
        """Record a change about to be made (before the write) in a round; returns its sequence number."""
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM changes WHERE run=?", (run_id,))
        seq = int(row.fetchone()["next"])
        stamp = self._stamp()
        self._db.execute(
            "INSERT INTO changes (run, seq, connector, cause, fixer, action, description, call, before,"
            " after, params, undo, state, irreversible, created, updated, round)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'pending',?,?,?,?)",
            (run_id, seq, connector, cause, fixer, step.action, redact_obj(step.description),
             dump(step.call), dump(step.before), dump(step.after), dump(step.params), dump(step.undo),
             int(step.irreversible), stamp, stamp, int(round_no)))
        self._seal(run_id, seq)
        return seq

    def change_applied(self, run_id: str, seq: int, undo: dict[str, Any] | None) -> None:
        self._set_state(run_id, seq, "applied", undo=dump(undo))

    def change_uncertain(self, run_id: str, seq: int, error: str, undo: dict[str, Any] | None) -> None:
        """The write was sent and its answer lost: undo reads the tenant before reversing it."""
        self._set_state(run_id, seq, "uncertain", error=redact_obj(error), undo=dump(undo))

    def change_failed(self, run_id: str, seq: int, error: str) -> None:
        self._set_state(run_id, seq, "failed", error=redact_obj(error))

    def change_undone(self, run_id: str, seq: int, by_run: str) -> None:
        self._set_state(run_id, seq, "undone", undone_by=by_run)

    def _set_state(self, run_id: str, seq: int, state: str, **columns: Any) -> None:
        sets = "".join(f", {name}=?" for name in columns)
        cursor = self._db.execute(f"UPDATE changes SET state=?, updated=?{sets} WHERE run=? AND seq=?",
                                  (state, self._stamp(), *columns.values(), run_id, seq))
        if cursor.rowcount != 1:
            raise LookupError(f"no change {seq} in run {run_id}")
        if "undo" in columns:
            self._seal(run_id, seq)

    def _mac(self, row: Mapping[str, Any]) -> str:
        """HMAC-SHA256 over what undo acts on, keyed by the state directory's journal.key."""
        text = json.dumps([row[name] for name in _SEALED])
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def _seal(self, run_id: str, seq: int) -> None:
        row = self._db.execute("SELECT * FROM changes WHERE run=? AND seq=?", (run_id, seq)).fetchone()
        self._db.execute("UPDATE changes SET mac=? WHERE run=? AND seq=?", (self._mac(row), run_id, seq))

    def changes(self, run_id: str) -> list[Change]:
        rows = self._db.execute("SELECT * FROM changes WHERE run=? ORDER BY seq", (run_id,))
        return [_change(r, hmac.compare_digest(str(r["mac"] or ""), self._mac(r))) for r in rows]


def _only_on(targets: Any, tenants: set[str]) -> bool:
    """Whether a run's targets (connector -> location) name some tenant, and only tenants in `tenants`."""
    if not isinstance(targets, dict) or not targets:
        return False
    found = {str(t.get("tenant_id", "")).lower() for t in targets.values() if isinstance(t, dict)}
    return bool(found) and found <= tenants


def load_key(path: Path) -> bytes:
    """The journal's HMAC key: a 0600 file of 32 random bytes in the state directory, made once."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
            fh.flush()
            os.fsync(fh.fileno())
    check_private(path, "journal key")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        key = fh.read(4096)
    if len(key) < 32:
        raise BadInput(f"{path} is not a journal key (too short); move it away to make a new one")
    return key


def step_of(change: Change) -> Step:
    """Rebuild the step a journaled change made, as undo_step expects it."""
    return Step(action=change.action, call=change.call, before=change.before, after=change.after,
                params=dict(change.params), undo=change.undo, irreversible=change.irreversible,
                description=change.description)


def _run_record(row: Any) -> RunRecord:
    return RunRecord(id=row["id"], mode=row["mode"], started=row["started"], finished=row["finished"],
                     exit_code=row["exit_code"], config=row["config"], argv=_load(row["argv"]) or [],
                     undoes=row["undoes"], targets=_load(row["targets"]))


def _change(row: Any, sealed: bool = True) -> Change:
    call = _load(row["call"]) or {}
    return Change(run_id=row["run"], seq=row["seq"], connector=row["connector"], cause=row["cause"],
                  fixer=row["fixer"], action=row["action"],
                  call=Call(call.get("method", ""), call.get("url", ""), call.get("body")),
                  before=_load(row["before"]), after=_load(row["after"]), undo=_load(row["undo"]),
                  state=row["state"], error=row["error"], irreversible=bool(row["irreversible"]),
                  params=_load(row["params"]) or {}, description=row["description"] or "",
                  undone_by=row["undone_by"], round=row["round"], sealed=sealed)
