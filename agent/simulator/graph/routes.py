"""Microsoft Graph v1.0 of the simulated tenant: bearer check, routing to the handlers, $batch."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agent.simulator.core import Services, TokenRejected
from agent.simulator.graph import (
    apps as graph_apps,
)
from agent.simulator.graph import (
    apps_create as graph_apps_create,
)
from agent.simulator.graph import (
    apps_keys as graph_apps_keys,
)
from agent.simulator.graph import (
    directory as graph_directory,
)
from agent.simulator.graph import (
    memberships as graph_memberships,
)
from agent.simulator.graph import (
    policies as graph_policies,
)
from agent.simulator.graph import (
    sites as graph_sites,
)
from agent.simulator.graph import (
    sps as graph_sps,
)
from agent.simulator.graph import (
    tenant as graph_tenant,
)
from agent.simulator.graph.odata import (
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    Router,
    check_needs,
    check_query,
    error_body,
    new_request_id,
    split_path,
)
from agent.simulator.state.tenant import GRAPH_APP_ID, SimError

log = logging.getLogger(__name__)

ROUTES: list[GraphRoute] = [*graph_apps_create.ROUTES, *graph_apps_keys.ROUTES, *graph_apps.ROUTES,
                            *graph_sps.ROUTES, *graph_directory.ROUTES, *graph_policies.ROUTES,
                            *graph_sites.ROUTES, *graph_memberships.ROUTES, *graph_tenant.ROUTES]
BATCH_PATH = "$batch"
MAX_BATCH = 20
ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
              "charset=utf-8")
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_ROUTER = Router(ROUTES)


def routes(svc: Services) -> list[BaseRoute]:
    api = GraphApi(svc)
    return [Route("/v1.0/{rest:path}", api.endpoint, methods=METHODS),
            Route("/v1.0", api.endpoint, methods=METHODS)]


class GraphApi:
    """Turns HTTP requests into GraphRequests, and Replies or errors into Graph's wire format."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def endpoint(self, request: Request) -> Response:
        request_id = new_request_id()
        client_request_id = request.headers.get("client-request-id") or request_id
        try:
            claims = self.svc.tokens.validate(request.headers.get("authorization"),
                                              self.svc.tokens.graph_audience)
            body = _json_payload(await request.body())
            # scope["path"] is already percent-decoded (sites/{host}:/{path} keys arrive with %2F).
            path = str(request.scope["path"]).removeprefix("/v1.0").lstrip("/")
            headers = {**dict(request.headers), "client-request-id": client_request_id}
            reply = self.dispatch(request.method, path, dict(request.query_params), body, claims, headers)
        except TokenRejected as exc:
            reply = self.unauthorized(exc)
        except GraphError as exc:
            reply = error_reply(exc)
        except Exception:  # a simulator bug: answer as Graph does, keep the traceback in the log
            log.exception("graph handler failed")
            reply = Reply(500, {"error": {"code": "generalException",
                                          "message": "An unspecified error occurred."}})
        return render(reply, request_id, client_request_id)

    def unauthorized(self, exc: TokenRejected) -> Reply:
        challenge = (f'Bearer realm="", authorization_uri="{self.svc.base_url}/common/oauth2/authorize", '
                     f'client_id="{GRAPH_APP_ID}"')
        return Reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": exc.reason}},
                     {"WWW-Authenticate": challenge})

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any, claims: JSON,
                 headers: dict[str, str] | None = None) -> Reply:
        """Run one authenticated call; GraphError escapes for the caller to render."""
        headers = headers or {}
        if path == BATCH_PATH and method == "POST":
            return self.batch(body, claims, headers.get("client-request-id", ""))
        route, params = _ROUTER.match(method, split_path(path))
        req = GraphRequest(method, path, query, body, claims, self.svc.state, self.svc.base_url, params,
                           headers, route.entity)
        check_needs(req, route)
        check_query(req)
        try:
            return route.handler(req)
        except SimError as exc:
            raise GraphError(exc.status, exc.code, exc.message) from None

    # -- $batch ------------------------------------------------------------------------------------
    def batch(self, body: Any, claims: JSON, client_request_id: str) -> Reply:
        """JSON batching: up to 20 requests run in order with the caller's token; dependsOn gives 424.

        https://learn.microsoft.com/en-us/graph/json-batching. Inner error bodies carry the caller's
        client-request-id in innerError, as the docs' example response shows.
        """
        items = _batch_items(body)
        statuses: dict[str, int] = {}
        responses = []
        for item in items:
            deps = [str(d) for d in item.get("dependsOn") or item.get("depends_on") or []]
            if any(statuses[d] >= 400 for d in deps):
                inner = Reply(424, {"error": {"code": "FailedDependency", "message": "Failed dependency"}})
            else:
                inner = self.run_inner(item, claims)
            statuses[str(item["id"])] = inner.status
            responses.append(_inner_response(str(item["id"]), inner, client_request_id))
        return Reply(200, {"responses": responses})

    def run_inner(self, item: JSON, claims: JSON) -> Reply:
        parts = urlsplit(str(item["url"]))
        path = unquote(parts.path).lstrip("/")
        path = path[len("v1.0/"):] if path.lower().startswith("v1.0/") else path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == BATCH_PATH:
            return error_reply(GraphError(400, "BadRequest", "Nested batch requests are not supported."))
        try:
            return self.dispatch(str(item["method"]).upper(), path, query, _inner_body(item), claims,
                                 _inner_headers(item))
        except GraphError as exc:
            return error_reply(exc)


def error_reply(exc: GraphError) -> Reply:
    return Reply(exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers)


def _batch_items(body: Any) -> list[JSON]:
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise GraphError(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > MAX_BATCH:
        raise GraphError(400, "BadRequest", f"The batch request exceeds the limit of {MAX_BATCH} requests.")
    seen: set[str] = set()
    for item in requests:
        if not all(item.get(k) for k in ("id", "method", "url")):
            raise GraphError(400, "BadRequest", "Each batch request needs an id, a method and a url.")
        rid = str(item["id"])
        if rid in seen:
            raise GraphError(400, "BadRequest", f"Batch request contains duplicate id '{rid}'.")
        deps = item.get("dependsOn") or item.get("depends_on") or []
        if any(str(d) not in seen for d in deps):
            raise GraphError(400, "BadRequest", f"Request '{rid}' depends on a request that does not "
                             "precede it in the batch.")
        _check_write_headers(item, rid)
        seen.add(rid)
    return requests


WRITE_METHODS = {"POST", "PATCH", "PUT"}


def _check_write_headers(item: JSON, rid: str) -> None:
    """A body needs a Content-Type header (json-batching.md: "the headers object must contain a value for
    Content-Type"). Where the refusal lands is not documented: Graph is observed to fail the whole batch
    with 400 (Softeria/ms-365-mcp-server#683, wording from microsoftgraph/msgraph-sdk-dotnet#2628), and a
    write with neither header nor body likewise, so the stricter whole-batch 400 is what is answered."""
    has_type = any(k.lower() == "content-type" for k in _inner_headers(item))
    if has_type or ("body" not in item and str(item["method"]).upper() not in WRITE_METHODS):
        return
    raise GraphError(400, "BadRequest",
                     f"Write request id : {rid} does not contain Content-Type header or body.")


def _inner_headers(item: JSON) -> dict[str, str]:
    headers = item.get("headers")
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


def _inner_body(item: JSON) -> Any:
    body = item.get("body")
    if isinstance(body, str):  # a non-object body travels base64-encoded
        try:
            return json.loads(base64.b64decode(body))
        except (binascii.Error, ValueError) as exc:
            raise GraphError(400, "BadRequest", "Invalid request body in batch request.") from exc
    return body


def _inner_response(rid: str, reply: Reply, client_request_id: str) -> JSON:
    headers = {"Cache-Control": "no-cache", **reply.headers}
    out: JSON = {"id": rid, "status": reply.status, "headers": headers}
    body = _with_inner_error(reply, new_request_id(), client_request_id)
    if reply.text is not None:
        out["body"] = reply.text
    elif body is not None and reply.status < 400:
        # As the json-batching.md example shows for successful inner responses.
        headers.update({"OData-Version": "4.0", "Content-Type": ODATA_JSON})
        out["body"] = body
    elif body is not None:
        headers["Content-Type"] = "application/json"
        out["body"] = body
    return out


def _with_inner_error(reply: Reply, request_id: str, client_request_id: str) -> JSON | None:
    """Error bodies get Graph's innerError (date, request-id, client-request-id)."""
    body = reply.body
    if body is not None and reply.status >= 400 and "error" in body:
        err = body["error"]
        return error_body(err["code"], err["message"], request_id, client_request_id)
    return body


def _json_payload(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                         "header is set and payload is of valid JSON format.") from exc


def render(reply: Reply, request_id: str, client_request_id: str) -> Response:
    headers = {**reply.headers, "request-id": request_id, "client-request-id": client_request_id}
    if reply.text is not None:
        return Response(reply.text, status_code=reply.status, headers=headers)
    body = _with_inner_error(reply, request_id, client_request_id)
    if body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(body, status_code=reply.status, headers=headers)
