"""Run by test_body_cap in a fresh interpreter: each library's call against a huge answer, and the growth of
this process's peak RSS (resource.getrusage) after each, printed as JSON lines.

A fresh process starts with a low, known peak, so a body read whole would show in the figures; the last
call reads a body under the cap whole, to prove that the measurement sees what a read costs.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path
from typing import Any

import httpx

from agent.config.load import load_config
from agent.context import Context
from agent.guard import WriteGuard
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.resilience.test_timeouts import CASES


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def current_mb() -> float:
    """Resident memory now (Linux /proc): the control keeps its body, so the growth shows whatever peak
    the earlier calls left behind."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / (1024 * 1024)


def set_faults(base_url: str, ca: str, wire: dict[str, Any] | None) -> None:
    httpx.post(f"{base_url}/_sim/faults", json=wire, verify=ca).raise_for_status()


async def call(config_path: str, name: str) -> str:
    from agent.clients import Clients

    config = load_config(Path(config_path))
    connector = config.connector("sp-sites" if name == "sharepoint" else "mail-exo")
    tenant = config.tenant_of(connector)
    guard = WriteGuard(dry_run=True)
    ctx = Context(tenant, connector, guard, Clients(tenant, connector, guard), {})
    try:
        outcome = await CASES[name][1](ctx)
        return f"ok: {type(outcome).__name__}"
    except Exception as exc:
        from agent.clients.errors import translate

        return translate(exc).reason
    finally:
        await ctx.clients.aclose()


def main(base_url: str, ca: str, config_path: str, huge_mb: float, control_mb: float) -> None:
    for name in ("graph", "identity", "ews", "sharepoint"):  # warm up: imports and first connections
        asyncio.run(call(config_path, name))
    for name in ("graph", "identity", "ews", "sharepoint"):
        service = CASES[name][0]
        before = peak_mb()
        set_faults(base_url, ca, {"huge": {"rate": 1.0, "services": [service], "size_mb": huge_mb}})
        reason = asyncio.run(call(config_path, name))
        print(json.dumps({"call": name, "grew_mb": peak_mb() - before, "reason": reason}), flush=True)
    set_faults(base_url, ca, {"huge": {"rate": 1.0, "services": ["graph"], "size_mb": control_mb}})
    before = current_mb()
    with httpx.Client(verify=ca) as client:
        body = client.get(f"{base_url}/v1.0/users").content  # read whole, as an uncapped client would
    print(json.dumps({"call": "control", "grew_mb": current_mb() - before, "bytes": len(body),
                      "upn": ACCOUNT_UPN}), flush=True)
    set_faults(base_url, ca, None)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
