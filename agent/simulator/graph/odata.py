"""Graph v1.0 wire plumbing: request and reply types, routing, permission checks, shaping and paging."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from agent.simulator.graph import query as graph_query
from agent.simulator.graph.errors import (
    GraphError as GraphError,  # re-exported: the handlers import it from here
)
from agent.simulator.graph.errors import denied as denied
from agent.simulator.state.tenant import Tenant

JSON = dict[str, Any]
DEFAULT_PAGE, MAX_PAGE = 100, 999
# A fixed creation date for objects the tenant model keeps no timestamp for.
EPOCH_CREATED = "2023-01-01T08:00:00Z"


def iso(ts: float) -> str:
    """Graph's DateTimeOffset rendering: UTC, second precision, trailing Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any, prop: str) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise GraphError(400, "Request_BadRequest",
                         f"Invalid value specified for property '{prop}'.") from exc


def error_body(code: str, message: str, request_id: str, client_request_id: str) -> JSON:
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
             "request-id": request_id, "client-request-id": client_request_id}
    return {"error": {"code": code, "message": message, "innerError": inner}}


@dataclass
class Reply:
    status: int
    body: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a text/plain body, as `/{collection}/$count` answers


@dataclass
class GraphRequest:
    """One Graph call (top-level or inside $batch), already authenticated."""

    method: str
    path: str  # decoded, relative to /v1.0, no leading slash
    query: dict[str, str]
    body: Any
    claims: JSON
    tenant: Tenant
    base_url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    entity: str | None = None  # the route's entity type, for $select, $search and $orderby

    @property
    def delegated(self) -> bool:
        """A user (delegated) token carries `scp`; an app-only token carries `roles`."""
        return "scp" in self.claims

    @property
    def granted(self) -> set[str]:
        """App roles, or delegated scopes for user tokens."""
        roles = self.claims.get("roles") or []
        scopes = str(self.claims.get("scp") or "").split()
        return {*roles, *scopes}

    @property
    def select(self) -> list[str] | None:
        raw = self.query.get("$select")
        return [s.strip() for s in raw.split(",") if s.strip()] if raw else None

    def json_body(self) -> JSON:
        if not isinstance(self.body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        return self.body


Handler = Callable[[GraphRequest], Reply]
Needs = tuple[tuple[str, ...], ...]  # every group must be met by at least one of its roles
# A permission table row saying "Not supported.": no permission meets an empty group.
NOT_SUPPORTED: Needs = ((),)


@dataclass(frozen=True)
class GraphRoute:
    """One Graph operation; `needs` is the docs' Application row, `delegated` the work-account row."""

    method: str
    pattern: str  # e.g. "servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo"
    handler: Handler
    needs: Needs
    entity: str | None = None  # entity type answered (graph_schema); None: no $select check
    delegated: Needs | None = None  # None: the same as `needs`

    def segments(self) -> list[str]:
        return split_path(self.pattern)


def split_path(path: str) -> list[str]:
    """Split on '/', keeping a `sites/{host}:/{server-relative path}[:]` key as one segment."""
    parts = [p for p in path.strip("/").split("/") if p != ""]
    if len(parts) > 2 and parts[0].lower() == "sites" and parts[1].endswith(":"):
        end = next((i for i in range(2, len(parts)) if parts[i].endswith(":")), len(parts) - 1)
        parts = [parts[0], "/".join(parts[1:end + 1]), *parts[end + 1:]]
    return parts


_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


def _segment_regex(segment: str) -> re.Pattern[str]:
    pieces, last = [], 0
    for m in _PLACEHOLDER.finditer(segment):
        pieces.append(re.escape(segment[last:m.start()]))
        name = re.sub(r"\W", "_", m.group(1))
        whole = m.start() == 0 and m.end() == len(segment)
        pieces.append(f"(?P<{name}>.+)" if whole else f"(?P<{name}>[^']+)")
        last = m.end()
    pieces.append(re.escape(segment[last:]))
    return re.compile("^" + "".join(pieces) + "$", re.IGNORECASE)


class Router:
    """Matches a relative Graph path against route patterns (segment by segment, case-insensitive)."""

    def __init__(self, routes: Iterable[GraphRoute]) -> None:
        self.routes = list(routes)
        self._compiled = [(r, [_segment_regex(s) for s in r.segments()]) for r in self.routes]

    def match(self, method: str, segments: list[str]) -> tuple[GraphRoute, dict[str, str]]:
        best, allowed = 0, False
        for route, regexes in self._compiled:
            params, depth = self._match(regexes, segments)
            if params is not None and depth == len(segments):
                if route.method == method:
                    return route, params
                allowed = True
            best = max(best, depth)
        if allowed:
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request target.")
        seg = segments[min(best, len(segments) - 1)] if segments else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'.")

    @staticmethod
    def _match(regexes: list[re.Pattern[str]], segments: list[str]) -> tuple[dict[str, str] | None, int]:
        params: dict[str, str] = {}
        for depth, regex in enumerate(regexes):
            found = regex.match(segments[depth]) if depth < len(segments) else None
            if found is None:
                return None, depth
            params.update(found.groupdict())
        if len(regexes) != len(segments):
            return None, len(regexes)
        return params, len(regexes)


def check_needs(req: GraphRequest, route: GraphRoute) -> None:
    """The route's permission table row for the token kind: each group met by one of its permissions."""
    needs = route.delegated if req.delegated and route.delegated is not None else route.needs
    granted = req.granted
    if not all(granted.intersection(group) for group in needs):
        raise denied()


def check_query(req: GraphRequest) -> None:
    """Query options every GET of a typed route honours: unknown $select names are refused."""
    if req.entity is not None and req.method == "GET":
        graph_query.check_select(req, req.entity)


def entity(req: GraphRequest, entity_set: str, body: JSON) -> JSON:
    """A single entity with Graph's `@odata.context` (`$metadata#set/$entity`, the $select list in it)."""
    selected = f"({','.join(req.select)})" if req.select else ""
    return {"@odata.context": f"{req.base_url}/v1.0/$metadata#{entity_set}{selected}/$entity", **body}


# -- shaping ------------------------------------------------------------------------------
def shape(req: GraphRequest, full: JSON, default: Iterable[str] | None = None) -> JSON:
    """Apply $select (id always kept); without it, the type's default property set if it has one."""
    wanted = req.select
    if wanted is None:
        if default is None:
            return full
        keep = {d.lower() for d in default}
    else:
        keep = {w.lower() for w in wanted}
    keep.add("id")
    return {k: v for k, v in full.items() if k.lower() in keep or k.startswith("@odata.")}


def _page_size(req: GraphRequest) -> int:
    raw = req.query.get("$top")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise GraphError(400, "Request_BadRequest",
                         f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_PAGE} inclusive.")
    return int(raw)


def _offset(req: GraphRequest) -> int:
    token = req.query.get("$skiptoken")
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode() + b"==").decode()
        return int(text.removeprefix("offset:"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, "Request_BadRequest", "The specified page token value has expired and can "
                         "no longer be included in your request.") from exc


def collection(req: GraphRequest, items: Sequence[Any], context: str, *,
               render: Callable[[Any], JSON] | None = None, filterable: Iterable[str] = (),
               type_name: str = "", default: Iterable[str] | None = None) -> Reply:
    """Filter, page ($top/$skiptoken with @odata.nextLink) and shape a collection.

    `render` turns an item into its JSON; without a $filter only the page is rendered, which keeps
    listing a 10,000-user directory cheap.
    """
    to_json = render or _as_is
    items, rendered = matching(req, items, to_json, filterable, type_name)
    to_json = _as_is if rendered else to_json
    size, start = _page_size(req), _offset(req)
    page = [to_json(i) for i in items[start:start + size]]
    body: JSON = {"@odata.context": f"{req.base_url}/v1.0/$metadata#{context}"}
    if graph_query.wants_count(req):
        body["@odata.count"] = len(items)
    body["value"] = [shape(req, i, default) for i in page]
    if start + size < len(items):
        body["@odata.nextLink"] = next_link(req, start + size)
    return Reply(200, body)


def matching(req: GraphRequest, items: Sequence[Any], to_json: Callable[[Any], JSON],
             filterable: Iterable[str], type_name: str) -> tuple[Sequence[Any], bool]:
    """$filter, $search and $orderby applied; (items, whether they come back rendered as JSON)."""
    raw_filter = req.query.get("$filter")
    search = graph_query.search_predicate(req, req.entity) if req.entity else None
    if req.entity is None and "$search" in req.query:
        raise GraphError(400, "Request_UnsupportedQuery", "Search is not supported on this resource.")
    if not raw_filter and search is None and "$orderby" not in req.query:
        return items, False
    rendered = [to_json(i) for i in items]
    if raw_filter:
        keep = graph_query.parse_filter(raw_filter, filterable, type_name)
        rendered = [j for j in rendered if keep(j)]
    if search is not None:
        rendered = [j for j in rendered if search(j)]
    return graph_query.sort_items(req, rendered, req.entity), True


def count_reply(req: GraphRequest, items: Sequence[Any], render: Callable[[Any], JSON],
                filterable: Iterable[str], type_name: str) -> Reply:
    """`GET /{collection}/$count`: a text/plain integer, only with ConsistencyLevel: eventual.

    https://learn.microsoft.com/en-us/graph/api/user-list (example "Get only a count of users") and
    https://learn.microsoft.com/en-us/graph/aad-advanced-queries (the 400 without the header).
    """
    graph_query.require_count_header(req)
    found, _ = matching(req, items, render, filterable, type_name)
    return Reply(200, headers={"Content-Type": "text/plain"}, text=str(len(found)))


def _as_is(item: Any) -> Any:
    return item


def next_link(req: GraphRequest, offset: int) -> str:
    token = base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")
    query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    query["$skiptoken"] = token
    path = "/".join(quote(p, safe="@:(),'=") for p in req.path.split("/"))
    return f"{req.base_url}/v1.0/{path}?{urlencode(query, safe='$,@')}"


def new_request_id() -> str:
    return str(uuid.uuid4())
