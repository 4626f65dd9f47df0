"""Copy one journal into another (SQLite into PostgreSQL): every run, result, change and pending plan.

Rows are copied as they are, HMAC included, so undo data stays sealed as long as the target is used
with the same state directory's journal.key. A row the target has already (same key) is kept: running
the copy again adds only what is new.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.journal.store import Journal

TABLES = ("runs", "results", "changes", "pending")  # parents before children


@dataclass
class Copied:
    table: str
    rows: int
    new: int


def copy_journal(source: Journal, target: Journal) -> list[Copied]:
    """Copy every table of `source` into `target` in one transaction of the target."""
    done = []
    with target.db.transaction():
        for table in TABLES:
            rows = [dict(r) for r in source.db.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            before = _count(target, table)
            for row in rows:
                row.pop("rowid", None)
                columns = list(row)
                target.db.execute(target.db.dialect.insert_new(table, columns), [row[c] for c in columns])
            done.append(Copied(table, len(rows), _count(target, table) - before))
    return done


def _count(journal: Journal, table: str) -> int:
    return int(journal.db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"])
