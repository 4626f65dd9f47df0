"""Helpers for the simulator's own wire tests: real client libraries trusting the simulator's CA."""

from __future__ import annotations

from typing import Any

import msal
import pytest

from agent.simulator import Simulator
from tests.simulator import identity_kw

TENANT = "contoso.onmicrosoft.com"


@pytest.fixture
def trust(tenant: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The tenant, with `requests` (and so azure-identity and exchangelib) trusting its CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tenant.ca_path)
    return tenant


@pytest.fixture
def cred_kw(trust: Simulator) -> dict[str, Any]:
    """azure-identity keyword arguments pointing at the simulator (no retries: errors surface at once)."""
    return identity_kw(trust)


@pytest.fixture
def ropc(monkeypatch: pytest.MonkeyPatch) -> None:
    """MSAL drops the port for user-realm discovery; skip it for 127.0.0.1 as MSAL does after a 404."""
    skipped = set(msal.authority.Authority._domains_without_user_realm_discovery) | {"127.0.0.1"}
    monkeypatch.setattr(msal.authority.Authority, "_domains_without_user_realm_discovery", skipped)
