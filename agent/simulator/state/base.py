"""What every part of the simulated tenant's state shares: its error type, ids, clock and directory user."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


class SimError(Exception):
    """A failed operation; each service renders it in its own wire format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    password: str
    account_enabled: bool = True
    password_policies: str | None = None  # "DisablePasswordExpiration" or None
    password_expired: bool = False
    locked_until: float | None = None  # smart lockout end (epoch seconds)
    usage_location: str | None = "US"
    licenses: list[str] = field(default_factory=list)  # skuIds
    mail: str | None = None
    on_premises_sync_enabled: bool = False
    last_password_change: float = field(default_factory=now)

    @property
    def domain(self) -> str:
        return self.upn.split("@", 1)[1].lower()
