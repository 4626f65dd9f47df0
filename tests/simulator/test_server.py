"""The server: start/stop, control plane, request log, the written config, and `agent sim serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from agent.cli.sim import embedded_sim, sim_app
from agent.simulator import Simulator
from agent.simulator import server as server_module
from agent.simulator.core import Services
from agent.simulator.identity.tokens import TokenService
from agent.simulator.reqlog import LogMiddleware, OpsMarkMiddleware, RequestLog
from agent.simulator.scenarios.load import build_scenario


def setting(config: Path, key: str) -> str:
    """One scalar of the written config (its endpoints are unique keys)."""
    return next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if f" {key}:" in line)


def post(sim: Simulator, path: str, **kw: object) -> requests.Response:
    return requests.post(sim.base_url + path, verify=sim.ca_path, timeout=10, **kw)  # type: ignore[arg-type]


def test_start_and_stop_take_under_two_seconds() -> None:
    started = time.perf_counter()
    sim = Simulator(users=10).start()
    try:
        assert sim.base_url.startswith("https://127.0.0.1:")
        session = requests.Session()  # a kept-alive connection must not slow the stop down
        ok = session.get(f"{sim.base_url}/common/discovery/instance", verify=sim.ca_path, timeout=10)
        assert ok.status_code == 200
    finally:
        sim.stop()
    assert time.perf_counter() - started < 2.0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.base_url}/common/discovery/instance", timeout=2)


def test_tls_is_verified_against_the_simulators_ca(tenant: Simulator) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tenant.base_url}/_sim/log", timeout=5)  # the system store does not know this CA
    assert Path(tenant.ca_path).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_control_plane_resets_state(tenant: Simulator) -> None:
    broke = post(tenant, "/_sim/reset", json={"break": ["target-site-missing"], "users": 3})
    assert broke.status_code == 200 and broke.json()["breaks"] == ["target-site-missing"]
    assert tenant.state.find_site("/sites/target") is None and len(tenant.state.users) == 3 + 5
    assert post(tenant, "/_sim/reset").status_code == 200
    assert tenant.state.find_site("/sites/target") is not None and tenant.state.ops == []
    bad = post(tenant, "/_sim/reset", json={"brake": []})
    assert bad.status_code == 400 and "unknown key 'brake'" in bad.json()["error"]
    assert post(tenant, "/_sim/reset", json={"break": ["nope"]}).status_code == 400


def test_control_plane_applies_a_scenario(tenant: Simulator) -> None:
    applied = post(tenant, "/_sim/scenario", data="users: 2\nbreak: [app-not-installed]\n")
    assert applied.status_code == 200 and applied.json()["users"] == 2 + 5
    assert tenant.state.sp_by_app_id(tenant.state.extras["connector_app_id"]) is None
    bad = post(tenant, "/_sim/scenario", data="break: [all]\nwire: {lag: 1}\n")
    assert bad.status_code == 400 and "unknown key 'lag'" in bad.json()["error"]


def test_state_dump_leaves_secrets_out(tenant: Simulator) -> None:
    text = requests.get(f"{tenant.base_url}/_sim/state", verify=tenant.ca_path, timeout=10).text
    x = tenant.state.extras
    for secret in (x["admin_secret"], x["connector_secret"], x["account_password"], "PRIVATE KEY"):
        assert secret not in text
    assert x["account_upn"] in text and x["connector_cert"].thumbprint in text


def test_request_log_since_and_clear(tenant: Simulator) -> None:
    for _ in range(3):
        requests.get(f"{tenant.base_url}/common/discovery/instance", verify=tenant.ca_path, timeout=10)
    log = requests.get(f"{tenant.base_url}/_sim/log", verify=tenant.ca_path, timeout=10).json()
    first = log["entries"][0]
    keys = {"seq", "method", "path", "query", "status", "service", "wrote", "ops", "duration_ms"}
    assert keys <= set(first)
    assert (first["service"], first["status"], first["wrote"]) == ("identity", 200, False)
    since = requests.get(f"{tenant.base_url}/_sim/log?since={first['seq']}", verify=tenant.ca_path,
                         timeout=10).json()
    assert [e["seq"] for e in since["entries"]] == [e["seq"] for e in log["entries"][1:]]
    cleared = requests.delete(f"{tenant.base_url}/_sim/log", verify=tenant.ca_path, timeout=10)
    assert cleared.status_code == 204
    assert tenant.log == []


async def call(app: Any, method: str, path: str, query: bytes = b"") -> list[dict[str, Any]]:
    """One request straight into an ASGI app (no network, no TLS)."""
    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": [],
             "http_version": "1.1", "scheme": "https", "server": ("sim.test", 443), "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_log_records_writes_and_their_ops() -> None:
    """`wrote`/`ops` come from the tenant's op list around the handler (checked without TLS here)."""
    svc = Services(build_scenario(1), TokenService("https://sim.test"), "https://sim.test")

    async def write(request: Request) -> JSONResponse:
        svc.state.set_security_defaults(True)
        return JSONResponse({})

    async def read(request: Request) -> JSONResponse:
        return JSONResponse({})

    log = RequestLog()
    app = Starlette(routes=[Route("/v1.0/write", write, methods=["POST"]), Route("/v1.0/read", read)])
    asgi = LogMiddleware(OpsMarkMiddleware(app, svc), log)
    asyncio.run(call(asgi, "POST", "/v1.0/write", b"x=1"))
    asyncio.run(call(asgi, "GET", "/v1.0/read"))
    (wrote, read_only) = log.entries()
    assert (wrote["wrote"], wrote["ops"], wrote["query"], wrote["service"]) == (
        True, ["update-security-defaults"], "x=1", "graph")
    assert (read_only["wrote"], read_only["ops"]) == (False, [])


def test_every_service_is_mounted_with_identity_last() -> None:
    svc = Services(build_scenario(1), TokenService("https://sim.test"), "https://sim.test")
    paths = [getattr(r, "path", "") for r in server_module.service_routes(svc)]
    for path in ("/{tenant}/oauth2/v2.0/token", "/EWS/Exchange.asmx"):
        assert path in paths
    assert any(p.startswith("/v1.0/") for p in paths) and any("_api" in p for p in paths)
    # identity's paths are the most generic: mounted after every other service's
    assert paths.index("/{tenant}/oauth2/v2.0/token") > max(i for i, p in enumerate(paths) if "_api" in p)


def test_unknown_paths_answer_in_the_service_format(tenant: Simulator) -> None:
    unknown = requests.get(f"{tenant.base_url}/_sim/nothing", verify=tenant.ca_path, timeout=10)
    assert unknown.status_code == 400 and "unknown control endpoint" in unknown.json()["error"]


def test_written_config_loads_and_keeps_secrets_in_0600_files(tenant: Simulator, tmp_path: Path) -> None:
    from agent.config.load import load_config

    path = tenant.write_config(tmp_path / "agent.yaml")
    config = load_config(path)
    assert [c.name for c in config.connectors] == ["mail-exo", "mail-onprem", "files-onedrive", "sp-sites"]
    assert config.connectors[1].ews_url == f"{tenant.base_url}/onprem/EWS/Exchange.asmx"
    text = path.read_text()
    assert tenant.state.extras["connector_secret"] not in text and tenant.base_url in text
    secret_file = tmp_path / "connector.secret"
    assert secret_file.read_text() == tenant.state.extras["connector_secret"]
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in (tmp_path / "admin.pem").read_text()


def test_embedded_sim_breaks_every_cause_and_cleans_up() -> None:
    with embedded_sim(users=2) as path:
        ca, base = setting(path, "ca_bundle"), setting(path, "authority_host")
        state = requests.get(f"{base}/_sim/state", verify=ca, timeout=10).json()
        assert "/sites/target" not in state["sites"]
        assert state["onprem"]["auth_schemes"] == ["Negotiate"]
    assert not path.exists() and not Path(ca).exists()


@pytest.mark.parametrize(("args", "message"), [
    (["serve", "--break", "nope"], "--break[0]: unknown cause id 'nope' (valid: exo-app-missing-full-access"),
    (["serve", "--scenario", "no/such/file.yaml"], "scenario file not found"),
])
def test_serve_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(sim_app, args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output


def test_serve_runs_in_the_foreground_until_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    code = "from agent.cli.sim import sim_app; sim_app(prog_name='agent sim')"
    args = ["serve", "--break", "target-site-missing", "--users", "2", "--write-config", str(config)]
    # faulthandler: a stop that hangs is aborted below and dumps every thread's stack into the failure
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not config.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert config.exists(), proc.stderr.read() if proc.stderr else ""
        ca, base = setting(config, "ca_bundle"), setting(config, "authority_host")
        assert requests.get(f"{base}/_sim/log", verify=ca, timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"serve did not stop within 20 s of Ctrl-C; its threads:\n{err[-6000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert f"simulated tenant: {base}" in out and "target-site-missing" in out and "stopped" in out
