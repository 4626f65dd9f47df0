"""The `world` fixture: the session's simulated tenant, reset healthy, with a config in a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.simulator import Simulator
from tests.e2e.harness import World


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    """A healthy tenant and a config pointing at it; call `world.reset(breaks=[...])` to break causes."""
    return World(sim, tmp_path).reset()
