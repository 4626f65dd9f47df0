"""The simulator's control plane (/_sim/...) and the answer for paths no service knows."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agent.simulator.core import request_ids, service_of
from agent.simulator.state.tenant import Tenant

if TYPE_CHECKING:
    from agent.simulator.reqlog import RequestLog
    from agent.simulator.scenarios.load import Scenario


class Simulator(Protocol):
    """What the control plane drives (agent.simulator.server.Simulator), as tests and the CLI do."""

    request_log: RequestLog

    @property
    def state(self) -> Tenant: ...

    @property
    def scenario(self) -> Scenario: ...

    def apply_scenario(self, scenario: Any) -> Tenant: ...

    def reset(self, users: int | None = None, breaks: Iterable[str] = (),
              wire: Mapping[str, Any] | None = None) -> Tenant: ...

    def set_faults(self, wire: Mapping[str, Any] | None) -> None: ...

    def clear_log(self) -> None: ...

SECRET_FIELDS = {"password", "secret"}
PUBLIC_EXTRAS = ("admin_app_id", "connector_app_id", "public_client_id", "account_upn", "admin_upn",
                 "mfa_policy_id", "source_site", "target_site")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def dump_state(t: Tenant) -> dict[str, Any]:
    """The tenant as JSON-ready data, with passwords and client secrets left out."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(t):
        if f.name in ("extras", "_upn_index", "ops"):
            continue
        out[f.name] = _scrub(getattr(t, f.name))
    extras = {k: t.extras[k] for k in PUBLIC_EXTRAS if k in t.extras}
    for name in ("admin_cert", "connector_cert"):
        if name in t.extras:
            extras[f"{name}_thumbprint"] = t.extras[name].thumbprint
    out["extras"], out["ops_count"] = extras, len(t.ops)
    return out


def _scrub(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _scrub(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in SECRET_FIELDS}
    if isinstance(value, dict):
        return {str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, 400)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


class _ControlPlane:
    """Handlers of /_sim/*: they drive the Simulator as tests and the CLI do through its methods."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def _summary(self, tenant: Tenant) -> JSONResponse:
        return JSONResponse({"version": tenant.version, "users": len(tenant.users),
                             "breaks": list(self.sim.scenario.breaks)})

    async def reset(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object {users, break, wire}")
            unknown = set(body) - {"users", "break", "wire"}
            if unknown:
                raise ValueError(f"unknown key {sorted(unknown)[0]!r} (valid: break, users, wire)")
            tenant = await run_in_threadpool(self.sim.reset, body.get("users"), body.get("break") or (),
                                             body.get("wire"))
        except ValueError as exc:  # json.JSONDecodeError is one too
            return _bad(str(exc))
        return self._summary(tenant)

    async def scenario(self, request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        try:  # always text: a body is never taken for a file path on the server
            tenant = await run_in_threadpool(self.sim.apply_scenario, text if "\n" in text else text + "\n")
        except ValueError as exc:
            return _bad(str(exc))
        return self._summary(tenant)

    async def state(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(dump_state, self.sim.state))

    async def log(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.sim.clear_log()
            return Response(status_code=204)
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            return _bad("since: expected a sequence number")
        log = self.sim.request_log
        return JSONResponse({"entries": log.entries(int(since)), "last_seq": log.last_seq})

    async def faults(self, request: Request) -> Response:
        try:
            self.sim.set_faults(await _json_body(request) or None)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"ok": True})


def control_routes(sim: Simulator) -> list[BaseRoute]:
    plane = _ControlPlane(sim)
    return [Route("/_sim/reset", plane.reset, methods=["POST"]),
            Route("/_sim/scenario", plane.scenario, methods=["POST"]),
            Route("/_sim/state", plane.state, methods=["GET"]),
            Route("/_sim/log", plane.log, methods=["GET", "DELETE"]),
            Route("/_sim/faults", plane.faults, methods=["POST"])]


async def _not_found(request: Request) -> Response:
    """A 404 in the wire format of the service the path belongs to (never Starlette's plain text)."""
    service, path = service_of(request.url.path), request.url.path
    if service == "graph":
        segment = path.split("/")[2] if path.count("/") >= 2 else ""
        return JSONResponse({"error": {"code": "BadRequest", "message": f"Resource not found for the segment "
                                       f"'{segment}'.", "innerError": request_ids(request)}}, 400)
    if service == "sharepoint":
        return JSONResponse({"error": {"code": "-2147024894, System.IO.FileNotFoundException",
                                       "message": {"lang": "en-US", "value": "File Not Found."}}}, 404)
    if service == "control":
        return _bad(f"unknown control endpoint {path}")
    return Response("<h2>404 - File or directory not found.</h2>", 404, media_type="text/html")


def fallback_routes() -> list[BaseRoute]:
    return [Route("/{path:path}", _not_found, methods=ALL_METHODS)]
