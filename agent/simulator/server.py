"""One HTTPS origin for the whole simulated tenant: uvicorn + trustme CA, request log, control plane."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from agent.simulator.clouds import audiences_of
from agent.simulator.config_writer import write_connector_config
from agent.simulator.control import control_routes, fallback_routes
from agent.simulator.core import Services
from agent.simulator.ews.routes import routes as ews_routes
from agent.simulator.faults import FaultMiddleware, WireFaults, parse_wire
from agent.simulator.graph.routes import routes as graph_routes
from agent.simulator.identity.routes import routes as identity_routes
from agent.simulator.identity.tokens import TokenService
from agent.simulator.reqlog import LogMiddleware, OpsMarkMiddleware, RequestLog
from agent.simulator.scenarios.load import Scenario, build_scenario, expand_breaks, load_scenario
from agent.simulator.sharepoint.routes import routes as sharepoint_routes
from agent.simulator.state.tenant import Tenant

START_TIMEOUT_S = 10.0


def service_routes(svc: Services) -> list[BaseRoute]:
    """Every simulated service's routes; identity last, its paths being the most generic."""
    return [*graph_routes(svc), *ews_routes(svc), *sharepoint_routes(svc), *identity_routes(svc)]


class _NoIdleCancelNoise(logging.Filter):
    """uvicorn logs "Cancel 0 running task(s)" at ERROR when it stops with idle keep-alive connections;
    nothing was cancelled, so it is noise on the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Cancel 0 running task(s)")


logging.getLogger("uvicorn.error").addFilter(_NoIdleCancelNoise())


class Simulator:
    """The simulated Microsoft 365 tenant over HTTPS on 127.0.0.1, in a daemon thread.

    A `scenario` (path, YAML text, mapping or Scenario) wins over `users`/`breaks`/`wire`.
    """

    def __init__(self, users: int = 50, breaks: Iterable[str] = (), scenario: Any = None, port: int = 0,
                 wire: Mapping[str, Any] | None = None, cloud: str = "public") -> None:
        if scenario is not None:
            self._scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        else:
            parse_wire(wire)
            audiences_of(cloud)  # an unknown cloud is refused here, not when the server starts
            self._scenario = Scenario(users=users, breaks=expand_breaks(breaks),
                                      wire=dict(wire) if wire else None, cloud=cloud)
        self._port = port
        self._wire: WireFaults | None = None
        self._services: Services | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._dir: Path | None = None
        self.request_log = RequestLog()
        self.base_url = ""
        self.ca_path = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Returns once the server listens (well under 2 s)."""
        if self._server is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="m365-sim-"))
        key_path, cert_path = self._write_tls(self._dir)
        # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets; without it every response waits
        # ~40 ms for a delayed ACK (Nagle holds the body until the headers are acknowledged)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self.base_url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        tokens = TokenService(self.base_url, cloud=self._scenario.cloud)
        self._services = Services(self._build(self._scenario), tokens, self.base_url,
                                  faults=lambda: self._wire)
        self._wire = parse_wire(self._scenario.wire)
        config = uvicorn.Config(self._asgi(self._services), host="127.0.0.1", ssl_keyfile=str(key_path),
                                ssl_certfile=str(cert_path), log_level="warning", lifespan="off", http="h11",
                                ws="none", access_log=False, timeout_graceful_shutdown=1, log_config=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="m365-simulator", daemon=True)
        self._thread.start()
        self._wait_started()
        return self

    def _write_tls(self, folder: Path) -> tuple[Path, Path]:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = str(folder / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        leaf.private_key_pem.write_to_path(str(folder / "server.key"))
        leaf.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
        return folder / "server.key", folder / "server.pem"

    def _wait_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulated tenant failed to start")
            time.sleep(0.005)

    def _asgi(self, svc: Services) -> Any:
        app = Starlette(routes=[*control_routes(self), *service_routes(svc), *fallback_routes()])
        return LogMiddleware(FaultMiddleware(OpsMarkMiddleware(app, svc), lambda: self._wire),
                             self.request_log)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=0.3)
            if self._thread.is_alive():
                self._abort_connections()
            self._thread.join(timeout=5)
        self._server, self._thread = None, None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _abort_connections(self) -> None:
        """Clients keep TLS connections alive and never answer close_notify: cut them so stop is quick."""
        state = getattr(self._server, "server_state", None)
        for conn in list(getattr(state, "connections", ())):
            loop, transport = getattr(conn, "loop", None), getattr(conn, "transport", None)
            if loop is None or transport is None:
                continue
            try:
                loop.call_soon_threadsafe(transport.abort)
            except RuntimeError:  # the loop closed meanwhile: the server is down already
                return

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------------
    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the simulated tenant is not started")
        return self._services

    @property
    def state(self) -> Tenant:
        return self.services.state

    @property
    def log(self) -> list[dict[str, Any]]:
        return self.request_log.entries()

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def _build(self, scenario: Scenario) -> Tenant:
        return build_scenario(scenario.users, scenario.breaks, scenario.switches)

    def apply_scenario(self, scenario: Any) -> Tenant:
        """Replace the tenant and the wire faults; clears the request log."""
        chosen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        running = self._scenario.cloud
        if self._services is not None and chosen.cloud != running:
            if isinstance(scenario, Mapping) and "cloud" not in scenario:
                chosen = dataclasses.replace(chosen, cloud=running)  # a scenario without one keeps it
            else:
                raise ValueError(f"the simulator runs in the {running} cloud; its cloud is chosen when it "
                                 "starts")
        tenant = self._build(chosen)
        wire = parse_wire(chosen.wire)
        self._scenario = chosen
        self.services.replace_state(tenant)
        self._wire = wire
        self.request_log.clear()
        return tenant

    def reset(self, users: int | None = None, breaks: Iterable[str] = (),
              wire: Mapping[str, Any] | None = None) -> Tenant:
        """A fresh tenant (same credentials, so a written config stays valid), no faults, empty log."""
        count = self._scenario.users if users is None else users
        wanted = {"users": count, "break": list(breaks), "wire": dict(wire) if wire else None}
        return self.apply_scenario(wanted)

    def set_faults(self, wire: Mapping[str, Any] | None) -> None:
        self._wire = parse_wire(wire)

    def clear_log(self) -> None:
        self.request_log.clear()

    def write_config(self, path: str | Path) -> Path:
        """The agent's connector config pointing at this tenant, secrets in files next to it."""
        return write_connector_config(Path(path), self.state, self.base_url, self.ca_path,
                                      cloud=self._scenario.cloud)
