"""The simulator's streaming wire faults: each answers as promised, is filtered like the others, and a
stalled request never holds the server's other requests."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from agent.simulator import Simulator
from agent.simulator.faults import parse_wire


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(users=4) as started:
        yield started


def _client(sim: Simulator, read_s: float = 5.0) -> httpx.Client:
    return httpx.Client(verify=_tls(sim), timeout=httpx.Timeout(read_s, connect=2.0))


def _tls(sim: Simulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=sim.ca_path)


def test_stall_holds_until_the_client_gives_up(sim: Simulator) -> None:
    sim.set_faults({"stall": {"rate": 1.0, "services": ["graph"]}})
    started = time.monotonic()
    with _client(sim, read_s=1.0) as client, pytest.raises(httpx.ReadTimeout):
        client.get(f"{sim.base_url}/v1.0/users")
    assert 0.9 < time.monotonic() - started < 3


def test_stall_is_cut_after_hold_s(sim: Simulator) -> None:
    sim.set_faults({"stall": {"first": 1, "hold_s": 0.5}})
    with _client(sim) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{sim.base_url}/v1.0/users")


def test_a_stalled_request_does_not_block_the_others(sim: Simulator) -> None:
    sim.set_faults({"stall": {"rate": 1.0, "services": ["ews"], "hold_s": 5}})

    async def both() -> tuple[BaseException | httpx.Response, float]:
        async with httpx.AsyncClient(verify=_tls(sim), timeout=10) as client:
            stalled = asyncio.ensure_future(client.post(f"{sim.base_url}/EWS/Exchange.asmx", content=b"<x/>"))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            other = await client.get(f"{sim.base_url}/v1.0/users")
            took = time.monotonic() - started
            stalled.cancel()
            return other, took

    other, took = asyncio.run(both())
    assert isinstance(other, httpx.Response) and other.status_code == 401  # answered: no token sent
    assert took < 2


@pytest.mark.parametrize("service,path,marker", [
    ("graph", "/v1.0/users", b'"value":[{"id":'), ("ews", "/EWS/Exchange.asmx", b"<m:GetFolderResponse"),
    ("sharepoint", "/_api/web", b'"LoginName"'), ("identity", "/contoso/oauth2/v2.0/token", b"access_token"),
])
def test_garbage_is_a_200_whose_body_does_not_parse(sim: Simulator, service: str, path: str,
                                                    marker: bytes) -> None:
    sim.set_faults({"garbage": {"rate": 1.0, "services": [service]}})
    with _client(sim) as client:
        response = client.post(f"{sim.base_url}{path}", content=b"") if service in ("ews", "identity") \
            else client.get(f"{sim.base_url}{path}")
    assert response.status_code == 200 and marker in response.content
    if service == "ews":
        import xml.etree.ElementTree as ET

        with pytest.raises(ET.ParseError):
            ET.fromstring(response.content)
    else:
        with pytest.raises(ValueError):
            response.json()


def test_truncate_closes_mid_body(sim: Simulator) -> None:
    sim.set_faults({"truncate": {"rate": 1.0, "path": "/users"}})
    with _client(sim) as client, pytest.raises(httpx.RemoteProtocolError, match=r"complete message"):
        client.get(f"{sim.base_url}/v1.0/users")


def test_trickle_sends_a_byte_at_a_time(sim: Simulator) -> None:
    sim.set_faults({"trickle": {"first": 1, "interval_s": 0.05}})
    started = time.monotonic()
    with _client(sim) as client:
        response = client.get(f"{sim.base_url}/v1.0/users")
    assert response.status_code == 200 and response.json()["value"] == []
    assert time.monotonic() - started > 0.05 * (len(response.content) - 1) * 0.8


def test_huge_is_streamed_to_its_size(sim: Simulator) -> None:
    sim.set_faults({"huge": {"rate": 1.0, "size_mb": 3}})
    size = 0
    with _client(sim) as client, client.stream("GET", f"{sim.base_url}/v1.0/users") as response:
        assert "content-length" not in response.headers  # streamed, never built whole
        for chunk in response.iter_bytes():
            size += len(chunk)
    assert 3 * 1024 * 1024 <= size < 4 * 1024 * 1024


def test_filters_spare_other_services_and_paths(sim: Simulator) -> None:
    sim.set_faults({"garbage": {"rate": 1.0, "services": ["sharepoint"]},
                    "truncate": {"rate": 1.0, "path": "^/nowhere"}})
    with _client(sim) as client:
        assert client.get(f"{sim.base_url}/v1.0/users").status_code == 401  # real answer, no fault


def test_a_fault_after_a_path_waits_for_that_path_to_be_answered(sim: Simulator) -> None:
    sim.set_faults({"garbage": {"rate": 1.0, "services": ["graph"], "after": "/organization$"}})
    with _client(sim) as client:
        assert client.get(f"{sim.base_url}/v1.0/users").status_code == 401  # not armed yet
        assert client.get(f"{sim.base_url}/v1.0/organization").status_code == 401  # answered: arms it
        armed = client.get(f"{sim.base_url}/v1.0/users")
    assert armed.status_code == 200 and b'"value":[{"id":' in armed.content


def test_the_control_plane_sets_a_stall(sim: Simulator) -> None:
    with _client(sim) as client:
        answer = client.post(f"{sim.base_url}/_sim/faults", json={"stall": {"first": 1, "hold_s": 0.3}})
        assert answer.status_code < 300, answer.text
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{sim.base_url}/v1.0/users")
        assert client.get(f"{sim.base_url}/v1.0/users").status_code == 401  # `first: 1` is spent


@pytest.mark.parametrize("wire,message", [
    ({"stall": {"hold_s": -1}}, "stall.hold_s"), ({"trickle": {"interval_s": "x"}}, "trickle.interval_s"),
    ({"huge": {"size_mb": 1, "colour": 2}}, "unknown key 'colour'"), ({"garbage": 3}, "expected a mapping"),
    ({"stall": {"services": ["fax"]}}, "unknown service 'fax'"),
])
def test_bad_stream_faults_are_named(wire: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_wire(wire)


@pytest.fixture(autouse=True)
def _no_faults_after(sim: Simulator) -> Iterator[None]:
    yield
    sim.set_faults(None)
