"""Tenant-level CSOM on the admin host: POST /_vti_bin/client.svc/ProcessQuery running Tenant.SetSiteAdmin."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.simulator.core import Services
from agent.simulator.faults import WireFaults
from agent.simulator.reqlog import CSOM_CALLS_KEY
from agent.simulator.sharepoint.auth import (
    FULL_CONTROL_ROLE,
    SpCaller,
    Unauthorized,
    authenticate,
    unauthorized_response,
)
from agent.simulator.sharepoint.csom_query import Action, InvalidQuery, SetSiteAdmin, parse_request
from agent.simulator.state.tenant import SimError, Tenant

PATH = "/_vti_bin/client.svc/ProcessQuery"
MEDIA_TYPE = "application/json; charset=utf-8"
SCHEMA_VERSION, LIBRARY_VERSION = "15.0.0.0", "16.0.0.0"
INVALID_QUERY = (-2146233088, "Microsoft.SharePoint.Client.InvalidClientQueryException")
ACCESS_DENIED = (-2147024891, "System.UnauthorizedAccessException",
                 "Access denied. You do not have permission to perform this action or access this resource.")
ARGUMENT = (-2147024809, "System.ArgumentException")
SECURITY_VALIDATION = (-2130575251, "Microsoft.SharePoint.SPException",
                       "The security validation for this page is invalid and might be corrupted. Please use "
                       "your web browser's Back button to try your operation again.")
WEB_EXCEPTION = (-2146233079, "System.Net.WebException")
NO_SITE = "Microsoft.Online.SharePoint.Common.SpoNoSiteException"
# How .NET's WebException names a status: "The remote server returned an error: (503) Server Unavailable."
STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Server Unavailable",
               504: "Gateway Timeout"}


class ServerError(Exception):
    """A server-side exception of one action: caught by its scope, or it ends the query."""

    def __init__(self, code: int, type_name: str, message: str) -> None:
        super().__init__(message)
        self.code, self.type_name, self.message = code, type_name, message

    @classmethod
    def of(cls, exc: SimError) -> ServerError:
        """From the state's SimError, whose code reads "-2147024894, System.IO.FileNotFoundException"."""
        number, _, type_name = exc.code.partition(", ")
        return cls(int(number), type_name, exc.message)


def endpoint(svc: Services) -> Callable[[Request], Awaitable[Response]]:
    async def process_query(request: Request) -> Response:
        return await _process_query(svc, request)
    return process_query


async def _process_query(svc: Services, request: Request) -> Response:
    """Token (as the REST routes), tenant-admin check, the whole body parsed, then each action in order."""
    trace = str(uuid.uuid4())
    try:
        caller = authenticate(svc, request)
    except Unauthorized as exc:
        return unauthorized_response(svc, exc)
    if not _tenant_admin(caller):
        return _failed(trace, 403, ServerError(*ACCESS_DENIED))
    digest = request.headers.get("x-requestdigest")
    if digest is not None and not svc.form_digests.valid(digest):
        # a bearer token needs no digest, but one that is sent must be current (from contextinfo)
        return _failed(trace, 403, ServerError(*SECURITY_VALIDATION))
    try:
        actions = parse_request(await request.body())
    except InvalidQuery as exc:
        return _failed(trace, 400, ServerError(*INVALID_QUERY, str(exc)))
    request.scope[CSOM_CALLS_KEY] = _calls(actions)  # the request log shows what each query asked for
    run = _Run(svc.state, _current_faults(svc))
    try:
        for action in actions:
            run.action(action)
    except ServerError as exc:
        return _failed(trace, 200, exc)  # CSOM is not transactional: the actions before it stay applied
    return _answer(trace, 200, None, run.out)


def _calls(actions: Iterable[Action]) -> list[str]:
    """`SetSiteAdmin <site path> <true|false>` per call asked for, scopes flattened, in request order."""
    calls: list[str] = []
    for action in actions:
        if action.call is not None:
            calls.append(f"SetSiteAdmin {_site_path(action.call.site_url)} {str(action.call.value).lower()}")
        calls += _calls(action.inner)
    return calls


def _tenant_admin(caller: SpCaller) -> bool:
    """App-only with Sites.FullControl.All. The simulated directory has no admin roles (no SharePoint or
    Global administrators), so no delegated user can be a tenant admin here: every user is refused."""
    return caller.app_only and FULL_CONTROL_ROLE in caller.roles


def _current_faults(svc: Services) -> WireFaults | None:
    current = svc.faults() if svc.faults is not None else None
    return current if isinstance(current, WireFaults) else None


class _Run:
    """Runs actions against the tenant, collecting the (id, result) pairs of the response."""

    def __init__(self, tenant: Tenant, faults: WireFaults | None) -> None:
        self.tenant, self.faults = tenant, faults
        self.out: list[Any] = []

    def action(self, action: Action) -> None:
        if action.kind == "scope":
            self._scope(action)
            return
        if action.call is not None:
            self._set_site_admin(action.call)
        if action.kind == "path":
            self.out += (action.id, {"IsNull": False})

    def _scope(self, scope: Action) -> None:
        """ExceptionHandlingScopeSimple: an exception ends the scope, not the query."""
        try:
            for inner in scope.inner:
                self.action(inner)
        except ServerError as exc:
            self.out += (scope.id, {"HasException": True, "ErrorMessage": exc.message,
                                    "ServerErrorCode": exc.code, "ServerErrorValue": None,
                                    "ServerErrorTypeName": exc.type_name, "ServerStackTrace": None})
            return
        self.out += (scope.id, {"HasException": False})

    def _set_site_admin(self, call: SetSiteAdmin) -> None:
        path = _site_path(call.site_url)
        # The tenant service reaches each site's own farm: an `errors` fault can hit one site of a batch.
        rule = self.faults.action_error("sharepoint", path + PATH) if self.faults is not None else None
        if rule is not None:
            status = rule.status or 503
            raise ServerError(*WEB_EXCEPTION, f"The remote server returned an error: ({status}) "
                                              f"{STATUS_TEXT.get(status, 'Server Error')}.")
        site = self.tenant.find_site(path)
        if site is None:
            # Tenant APIs name a missing site collection with SpoNoSiteException, ErrorCode -1, "Cannot get
            # site <url>." No Microsoft page documents it; taken from pnp/cli-microsoft365 (spo siteExists
            # and its tests) and pnp/powershell's IsCannotGetSiteException, over the file-level error.
            raise ServerError(-1, NO_SITE, f"Cannot get site {call.site_url}.")
        try:
            self.tenant.set_site_admin_by_login(site, call.login, call.value)
        except SimError as exc:
            raise ServerError.of(exc) from None


def _site_path(url: str) -> str:
    """The server-relative path of an absolute site URL; the host is ignored (one origin serves all)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ServerError(*ARGUMENT, f"Invalid URL: {url}.")
    return urllib.parse.unquote(parts.path).rstrip("/")


def _failed(trace: str, status: int, exc: ServerError) -> Response:
    """The header alone, its ErrorInfo naming the exception."""
    info = {"ErrorMessage": exc.message, "ErrorValue": None, "TraceCorrelationId": trace,
            "ErrorCode": exc.code, "ErrorTypeName": exc.type_name}
    return _answer(trace, status, info, [])


def _answer(trace: str, status: int, error: dict[str, Any] | None, pairs: list[Any]) -> Response:
    header = {"SchemaVersion": SCHEMA_VERSION, "LibraryVersion": LIBRARY_VERSION, "ErrorInfo": error,
              "TraceCorrelationId": trace}
    return JSONResponse([header, *pairs], status_code=status, media_type=MEDIA_TYPE,
                        headers={"SPRequestGuid": trace, "request-id": trace})
