"""Tiny detectors and fixers (with params models) that the playbook tests register by name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from agent import registry
from agent.model import Finding, Plan, Risk, Step


class CheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    min_plans: int = 1


class AssignParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefer_skus: list[str] = []


class UserCheck(registry.Detector):
    name = "test-user-check"
    params_model = CheckParams
    permissions = ("User.Read.All",)

    async def detect(self, ctx: Any) -> Finding:
        return Finding.ok()


class _Fixer(registry.Fixer):
    async def plan(self, ctx: Any, finding: Finding) -> Plan:
        return Plan(cause="x", connector="x", fixer=self.name, risk=self.risk)

    async def apply_step(self, ctx: Any, step: Step) -> dict[str, Any]:
        return {}

    async def undo_step(self, ctx: Any, step: Step) -> Step:
        return step


class Assign(_Fixer):
    name = "test-assign"
    params_model = AssignParams
    permissions = ("User.ReadWrite.All", "Organization.Read.All")
    risk = Risk.MEDIUM


class Grant(_Fixer):
    name = "test-grant"
    permissions = ("AppRoleAssignment.ReadWrite.All",)
    roles = ("Cloud Application Administrator",)
    risk = Risk.HIGH


CLASSES: tuple[Any, ...] = (UserCheck, Assign, Grant)


def register() -> None:
    registry.register_detector(UserCheck)
    registry.register_fixer(Assign)
    registry.register_fixer(Grant)


def unregister() -> None:
    for cls in CLASSES:
        registry.unregister(cls.name)
