"""Wire tests of the simulated tenant."""

from __future__ import annotations

from typing import Any

from agent.simulator import Simulator


def identity_kw(sim: Simulator) -> dict[str, Any]:
    """azure-identity keyword arguments pointing at the simulator (no retries: errors surface at once)."""
    return {"authority": sim.base_url, "disable_instance_discovery": True,
            "connection_verify": sim.ca_path, "retry_total": 0}
