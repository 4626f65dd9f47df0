"""`agent grants` output: each grant with a fresh read, as a table, JSON, or a report (md, html), and the
journaled extension of a run's grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import clock
from agent.grants.timebox import grant_row
from agent.model import Outcome, RunReport, Status

if TYPE_CHECKING:
    from rich.console import Console

    from agent.engine.core import Engine
    from agent.journal.grants import Grant, GrantStore
    from agent.journal.store import Journal

_STATUS = {"holds": Status.OK, "removed": Status.SKIPPED, "changed": Status.SKIPPED,
           "unknown": Status.UNKNOWN}


def grant_rows(engine: Engine, grants: Sequence[Grant], now: datetime, check: bool) -> list[dict[str, Any]]:
    """The listing's rows; with `check`, each grant read afresh and the call revoking it."""
    rows = [grant_row(g, now) for g in grants]
    live = [g for g in grants if g.state == "active"]
    if not check or not live:
        return rows
    from agent import threads
    from agent.engine.grants import inspect

    seen = {(g.run_id, g.seq): (h, call) for g, h, call in threads.run(inspect(engine, live))}
    for row in rows:
        holding, call = seen.get((row["run_id"], row["seq"]), (None, None))
        if holding is not None:
            row["holds"] = holding.state
            row["check"] = holding.note or ("still granted" if holding.state == "holds" else holding.state)
            if holding.gone:
                row["removed_by_someone_else"] = len(holding.gone)
            row["revoke_call"] = call
    return rows


def emit_grants(rows: list[dict[str, Any]], now: datetime, fmt: str, out: Path | None) -> None:
    from agent.report.terminal import emit, to_json

    data = {"now": clock.stamp(now), "grants": rows}
    if fmt in ("md", "html"):
        from agent.report.render import render
        from agent.report.terminal import write_text

        text = render(_as_report(rows, now), fmt, {"grants": rows})
        if out is not None:
            write_text(out, text)
        else:
            print(text, end="" if text.endswith("\n") else "\n")
        return
    emit(fmt == "json", out, lambda: to_json(data), lambda con: _table(rows, con))


def _as_report(rows: list[dict[str, Any]], now: datetime) -> RunReport:
    """The listing as a report, so the report renderers show it: one result per grant."""
    results = []
    for row in rows:
        state = row.get("holds") or ("holds" if row["state"] == "active" else "removed")
        status = Status.FOUND if state == "holds" and row["expired"] else _STATUS.get(state, Status.OK)
        results.append(Outcome(connector=row["connector"], cause=row["cause"], status=status,
                               evidence=row, summary=_line(row), reason=row.get("revoke_call")))
    return RunReport(run_id="grants", mode="grants", started=clock.stamp(now), finished=clock.stamp(now),
                     results=results)


def _line(row: dict[str, Any]) -> str:
    when = "expired" if row["expired"] else f"{row['days_left']:g} day(s) left"
    return f"{row['kind']} for {row['principal']} on {row['target']}: expires {row['expires_at']} " \
           f"({when}), {row['state']}"


def _table(rows: list[dict[str, Any]], con: Console) -> None:
    from rich.table import Table

    if not rows:
        con.print("no time-boxed grants match")
        return
    table = Table(title="time-boxed grants, soonest expiry first", title_justify="left")
    for column in ("run id", "connector", "cause", "kind", "target", "expires", "state", "holds",
                   "revoking calls"):
        table.add_column(column, overflow="fold")
    for r in rows:
        expires = r["expires_at"] + (" (expired)" if r["expired"] else f" ({r['days_left']:g}d)")
        table.add_row(r["run_id"], r["connector"], r["cause"], r["kind"], r["target"], expires, r["state"],
                      str(r.get("check") or "-"), str(r.get("revoke_call") or "-"))
    con.print(table)
    con.print("revoke with: agent grants revoke RUN_ID | --expired | --cause ID [--dry-run]")


def extend_grants(journal: Journal, store: GrantStore, grants: Sequence[Grant], span: timedelta,
                  argv: Sequence[str]) -> RunReport:
    """Move each grant's expiry later by `span`, journaled as a `grants-extend` run (one result per cause)."""
    run_id = journal.start_run("grants-extend", None, argv)
    moved: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for grant in grants:
        old = grant.expires_at
        new = clock.stamp(clock.parse_instant(old, "expires_at") + span)
        store.update(grant, expires_at=new, note=f"extended by run {run_id} (was {old})")
        moved.setdefault((grant.connector, grant.cause), []).append(
            {"run_id": grant.run_id, "seq": grant.seq, "target": grant.target, "from": old, "to": new})
    results = [Outcome(connector=c, cause=k, status=Status.OK, evidence={"extended": rows},
                       summary=f"{len(rows)} grant(s) extended to {rows[-1]['to']}")
               for (c, k), rows in moved.items()]
    for outcome in results:
        journal.add_result(run_id, outcome)
    journal.finish_run(run_id, 0)
    record = journal.run(run_id)
    return RunReport(run_id, record.mode, record.started, record.finished, results, 0)
