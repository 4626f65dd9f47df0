"""A tenant's per-request limits (connect, read, body size), spelled as each client library wants them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agent.config.model import Tenant

CONNECT_S, READ_S = 10.0, 30.0  # the config's defaults, for a tenant built without a Config


def limits(tenant: Tenant) -> tuple[float, float]:
    """(connect_s, read_s) for this tenant."""
    found = getattr(tenant, "timeouts", None)
    if found is None:
        return CONNECT_S, READ_S
    return float(found.connect_s), float(found.read_s)


def max_response_bytes(tenant: Tenant) -> int:
    """The largest response body any client library may read for this tenant (network.max_response_bytes)."""
    from agent.clients.bodycap import DEFAULT_MAX_BYTES

    found = getattr(tenant, "timeouts", None)
    return DEFAULT_MAX_BYTES if found is None else int(found.max_response_bytes)


def requests_timeout(tenant: Tenant) -> tuple[float, float]:
    """requests' (connect, read) tuple: exchangelib's Protocol.TIMEOUT and office365's transport."""
    return limits(tenant)


def azure_core_timeouts(tenant: Tenant) -> dict[str, Any]:
    """azure-core's transport keywords (its defaults are 300 s each) for credentials and pipelines."""
    connect, read = limits(tenant)
    return {"connection_timeout": connect, "read_timeout": read}


def httpx_timeout(tenant: Tenant) -> httpx.Timeout:
    """The httpx.Timeout of msgraph's client: read and write per chunk, connect and pool waits."""
    import httpx

    connect, read = limits(tenant)
    return httpx.Timeout(read, connect=connect, pool=connect)
