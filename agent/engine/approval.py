"""Who approves a plan before it is applied: a person at the terminal, or --yes up to a risk level."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.model import Plan, Risk

Approver = Callable[[Plan], bool]
Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class AutoApprover:
    """--yes: approve every plan up to `max_risk` (medium by default; high needs --allow-risk high)."""

    max_risk: Risk = Risk.MEDIUM

    def __call__(self, plan: Plan) -> bool:
        return plan.risk.rank <= self.max_risk.rank


@dataclass(frozen=True)
class InteractiveApprover:
    """Ask the person at the terminal, plan by plan; refuse everything when nobody can answer."""

    confirm: Confirm
    interactive: bool = True

    def __call__(self, plan: Plan) -> bool:
        return self.interactive and self.confirm(plan)


def deny_all(plan: Plan) -> bool:
    """No approval: the plans stay pending (exit 3)."""
    return False


def make_approver(yes: bool, allow_risk: Risk | None, confirm: Confirm | None,
                  interactive: bool) -> Approver:
    """The approver for `fix`: --yes (with --allow-risk) or an interactive confirmation."""
    if yes:
        return AutoApprover(allow_risk or Risk.MEDIUM)
    if confirm is None:
        return deny_all
    return InteractiveApprover(confirm, interactive)


def why_not_approved(plan: Plan) -> str:
    """What to run to approve this plan."""
    hint = "--yes --allow-risk high" if plan.risk == Risk.HIGH else "--yes"
    return f"not approved ({plan.risk.value} risk): run interactively or with {hint}"


def refusal_reason(approver: Approver, plan: Plan) -> str:
    """Why `approver` refused `plan`: its own `why_not(plan)` if it has one (heal's policy), else the hint."""
    explain = getattr(approver, "why_not", None)
    return str(explain(plan)) if callable(explain) else why_not_approved(plan)
