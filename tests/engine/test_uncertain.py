"""A write whose answer was lost is journaled `uncertain`; verify and undo read the tenant to settle it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.clients.errors import WriteFailed, answer_lost, translate
from agent.config.load import load_config
from agent.engine.core import Engine, ExitCode
from agent.engine.steps import maybe_made
from agent.journal.schema import SCHEMA_VERSION
from agent.journal.store import Journal
from agent.model import Status
from tests.engine.test_engine import ADMIN, APPROVE_ALL, MakeEngine
from tests.fakes import FakeClock, ToyWorld


@pytest.fixture
def make_engine(toy_world: ToyWorld, journal: Journal, fake_clock: FakeClock,
                toy_config_path: Path) -> MakeEngine:
    def make(playbooks: list[Any]) -> Engine:
        return Engine(load_config(toy_config_path), playbooks, journal, toy_world.factory, APPROVE_ALL,
                      sleep=fake_clock.sleep, clock=fake_clock)
    return make


@pytest.mark.parametrize("exc, lost", [
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
    (httpx.ReadTimeout("timed out"), True),
    (ConnectionResetError("reset by peer"), True),
    (httpx.ConnectError("connection refused"), False),  # never sent
    (httpx.ConnectTimeout("connect timed out"), False),
    (WriteFailed("403 Forbidden", 403), False),
    (WriteFailed("409 Conflict", 409), False),
    (WriteFailed("503 throttled", 503), False),  # "not processed": retried as such
    (WriteFailed("lost", 500, lost=True), True),
])
def test_answer_lost_is_read_from_the_exception(exc: BaseException, lost: bool) -> None:
    assert answer_lost(exc) is lost
    assert translate(exc, write=True).lost is lost


def test_maybe_made() -> None:
    refused, dropped = WriteFailed("400 bad", 400), translate(httpx.ReadTimeout("t"), write=True)
    assert not maybe_made(dropped, 0) and not maybe_made(refused, 1)
    assert maybe_made(dropped, 1) and maybe_made(refused, 2)  # a second write refused: the first stands
    assert maybe_made(RuntimeError("read-back throttled"), 1)  # the write answered, its read-back did not


async def test_lost_answer_is_uncertain_verified_and_undone(make_engine: MakeEngine, toy_world: ToyWorld,
                                                            journal: Journal) -> None:
    toy_world.state["admins"] = []
    toy_world.lose_on = {"add-admin"}
    report = await make_engine([ADMIN]).fix()
    (outcome,) = report.results
    # the write was made: verify's read shows it, and the outcome says the answer was lost
    assert outcome.status == Status.FIXED, outcome
    reason = outcome.reason or ""
    assert "answer to the write was lost" in reason and "probe shows it made" in reason
    (change,) = journal.changes(report.run_id)
    assert change.state == "uncertain" and "lost" in (change.error or "")
    assert toy_world.state["admins"] == ["svc"]

    undo = await make_engine([ADMIN]).undo(report.run_id)
    assert toy_world.state["admins"] == []  # reversed after the tenant showed it made
    assert undo.results[0].status == Status.FIXED and undo.exit_code == ExitCode.OK
    assert journal.changes(report.run_id)[0].state == "undone"


async def test_uncertain_step_never_made_is_skipped_by_undo(make_engine: MakeEngine, toy_world: ToyWorld,
                                                            journal: Journal) -> None:
    toy_world.state["admins"] = []
    toy_world.lose_on = {"add-admin"}
    report = await make_engine([ADMIN]).fix()
    toy_world.state["admins"] = []  # as if the server had dropped the request unprocessed
    undo = await make_engine([ADMIN]).undo(report.run_id)
    assert undo.exit_code == ExitCode.OK and journal.changes(undo.run_id) == []
    assert "never made" in (undo.results[0].reason or "")
    assert journal.changes(report.run_id)[0].state == "failed"


async def test_uncertain_that_cannot_be_settled_is_left_to_a_person(make_engine: MakeEngine,
                                                                    toy_world: ToyWorld,
                                                                    journal: Journal) -> None:
    toy_world.state["flags"]["audit"] = False
    toy_world.lose_on = {"enable-audit"}
    report = await make_engine([ADMIN]).fix()
    assert journal.changes(report.run_id)[-1].state == "uncertain"
    undo = await make_engine([ADMIN]).undo(report.run_id)
    assert undo.results[0].status == Status.SKIPPED
    assert "check it and reverse it by hand" in (undo.results[0].reason or "")


def test_a_v3_journal_gains_the_uncertain_state(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, mode TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,"
        " exit_code INTEGER, config TEXT, argv TEXT, undoes TEXT, targets TEXT);"
        "CREATE TABLE changes (run TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, connector TEXT"
        " NOT NULL, cause TEXT NOT NULL, fixer TEXT NOT NULL, action TEXT NOT NULL, description TEXT,"
        " call TEXT, before TEXT, after TEXT, params TEXT, undo TEXT, state TEXT NOT NULL CHECK (state IN"
        " ('pending', 'applied', 'failed', 'undone')), error TEXT, irreversible INTEGER NOT NULL DEFAULT 0,"
        " created TEXT NOT NULL, updated TEXT NOT NULL, undone_by TEXT, round INTEGER NOT NULL DEFAULT 1,"
        " PRIMARY KEY (run, seq));"
        "INSERT INTO runs VALUES ('r1', 'fix', '2026-01-01T00:00:00+00:00', NULL, 0, NULL, '[]', NULL, NULL);"
        "INSERT INTO changes VALUES ('r1', 1, 'c', 'x', 'f', 'add', '', '{}', 'null', 'null', '{}',"
        " '{\"k\": 1}', 'applied', NULL, 0, 't', 't', NULL, 1); PRAGMA user_version=3;")
    old.close()
    with Journal(path) as journal:
        (change,) = journal.changes("r1")
        assert (change.state, change.undo, change.sealed) == ("applied", {"k": 1}, True)
        journal.change_uncertain("r1", 1, "lost", {"k": 2})
        assert journal.changes("r1")[0].state == "uncertain"
        assert journal._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
