"""Undo a run: reverse its applied changes newest first, journaled like a fix, with its own dry-run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.engine import deadline as stepping
from agent.engine.steps import (
    Binding,
    apply_plan,
    bind_clients,
    change_dict,
    raise_if_dry_run_write,
    short_reason,
)
from agent.errors import BadInput
from agent.guard import DryRunWrite
from agent.journal.store import KEY_NAME, UnknownRun, step_of
from agent.model import Change, Outcome, Plan, Risk, Status
from agent.registry import AlreadyReversed, Fixer, UnknownName
from agent.registry import fixer as fixer_class

if TYPE_CHECKING:
    from agent.config.model import Connector, Tenant
    from agent.engine.job import EngineParts as Engine

# Per-change result kinds, worst first: the worst one decides the status of its (connector, cause).
_RANK = {"failed": Status.FAILED, "unknown": Status.UNKNOWN, "skipped": Status.SKIPPED,
         "planned": Status.PLANNED, "reversed": Status.FIXED, "done": Status.OK}


@dataclass
class _Group:
    """What happened to the changes of one (connector, cause) of the original run."""

    connector: str
    cause: str
    kinds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)


class Undo:
    """One undo of `run_id`; every name is resolved before the first write, so it cannot stop halfway on
    a missing connector or fixer."""

    def __init__(self, engine: Engine, run_id: str, dry_run: bool) -> None:
        self.engine, self.run_id, self.dry_run = engine, run_id, dry_run
        try:
            self.record = engine.journal.run(run_id)
        except UnknownRun:
            raise BadInput(f"unknown run id {run_id!r}; `agent history` lists the runs") from None
        self.changes = list(reversed(engine.journal.changes(run_id)))
        tampered = [c for c in self.changes if not c.sealed]
        if tampered:  # checked before any read or write: the undo data decides what is written
            c = tampered[-1]
            raise BadInput(f"run {run_id}: change {c.seq} ({c.action}) does not match its journal "
                           f"signature (edited since it was recorded, or {KEY_NAME} was replaced): "
                           "not undoing anything; reverse the run by hand")
        if self.changes and "--sim" in self.record.argv:
            raise BadInput(f"run {run_id} changed the built-in simulated tenant (--sim), which ended with "
                           "that run: there is nothing left to undo")
        self.targets: dict[str, tuple[Tenant, Connector]] = {}
        self.fixers: dict[tuple[str, str], Fixer] = {}
        for change in self.changes:
            self._resolve(change)
        for name, (tenant, _) in self.targets.items():
            self._same_tenant(name, tenant)

    def _same_tenant(self, connector: str, tenant: Tenant) -> None:
        """Refuse to reverse a run's changes anywhere but where it made them: a connector of the same
        name may now point at another tenant (another config, another cloud, a test tenant)."""
        then = (self.record.targets or {}).get(connector)
        if then is None:
            return  # journaled before runs kept their targets: nothing to compare with
        now = tenant.location()
        if then != now:
            keys = ["tenant_id", *sorted({*then, *now} - {"tenant_id"})]  # the tenant first, if it differs
            what = next(k for k in keys if then.get(k) != now.get(k))
            config = f" ({self.record.config})" if self.record.config else ""
            was, now_is = then.get(what) or "unset", now.get(what) or "unset"
            raise BadInput(f"run {self.run_id} changed connector {connector!r} in tenant "
                           f"{then.get('tenant_id')}, but the config now points it elsewhere ({what}: {was} "
                           f"then, {now_is} now); undo it with the config that run used{config}")

    def _resolve(self, change: Change) -> None:
        if change.connector not in self.targets:
            conn = self.engine.config.connector(change.connector)  # ConfigError names the valid ones
            self.targets[change.connector] = (self.engine.config.tenant_of(conn), conn)
        key = (change.cause, change.fixer)
        if key not in self.fixers:
            self.fixers[key] = self._fixer(change)

    def _fixer(self, change: Change) -> Fixer:
        # prefer the playbook's fixer: it carries the `with:` parameters the change was made with
        for pb in self.engine.playbooks:
            made = pb.make_fixer() if pb.id == change.cause else None
            if made is not None and made.name == change.fixer:
                return made
        try:
            return fixer_class(change.fixer)()
        except UnknownName as exc:
            raise BadInput(f"cannot undo run {self.run_id}: {exc}") from None

    async def run(self, undo_run_id: str) -> list[Outcome]:
        groups: dict[tuple[str, str], _Group] = {}
        factory = self.engine.clients_factory
        reads = {name: bind_clients(factory, t, c, write=False) for name, (t, c) in self.targets.items()}
        self.writes: dict[str, Binding] = {}  # opened on the first reversal of each connector
        failed = False
        try:
            for change in self.changes:
                group = groups.setdefault((change.connector, change.cause),
                                          _Group(change.connector, change.cause))
                group.seqs.append(change.seq)
                if failed and change.state in ("applied", "uncertain", "pending"):
                    self._note(group, change, "skipped", "not attempted after an earlier failure")
                    continue
                failed = await self._within_deadline(undo_run_id, change, group, reads[change.connector]) \
                    or failed
        finally:
            for binding in [*reads.values(), *self.writes.values()]:
                await binding.close()
        return [self._outcome(g) for g in groups.values()]

    async def _within_deadline(self, undo_run_id: str, change: Change, group: _Group, read: Binding) -> bool:
        """_one within the run's deadline: past it, this change and the rest are `unknown (deadline)`; a
        reversal it interrupts stays journaled as it stood, and the next undo reads the tenant again."""
        if stepping.expired():
            self._note(group, change, "unknown", stepping.reason("this change was reversed"))
            return False
        try:
            async with stepping.within():
                return await self._one(undo_run_id, change, group, read)
        except stepping.DeadlinePassed:
            self._note(group, change, "unknown", stepping.reason("its reversal finished; undo the run "
                                                                 "again to settle it"))
            return True

    async def _one(self, undo_run_id: str, change: Change, group: _Group, read: Binding) -> bool:
        """Reverse one change; True when reversing it failed (the undo stops there)."""
        if change.state == "undone":
            self._note(group, change, "done", f"already undone by run {change.undone_by}")
        elif change.state == "failed":
            self._note(group, change, "done", "the original write failed: nothing to undo")
        elif change.irreversible:
            self._note(group, change, "skipped", "irreversible: cannot be undone")
        elif change.state in ("pending", "uncertain"):
            return await self._settle(undo_run_id, change, group, read)
        else:
            return await self._reverse(undo_run_id, change, group, read)
        return False

    async def _settle(self, undo_run_id: str, change: Change, group: _Group, read: Binding) -> bool:
        """A change whose write may or may not have happened: read the tenant, reverse it if it did."""
        why = "interrupted while being applied" if change.state == "pending" else "its answer was lost"
        fixer = self.fixers[(change.cause, change.fixer)]
        try:
            settled = await fixer.settle(read.context(change.cause), step_of(change))
        except (BadInput, DryRunWrite):
            raise
        except Exception as exc:
            raise_if_dry_run_write(exc)
            self._note(group, change, "failed", f"{why}, and reading the tenant failed: "
                                                f"{short_reason(exc)}")
            return True
        if settled is None:
            self._note(group, change, "skipped", f"{why}: it may or may not have happened; check it and "
                                                 "reverse it by hand")
            return False
        if not settled.made:
            note = f"{why}; the tenant shows it was never made: nothing to undo"
            self._note(group, change, "done", f"{note} {settled.note}".strip())
            if not self.dry_run:
                self.engine.journal.change_failed(self.run_id, change.seq, f"never made (read by undo "
                                                  f"run {undo_run_id})")
            return False
        change.undo = {**(change.undo or {}), **settled.undo}
        if not self.dry_run:
            self.engine.journal.change_applied(self.run_id, change.seq, change.undo)
        return await self._reverse(undo_run_id, change, group, read)

    async def _reverse(self, undo_run_id: str, change: Change, group: _Group, read: Binding) -> bool:
        fixer = self.fixers[(change.cause, change.fixer)]
        try:  # undo_step only reads: a write there raises DryRunWrite, which stops the run
            reverse = await fixer.undo_step(read.context(change.cause), step_of(change))
        except (BadInput, DryRunWrite):
            raise
        except AlreadyReversed as exc:
            self._note(group, change, "done", f"nothing to reverse: {exc}")
            if not self.dry_run:
                self.engine.journal.change_undone(self.run_id, change.seq, undo_run_id)
            return False
        except Exception as exc:
            raise_if_dry_run_write(exc)
            self._note(group, change, "failed", f"could not build the undo: {short_reason(exc)}")
            return True
        if self.dry_run:
            group.kinds.append("planned")
            group.changes.append(change_dict(reverse, "planned"))
            return False
        plan = Plan(change.cause, change.connector, fixer.name, fixer.risk, [reverse])
        done, error = await apply_plan(self.engine.journal, undo_run_id, fixer, plan,
                                       self._write_binding(change.connector).context(change.cause))
        group.changes.extend(done)
        if error is not None:  # uncertain too: the next undo reads the tenant and finds it reversed
            group.kinds.append("failed")
            group.notes.append(f"undo of change {change.seq} failed: {error}")
            return True
        self.engine.journal.change_undone(self.run_id, change.seq, undo_run_id)
        group.kinds.append("reversed")
        return False

    def _write_binding(self, connector: str) -> Binding:
        if connector not in self.writes:
            tenant, conn = self.targets[connector]
            self.writes[connector] = bind_clients(self.engine.clients_factory, tenant, conn, write=True)
        return self.writes[connector]

    def _note(self, group: _Group, change: Change, kind: str, note: str) -> None:
        group.kinds.append(kind)
        group.notes.append(f"change {change.seq} ({change.action}): {note}")
        if kind != "done":
            group.changes.append({"seq": change.seq, "action": change.action, "state": kind, "note": note,
                                  "call": {"method": change.call.method, "url": change.call.url}})

    def _outcome(self, group: _Group) -> Outcome:
        status = next((s for k, s in _RANK.items() if k in group.kinds), Status.OK)
        reversed_n = group.kinds.count("reversed")
        summary = f"undo of run {self.run_id}: {reversed_n} change(s) reversed"
        if self.dry_run:
            summary = f"undo of run {self.run_id}: {group.kinds.count('planned')} change(s) to reverse"
        risk = max((f.risk for (cause, _), f in self.fixers.items() if cause == group.cause),
                   key=lambda r: r.rank, default=None)
        return Outcome(connector=group.connector, cause=group.cause, status=status,
                       evidence={"undoes": self.run_id, "changes": sorted(group.seqs)}, summary=summary,
                       reason="; ".join(group.notes) or None, changes=group.changes,
                       risk=_risk_value(risk))


def _risk_value(risk: Risk | None) -> str | None:
    return risk.value if risk is not None else None
