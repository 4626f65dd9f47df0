"""The journal: run ids, WAL and permissions, redaction before storing, change states, crash consistency."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import redact
from agent.errors import BadInput
from agent.journal.db import open_postgres
from agent.journal.schema import MIGRATIONS, upgrade
from agent.journal.statedir import JOURNAL_NAME, resolve_state_dir, state_dir
from agent.journal.store import Journal, UnknownRun, step_of
from agent.model import Call, Outcome, Status, Step
from tests.pg import BACKENDS, fresh_database, journal_on

SECRET = "Sup3r-Secret-Value-42"


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    """Every test taking `journal` runs on SQLite and on PostgreSQL."""
    with journal_on(request.param, tmp_path) as j:
        yield j


@pytest.fixture
def secret() -> str:
    redact.register(SECRET)
    return SECRET


def test_run_ids_are_short_and_sortable(journal: Journal) -> None:
    ids = [journal.start_run("diagnose") for _ in range(3)]
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", i) for i in ids)
    assert len(set(ids)) == 3
    assert [r.id for r in journal.runs()] == ids[::-1]  # newest first, even within one second
    clock = iter([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)])
    with Journal(":memory:", now=lambda: next(clock)) as j:
        first, second = j.start_run("fix"), j.start_run("fix")
    assert first < second and first.startswith("20260101-000000-")


def test_runs_and_results_round_trip(journal: Journal, secret: str) -> None:
    run_id = journal.start_run("fix", config="agent.yaml", argv=["fix", "--yes", f"--token={secret}"])
    change = {"action": "x", "call": {"method": "PATCH", "url": "u", "body": {"secret": "s1"}}}
    evidence = {"aadsts": 50126, "password": secret}
    outcome = Outcome("mail1", "bad-credentials", Status.FOUND, evidence=evidence, summary="wrong password",
                      advice="reset it", risk="high", changes=[change])
    journal.add_result(run_id, outcome)
    journal.finish_run(run_id, 3)
    run = journal.run(run_id)
    assert (run.mode, run.exit_code, run.config) == ("fix", 3, "agent.yaml")
    assert secret not in repr(run.argv) and run.argv[:2] == ["fix", "--yes"]
    (stored,) = journal.results(run_id)
    assert stored.status == Status.FOUND and stored.evidence == {"aadsts": 50126, "password": "***"}
    assert stored.changes[0]["call"]["body"] == {"secret": "***"}
    assert [r.id for r in journal.runs()] == [run_id]
    with pytest.raises(UnknownRun):
        journal.run("20200101-000000-dead")


def test_change_states_and_undo_data(journal: Journal, secret: str) -> None:
    run_id = journal.start_run("fix")
    step = Step("add-password", Call("POST", "https://graph/applications/1/addPassword",
                                     {"passwordCredential": {"displayName": "agent"}}),
                before={"keys": 1}, after={"keys": 2}, params={"app": "1"}, undo={"app": "1"},
                description=f"new secret {secret}")
    seq = journal.change_pending(run_id, "files1", "app-credentials-invalid", "add-app-secret", step)
    assert journal.changes(run_id)[0].state == "pending"
    journal.change_applied(run_id, seq, {"app": "1", "keyId": "k-9", "secretText": secret})
    seq2 = journal.change_pending(run_id, "files1", "app-credentials-invalid", "add-app-secret", step)
    journal.change_failed(run_id, seq2, f"HTTP 500 with {secret}")
    first, second = journal.changes(run_id)
    assert (first.seq, first.state, second.seq, second.state) == (1, "applied", 2, "failed")
    assert first.undo == {"app": "1", "keyId": "k-9", "secretText": "***"}
    assert secret not in (second.error or "") and secret not in first.description
    rebuilt = step_of(first)
    assert (rebuilt.action, rebuilt.call.method, rebuilt.params) == ("add-password", "POST", {"app": "1"})
    journal.change_undone(run_id, 1, "20990101-000000-beef")
    assert journal.changes(run_id)[0].undone_by == "20990101-000000-beef"
    with pytest.raises(LookupError):
        journal.change_applied(run_id, 99, None)


def stored_bytes(journal: Journal, folder: Path) -> bytes:
    """Everything the journal keeps: the SQLite files, or every PostgreSQL table as text."""
    if journal.backend == "sqlite":
        return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    tables = ("runs", "results", "changes", "pending", "locks", "grants", "schema_version")
    return "".join(repr(journal.db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables).encode()


def test_nothing_secret_reaches_the_database(journal: Journal, tmp_path: Path, secret: str) -> None:
    run_id = journal.start_run("fix", argv=["--password", secret])
    journal.change_pending(run_id, "c", "x", "f", Step("a", Call("POST", "u", {"password": secret}),
                                                       after={"note": f"set to {secret}"}))
    journal.add_result(run_id, Outcome("c", "x", Status.FAILED, reason=f"error {secret}"))
    raw = stored_bytes(journal, tmp_path)
    assert b"error ***" in raw  # the rows are there, masked
    assert secret.encode() not in raw


def test_schema_is_the_migrations_in_order(journal: Journal) -> None:
    assert journal.schema_versions() == [m.version for m in MIGRATIONS] == [1, 2, 3, 4]
    upgrade(journal.db, "2030-01-01T00:00:00+00:00")  # a second agent finds nothing left to apply
    assert journal.schema_versions() == [1, 2, 3, 4]


def test_a_journal_newer_than_the_agent_is_refused(journal: Journal, tmp_path: Path) -> None:
    journal.db.execute("INSERT INTO schema_version (version, what, applied) VALUES (?,?,?)",
                       (99, "from a newer agent", "2030-01-01T00:00:00+00:00"))
    with pytest.raises(BadInput, match="schema version 99, newer than this agent knows"):
        upgrade(journal.db, "2030-01-01T00:00:00+00:00")


def test_an_edited_undo_is_no_longer_sealed(journal: Journal) -> None:
    run = journal.start_run("fix")
    seq = journal.change_pending(run, "c", "cause", "fixer", Step("act", Call("PATCH", "https://x/p"),
                                                                  undo={"exclude_users": ["a"]}))
    journal.change_applied(run, seq, {"exclude_users": ["a"]})
    assert [c.sealed for c in journal.changes(run)] == [True]
    journal.db.execute("UPDATE changes SET undo=? WHERE seq=1", ('{"exclude_users": ["a", "evil"]}',))
    assert [c.sealed for c in journal.changes(run)] == [False]


def test_file_mode_and_wal(tmp_path: Path) -> None:
    with Journal.in_dir(tmp_path) as j:
        j.start_run("diagnose")
        path = tmp_path / JOURNAL_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_process_leaves_pending_rows_visible(tmp_path: Path, backend: str) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from agent.journal.store import Journal\n"
        "from agent.journal.db import open_postgres\n"
        "from agent.model import Call, Step\n"
        "target, folder = sys.argv[1], Path(sys.argv[2])\n"
        "j = Journal(None, database=open_postgres(target), key_dir=folder) "
        "if target.startswith('postgresql') else Journal(target)\n"
        "r = j.start_run('fix')\n"
        "s = j.change_pending(r, 'c', 'x', 'f', Step('one', Call('POST', 'u')))\n"
        "j.change_applied(r, s, {'id': 1})\n"
        "j.change_pending(r, 'c', 'x', 'f', Step('two', Call('POST', 'u')))\n"
        "os._exit(9)  # killed mid-apply: no close, no finish\n"
    )
    with contextlib.ExitStack() as stack:
        target = str(tmp_path / "j.sqlite3") if backend == "sqlite" else stack.enter_context(fresh_database())
        proc = subprocess.run([sys.executable, "-c", script, target, str(tmp_path)], capture_output=True,
                              timeout=60)
        assert proc.returncode == 9, proc.stderr
        j = Journal(target) if backend == "sqlite" else \
            Journal(None, database=open_postgres(target), key_dir=tmp_path)
        with j:
            (run,) = j.runs()
            assert run.finished is None
            assert [(c.action, c.state, c.sealed) for c in j.changes(run.id)] == [
                ("one", "applied", True), ("two", "pending", True)]


def test_state_dir_precedence(tmp_path: Path) -> None:
    env = {"AGENT_STATE_DIR": str(tmp_path / "env"), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert resolve_state_dir(tmp_path / "cli", env) == tmp_path / "cli"
    assert resolve_state_dir(None, env, configured=tmp_path / "cfg") == tmp_path / "cfg"
    assert resolve_state_dir(None, env) == tmp_path / "env"
    assert resolve_state_dir(None, {"XDG_STATE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "agent"
    assert resolve_state_dir(None, {}) == Path.home() / ".local" / "state" / "agent"


def test_state_dir_is_private(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    for folder in (state_dir(tmp_path / "new" / "agent", {}), state_dir(loose, {})):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_journal_from_before_run_targets_opens_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    old = sqlite3.connect(path)
    old.executescript("CREATE TABLE runs (id TEXT PRIMARY KEY, mode TEXT NOT NULL, started TEXT NOT NULL, "
                      "finished TEXT, exit_code INTEGER, config TEXT, argv TEXT, undoes TEXT);"
                      "INSERT INTO runs VALUES ('20260101-000000-abcd', 'fix', '2026-01-01T00:00:00+00:00', "
                      "NULL, 0, NULL, '[]', NULL); PRAGMA user_version=1;")
    old.close()
    with Journal(path) as journal:
        assert journal.run("20260101-000000-abcd").targets is None
        new = journal.start_run("fix", targets={"mail1": {"tenant_id": "contoso.onmicrosoft.com"}})
        assert journal.run(new).targets == {"mail1": {"tenant_id": "contoso.onmicrosoft.com"}}


def test_with_tenant_locks_only_the_held_tenants_runs_are_closed_as_interrupted(journal: Journal) -> None:
    a, b = {"tenant_id": "a.onmicrosoft.com"}, {"tenant_id": "b.onmicrosoft.com"}
    mine = journal.start_run("heal", targets={"a-mail": a})
    other = journal.start_run("heal", targets={"b-mail": b})  # alive, perhaps, on another machine
    both = journal.start_run("fix", targets={"a-mail": a, "b-mail": b})
    assert journal.close_interrupted(["A.onmicrosoft.com"]) == [mine]
    assert (journal.run(mine).state, journal.run(other).state, journal.run(both).state) == (
        "interrupted", "unfinished", "unfinished")
    assert sorted(journal.close_interrupted()) == sorted([other, both])  # the state directory's lock: all
