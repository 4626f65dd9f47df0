"""Verify a fix by probing again with fresh credentials, polling with backoff until a propagation budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent import deadline as deadlines
from agent.model import Finding, Status

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Backoff:
    """Polling rhythm of verification: first wait, growth and the longest single wait."""

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 15.0


async def poll_until_ok(probe: Callable[[], Awaitable[Finding]], budget_s: float, *,
                        sleep: Sleep, clock: Clock, backoff: Backoff = Backoff()) -> tuple[Finding, int]:
    """Probe until it answers ok or the budget is spent; returns the last finding and the attempt count.

    `probe` must build new clients on every call: MSAL caches a 400 token error for 60 s per
    credential object, so re-using the old credential would keep seeing the fault just fixed.
    """
    deadline = clock() + max(0.0, budget_s)
    delay = backoff.initial_s
    attempts = 0
    while True:
        attempts += 1
        finding = await probe()
        if finding.status == Status.OK:
            return finding, attempts
        remaining = deadline - clock()
        if remaining <= 0:
            return finding, attempts
        run = deadlines.active()
        if run is not None and run.expired:  # the run's end bounds the poll too, whatever its own budget
            raise deadlines.DeadlinePassed()
        # the last wait is shortened so the final probe lands on the deadline, not past it
        await sleep(min(delay, remaining))
        delay = min(delay * backoff.factor, backoff.max_s)
