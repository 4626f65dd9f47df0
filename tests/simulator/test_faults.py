"""Wire faults: throttling with Retry-After, 5xx, dropped connections, latency, and their validation."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from agent.simulator import Simulator
from agent.simulator.faults import WireFaults, parse_wire
from tests.simulator.conftest import TENANT

OIDC = f"/{TENANT}/v2.0/.well-known/openid-configuration"
PERSONAL = "/personal/user0001_contoso_onmicrosoft_com/_api/web"


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(sim.base_url + path, verify=sim.ca_path, timeout=10)


def test_throttle_gives_429_with_retry_after_and_shows_in_the_log(tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 2, "services": ["identity"]}})
    first, second = get(tenant, OIDC), get(tenant, OIDC)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.json()["error_codes"] == [90055]
    assert second.status_code == 200
    assert [(e["status"], e["fault"]) for e in tenant.log] == [(429, "throttle"), (200, None)]


def test_graph_throttle_body_is_shaped_like_graphs(tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"first": 1, "services": ["graph"]}})
    body = get(tenant, "/v1.0/users").json()
    assert body["error"]["code"] == "activityLimitReached"
    assert body["error"]["innerError"]["code"] == "throttledRequest"


def test_ews_answers_overload_with_a_500_server_busy_fault(tenant: Simulator) -> None:
    # ews-throttling-in-exchange.md: ErrorServerBusy comes in an HTTP 500 SOAP fault
    tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 3, "services": ["ews"]}})
    response = requests.post(f"{tenant.base_url}/EWS/Exchange.asmx", data=b"<x/>", verify=tenant.ca_path,
                             timeout=10)
    assert response.status_code == 500 and "a:ErrorServerBusy</faultcode>" in response.text
    assert 'Name="BackOffMilliseconds">3000<' in response.text


def test_path_filter_limits_the_fault_to_matching_paths(tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"rate": 1.0, "services": ["sharepoint"], "path": "^/personal/user0001_"}})
    hit, miss = get(tenant, PERSONAL), get(tenant, PERSONAL.replace("user0001", "user0002"))
    assert hit.status_code == 429 and hit.headers.get("Retry-After") is not None
    assert "SPQueryThrottledException" not in hit.text  # the list view threshold error, not throttling
    assert miss.status_code != 429


def test_server_errors_first_n(tenant: Simulator) -> None:
    tenant.set_faults({"errors": {"first": 2, "status": 500, "services": ["graph"]}})
    statuses = [get(tenant, "/v1.0/users").status_code for _ in range(3)]
    assert statuses[:2] == [500, 500] and statuses[2] != 500
    assert get(tenant, "/v1.0/users").status_code == 401  # the real answer again: no token


def test_token_endpoint_5xx_reaches_azure_identity(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    trust.set_faults({"errors": {"first": 1, "status": 503, "retry_after_s": 0, "services": ["identity"],
                                 "path": "/token$"}})
    x = trust.state.extras
    with pytest.raises(ClientAuthenticationError):
        ClientSecretCredential(TENANT, x["connector_app_id"], x["connector_secret"],
                               **cred_kw).get_token("https://graph.microsoft.com/.default")
    assert [e["status"] for e in trust.log if e["path"].endswith("/token")] == [503]


def test_dropped_connection_has_no_response_and_is_logged(tenant: Simulator) -> None:
    tenant.set_faults({"drop": {"first": 1, "services": ["identity"]}})
    with pytest.raises(requests.ConnectionError):
        get(tenant, OIDC)
    assert get(tenant, OIDC).status_code == 200
    assert [(e["status"], e["fault"]) for e in tenant.log] == [(0, "drop"), (200, None)]


def test_latency_delays_only_the_named_service(tenant: Simulator) -> None:
    tenant.set_faults({"latency_ms": {"identity": 150}})
    started = time.perf_counter()
    get(tenant, OIDC)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    get(tenant, "/v1.0/users")
    fast = time.perf_counter() - started
    assert slow >= 0.15 > fast


def test_control_plane_is_never_faulted(tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"rate": 1.0}, "drop": {"first": 0}})
    assert get(tenant, "/_sim/log").status_code == 200
    assert tenant.log == []  # control requests are not logged either


def test_faults_are_set_through_the_control_plane_and_cleared_by_reset(tenant: Simulator) -> None:
    posted = requests.post(f"{tenant.base_url}/_sim/faults", json={"throttle": {"first": 5}},
                           verify=tenant.ca_path, timeout=10)
    assert posted.status_code == 200 and get(tenant, OIDC).status_code == 429
    tenant.reset()
    assert get(tenant, OIDC).status_code == 200
    bad = requests.post(f"{tenant.base_url}/_sim/faults", json={"throttle": {"rate": 7}},
                        verify=tenant.ca_path, timeout=10)
    assert bad.status_code == 400 and "wire.throttle.rate" in bad.json()["error"]


def test_seeded_rate_is_reproducible() -> None:
    def run(seed: int) -> list[bool]:
        wire = parse_wire({"seed": seed, "throttle": {"rate": 0.5}})
        assert isinstance(wire, WireFaults)
        return [wire.decide("graph", "/v1.0/users") is not None for _ in range(40)]

    assert run(3) == run(3)
    assert 5 < sum(run(3)) < 35


@pytest.mark.parametrize(("wire", "message"), [
    ({"throttel": {}}, "wire: unknown key 'throttel'"),
    ({"throttle": {"rate": 1.5}}, "wire.throttle.rate"),
    ({"throttle": {"services": ["mail"]}}, "unknown service 'mail'"),
    ({"errors": {"status": 404}}, "wire.errors.status"),
    ({"drop": {"path": "("}}, "wire.drop.path: not a valid regular expression"),
    ({"latency_ms": -1}, "wire.latency_ms"),
    ({"throttle": {"first": 1, "retries": 2}}, "unknown key 'retries'"),
])
def test_bad_wire_settings_name_the_bad_key(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_wire(wire)


def test_empty_wire_means_no_faults() -> None:
    assert parse_wire(None) is None and parse_wire({}) is None
