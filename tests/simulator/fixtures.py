"""Fixtures for every test that needs the simulated tenant: one server per session, fresh state per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.simulator import Simulator

SIM_USERS = 20  # small and fast; tests that need a fleet reset with more


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """The simulated tenant over HTTPS, started once for the whole test session."""
    with Simulator(users=SIM_USERS) as simulator:
        yield simulator


@pytest.fixture
def tenant(sim: Simulator) -> Simulator:
    """The session's simulator reset to the healthy demo tenant (no faults, empty log)."""
    sim.reset(users=SIM_USERS)
    return sim
