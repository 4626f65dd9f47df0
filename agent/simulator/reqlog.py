"""The simulator's request log: what was called, how it was answered, and whether it wrote."""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.simulator.core import Services, service_of
from agent.simulator.fault_rules import BEFORE_DROP_KEY, RAW_SEND_KEY
from agent.simulator.faults import FAULT_SCOPE_KEY

CSOM_CALLS_KEY = "sim.csom_calls"  # set by sharepoint_csom: the calls a ProcessQuery asked for

OPS_START_KEY, OPS_END_KEY = "sim.ops_start", "sim.ops_end"


class RequestLog:
    """Entries {seq, method, path, query, status, service, wrote, ops, duration_ms, fault, csom};
    thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]

    def clear(self) -> None:
        """Forget the entries; seq keeps counting so `since` cursors stay valid."""
        with self._lock:
            self._entries.clear()

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq


class OpsMarkMiddleware:
    """Innermost: notes the tenant's op count right before the handler and when it answers.

    Taking the marks here (after latency faults, around the handler only) keeps a concurrent
    request's writes out of this request's `ops` as far as possible.
    """

    def __init__(self, app: ASGIApp, svc: Services) -> None:
        self.app, self.svc = app, svc

    def _mark(self) -> tuple[int, int]:
        tenant = self.svc.state
        return id(tenant), len(tenant.ops)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[OPS_START_KEY] = self._mark()

        async def marking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope[OPS_END_KEY] = self._mark()
            await send(message)

        await self.app(scope, receive, marking_send)

    def ops_between(self, scope: Scope) -> list[str]:
        start, end = scope.get(OPS_START_KEY), scope.get(OPS_END_KEY) or self._mark()
        if start is None or start[0] != end[0] or end[0] != id(self.svc.state):
            return []  # the tenant was replaced meanwhile (reset): nothing attributable
        return list(self.svc.state.ops[start[1]:end[1]])


class LogMiddleware:
    """Outermost: records every non-control request, faulted ones included."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app, self.log = app, log
        self.marks = _find_marks(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or service_of(scope["path"]) == "control":
            await self.app(scope, receive, send)
            return
        scope[RAW_SEND_KEY] = send
        started, status, done = time.perf_counter(), [0], [False]

        def record() -> None:
            if not done[0]:
                done[0] = True
                self._record(scope, status[0], started)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                if status[0] in (204, 304) or scope["method"] == "HEAD":
                    record()  # no body follows: the client is done once it has the headers
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the client can see the end of the response: no race with log readers
            await send(message)

        scope[BEFORE_DROP_KEY] = record
        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            status[0] = status[0] or 500
            raise
        finally:
            record()

    def _record(self, scope: Scope, status: int, started: float) -> None:
        ops = self.marks.ops_between(scope) if self.marks is not None else []
        self.log.add({
            "method": scope["method"], "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"), "status": status,
            "service": service_of(scope["path"]), "wrote": bool(ops), "ops": ops,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "fault": scope.get(FAULT_SCOPE_KEY),
            "csom": scope.get(CSOM_CALLS_KEY) or [],  # the CSOM calls a ProcessQuery asked for
            "at": round(time.time(), 3),  # wall clock at the answer: lines up logs of several tenants
        })


def _find_marks(app: Any) -> OpsMarkMiddleware | None:
    """The OpsMarkMiddleware somewhere inside the middleware chain."""
    seen = 0
    while app is not None and seen < 10:
        if isinstance(app, OpsMarkMiddleware):
            return app
        app, seen = getattr(app, "app", None), seen + 1
    return None
