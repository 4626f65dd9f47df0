"""Wire faults of the simulated tenant: latency, throttling (Retry-After), 5xx and dropped connections
(stall, trickle, truncate, garbage and huge bodies are in faults_stream)."""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.simulator.core import request_ids, service_of
from agent.simulator.fault_rules import (
    SERVICES,
    FaultRule,
    check_keys,
    drop_connection,
    parse_int,
    parse_rule,
)
from agent.simulator.faults_stream import parse_stream

STREAM_KEYS = ("garbage", "huge", "stall", "trickle", "truncate")  # faults_stream.STREAM_KINDS
WIRE_KEYS = ("drop", "errors", "latency_ms", "seed", "throttle", *STREAM_KEYS)
FAULT_SCOPE_KEY = "sim.fault"  # the log middleware reads which fault answered
# EWS answers overload with an HTTP 500 ErrorServerBusy fault; the others throttle with 429.
THROTTLE_STATUS = {"graph": 429, "sharepoint": 429, "identity": 429, "ews": 500}


@dataclass
class WireFaults:
    """Every wire fault in force; swapped as a whole by the control plane."""

    latency_ms: dict[str, int] = field(default_factory=dict)  # service -> ms, "*" for all
    throttle: FaultRule | None = None
    errors: FaultRule | None = None
    drop: FaultRule | None = None
    seed: int = 0
    stream: list[Any] = field(default_factory=list)  # faults_stream.StreamRule, tried after the others
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def rules(self) -> list[FaultRule]:
        found = [r for r in (self.throttle, self.errors, self.drop) if r is not None]
        return found + [item.rule for item in self.stream]

    def latency_s(self, service: str) -> float:
        return self.latency_ms.get(service, self.latency_ms.get("*", 0)) / 1000.0

    def decide(self, service: str, path: str) -> tuple[str, FaultRule] | None:
        """The fault that answers this request, if any (drop, then throttle, then 5xx)."""
        for kind, rule in (("drop", self.drop), ("throttle", self.throttle), ("error", self.errors)):
            if rule is not None and rule.matches(service, path) and rule.fires(self.rng):
                return kind, rule
        return None

    def action_error(self, service: str, path: str) -> FaultRule | None:
        """The `errors` rule when it fires for one action inside a request (a CSOM ProcessQuery batch
        runs many), so a fault can hit one site of a batch; throttle/drop/latency stay per request."""
        rule = self.errors
        if rule is not None and rule.matches(service, path) and rule.fires(self.rng):
            return rule
        return None


# -- parsing (scenario `wire:` and POST /_sim/faults) ---------------------------------------------

def parse_wire(data: Mapping[str, Any] | None, where: str = "wire") -> WireFaults | None:
    """Validate a `wire:` mapping; ValueError names the bad key. None or {} means no faults."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    check_keys(data, WIRE_KEYS, where)
    if not data:
        return None
    return WireFaults(stream=parse_stream(data, where),
                      latency_ms=_parse_latency(data.get("latency_ms"), f"{where}.latency_ms"),
                      throttle=parse_rule(data.get("throttle"), f"{where}.throttle", "throttle"),
                      errors=parse_rule(data.get("errors"), f"{where}.errors", "errors"),
                      drop=parse_rule(data.get("drop"), f"{where}.drop", "drop"),
                      seed=parse_int(data.get("seed", 0), f"{where}.seed"))


def _parse_latency(value: Any, where: str) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        for key in value:
            if key not in (*SERVICES, "*"):
                raise ValueError(f"{where}: unknown service {key!r} (valid: {', '.join(SERVICES)}, *)")
        return {str(k): parse_int(v, f"{where}.{k}") for k, v in value.items()}
    return {"*": parse_int(value, where)}


# -- responses shaped like Microsoft's -------------------------------------------------------------

def _retry_headers(rule: FaultRule) -> dict[str, str]:
    return {} if rule.retry_after_s is None else {"Retry-After": str(round(rule.retry_after_s))}


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(json.dumps(body), status, headers=headers, media_type="application/json")


def _aad_body(code: int, error: str, text: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    return {"error": error, "error_codes": [code], "timestamp": now, "trace_id": trace,
            "correlation_id": corr, "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\n"
                                 f"Timestamp: {now}"}


def _sp_body(code: str, text: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": {"lang": "en-US", "value": text}}}


SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
EWS_TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"
EWS_ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"


def _soap_fault(code: str, text: str, back_off_ms: int | None) -> str:
    """An EWS SOAP fault; ErrorServerBusy carries BackOffMilliseconds as Exchange Online sends it."""
    extra = ("" if back_off_ms is None else f'<t:MessageXml xmlns:t="{EWS_TYPES}"><t:Value '
             f'Name="BackOffMilliseconds">{back_off_ms}</t:Value></t:MessageXml>')
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{EWS_TYPES}">a:{code}</faultcode><faultstring xml:lang="en-US">{text}'
            f'</faultstring><detail><e:ResponseCode xmlns:e="{EWS_ERRORS}">{code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{EWS_ERRORS}">{text}</e:Message>{extra}</detail></s:Fault></s:Body>'
            '</s:Envelope>')


def throttle_response(service: str, rule: FaultRule) -> Response:
    status = rule.status or THROTTLE_STATUS.get(service, 429)
    headers = _retry_headers(rule)
    if service == "graph":
        inner = {"code": "throttledRequest", **request_ids()}
        return _json(status, {"error": {"code": "activityLimitReached", "message":
                                        "The request has been throttled", "innerError": inner}}, headers)
    if service == "sharepoint":
        # https://learn.microsoft.com/en-us/sharepoint/dev/general-development/
        # how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online: 429 or 503 with Retry-After is
        # all that is documented. No body is sent (the stricter choice):
        # SPQueryThrottledException is the list view threshold error (HTTP 500), not rate limiting.
        return Response(b"", status, headers=headers)
    if service == "ews":
        return ews_server_busy(status, rule, headers)
    return _json(status, _aad_body(90055, "temporarily_unavailable", "There are too many incoming "
                                   "requests. This exception is thrown for blocked tenants."), headers)


def ews_server_busy(status: int, rule: FaultRule, headers: dict[str, str]) -> Response:
    """EWS throttling: ErrorServerBusy in an HTTP 500 SOAP fault whose BackOffMilliseconds is the wait
    (office-developer-exchange-docs docs/exchange-web-services/ews-throttling-in-exchange.md). An HTTP 503
    is IIS or http.sys refusing before EWS runs: a bare status with Retry-After and no SOAP body."""
    if status == 503:
        return Response(b"Service Unavailable", 503, headers=headers, media_type="text/html")
    back_off = int((rule.retry_after_s if rule.retry_after_s is not None else 1.0) * 1000)
    text = "The server cannot service this request right now. Try again later."
    return Response(_soap_fault("ErrorServerBusy", text, back_off), status,
                    media_type="text/xml; charset=utf-8")


def error_response(service: str, rule: FaultRule) -> Response:
    status = rule.status or 503
    headers = _retry_headers(rule) if status == 503 else {}
    if service == "graph":
        code, text = {500: ("generalException", "An unspecified error occurred."),
                      504: ("UnknownError", "Gateway Timeout")}.get(
            status, ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."))
        return _json(status, {"error": {"code": code, "message": text, "innerError": request_ids()}}, headers)
    if service == "sharepoint":
        return _json(status, _sp_body("-2146232832, Microsoft.SharePoint.SPException",
                                      "The server is busy. Please try again later."), headers)
    if service == "ews":
        if status == 503:
            return ews_server_busy(503, rule, headers)
        text = "An internal server error occurred. The operation failed."
        return Response(_soap_fault("ErrorInternalServerError", text, None), status,
                        media_type="text/xml; charset=utf-8")
    return _json(status, _aad_body(90033, "temporarily_unavailable",
                                   "A transient error has occurred. Please try again."), headers)


# -- the middleware --------------------------------------------------------------------------------

class FaultMiddleware:
    """Applies the current WireFaults to every request except the control plane (/_sim/)."""

    def __init__(self, app: ASGIApp, faults: Callable[[], WireFaults | None]) -> None:
        self.app, self.faults = app, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wire = self.faults() if scope["type"] == "http" else None
        service = service_of(scope.get("path", "")) if wire is not None else "control"
        if wire is None or service == "control":
            await self.app(scope, receive, send)
            return
        delay = wire.latency_s(service)
        if delay > 0:
            await asyncio.sleep(delay)
        decision = wire.decide(service, scope["path"])
        if decision is None:
            from agent.simulator.faults_stream import answer, decide_stream

            stream = decide_stream(wire.stream, service, scope["path"], wire.rng)
            if stream is not None:
                scope[FAULT_SCOPE_KEY] = stream.kind
                await answer(stream, service, scope, receive, send)
                return
            await self.app(scope, receive, send)
            for rule in wire.rules():  # e.g. a fault that waits for a write to have been made
                rule.answered(scope["path"])
            return
        kind, rule = decision
        scope[FAULT_SCOPE_KEY] = kind
        if kind == "drop":
            await drop_connection(scope, send)
            return
        response = throttle_response(service, rule) if kind == "throttle" else error_response(service, rule)
        await response(scope, receive, send)
