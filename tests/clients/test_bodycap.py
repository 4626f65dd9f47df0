"""The body-size cap of each transport: Content-Length over the cap, a streamed body passing it, a stream
read by the caller, and how the failure reads (never retried, `unknown`, a write's answer lost)."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import requests

from agent.clients.bodycap import CappedAsyncTransport, ResponseTooLarge, capped_session, find_too_large
from agent.clients.errors import ReadFailed, WriteFailed, translate
from agent.retry import is_transient, is_transient_write
from agent.simulator import Simulator

LIMIT = 64 * 1024


def _session(sim: Simulator) -> requests.Session:
    session = capped_session(LIMIT)
    session.verify = sim.ca_path
    session.trust_env = False  # the CA above, not one from the environment
    return session


@pytest.fixture
def huge(tenant: Simulator) -> Simulator:
    tenant.set_faults({"huge": {"rate": 1.0, "size_mb": 4}})
    yield tenant
    tenant.set_faults(None)


def test_requests_stops_a_streamed_body_at_the_cap(huge: Simulator) -> None:
    with _session(huge) as session, pytest.raises(ResponseTooLarge, match="65536 bytes limit"):
        session.get(f"{huge.base_url}/v1.0/users", timeout=5)


def test_requests_stops_a_caller_stream_at_the_cap(huge: Simulator) -> None:
    with _session(huge) as session, session.get(f"{huge.base_url}/v1.0/users", timeout=5, stream=True) as r, \
            pytest.raises(ResponseTooLarge):
        for _ in r.iter_content(8192):
            pass


def test_requests_refuses_a_declared_length_over_the_cap(tenant: Simulator) -> None:
    session = _session(tenant)
    session.get_adapter("https://").max_bytes = 100  # type: ignore[attr-defined]  # the 401 body is longer
    with session, pytest.raises(ResponseTooLarge):
        session.get(f"{tenant.base_url}/v1.0/users", timeout=5)


def test_requests_under_the_cap_is_untouched(tenant: Simulator) -> None:
    with _session(tenant) as session:
        answer = session.get(f"{tenant.base_url}/v1.0/users", timeout=5)
    assert answer.status_code == 401 and answer.json()["error"]["code"]


def test_httpx_stops_a_body_at_the_cap(huge: Simulator) -> None:
    async def get() -> None:
        inner = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=huge.ca_path))
        async with httpx.AsyncClient(transport=CappedAsyncTransport(inner, LIMIT)) as client:
            await client.get(f"{huge.base_url}/v1.0/users")

    with pytest.raises(ResponseTooLarge, match="response too large: the answer from https://"):
        asyncio.run(get())


def test_the_failure_is_unknown_never_retried_and_a_write_is_uncertain() -> None:
    cap = ResponseTooLarge("https://graph.example/v1.0/users?$top=999", 32 * 1024 * 1024)
    assert "32 MB limit" in str(cap) and "$top" not in str(cap)
    try:  # azure-core wraps the requests error in ServiceResponseError, which it retries otherwise
        from azure.core.exceptions import ServiceResponseError

        raise ServiceResponseError("wrapped", error=cap)
    except ServiceResponseError as wrapped:
        assert find_too_large(wrapped) is cap
        assert not is_transient(wrapped) and not is_transient_write(wrapped)
        read = translate(wrapped)
        assert type(read) is ReadFailed and read.reason.startswith("response too large")
        write = translate(wrapped, write=True)
        assert isinstance(write, WriteFailed) and write.lost  # answered, but unread: maybe made
