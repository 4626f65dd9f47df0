"""Revoke time-boxed grants: read each afresh, leave alone what someone else changed, reverse the rest
through its fixer's own undo step (the fleet's batched CSOM path for OneDrives), journal and verify it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.catalog.shared.grant_kinds import CHANGED, HOLDS, REMOVED, Holding, grant_kind
from agent.engine.steps import (
    Binding,
    apply_plan,
    bind_clients,
    change_dict,
    gather_all,
    raise_if_dry_run_write,
    short_reason,
)
from agent.engine.verify import poll_until_ok
from agent.errors import BadInput
from agent.guard import DryRunWrite
from agent.journal.store import UnknownRun, step_of
from agent.model import Change, Finding, Outcome, Plan, Status, Step
from agent.registry import AlreadyReversed, Fixer, UnknownName
from agent.registry import fixer as fixer_class

if TYPE_CHECKING:
    from agent.config.model import Connector, Tenant
    from agent.engine.job import EngineParts as Engine
    from agent.journal.grants import Grant, GrantStore

# per-grant results, worst first: the worst decides the status of its (connector, cause)
_RANK = (("failed", Status.FAILED), ("unverified", Status.UNVERIFIED), ("unknown", Status.UNKNOWN),
         ("left-alone", Status.SKIPPED), ("planned", Status.PLANNED), ("revoked", Status.FIXED))
PARALLEL_GRANTS = 4  # grants revoked at once
VERIFY_CAP_S = 60.0  # an admin-side read: the grant is gone at once or the revocation failed


@dataclass
class _Group:
    connector: str
    cause: str
    kinds: list[str] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


class Revoke:
    """One revocation run over `grants`; connectors, fixers and journaled changes are resolved first."""

    def __init__(self, engine: Engine, grants: Any, store: GrantStore | None, dry_run: bool) -> None:
        self.engine, self.store, self.dry_run = engine, store, dry_run
        self.grants: list[Grant] = list(grants)
        self.targets: dict[str, tuple[Tenant, Connector]] = {}
        self.fixers: dict[tuple[str, str], Fixer] = {}
        self.changes: dict[tuple[str, int], Change] = {}
        for grant in self.grants:
            self._resolve(grant)

    def _resolve(self, grant: Grant) -> None:
        journal = self.engine.journal
        try:
            record = journal.run(grant.run_id)
        except UnknownRun:
            raise BadInput(f"grant of run {grant.run_id}: the run is not in the journal") from None
        change = next((c for c in journal.changes(grant.run_id) if c.seq == grant.seq), None)
        if change is None or not change.sealed:
            raise BadInput(f"run {grant.run_id}: change {grant.seq} is missing or does not match its journal "
                           "signature: not revoking anything; revoke it by hand")
        self.changes[(grant.run_id, grant.seq)] = change
        if grant.connector not in self.targets:
            conn = self.engine.config.connector(grant.connector)  # ConfigError names the valid ones
            self.targets[grant.connector] = (self.engine.config.tenant_of(conn), conn)
        tenant = self.targets[grant.connector][0]
        then = (record.targets or {}).get(grant.connector)
        if then is not None and then != tenant.location():
            raise BadInput(f"run {grant.run_id} granted {grant.target} through connector {grant.connector!r} "
                           f"in tenant {then.get('tenant_id')}, but the config now points it elsewhere; "
                           "revoke it with the config that run used")
        key = (grant.cause, grant.fixer)
        if key not in self.fixers:
            self.fixers[key] = self._fixer(grant)

    def _fixer(self, grant: Grant) -> Fixer:
        for pb in self.engine.playbooks:  # the playbook's fixer carries its `with:` (batch sizes ...)
            made = pb.make_fixer() if pb.id == grant.cause else None
            if made is not None and made.name == grant.fixer:
                return made
        try:
            return fixer_class(grant.fixer)()
        except UnknownName as exc:
            raise BadInput(f"cannot revoke the grant of run {grant.run_id}: {exc}") from None

    async def run(self, run_id: str) -> list[Outcome]:
        """Grants a few at a time (a fleet's chunks overlap their reads and writes; the tenant's own
        SharePoint bound still caps the calls), each journaled on its own."""
        groups: dict[tuple[str, str], _Group] = {}
        for grant in self.grants:
            groups.setdefault((grant.connector, grant.cause), _Group(grant.connector, grant.cause))
        slots = asyncio.Semaphore(PARALLEL_GRANTS)

        async def one(grant: Grant) -> None:
            async with slots:
                await self._one(run_id, grant, groups[(grant.connector, grant.cause)])

        await gather_all(one(grant) for grant in self.grants)
        for group in groups.values():
            group.grants.sort(key=lambda g: (g["run_id"], g["seq"]))
        return [self._outcome(g) for g in groups.values()]

    def _bind(self, connector: str, write: bool) -> Binding:
        tenant, conn = self.targets[connector]
        return bind_clients(self.engine.clients_factory, tenant, conn, write=write)

    async def holding(self, grant: Grant, step: Step) -> Holding:
        """A fresh read of whether the grant still holds; a failed read is `unknown` with its reason."""
        try:
            return await self._read(grant, step, list(grant.items))
        except (BadInput, DryRunWrite):
            raise
        except Exception as exc:
            raise_if_dry_run_write(exc)
            return Holding("unknown", f"could not read the grant: {short_reason(exc)}")

    async def _read(self, grant: Grant, step: Step, items: list[str]) -> Holding:
        kind = grant_kind(grant.fixer, grant.action)
        assert kind is not None
        binding = self._bind(grant.connector, write=False)  # fresh clients: no cached answer
        try:
            return await kind.check(binding.context(grant.cause), step, items)
        finally:
            await binding.close()

    async def _one(self, run_id: str, grant: Grant, group: _Group) -> None:
        step = step_of(self.changes[(grant.run_id, grant.seq)])
        entry: dict[str, Any] = {"run_id": grant.run_id, "seq": grant.seq, "kind": grant.kind,
                                 "target": grant.target, "expires_at": grant.expires_at}
        group.grants.append(entry)
        before = await self.holding(grant, step)
        if before.state != HOLDS:  # unknown included: its note says why the read failed
            return self._left_alone(grant, group, entry, before)
        if before.gone:  # someone else took some OneDrives back: not ours to touch
            self._save(grant, items=[*before.holding, *before.unreadable])
        entry["removed_by_someone_else"] = len(before.gone)
        await self._reverse(run_id, grant, step, before, group, entry)

    def _left_alone(self, grant: Grant, group: _Group, entry: dict[str, Any], seen: Holding) -> None:
        if seen.state in (REMOVED, CHANGED):
            self._save(grant, state="removed" if seen.state == REMOVED else "changed", note=seen.note)
            return self._note(group, entry, "left-alone", f"changed by someone else, left alone: {seen.note}")
        return self._note(group, entry, "unknown", seen.note or "could not tell whether the grant holds")

    async def _reverse(self, run_id: str, grant: Grant, step: Step, before: Holding, group: _Group,
                       entry: dict[str, Any]) -> None:
        fixer = self.fixers[(grant.cause, grant.fixer)]
        if before.holding:  # a fleet grant: revoke exactly the OneDrives that still hold it
            step.undo = {"users": list(before.holding)}
        read = self._bind(grant.connector, write=False)
        try:  # undo_step only reads: a write there raises DryRunWrite
            reverse = await fixer.undo_step(read.context(grant.cause), step)
        except (BadInput, DryRunWrite):
            raise
        except AlreadyReversed as exc:
            return self._note(group, entry, "left-alone", f"nothing to revoke: {exc}")
        except Exception as exc:
            raise_if_dry_run_write(exc)
            return self._note(group, entry, "failed", f"could not build the revocation: {short_reason(exc)}")
        finally:
            await read.close()
        entry["call"] = f"{reverse.call.method} {reverse.call.url}"
        if self.dry_run:
            group.changes.append(change_dict(reverse, "planned"))
            return self._note(group, entry, "planned", f"would revoke: {reverse.description}")
        plan = Plan(grant.cause, grant.connector, fixer.name, fixer.risk, [reverse])
        write = self._bind(grant.connector, write=True)
        try:
            done, error = await apply_plan(self.engine.journal, run_id, fixer, plan,
                                           write.context(grant.cause))
        finally:
            await write.close()
        group.changes.extend(done)
        await self._verify(run_id, grant, step, before, error, group, entry)

    async def _verify(self, run_id: str, grant: Grant, step: Step, before: Holding, error: str | None,
                      group: _Group, entry: dict[str, Any]) -> None:
        """Read the grant again until it is gone (a failed write gets one read: it will not go away)."""
        items = list(before.holding)
        seen: list[Holding] = []

        async def probe() -> Finding:
            seen.append(await self._read(grant, step, items))
            return Finding.ok() if seen[-1].state != HOLDS else Finding.found("still granted")

        budget = 0.0 if error else min(self.fixers[(grant.cause, grant.fixer)].propagation_s, VERIFY_CAP_S)
        try:
            await poll_until_ok(probe, budget, sleep=self.engine.sleep, clock=self.engine.clock,
                                backoff=self.engine.settings.verify)
        except Exception as exc:
            raise_if_dry_run_write(exc)
            why = f"revoked, but reading it back failed: {short_reason(exc)}"
            return self._note(group, entry, "unknown", why)
        after = seen[-1]
        left = [*after.holding, *after.unreadable, *before.unreadable] if before.holding else []
        if after.state != HOLDS and not left:
            self._save(grant, state="revoked", items=[], revoked_run=run_id, note="revoked on expiry")
            self.engine.journal.change_undone(grant.run_id, grant.seq, run_id)
            entry["revoked"] = len(items) or 1
            return self._note(group, entry, "revoked", "revoked and verified: the grant is gone")
        entry.update(revoked=len(items) - len(after.holding) if items else 0, remaining=len(left) or 1)
        if left:
            self._save(grant, items=left, note=f"{len(left)} target(s) still granted; retried next run")
        why = error or "the grant still shows after the revocation"
        return self._note(group, entry, "failed" if error else "unverified", why)

    async def revoke_call(self, grant: Grant, step: Step, holding: Holding) -> str:
        """`METHOD URL` of the revocation, or why there is none (reads only)."""
        if holding.holding:
            step.undo = {"users": list(holding.holding)}
        read = self._bind(grant.connector, write=False)
        try:
            reverse = await self.fixers[(grant.cause, grant.fixer)].undo_step(read.context(grant.cause), step)
        except DryRunWrite:
            raise
        except Exception as exc:
            raise_if_dry_run_write(exc)
            return f"(none: {short_reason(exc)})"
        finally:
            await read.close()
        return f"{reverse.call.method} {reverse.call.url}: {reverse.description}"

    def _save(self, grant: Grant, **changes: Any) -> None:
        """Update the grant's row; a dry run (or a read-only look) changes nothing."""
        if self.store is not None and not self.dry_run:
            self.store.update(grant, **changes)

    @staticmethod
    def _note(group: _Group, entry: dict[str, Any], kind: str, note: str) -> None:
        group.kinds.append(kind)
        entry.update(result=kind, note=note)

    def _outcome(self, group: _Group) -> Outcome:
        status = next((s for k, s in _RANK if k in group.kinds), Status.OK)
        revoked = group.kinds.count("revoked")
        summary = f"{revoked} of {len(group.grants)} grant(s) revoked"
        if self.dry_run:
            summary = f"{group.kinds.count('planned')} of {len(group.grants)} grant(s) to revoke"
        notes = "; ".join(f"{g['target']} (run {g['run_id']}): {g['note']}" for g in group.grants
                          if g.get("result") != "revoked")
        return Outcome(connector=group.connector, cause=group.cause, status=status,
                       evidence={"grants": group.grants}, summary=summary, reason=notes or None,
                       changes=group.changes)


async def inspect(engine: Engine, grants: Any) -> list[tuple[Grant, Holding, str]]:
    """Each grant with a fresh read of whether it holds and the call revoking it would make (reads only)."""
    look = Revoke(engine, grants, store=None, dry_run=True)
    found = []
    for grant in look.grants:
        step = step_of(look.changes[(grant.run_id, grant.seq)])
        holding = await look.holding(grant, step)
        found.append((grant, holding, await look.revoke_call(grant, step, holding)))
    return found
