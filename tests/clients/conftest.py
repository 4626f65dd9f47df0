"""The client adapters' tests: the agent's config for the simulated tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.model import Config
from agent.simulator import Simulator
from tests.clients import sim_config


@pytest.fixture
def config(tenant: Simulator, tmp_path: Path) -> Config:
    return sim_config(tenant, tmp_path)
