"""Tests of the client adapters: the real libraries over HTTPS against the simulated tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.config.load import load_config
from agent.config.model import Config
from agent.simulator import Simulator


def sim_config(sim: Simulator, folder: Path) -> Config:
    """The agent's config pointing at the simulator (secrets in files in `folder`)."""
    return load_config(sim.write_config(folder / "agent.yaml"))


def requests_to(sim: Simulator, fragment: str, method: str | None = None) -> list[dict[str, Any]]:
    """The simulator's log entries whose path contains `fragment` (case-insensitive)."""
    low = fragment.lower()
    return [e for e in sim.log if low in e["path"].lower() and (method is None or e["method"] == method)]


class RecordingSleep:
    """Stands in for asyncio.sleep / time.sleep in the retry layer: records the waits, sleeps not."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def sync(self, seconds: float) -> None:
        self.waits.append(seconds)
