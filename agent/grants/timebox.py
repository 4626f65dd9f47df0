"""Time-boxed grants around the engine: stamp each grant step with its expiry, record what was granted,
and answer which grants are live, expiring or expired (the clock is agent.clock's, nowhere else)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import clock
from agent.catalog.shared.grant_kinds import grant_kind, not_boxed
from agent.grants.lifetime import Lifetimes
from agent.journal.grants import Grant, GrantStore

if TYPE_CHECKING:
    from agent.engine.core import Engine, Job
    from agent.journal.store import Journal

MADE = ("applied", "uncertain")  # a change in these states may have granted something


@dataclass
class GrantHook:
    """What the engine calls after planning (annotate) and after applying (record) each job."""

    lifetimes: Lifetimes
    journal_path: Path | Journal  # the journal itself (its database, SQLite or PostgreSQL), or its file

    def annotate(self, job: Job) -> None:
        """Every grant step gets its expiry; with a lifetime asked, other steps say why they have none."""
        plan = job.plan
        if plan is None:
            return
        expiry = self.lifetimes.expiry(job.cause, getattr(job.playbook, "expires_after", None))
        for step in plan.steps:
            kind = grant_kind(plan.fixer, step.action)
            if kind is not None and expiry is not None:
                step.expires = expiry.stamp
                step.time_box = f"time-boxed grant: expires {expiry.stamp} ({expiry.source}); heal revokes " \
                                "it then"
            elif kind is None and (expiry is not None or self.lifetimes.asked):
                step.expires, step.time_box = None, not_boxed(step.action, step.irreversible)

    def record(self, run_id: str, job: Job, changes: Sequence[dict[str, Any]]) -> list[Grant]:
        """A grant row for each applied (or maybe applied) change of a time-boxed grant step."""
        plan = job.plan
        if plan is None:
            return []
        made = []
        with GrantStore(self.journal_path) as store:
            for step, change in zip(plan.steps, changes, strict=False):
                kind = grant_kind(plan.fixer, step.action)
                if kind is None or not step.expires or change.get("state") not in MADE:
                    continue
                principal, target, items = kind.describe(step)
                if kind.fleet and not items:
                    continue  # every site of the chunk failed: nothing was granted
                grant = Grant(run_id, int(change["seq"]), plan.connector, plan.cause, plan.fixer, step.action,
                              kind.name, principal, target, step.expires, items)
                store.add(grant)
                made.append(grant)
        return made


def attach(engine: Engine, lifetimes: Lifetimes) -> Engine:
    """Give the engine its grant hook for this run (fix, heal, approve)."""
    engine.grant_hook = GrantHook(lifetimes, engine.journal)
    return engine


def sync_undone(store: GrantStore, journal: Journal, grants: Sequence[Grant]) -> list[Grant]:
    """Grants whose change `agent undo` reversed are marked undone; the rest are returned."""
    live = []
    changes: dict[str, dict[int, Any]] = {}
    for grant in grants:
        if grant.run_id not in changes:
            changes[grant.run_id] = {c.seq: c for c in journal.changes(grant.run_id)}
        change = changes[grant.run_id].get(grant.seq)
        if change is not None and change.state == "undone" and change.undone_by != grant.revoked_run:
            store.update(grant, state="undone", revoked_run=change.undone_by,
                         note=f"reversed by agent undo (run {change.undone_by})")
        else:
            live.append(grant)
    return live


def closed_windows(store: GrantStore, now: datetime) -> dict[tuple[str, str], Grant]:
    """(connector, cause) pairs whose window closed, with no live grant since: the agent revoked the grant,
    or it expired after someone else removed it. Heal must not grant them again on its own (a person does,
    with `agent fix` or `agent approve`); a grant removed before its expiry leaves the window open."""
    live = {(g.connector, g.cause) for g in store.grants(("active",))}
    closed: dict[tuple[str, str], Grant] = {}
    for grant in store.grants(("revoked", "removed")):
        key = (grant.connector, grant.cause)
        if key not in live and (grant.state == "revoked" or grant.expired(now)):
            closed[key] = grant
    return closed


def expiring(grants: Sequence[Grant], now: datetime, days: int) -> list[Grant]:
    """Active grants not yet expired that expire within `days`."""
    horizon = now + timedelta(days=days)
    return [g for g in grants if g.state == "active" and not g.expired(now)
            and clock.parse_instant(g.expires_at, "expires_at") <= horizon]


def grant_row(grant: Grant, now: datetime) -> dict[str, Any]:
    """A grant as listed and reported: its record, whether it expired, days left, how many targets."""
    row = grant.to_dict()
    items = row.pop("items")
    row.update(expired=grant.expired(now), days_left=grant.days_left(now), targets=len(items) or 1)
    if items:
        row["first_targets"] = items[:5]
    return row
