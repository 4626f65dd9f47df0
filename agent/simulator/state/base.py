"""What every part of the simulated tenant's state shares: its error type, ids and clock."""

from __future__ import annotations

import time
import uuid


class SimError(Exception):
    """A failed operation; each service renders it in its own wire format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()
