"""What a heal run does with time-boxed grants: revoke the expired ones first, then say what expires soon
and what was revoked or left alone (for the report's extras and the webhooks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent import clock
from agent.grants.timebox import expiring, grant_row, sync_undone

if TYPE_CHECKING:
    from agent.engine.core import Engine
    from agent.journal.grants import GrantStore
    from agent.model import RunReport


async def revoke_expired(engine: Engine, store: GrantStore, connector: str | None = None,
                         only: Sequence[str] = ()) -> RunReport | None:
    """A `revoke` run over every expired live grant of the configured connectors (those the heal run was
    limited to, with --connector and --only); None when none expired."""
    now = clock.now()
    names = {c.name for c in engine.config.connectors if connector is None or c.name == connector}
    live = sync_undone(store, engine.journal, store.grants(("active",)))
    due = [g for g in live if g.expired(now) and g.connector in names and (not only or g.cause in only)]
    if not due:
        return None
    return await engine.revoke(due, store)


def grant_news(store: GrantStore, revocation: RunReport | None, warn_days: int) -> dict[str, Any]:
    """{expiring_within_days, expiring, revoked, left_alone, failed, revoke_run}; {} when nothing."""
    now = clock.now()
    soon = [grant_row(g, now) for g in expiring(store.grants(("active",)), now, warn_days)]
    news: dict[str, Any] = {}
    if soon:
        news.update(expiring_within_days=warn_days, expiring=soon)
    if revocation is None:
        return news
    entries = [dict(e, connector=o.connector, cause=o.cause) for o in revocation.results
               for e in o.evidence.get("grants", [])]
    news["revoke_run"] = revocation.run_id
    for key, result in (("revoked", "revoked"), ("left_alone", "left-alone"), ("failed", "failed")):
        rows = [e for e in entries if e.get("result") == result]
        if rows:
            news[key] = rows
    return news


def news_lines(news: dict[str, Any]) -> list[str]:
    """One line per grant worth telling someone about (webhook cards)."""
    lines = [f"revoked: {e['connector']} / {e['cause']}: {e['target']} (granted in run {e['run_id']})"
             for e in news.get("revoked", [])]
    lines += [f"left alone: {e['connector']} / {e['cause']}: {e['note']}"
              for e in news.get("left_alone", [])]
    lines += [f"revocation failed: {e['connector']} / {e['cause']}: {e['note']}"
              for e in news.get("failed", [])]
    days = news.get("expiring_within_days")
    lines += [f"expires within {days} day(s): {r['connector']} / {r['cause']}: {r['target']} at "
              f"{r['expires_at']}" for r in news.get("expiring", [])]
    return lines
