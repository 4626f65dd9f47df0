"""Graph v1.0 wire plumbing: request/reply types, routing, OData errors, $select, $filter and paging."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from .state import Tenant

JSON = dict[str, Any]
DEFAULT_PAGE, MAX_PAGE = 100, 999
# A fixed creation date for objects the tenant model keeps no timestamp for.
EPOCH_CREATED = "2023-01-01T08:00:00Z"


class GraphError(Exception):
    """A failure rendered as a Graph OData error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied",
                      "Insufficient privileges to complete the operation.")


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


@dataclass(frozen=True)
class GraphRoute:
    method: str
    pattern: str  # e.g. "servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo"
    handler: Handler
    needs: Needs

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


def check_needs(req: GraphRequest, needs: Needs) -> None:
    granted = req.granted
    if not all(granted.intersection(group) for group in needs):
        raise denied()


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


_EQ = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_STARTS = re.compile(r"^\s*startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$", re.IGNORECASE)


def parse_filter(raw: str, filterable: Iterable[str], type_name: str) -> Callable[[JSON], bool]:
    """The $filter forms the agent uses: `p eq '...'` and `startswith(p,'...')`; the rest is refused."""
    props = {p.lower(): p for p in filterable}
    for regex, test in ((_EQ, _eq), (_STARTS, _startswith)):
        found = regex.match(raw)
        if found is None:
            continue
        prop = props.get(found.group(1).lower())
        if prop is None:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause "
                             f"specified for property '{found.group(1)}' of resource '{type_name}'.")
        return _predicate(prop, found.group(2).replace("''", "'").lower(), test)
    raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")


def _predicate(prop: str, value: str, test: Callable[[str, str], bool]) -> Callable[[JSON], bool]:
    return lambda item: test(str(item.get(prop) or "").lower(), value)


def _eq(actual: str, wanted: str) -> bool:
    return actual == wanted


def _startswith(actual: str, wanted: str) -> bool:
    return actual.startswith(wanted)


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
    raw_filter = req.query.get("$filter")
    if raw_filter:
        keep = parse_filter(raw_filter, filterable, type_name)
        items = [j for j in map(to_json, items) if keep(j)]
        to_json = _as_is
    size, start = _page_size(req), _offset(req)
    page = [to_json(i) for i in items[start:start + size]]
    body: JSON = {"@odata.context": f"{req.base_url}/v1.0/$metadata#{context}",
                  "value": [shape(req, i, default) for i in page]}
    if start + size < len(items):
        body["@odata.nextLink"] = next_link(req, start + size)
    return Reply(200, body)


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
