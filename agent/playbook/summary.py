"""A playbook in one row, as its file states it: what `agent playbooks list` shows (cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlaybookSummary:
    """What a playbook's file says about it, read without loading the catalog."""

    id: str
    title: str
    area: str
    applies_to: tuple[str, ...]
    detector: str
    fixer: str | None
    risk: str | None  # None for advice-only playbooks
    source: str = ""  # the file it was read from

