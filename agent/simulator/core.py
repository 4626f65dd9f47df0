"""What every service module of the simulated tenant receives, and small helpers they share."""

from __future__ import annotations

import datetime
import email.utils
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Protocol

from starlette.requests import Request
from starlette.routing import BaseRoute

from agent.simulator.identity.tokens import (
    EXCHANGE_AUDIENCE,
    GRAPH_AUDIENCE,
    TokenRejected,
    TokenService,
)
from agent.simulator.state.tenant import Tenant

__all__ = [
    "EXCHANGE_AUDIENCE",
    "GRAPH_AUDIENCE",
    "RouteFactory",
    "ServiceModule",
    "Services",
    "TokenRejected",
    "TokenService",
    "read_form",
    "request_ids",
    "service_of",
    "utc_now_iso",
]


class Services:
    """The simulator's shared parts, handed to each service module's `routes(svc)`."""

    def __init__(self, tenant: Tenant, tokens: TokenService, base_url: str,
                 faults: Callable[[], object] | None = None) -> None:
        self._tenant = tenant
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        # The current WireFaults (or None), for faults a handler applies itself (per CSOM action). Typed
        # loosely: faults.py imports this module, so naming WireFaults here would be an import cycle.
        self.faults = faults
        self.form_digests = FormDigests()

    @property
    def state(self) -> Tenant:
        """The CURRENT tenant: reset and apply-scenario replace it, so never keep a reference."""
        return self._tenant

    def replace_state(self, tenant: Tenant) -> None:
        self._tenant = tenant

    @property
    def sharepoint_audience(self) -> str:
        """The SharePoint resource: sharepoint_root equals the base URL in the simulator."""
        return self.base_url


class FormDigests:
    """The X-RequestDigest values contextinfo handed out, until they expire (FormDigestTimeoutSeconds)."""

    TIMEOUT_S = 1800

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expires: dict[str, float] = {}

    def issue(self) -> str:
        value = f"0x{secrets.token_hex(64).upper()},{email.utils.formatdate(time.time(), usegmt=True)}"
        with self._lock:
            now = time.monotonic()
            self._expires = {d: t for d, t in self._expires.items() if t > now}  # forget expired ones
            self._expires[value] = now + self.TIMEOUT_S
        return value

    def valid(self, value: str) -> bool:
        with self._lock:
            return self._expires.get(value.strip(), 0.0) > time.monotonic()


RouteFactory = Callable[[Services], list[BaseRoute]]


class ServiceModule(Protocol):
    """A wire-format module (identity, graph, ews, sharepoint) exposes this."""

    def routes(self, svc: Services) -> list[BaseRoute]: ...


def service_of(path: str) -> str:
    """Which simulated host a path belongs to: identity, graph, ews, sharepoint or control."""
    low = path.lower()
    if low.startswith("/_sim/") or low == "/_sim":
        return "control"
    if low.startswith("/v1.0/") or low.startswith("/beta/") or low in ("/v1.0", "/beta"):
        return "graph"
    if low.startswith("/ews/") or low.startswith("/onprem/ews/"):
        return "ews"
    if low.startswith(("/_api", "/sites/", "/personal/", "/_vti_bin/", "/_layouts/")):
        return "sharepoint"
    return "identity"


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded form body without python-multipart (Starlette's request.form() needs it)."""
    body = (await request.body()).decode("utf-8", "replace")
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


def request_ids(request: Request | None = None) -> dict[str, str]:
    """Graph-style innerError ids; echoes the caller's client-request-id when it sent one."""
    rid = str(uuid.uuid4())
    client = request.headers.get("client-request-id", rid) if request is not None else rid
    return {"date": utc_now_iso(), "request-id": rid, "client-request-id": client}


def utc_now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
