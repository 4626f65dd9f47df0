"""The wall clock of grant lifetimes, read in one place: $AGENT_NOW (ISO 8601) replaces it in tests."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from agent.errors import BadInput

ENV_NOW = "AGENT_NOW"


def now() -> datetime:
    """The current time (UTC), or $AGENT_NOW when set: the only clock grant expiry is judged by."""
    text = os.environ.get(ENV_NOW, "").strip()
    if not text:
        return datetime.now(UTC)
    return parse_instant(text, f"${ENV_NOW}")


def parse_instant(text: str, where: str) -> datetime:
    """An ISO 8601 date or date-time; a naive one is read as UTC; a bad one is one BadInput line."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{where}: expected an ISO 8601 date or time like 2027-01-31 or "
                       f"2027-01-31T18:00:00Z, got {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stamp(value: datetime) -> str:
    """How instants are stored and shown: UTC, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds")
