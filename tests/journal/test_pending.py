"""Pending plans: stored with their preconditions, approved only while the fresh plan is the stored one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config.load import load_config
from agent.engine.core import Engine
from agent.errors import BadInput
from agent.heal.policy import Policy
from agent.heal.run import approve, heal
from agent.journal.pending import (
    PendingPlan,
    PendingStore,
    fingerprint,
    select_entries,
    stale_reason,
    step_record,
)
from agent.journal.store import Journal
from agent.model import Call, Status, Step
from tests.fakes import (
    FakeClock,
    ToyAdminMissing,
    ToyAssignLicence,
    ToyLicenceMissing,
    ToyMakeAdmin,
    ToyPlaybook,
    ToyWorld,
)
from tests.pg import BACKENDS, journal_on

LICENCE = ToyPlaybook("toy-unlicensed", ToyLicenceMissing, ToyAssignLicence)
ADMIN = ToyPlaybook("toy-not-admin", ToyAdminMissing, ToyMakeAdmin)  # high risk
MakeEngine = Callable[[], Engine]


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    """The pending store and the approval flow run on SQLite and on PostgreSQL."""
    with journal_on(request.param, tmp_path) as j:
        yield j


@pytest.fixture
def store(journal: Journal) -> Iterator[PendingStore]:
    with PendingStore(journal) as pending:
        yield pending


@pytest.fixture
def make_engine(toy_world: ToyWorld, journal: Journal, fake_clock: FakeClock,
                toy_config_path: Path) -> MakeEngine:
    def make() -> Engine:  # a new engine per command, as each CLI invocation builds one
        return Engine(load_config(toy_config_path), [LICENCE, ADMIN], journal, toy_world.factory,
                      sleep=fake_clock.sleep, clock=fake_clock)
    return make


def entry(steps: list[dict[str, Any]], run: str = "r1", cause: str = "c") -> PendingPlan:
    return PendingPlan(run, "mail1", cause, "fixer", "high", steps, "sha256:x", "pending approval")


def test_step_records_compare_exactly() -> None:
    step = Step("add-admin", Call("POST", "https://toy/site/admins", {"login": "svc", "password": "pw-123"}),
                before=["a"], after=["a", "svc"])
    record = step_record(step)
    assert record["body"]["password"] == "***" and record["before"] == ["a"]
    assert stale_reason([record], [step_record(step)]) is None
    moved = Step("add-admin", step.call, before=["a", "b"], after=["a", "b", "svc"])
    assert stale_reason([record], [step_record(moved)]) == \
        'step 1 (add-admin): before was ["a"], now ["a", "b"]'
    assert stale_reason([record], []) == "the plan now has 0 step(s), the approved one had 1"
    assert fingerprint({"b": 1, "a": [2]}) == fingerprint({"a": [2], "b": 1}) != fingerprint({"a": 1})


def test_store_lists_resolves_and_supersedes(store: PendingStore) -> None:
    store.add(entry([{"action": "x"}], run="r1", cause="c1"))
    store.add(entry([], run="r1", cause="c2"))
    store.add(entry([], run="r2", cause="c1"))
    assert {(e.run_id, e.cause) for e in store.entries()} == {("r1", "c1"), ("r1", "c2"), ("r2", "c1")}
    assert store.entries("r1", cause="c1")[0].steps == [{"action": "x"}]
    store.supersede([("mail1", "c1")], by_run="r2")
    assert {(e.run_id, e.cause) for e in store.entries()} == {("r1", "c2"), ("r2", "c1")}
    [old] = store.entries("r1", state="superseded")
    assert old.resolved_by == "r2" and "diagnosed it again" in old.note


def test_select_entries_errors(store: PendingStore) -> None:
    store.add(entry([], run="r1", cause="c1"))
    with pytest.raises(BadInput, match="unknown run id 'nope'"):
        select_entries(store, "nope", None, known_run=False)
    with pytest.raises(BadInput, match="run r2 has no pending plans"):
        select_entries(store, "r2", None, known_run=True)
    with pytest.raises(BadInput, match="no pending plan for c9; pending: c1"):
        select_entries(store, "r1", "c9", known_run=True)
    assert [e.cause for e in select_entries(store, "r1", "c1", known_run=True)] == ["c1"]


async def test_high_risk_plan_stays_pending_then_is_approved(make_engine: MakeEngine, store: PendingStore,
                                                             toy_world: ToyWorld, journal: Journal) -> None:
    toy_world.state["licensed"] = False
    toy_world.state["admins"] = []
    healed = await heal(make_engine(), Policy(), store)
    statuses = {o.cause: o.status for o in healed.report.results}
    assert statuses == {"toy-unlicensed": Status.FIXED, "toy-not-admin": Status.PLANNED}
    assert toy_world.applied == ["assign-licence"]  # the high-risk fix was not applied
    [pending] = healed.pending
    assert (pending.run_id, pending.cause, pending.risk) == (healed.report.run_id, "toy-not-admin", "high")
    assert pending.steps[0]["before"] == [] and pending.fingerprint.startswith("sha256:")
    assert store.entries() == [store.entries(healed.report.run_id)[0]]

    result = await approve(make_engine(), store, store.entries(healed.report.run_id))
    assert [o.status for o in result.report.results] == [Status.FIXED]
    assert result.report.mode == "approve" and [e.cause for e in result.applied] == ["toy-not-admin"]
    assert "svc" in toy_world.state["admins"]
    assert [c.action for c in journal.changes(result.report.run_id)] == ["add-admin"]
    assert store.entries() == []
    [done] = store.entries(healed.report.run_id, state="approved")
    assert done.resolved_by == result.report.run_id


async def test_stale_plan_is_refused(make_engine: MakeEngine, store: PendingStore,
                                     toy_world: ToyWorld) -> None:
    toy_world.state["admins"] = []
    healed = await heal(make_engine(), Policy(), store)
    toy_world.state["admins"] = ["someone-else"]  # the state the plan was made on has changed
    result = await approve(make_engine(), store, store.entries(healed.report.run_id))
    [outcome] = result.report.results
    assert outcome.status == Status.PLANNED and outcome.reason is not None
    assert outcome.reason.startswith('stale plan: step 1 (add-admin): before was [], now ["someone-else"]')
    assert toy_world.state["admins"] == ["someone-else"] and result.applied == []
    [(_, why)] = result.refused
    assert why.startswith("stale plan:") and store.entries() == []
    assert store.entries(healed.report.run_id, state="stale")[0].note.startswith("stale plan:")


async def test_cause_gone_or_unreadable(make_engine: MakeEngine, store: PendingStore,
                                        toy_world: ToyWorld) -> None:
    toy_world.state["admins"] = []
    healed = await heal(make_engine(), Policy(), store)
    original = ToyAdminMissing.detect

    async def failing(self: Any, ctx: Any) -> Any:
        raise TimeoutError("graph throttled")

    ToyAdminMissing.detect = failing  # type: ignore[method-assign]
    try:
        unread = await approve(make_engine(), store, store.entries(healed.report.run_id))
    finally:
        ToyAdminMissing.detect = original  # type: ignore[method-assign]
    assert unread.report.results[0].status == Status.UNKNOWN
    assert "still pending" in unread.refused[0][1] and len(store.entries()) == 1  # could not tell: kept
    toy_world.state["admins"] = ["svc"]  # fixed by someone meanwhile
    gone = await approve(make_engine(), store, store.entries(healed.report.run_id))
    assert gone.report.results[0].status == Status.OK and gone.applied == []
    assert gone.refused[0][1].startswith("stale plan: the detector now says ok")
    assert store.entries() == []
