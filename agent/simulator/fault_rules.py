"""What every wire fault of the simulated tenant is made of: when it fires (a FaultRule, parsed and checked
here) and how a connection is dropped; the faults themselves are in faults and faults_stream."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope, Send

SERVICES = ("identity", "graph", "ews", "sharepoint")
RULE_KEYS = ("after", "first", "path", "rate", "retry_after_s", "services", "status")
RAW_SEND_KEY = "sim.raw_send"  # the server's own send callable, needed to drop a connection
BEFORE_DROP_KEY = "sim.before_drop"  # the log records a dropped request before the client sees the drop


@dataclass
class FaultRule:
    """When one kind of fault fires: the first N matching requests and/or a random rate."""

    rate: float = 0.0
    first: int = 0
    services: tuple[str, ...] = ()  # empty: every service
    path: re.Pattern[str] | None = None  # searched in the request path
    retry_after_s: float | None = None
    status: int | None = None
    seen: int = 0
    after: re.Pattern[str] | None = None  # armed only once a request on a matching path was answered
    armed: bool = True

    def __post_init__(self) -> None:
        self.armed = self.after is None

    def matches(self, service: str, path: str) -> bool:
        if not self.armed or (self.services and service not in self.services):
            return False
        return self.path is None or self.path.search(path) is not None

    def answered(self, path: str) -> None:
        """A request on `path` got its real answer: a rule waiting for it (`after`) fires from now on."""
        if not self.armed and self.after is not None and self.after.search(path) is not None:
            self.armed = True

    def fires(self, rng: random.Random) -> bool:
        self.seen += 1
        return self.seen <= self.first or (self.rate > 0 and rng.random() < self.rate)


def check_keys(data: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in valid:
            raise ValueError(f"{where}: unknown key {key!r} (valid: {', '.join(valid)})")


def parse_int(value: Any, where: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}: expected an integer >= {low}, got {value!r}")
    return value


def parse_rule(value: Any, where: str, kind: str) -> FaultRule | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
    check_keys(value, RULE_KEYS, where)
    rate = value.get("rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError(f"{where}.rate: expected a number between 0 and 1, got {rate!r}")
    retry = value.get("retry_after_s", 1 if kind == "throttle" else None)
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int | float) or retry < 0):
        raise ValueError(f"{where}.retry_after_s: expected seconds >= 0, got {retry!r}")
    return FaultRule(rate=float(rate), first=parse_int(value.get("first", 0), f"{where}.first"),
                     services=_parse_services(value.get("services"), f"{where}.services"),
                     path=_parse_path(value.get("path"), f"{where}.path"), retry_after_s=retry,
                     status=_parse_status(value.get("status"), f"{where}.status", kind),
                     after=_parse_path(value.get("after"), f"{where}.after"))


def _parse_services(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"{where}: expected a list of services")
    for item in items:
        if item not in SERVICES:
            raise ValueError(f"{where}: unknown service {item!r} (valid: {', '.join(SERVICES)})")
    return tuple(items)


def _parse_path(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise ValueError(f"{where}: not a valid regular expression: {exc}") from None


def _parse_status(value: Any, where: str, kind: str) -> int | None:
    if value is None or kind == "drop":
        return None
    valid = (429, 503) if kind == "throttle" else (500, 502, 503, 504)
    if value not in valid:
        raise ValueError(f"{where}: expected one of {', '.join(map(str, valid))}, got {value!r}")
    return int(value)


async def drop_connection(scope: Scope, send: Send) -> None:
    """Close the TCP connection without any response, as a reset by a load balancer looks."""
    cycle = getattr(scope.get(RAW_SEND_KEY, send), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:  # not uvicorn's h11 cycle: the nearest thing is an aborted request
        raise ConnectionAbortedError("simulated dropped connection")
    before = scope.get(BEFORE_DROP_KEY)
    if callable(before):
        before()
    transport.abort()
    # Tell uvicorn the peer is gone so it does not try to write a 500 on the dead socket.
    cycle.disconnected = True
