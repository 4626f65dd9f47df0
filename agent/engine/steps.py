"""The engine's building blocks: safe detection, bounded gathering, journaled apply, change records."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from agent.clients.errors import WriteFailed
from agent.context import Context
from agent.errors import BadInput, SecretError
from agent.guard import DryRunWrite, WriteGuard
from agent.journal.store import Journal, plain
from agent.model import Call, Finding, Plan, Status, Step
from agent.redact import redact, redact_obj
from agent.registry import Detector, Fixer, PartialFailure

if TYPE_CHECKING:
    from agent.config.model import Connector, Tenant

T = TypeVar("T")
# (tenant, connector, guard) -> the client adapters a Context carries; agent.clients.clients_factory
ClientsFactory = Callable[["Tenant", "Connector", WriteGuard], Any]
MAX_REASON = 300
_ANSWERS = (Status.OK, Status.FOUND, Status.UNKNOWN)


def short_reason(exc: BaseException) -> str:
    """One redacted line naming an exception: `ODataError: Insufficient privileges ... (status 403)`."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line = redact(line)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def raise_if_dry_run_write(exc: BaseException) -> None:
    """Re-raise a DryRunWrite even when an adapter wrapped it (raise WriteFailed(...) from it): a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DryRunWrite):
            raise current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


async def gather_all(aws: Iterable[Awaitable[T]]) -> list[T]:
    """gather that cancels the siblings when one fails (a dry-run write must stop everything)."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def close_clients(clients: Any) -> None:
    """Close what a clients factory built (httpx and requests connection pools), whichever API it has."""
    closer = getattr(clients, "aclose", None) or getattr(clients, "close", None)
    if closer is None:
        return
    result = closer()
    if inspect.isawaitable(result):
        await result


@dataclass
class Binding:
    """One connector's clients for one phase, and the guard they and every context built here share.

    The adapters ask `guard` before each write, so the guard is chosen when the clients are built:
    read bindings (detect, plan, undo_step, verify) refuse every write; write bindings apply.
    """

    tenant: Tenant
    connector: Connector
    guard: WriteGuard
    clients: Any

    def context(self, cause: str) -> Context:
        return Context(self.tenant, self.connector, self.guard, self.clients, cause=cause)

    async def close(self) -> None:
        await close_clients(self.clients)


def bind_clients(factory: ClientsFactory, tenant: Tenant, connector: Connector, *, write: bool) -> Binding:
    """Call the clients factory anew (fresh credentials, no token or MSAL error cache carried over)."""
    guard = WriteGuard(dry_run=not write)
    return Binding(tenant, connector, guard, factory(tenant, connector, guard))


async def detect_safely(detector: Detector, ctx: Context, timeout_s: float | None,
                        verifying: Finding | None = None) -> Finding:
    """Run a detector (its verify() of `verifying` when given); an exception or a timeout is `unknown`,
    never `found`."""
    try:
        probe = detector.detect(ctx) if verifying is None else detector.verify(ctx, verifying)
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the inner result when the probe
        # finishes just as an outer scope (the run's deadline) cancels it, and the cancellation is lost
        async with asyncio.timeout(timeout_s):
            finding = await probe
    except SecretError as exc:  # this connector's secret is missing: its checks cannot run, others can
        return Finding.unknown(f"{exc} (fix the reference in the config)")
    except (DryRunWrite, BadInput):
        raise  # a detector that writes is a bug; bad input (a playbook's) stops the run
    except TimeoutError:
        return Finding.unknown(f"timed out after {timeout_s:g}s")
    except Exception as exc:
        raise_if_dry_run_write(exc)
        return Finding.unknown(short_reason(exc))
    if not isinstance(finding, Finding) or finding.status not in _ANSWERS:
        return Finding.unknown(f"detector {detector.name} gave no ok/found/unknown answer")
    return finding


UNCERTAIN_NOTE = "the answer to the write was lost, so it may have been made"


def tenant_writes(calls: list[Call]) -> int:
    """How many of the guarded calls went to the tenant (a secret store write has no URL)."""
    return sum(1 for call in calls if "://" in call.url)


def maybe_made(exc: BaseException, writes_sent: int) -> bool:
    """Whether a step that raised `exc` after sending `writes_sent` writes may have changed the tenant.

    Nothing sent: nothing made. One write refused outright (a 4xx, a 429/503): nothing made. Anything
    else after a write went out (its answer lost, or a later read-back failing) may hide a made write.
    """
    if writes_sent <= 0:
        return False
    refused = isinstance(exc, WriteFailed) and not exc.lost
    return not (refused and writes_sent == 1)


def change_dict(step: Step, state: str, error: str | None = None, seq: int | None = None,
                round_no: int | None = None) -> dict[str, Any]:
    """A step as shown in reports and JSON: the call (redacted), before, after and its state."""
    data: dict[str, Any] = {
        "action": step.action,
        "description": step.description,
        "call": plain(step.call),
        "before": plain(step.before),
        "after": plain(step.after),
        "irreversible": step.irreversible,
        "state": state,
    }
    if seq is not None:
        data["seq"] = seq
    if round_no is not None:
        data["round"] = round_no
    if error:
        data["error"] = error
    if step.time_box:
        data.update(expires=step.expires, time_box=step.time_box)
    return redact_obj(data)


def plan_changes(plan: Plan, state: str = "planned") -> list[dict[str, Any]]:
    return [change_dict(step, state) for step in plan.steps]


async def apply_plan(journal: Journal, run_id: str, fixer: Fixer, plan: Plan, ctx: Context,
                     round_no: int = 1) -> tuple[list[dict[str, Any]], str | None]:
    """Apply each step, journaled pending before the write and applied/failed after; stop at a failure.

    A step that raises PartialFailure did some of its writes (a fleet chunk): it is journaled applied
    with the undo data of what was done, the next steps still run, and its reason joins the error.
    """
    changes: list[dict[str, Any]] = []
    partial: list[str] = []
    for step in plan.steps:
        seq = journal.change_pending(run_id, plan.connector, plan.cause, plan.fixer, step, round_no)
        sent = len(ctx.guard.writes)
        try:
            extra = await fixer.apply_step(ctx, step)
        except DryRunWrite:
            raise
        except PartialFailure as exc:
            step.undo = {**(step.undo or {}), **exc.undo}
            journal.change_applied(run_id, seq, step.undo)
            partial.append(redact(exc.reason))
            changes.append(change_dict(step, "applied", partial[-1], seq, round_no))
            continue
        except Exception as exc:
            raise_if_dry_run_write(exc)
            error = short_reason(exc)
            if maybe_made(exc, tenant_writes(ctx.guard.writes[sent:])):
                error = f"{UNCERTAIN_NOTE}: {error}"
                journal.change_uncertain(run_id, seq, error, step.undo)
                changes.append(change_dict(step, "uncertain", error, seq, round_no))
                return changes, "; ".join([*partial, error])
            journal.change_failed(run_id, seq, error)
            changes.append(change_dict(step, "failed", error, seq, round_no))
            return changes, "; ".join([*partial, error])
        step.undo = {**(step.undo or {}), **(extra or {})}
        journal.change_applied(run_id, seq, step.undo)
        changes.append(change_dict(step, "applied", seq=seq, round_no=round_no))
    return changes, "; ".join(partial) or None
