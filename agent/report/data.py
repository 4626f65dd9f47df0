"""What every report format shares: the order of statuses, per-status counts, results by connector."""

from __future__ import annotations

from collections import Counter
from typing import Any

# worst first: the order of summaries and of the statuses shown at the top of every report
STATUS_ORDER = ("failed", "unverified", "unknown", "found", "planned", "skipped", "fixed", "ok")
GOOD = frozenset({"ok", "fixed"})


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    """Results per status, worst first, only the statuses that occur."""
    seen = Counter(str(r.get("status")) for r in results)
    return {status: seen[status] for status in STATUS_ORDER if seen[status]}


def by_connector(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by connector, in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault(str(row.get("connector")), []).append(row)
    return groups
