"""Simulated SharePoint REST (`_api`) for the tenant root, /sites/{name} and /personal/{name} webs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.simulator.core import Services
from agent.simulator.sharepoint import admin, csom, web
from agent.simulator.sharepoint.auth import (
    BadRequest,
    Denied,
    SpCall,
    Unauthorized,
    authenticate,
    can_manage,
    can_read,
    unauthorized_response,
)
from agent.simulator.sharepoint.wire import ACCESS_DENIED, BAD_QUERY_CODE, Wire
from agent.simulator.state.tenant import SimError

Handler = Callable[[SpCall], Response]
_USER_KEY = r"web/(?:siteusers\((?P<arg>[^)]*)\)|(?:siteusers/getbyid|getuserbyid)\((?P<id>\d+)\)" \
            r"|siteusers/(?P<by>getbyloginname|getbyemail)\((?P<arg2>.*)\))"


@dataclass(frozen=True)
class Op:
    """One REST operation: methods, the path after `_api/`, who may call it, and its handler.

    access: `auth` any authenticated caller; `read` read on the web; `manage` site admin / Full Control
    (Sites.FullControl.All for apps); `tenant` SPSiteManager, which checks rights itself.
    """

    methods: frozenset[str]
    pattern: re.Pattern[str]
    access: str
    handler: Handler


def _op(methods: str, pattern: str, access: str, handler: Handler) -> Op:
    return Op(frozenset(methods.split()), re.compile(pattern, re.IGNORECASE), access, handler)


_PRINCIPAL_KEY = r"web/roleassignments/getbyprincipalid\('?(?P<pid>\d+)'?\)"
OPS: tuple[Op, ...] = (
    _op("POST", r"contextinfo", "read", web.context_info),
    _op("GET", r"web", "read", web.web),
    _op("GET", r"site", "read", web.site),
    _op("GET", r"site/owner", "read", web.site_owner),
    _op("GET", r"web/effectivebasepermissions", "auth", web.effective_base_permissions),
    _op("GET POST", r"web/getusereffectivepermissions\((?P<arg>.*)\)", "manage",
        web.user_effective_permissions),
    _op("GET", r"web/siteusers", "read", web.site_users),
    _op("GET", _USER_KEY, "read", web.site_user),
    _op("MERGE PATCH", _USER_KEY, "manage", web.site_user),
    _op("POST", r"web/ensureuser(?:\((?P<arg>.*)\))?", "manage", web.ensure_user),
    _op("GET", r"web/roleassignments", "read", web.role_assignments),
    # set-custom-permissions-on-a-list-by-using-the-rest-interface.md: the id quoted or not, and the
    # assignment removed by POST + X-HTTP-Method: DELETE
    _op("GET", _PRINCIPAL_KEY, "read", web.role_assignments),
    _op("DELETE", _PRINCIPAL_KEY, "manage", web.delete_role_assignment),
    _op("POST", r"web/roleassignments/addroleassignment\(principalid=(?P<pid>\d+),"
        r"\s*roledefid=(?P<rid>\d+)\)", "manage", web.add_role_assignment),
    _op("POST", r"web/roleassignments/removeroleassignment\(principalid=(?P<pid>\d+)"
        r"(?:,\s*roledefid=(?P<rid>\d+))?\)", "manage", web.remove_role_assignment),
    _op("GET", r"web/roledefinitions", "read", web.role_definitions),
    _op("GET", r"web/roledefinitions(?:/(?P<by>getbytype|getbyid|getbyname))?\((?P<arg>[^)]*)\)"
        r"(?:/(?P<prop>\w+))?", "read", web.role_definition),
    _op("POST", r"spsitemanager/create", "tenant", admin.create),
    _op("GET", r"spsitemanager/status", "tenant", admin.status),
    _op("POST", r"spsitemanager/delete", "tenant", admin.delete),
)


def routes(svc: Services) -> list[BaseRoute]:
    """One catch-all per web kind (the op table does the case-insensitive rest), and tenant CSOM, which the
    admin host serves: the simulator's one origin is that host too."""
    api = _SharePointApi(svc)
    return [_ci_route(csom.PATH, csom.endpoint(svc), ("POST",)),
            *(_ci_route(path, api.handle) for path in
              ("/sites/{name}/_api/{rest:path}", "/personal/{name}/_api/{rest:path}", "/_api/{rest:path}"))]


def _ci_route(path: str, endpoint: Callable[[Request], Awaitable[Response]],
              methods: tuple[str, ...] = ("GET", "POST", "PATCH", "MERGE", "DELETE")) -> Route:
    route = Route(path, endpoint, methods=list(methods))
    route.path_regex = re.compile(route.path_regex.pattern, re.IGNORECASE)  # SharePoint URLs ignore case
    return route


class _SharePointApi:
    """Authenticate, find the operation and the site, check access, run, render SharePoint errors."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        web_path = path[: path.lower().index("/_api/")] if "/_api/" in path.lower() else ""
        wire = Wire.from_accept(request.headers.get("accept", ""), f"{self.svc.base_url}{web_path}/_api")
        try:
            caller = authenticate(self.svc, request)
        except Unauthorized as exc:
            return unauthorized_response(self.svc, exc)
        tenant = self.svc.state
        try:
            op, found = _find_op(request.path_params["rest"].strip("/"), _effective_method(request))
            call = SpCall(self.svc, tenant, request, caller, wire, web_path, found, await request.body())
            if op.access != "tenant":
                call.site = tenant.site(web_path)  # O(1): sites are keyed by lower-case path
                _check_access(call, op.access)
            return op.handler(call)
        except SimError as exc:
            return wire.error(exc.status, exc.code, exc.message)
        except BadRequest as exc:
            return wire.error(400, exc.code, exc.message)
        except Denied:
            return wire.error(403, *ACCESS_DENIED)


def _find_op(rest: str, method: str) -> tuple[Op, re.Match[str]]:
    for op in OPS:
        found = op.pattern.fullmatch(rest)
        if found is not None and method in op.methods:
            return op, found
    raise SimError(404, BAD_QUERY_CODE, f"Cannot find resource for the request {rest}.")


def _effective_method(request: Request) -> str:
    override = request.headers.get("x-http-method", "").upper()
    return override if request.method == "POST" and override else request.method


def _check_access(call: SpCall, access: str) -> None:
    site = call.need_site()
    if access == "read" and not can_read(site, call.caller):
        raise Denied()
    if access == "manage" and not can_manage(call.tenant, site, call.caller):
        raise Denied()
