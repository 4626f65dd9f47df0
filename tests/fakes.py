"""Toy detectors and fixers acting on an in-memory tenant dict, and a fake clock, for engine and CLI tests."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from agent import registry
from agent.clients.errors import WriteFailed, translate
from agent.context import Context
from agent.engine.approval import AutoApprover
from agent.guard import WriteGuard
from agent.model import Call, Finding, Plan, Risk, Step
from agent.playbook.relations import NONE, Relations
from agent.registry import Detector, Fixer

MakeEngine = Callable[..., Any]  # the make_engine fixture: (playbooks, approver=..., **settings) -> Engine
APPROVE_ALL = AutoApprover(Risk.HIGH)
HEALTHY: dict[str, Any] = {
    "licensed": True,
    "admins": ["svc"],
    "flags": {"audit": True},
    "password_set": 1,
}


def healthy_tenant() -> dict[str, Any]:
    return copy.deepcopy(HEALTHY)


@dataclass
class ToyClients:
    """What the toy clients factory builds: a handle on the world, numbered so tests see fresh ones."""

    world: ToyWorld
    serial: int
    guard: WriteGuard
    closed: bool = False

    def close(self) -> None:
        self.closed = True

    async def connector_probe(self) -> str | None:
        """The connector's first sign-in: the error text the world is set to fail it with."""
        return self.world.probe_error


@dataclass
class ToyWorld:
    """The in-memory tenant plus everything tests want to count."""

    state: dict[str, Any] = field(default_factory=healthy_tenant)
    built: list[ToyClients] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # actions whose apply_step ran
    fail_on: set[str] = field(default_factory=set)  # actions whose write is refused (HTTP 400)
    lose_on: set[str] = field(default_factory=set)  # actions made, but whose answer is lost (a drop)
    raise_in_detect: bool = False
    lag_probes: int = 0  # probes after a fix that still see the old state (replication lag)
    probe_error: str | None = None  # what the connector's own sign-in fails with (None: it works)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def factory(self, tenant: Any, connector: Any, guard: WriteGuard) -> ToyClients:
        clients = ToyClients(self, next(self._serial), guard)
        self.built.append(clients)
        return clients


def _world(ctx: Context) -> ToyWorld:
    assert isinstance(ctx.clients, ToyClients), "the toy classes run on ToyWorld.factory clients"
    assert not ctx.clients.closed, "clients used after they were closed"
    assert ctx.clients.guard is ctx.guard, "the adapters and the context must share one guard"
    return ctx.clients.world


class _Lagging(Detector):
    """Detectors that can be told to lag behind a fix (the fixed state is not seen at once)."""

    def lagging(self, ctx: Context) -> bool:
        world = _world(ctx)
        if world.lag_probes > 0 and world.applied:
            world.lag_probes -= 1
            return True
        return False


class ToyLicenceMissing(_Lagging):
    name: ClassVar[str] = "toy-licence-missing"

    async def detect(self, ctx: Context) -> Finding:
        state = _world(ctx).state
        if not state["licensed"] or self.lagging(ctx):
            return Finding.found("svc has no licence", user="svc", licensed=False)
        return Finding.ok("svc is licensed")


class ToyAssignLicence(Fixer):
    name: ClassVar[str] = "toy-assign-licence"
    risk: ClassVar[Risk] = Risk.MEDIUM
    propagation_s: ClassVar[float] = 10.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        step = Step("assign-licence", Call("POST", "https://toy/users/svc/assignLicense", {"sku": "E3"}),
                    before={"licensed": False}, after={"licensed": True}, undo={"sku": "E3"})
        return Plan("toy-unlicensed", ctx.connector.name, self.name, self.risk, [step])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _apply(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return Step("remove-licence", Call("POST", "https://toy/users/svc/assignLicense",
                                           {"removeLicenses": [(step.undo or {})["sku"]]}),
                    before={"licensed": True}, after={"licensed": False})


class ToyAdminMissing(_Lagging):
    name: ClassVar[str] = "toy-admin-missing"

    async def detect(self, ctx: Context) -> Finding:
        state = _world(ctx).state
        if "svc" not in state["admins"] or not state["flags"]["audit"] or self.lagging(ctx):
            return Finding.found("svc is not an admin", admins=list(state["admins"]))
        return Finding.ok("svc is an admin")


class ToyMakeAdmin(Fixer):
    """Two writes: add svc to the admins, then turn auditing back on; either can be told to fail."""

    name: ClassVar[str] = "toy-make-admin"
    risk: ClassVar[Risk] = Risk.HIGH
    propagation_s: ClassVar[float] = 5.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        state = _world(ctx).state
        steps = []
        if "svc" not in state["admins"]:
            steps.append(Step("add-admin", Call("POST", "https://toy/site/admins", {"login": "svc"}),
                              before=list(state["admins"]), after=[*state["admins"], "svc"]))
        if not state["flags"]["audit"]:
            steps.append(Step("enable-audit", Call("PATCH", "https://toy/site/flags", {"audit": True}),
                              before={"audit": False}, after={"audit": True}))
        return Plan("toy-not-admin", ctx.connector.name, self.name, self.risk, steps)

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _apply(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        if step.action == "add-admin":
            return Step("remove-admin", Call("DELETE", "https://toy/site/admins/svc"))
        return Step("disable-audit", Call("PATCH", "https://toy/site/flags", {"audit": False}))

    async def settle(self, ctx: Context, step: Step) -> registry.Settled | None:
        state = _world(ctx).state
        if step.action == "add-admin":
            return registry.Settled("svc" in state["admins"])
        return None  # enable-audit: this toy cannot tell who turned auditing on


class ToyExploding(Detector):
    name: ClassVar[str] = "toy-exploding"

    async def detect(self, ctx: Context) -> Finding:
        raise PermissionError("403 Forbidden: client_secret=hunter2-very-secret missing role")


class ToyMustNotRun(Fixer):
    name: ClassVar[str] = "toy-must-not-run"

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        _world(ctx).applied.append("planned-on-unknown")
        return Plan("toy-exploding", ctx.connector.name, self.name, self.risk,
                    [Step("nope", Call("POST", "https://toy/nope"))])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _apply(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return step


class ToyFlagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: str = "audit"


class ToyAlwaysFound(Detector):
    name: ClassVar[str] = "toy-always-found"
    params_model: ClassVar[type[BaseModel]] = ToyFlagParams

    async def detect(self, ctx: Context) -> Finding:
        return Finding.found("federated domain", domain="contoso.com", authenticationType="Federated")


class ToyWritingPlan(Fixer):
    """A buggy fixer whose plan() writes."""

    name: ClassVar[str] = "toy-writing-plan"

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        ctx.guard.check(Call("POST", "https://toy/oops"))
        return Plan("toy-writing", ctx.connector.name, self.name, self.risk)

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _apply(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        return step


class ToyPasswordExpired(Detector):
    name: ClassVar[str] = "toy-password-expired"

    async def detect(self, ctx: Context) -> Finding:
        if _world(ctx).state["password_set"] < 2:
            return Finding.found("password expired")
        return Finding.ok()


class ToyResetPassword(Fixer):
    """An irreversible change (a password reset) plus a reversible one."""

    name: ClassVar[str] = "toy-reset-password"
    risk: ClassVar[Risk] = Risk.LOW

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        reset = Step("reset-password", Call("PATCH", "https://toy/users/svc",
                                            {"passwordProfile": {"password": "n3w-Secret-pass!"}}),
                     irreversible=True, params={"to": 2})
        return Plan("toy-password", ctx.connector.name, self.name, self.risk, [reset])

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        return _apply(ctx, step)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        raise AssertionError("an irreversible step must never be undone")


def _apply(ctx: Context, step: Step) -> dict[str, Any]:
    """The toy write: the clients ask their guard first, as every real adapter does, then change the dict."""
    world = _world(ctx)
    assert isinstance(ctx.clients, ToyClients)
    ctx.clients.guard.check(step.call)
    if step.action in world.fail_on:
        raise WriteFailed(f"400 HTTP 400 while {step.action}", 400)
    try:
        return _change_state(world, step)
    finally:
        if step.action in world.lose_on:  # the write is made, then the connection drops
            raise translate(ConnectionResetError("connection reset by peer"), write=True)


def _change_state(world: ToyWorld, step: Step) -> dict[str, Any]:
    state = world.state
    world.applied.append(step.action)
    if step.action == "assign-licence":
        state["licensed"] = True
        return {"assignment_id": "lic-1"}
    if step.action == "remove-licence":
        state["licensed"] = False
    elif step.action == "add-admin":
        state["admins"].append("svc")
    elif step.action == "remove-admin":
        state["admins"].remove("svc")
    elif step.action == "enable-audit":
        state["flags"]["audit"] = True
    elif step.action == "disable-audit":
        state["flags"]["audit"] = False
    elif step.action == "reset-password":
        state["password_set"] = step.params["to"]
    return {}


TOY_DETECTORS: list[type[Detector]] = [ToyLicenceMissing, ToyAdminMissing, ToyExploding, ToyAlwaysFound,
                                        ToyPasswordExpired]
TOY_FIXERS: list[type[Fixer]] = [ToyAssignLicence, ToyMakeAdmin, ToyMustNotRun, ToyWritingPlan,
                                 ToyResetPassword]


def register_toys() -> None:
    for det in TOY_DETECTORS:
        registry.register_detector(det)
    for fix in TOY_FIXERS:
        registry.register_fixer(fix)


def unregister_toys() -> None:
    for name in [d.name for d in TOY_DETECTORS] + [f.name for f in TOY_FIXERS]:
        registry.unregister(name)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def sleep_sync(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ToyPlaybook:
    """A stand-in with the shape of agent.playbook.load.Playbook, for engine tests without YAML."""

    id: str
    detector_cls: type[Detector]
    fixer_cls: type[Fixer] | None = None
    applies_to: tuple[str, ...] = ("exchange-online",)
    advice: str = "do the thing"
    risk: Risk | None = None
    relations: Relations = NONE

    def make_detector(self) -> Detector:
        return self.detector_cls()

    def make_fixer(self) -> Fixer | None:
        return self.fixer_cls() if self.fixer_cls is not None else None
