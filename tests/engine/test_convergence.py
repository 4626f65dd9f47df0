"""Causes that hide or wait on each other: masked and implied findings, dependency order, converging rounds
that stop when nothing changes (or at their bound), and undo of a multi-round run."""

from __future__ import annotations

from typing import Any, ClassVar

from agent.context import Context
from agent.engine.approval import AutoApprover
from agent.engine.convergence import ordered
from agent.engine.core import EngineSettings, ExitCode
from agent.journal.store import Journal
from agent.model import Call, Finding, Outcome, Plan, Risk, Status, Step
from agent.playbook.relations import Relation, Relations
from agent.registry import Detector, Fixer
from tests.fakes import MakeEngine, ToyPlaybook, ToyWorld, _world

PENDING = "<the service principal toy-install creates>"


def _state(ctx: Context) -> dict[str, Any]:
    return _world(ctx).state


def _write(ctx: Context, step: Step, **changes: Any) -> dict[str, Any]:
    """A toy write: asked of the guard first (dry-run raises there), then made on the world."""
    ctx.guard.check(step.call)
    world = _world(ctx)
    world.applied.append(step.action)
    world.state.update(changes)
    return {}


def _step(action: str, method: str = "POST", **params: Any) -> Step:
    return Step(action, Call(method, f"https://toy/{action}", dict(params) or None), params=dict(params),
                undo=dict(params))


class FlagMissing(Detector):
    """Found while the world's `flag` is false (true when unset)."""

    flag: ClassVar[str]

    async def detect(self, ctx: Context) -> Finding:
        ok = _state(ctx).get(self.flag, True)
        return Finding.ok(f"{self.flag} holds") if ok else Finding.found(f"{self.flag} is missing")


class SetFlag(Fixer):
    """One step that sets `flag` (and `sets`), undone by a step that clears it (and `clears`)."""

    flag: ClassVar[str]
    action: ClassVar[str]
    undo_action: ClassVar[str]
    sets: ClassVar[dict[str, Any]] = {}
    clears: ClassVar[dict[str, Any]] = {}

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        cause = ctx.cause
        return Plan(cause, ctx.connector.name, self.name, self.risk, [_step(self.action)])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action == self.undo_action:
            return _write(ctx, step, **{self.flag: False, **self.clears})
        return _write(ctx, step, **{self.flag: True, **self.sets})

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return _step(self.undo_action, "DELETE")


class InstallMissing(FlagMissing):
    name: ClassVar[str] = "toy-install-missing"
    flag = "installed"


class Install(SetFlag):
    name: ClassVar[str] = "toy-install"
    risk: ClassVar[Risk] = Risk.HIGH
    flag, action, undo_action = "installed", "install", "uninstall"
    sets, clears = {"sp_id": "sp-42"}, {"sp_id": None}


class GrantMissing(Detector):
    """Implied by toy-install: no service principal, so certainly no grant on it."""

    name: ClassVar[str] = "toy-grant-missing"

    async def detect(self, ctx: Context) -> Finding:
        state = _state(ctx)
        if not state.get("installed", True):
            return Finding.implied("no service principal, so no grant", ["toy-install"])
        return Finding.ok("granted") if state.get("granted", True) else Finding.found("no grant")


class Grant(Fixer):
    name: ClassVar[str] = "toy-grant"
    risk: ClassVar[Risk] = Risk.MEDIUM

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan("toy-grant", ctx.connector.name, self.name, self.risk)
        sp = _state(ctx).get("sp_id")
        plan.steps.append(_step("grant", principal=sp or PENDING))
        plan.waits_on = [] if sp else ["toy-install"]
        return plan

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action == "revoke":
            return _write(ctx, step, granted=False)
        assert step.params["principal"] == _state(ctx)["sp_id"], "a grant must name a real principal"
        return _write(ctx, step, granted=True)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return _step("revoke", "DELETE")


class SiteMissing(FlagMissing):
    name: ClassVar[str] = "toy-site-missing"
    flag = "site"


class CreateSite(SetFlag):
    name: ClassVar[str] = "toy-create-site"
    flag, action, undo_action = "site", "create-site", "delete-site"
    clears = {"site_admin": False}


class SiteAdminMissing(Detector):
    """Masked by toy-site: a site that does not exist has no admins to read."""

    name: ClassVar[str] = "toy-site-admin-missing"

    async def detect(self, ctx: Context) -> Finding:
        state = _state(ctx)
        if not state.get("site", True):
            return Finding.masked("the site answers 404 (see toy-site)", ["toy-site"])
        return Finding.ok("admin") if state.get("site_admin", True) else Finding.found("not an admin")


class MakeSiteAdmin(Fixer):
    name: ClassVar[str] = "toy-make-site-admin"
    risk: ClassVar[Risk] = Risk.MEDIUM

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        return Plan("toy-site-admin", ctx.connector.name, self.name, self.risk, [_step("make-admin")])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action == "unset-admin":
            return _write(ctx, step, site_admin=False)
        assert _state(ctx)["site"], "an admin can only be made on a site that exists"
        return _write(ctx, step, site_admin=True)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return _step("unset-admin")


class CertMissing(FlagMissing):
    name: ClassVar[str] = "toy-cert-missing"
    flag = "cert"


class AddCert(SetFlag):
    name: ClassVar[str] = "toy-add-cert"
    flag, action, undo_action = "cert", "add-cert", "remove-cert"


def _rel(kind: str, cause: str) -> Relations:
    return Relations((Relation(kind, cause, "because the test says so"),))


INSTALL = ToyPlaybook("toy-install", InstallMissing, Install)
GRANT = ToyPlaybook("toy-grant", GrantMissing, Grant, relations=_rel("implied_by", "toy-install"))
SITE = ToyPlaybook("toy-site", SiteMissing, CreateSite)
SITE_ADMIN = ToyPlaybook("toy-site-admin", SiteAdminMissing, MakeSiteAdmin,
                         relations=Relations((Relation("masked_by", "toy-site", "404"),
                                              Relation("after", "toy-site", "exists first"))))
CERT = ToyPlaybook("toy-cert", CertMissing, AddCert, relations=_rel("after", "toy-install"))




def by_cause(results: list[Outcome]) -> dict[str, Outcome]:
    return {o.cause: o for o in results}


async def test_diagnose_names_the_masking_cause(make_engine: MakeEngine, toy_world: ToyWorld) -> None:
    toy_world.state.update(site=False, site_admin=False)
    report = await make_engine([SITE_ADMIN, SITE]).diagnose()
    admin = by_cause(report.results)["toy-site-admin"]
    assert admin.status == Status.UNKNOWN and admin.masked_by == ["toy-site"]
    assert admin.to_dict()["masked_by"] == ["toy-site"]  # in -o json


async def test_masked_cause_is_checked_again_and_fixed_in_round_two(make_engine: MakeEngine,
                                                                    toy_world: ToyWorld,
                                                                    journal: Journal) -> None:
    toy_world.state.update(site=False, site_admin=False)
    report = await make_engine([SITE_ADMIN, SITE]).fix()
    results = by_cause(report.results)
    assert results["toy-site"].status == Status.FIXED and results["toy-site"].round == 1
    admin = results["toy-site-admin"]
    assert admin.status == Status.FIXED and admin.round == 2 and admin.masked_by == []
    assert (admin.reason or "").startswith("fixed in round 2")
    assert report.exit_code == ExitCode.OK
    assert toy_world.state["site_admin"] is True
    assert [(c.action, c.round) for c in journal.changes(report.run_id)] == [
        ("create-site", 1), ("make-admin", 2)]
    assert [o.round for o in journal.results(report.run_id)] == [1, 2]


async def test_implied_cause_is_found_and_its_plan_waits(make_engine: MakeEngine, toy_world: ToyWorld,
                                                        journal: Journal) -> None:
    toy_world.state.update(installed=False, granted=False)
    report = await make_engine([GRANT, INSTALL]).fix(dry_run=True)
    results = by_cause(report.results)
    grant = results["toy-grant"]
    assert grant.status == Status.PLANNED and grant.waits_on == ["toy-install"]
    assert "waits on toy-install" in (grant.reason or "")
    assert grant.changes[0]["call"]["body"] == {"principal": PENDING}
    assert [o.cause for o in report.results] == ["toy-install", "toy-grant"]  # the plan in fix order
    assert toy_world.applied == [] and journal.changes(report.run_id) == []


async def test_implied_cause_is_fixed_in_the_same_run(make_engine: MakeEngine, toy_world: ToyWorld,
                                                      journal: Journal) -> None:
    toy_world.state.update(installed=False, granted=False)
    report = await make_engine([GRANT, INSTALL]).fix()
    results = by_cause(report.results)
    assert results["toy-install"].status == Status.FIXED
    assert results["toy-grant"].status == Status.FIXED and results["toy-grant"].round == 2
    assert report.exit_code == ExitCode.OK
    assert [(c.action, c.round) for c in journal.changes(report.run_id)] == [("install", 1), ("grant", 2)]


async def test_plan_waiting_on_a_cause_outside_the_run_stays_planned(make_engine: MakeEngine,
                                                                     toy_world: ToyWorld) -> None:
    toy_world.state.update(installed=False, granted=False)
    report = await make_engine([GRANT, INSTALL]).fix(only=["toy-grant"])
    (grant,) = report.results
    assert grant.status == Status.PLANNED and "add it to --only" in (grant.reason or "")
    assert toy_world.applied == [] and report.exit_code == ExitCode.ATTENTION


async def test_plan_waiting_on_a_refused_fix_is_not_applied(make_engine: MakeEngine,
                                                            toy_world: ToyWorld) -> None:
    toy_world.state.update(installed=False, granted=False)
    report = await make_engine([GRANT, INSTALL], approver=AutoApprover(Risk.MEDIUM)).fix()
    results = by_cause(report.results)
    assert results["toy-install"].status == Status.PLANNED  # high risk, not approved
    assert results["toy-grant"].status == Status.PLANNED and results["toy-grant"].waits_on == ["toy-install"]
    assert toy_world.applied == []


async def test_fixes_apply_in_dependency_order(make_engine: MakeEngine, toy_world: ToyWorld,
                                               journal: Journal) -> None:
    toy_world.state.update(installed=False, cert=False)
    report = await make_engine([CERT, INSTALL]).fix()
    assert [(c.action, c.round) for c in journal.changes(report.run_id)] == [("install", 1), ("add-cert", 1)]
    assert {o.status for o in report.results} == {Status.FIXED}


def test_ordering_keeps_the_given_order_where_no_relation_says_otherwise() -> None:
    class Job:
        def __init__(self, playbook: ToyPlaybook, connector: str) -> None:
            self.playbook, self.connector = playbook, connector
            self.tenant = type("T", (), {"name": "contoso"})()
            self.finding = self.plan = self.outcome = None

        @property
        def cause(self) -> str:
            return self.playbook.id

    jobs = [Job(SITE, "sp"), Job(CERT, "files"), Job(GRANT, "mail"), Job(INSTALL, "files"),
            Job(SITE_ADMIN, "sp")]
    assert [(j.connector, j.cause) for j in ordered(jobs)] == [
        ("sp", "toy-site"), ("files", "toy-install"), ("files", "toy-cert"), ("mail", "toy-grant"),
        ("sp", "toy-site-admin")]


class NeverFixed(Detector):
    """Found whatever its fix does, but masked by the other stand-in until that one's fix ran once."""

    name: ClassVar[str] = "toy-never-fixed"
    masked_until: ClassVar[dict[str, str]] = {"toy-ping": "", "toy-pong": "toy-ping"}

    async def detect(self, ctx: Context) -> Finding:
        cause = ctx.cause
        blocker = self.masked_until[cause]
        if blocker and f"touch-{blocker}" not in _world(ctx).applied:
            return Finding.masked(f"hidden by {blocker}", [blocker])
        return Finding.found(f"{cause} is still broken")


class Touch(Fixer):
    name: ClassVar[str] = "toy-touch"
    propagation_s: ClassVar[float] = 1.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        cause = ctx.cause
        return Plan(cause, ctx.connector.name, self.name, self.risk, [_step(f"touch-{cause}")])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _write(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return _step("untouch")


async def test_rounds_are_bounded_when_fixes_keep_failing(make_engine: MakeEngine, toy_world: ToyWorld,
                                                         journal: Journal) -> None:
    # a relation cycle (which validated playbooks cannot have) and fixes that never verify
    ping = ToyPlaybook("toy-ping", NeverFixed, Touch, relations=_rel("after", "toy-pong"))
    pong = ToyPlaybook("toy-pong", NeverFixed, Touch, relations=_rel("masked_by", "toy-ping"))
    engine = make_engine([ping, pong], settings=EngineSettings(max_rounds=4))
    report = await engine.fix()
    rounds = [c.round for c in journal.changes(report.run_id)]
    assert rounds == [1, 2, 3, 4]  # ping, pong, ping, pong: then the budget is spent
    results = by_cause(report.results)
    assert {o.status for o in report.results} == {Status.UNVERIFIED}
    assert "stopped after 4 rounds" in (results["toy-ping"].reason or "")
    assert report.exit_code == ExitCode.FIX_FAILED


async def test_rounds_stop_when_a_round_changes_nothing(make_engine: MakeEngine, toy_world: ToyWorld,
                                                        journal: Journal) -> None:
    pong = ToyPlaybook("toy-pong", NeverFixed, Touch, relations=_rel("masked_by", "toy-ping"))
    report = await make_engine([pong]).fix()  # its mask is never fixed: one round, nothing applied
    (outcome,) = report.results
    assert outcome.status == Status.UNKNOWN and outcome.masked_by == ["toy-ping"] and outcome.round == 1
    assert journal.changes(report.run_id) == []


async def test_undo_reverses_a_multi_round_run_newest_first(make_engine: MakeEngine, toy_world: ToyWorld,
                                                            journal: Journal) -> None:
    toy_world.state.update(site=False, site_admin=False, installed=False, granted=False)
    playbooks = [SITE_ADMIN, SITE, GRANT, INSTALL]
    fixed = await make_engine(playbooks).fix()
    assert {o.status for o in fixed.results} == {Status.FIXED}
    assert sorted(c.round for c in journal.changes(fixed.run_id)) == [1, 1, 2, 2]
    undo = await make_engine(playbooks).undo(fixed.run_id)
    assert undo.exit_code == ExitCode.OK
    actions = [c.action for c in journal.changes(undo.run_id)]
    assert actions.index("unset-admin") < actions.index("delete-site")  # round 2's change first
    assert actions.index("revoke") < actions.index("uninstall")
    assert toy_world.state == {**toy_world.state, "site": False, "site_admin": False, "installed": False,
                               "granted": False}
    broken = await make_engine(playbooks).diagnose()
    assert {o.cause: o.status for o in broken.results} == {
        "toy-site-admin": Status.UNKNOWN, "toy-site": Status.FOUND, "toy-grant": Status.FOUND,
        "toy-install": Status.FOUND}
