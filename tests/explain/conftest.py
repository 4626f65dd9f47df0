"""The explain tests' shared fixture: the shipped knowledge (playbooks and vocabularies), loaded once."""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge, load_knowledge


@pytest.fixture(scope="session")
def shipped() -> Knowledge:
    return load_knowledge()
