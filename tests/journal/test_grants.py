"""The grants table: created by the journal's schema version 5, rows listed, updated and filtered."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.journal.grants import Grant, GrantStore
from agent.journal.schema import SCHEMA_VERSION
from agent.journal.store import Journal
from tests.pg import BACKENDS, journal_on


def grant(run: str, seq: int, expires: str, cause: str = "no-onedrive-access") -> Grant:
    return Grant(run, seq, "files", cause, "grant-onedrive-admin", "grant-onedrive-admins",
                 "onedrive-site-admin", "i:0#.f|membership|mig@x", "2 OneDrive(s)", expires, ["a@x", "b@x"])


def test_the_journal_creates_the_grants_table(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    with Journal.in_dir(folder) as journal:
        path = journal.path
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert db.execute("SELECT name FROM sqlite_master WHERE name='grants'").fetchone() == ("grants",)


def test_rows_round_trip_and_update(tmp_path: Path) -> None:
    with GrantStore(tmp_path / "j.sqlite3") as store:
        store.add(grant("r2", 1, "2027-02-01T00:00:00+00:00"))
        store.add(grant("r1", 3, "2027-01-01T00:00:00+00:00", cause="no-full-control"))
        assert [(g.run_id, g.seq) for g in store.grants()] == [("r1", 3), ("r2", 1)]  # soonest first
        [first] = store.grants(cause="no-full-control")
        assert first.items == ["a@x", "b@x"] and first.state == "active"
        store.update(first, items=["b@x"], note="1 left")
        store.update(store.grants(run_id="r2")[0], state="revoked", revoked_run="r9")
    with GrantStore(tmp_path / "j.sqlite3") as store:
        [left] = store.grants()
        assert (left.run_id, left.items, left.note) == ("r1", ["b@x"], "1 left")
        [gone] = store.grants(("revoked",))
        assert gone.revoked_run == "r9"
        assert len(store.grants(())) == 2  # every state


def test_expiry_is_judged_by_the_given_time() -> None:
    g = grant("r", 1, "2027-01-01T00:00:00+00:00")
    assert not g.expired(datetime(2026, 12, 31, tzinfo=UTC))
    assert g.expired(datetime(2027, 1, 1, tzinfo=UTC))
    assert g.days_left(datetime(2026, 12, 30, tzinfo=UTC)) == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_grants_table_lives_in_the_journal_s_own_database(backend: str, tmp_path: Path) -> None:
    with journal_on(backend, tmp_path) as journal:
        with GrantStore(journal) as store:  # the journal's connection: SQLite or PostgreSQL alike
            store.add(grant("r1", 1, "2027-01-01T00:00:00+00:00"))
            [row] = store.grants()
            store.update(row, state="revoked", revoked_run="r2")
        assert [(g.run_id, g.state) for g in GrantStore(journal).grants(())] == [("r1", "revoked")]
        assert journal.db.execute("SELECT count(*) AS n FROM grants").fetchone()["n"] == 1  # still open
