"""Graph OData query options beyond $filter and paging: $select names, $search, $orderby and $count."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from agent.simulator.graph.errors import GraphError
from agent.simulator.graph.schema import DIRECTORY_TYPES, PROPERTIES, QUALIFIED, SEARCHABLE, SORTABLE

JSON = dict[str, Any]


class GraphRequest(Protocol):
    """What the query options read of a request (agent.simulator.graph.odata.GraphRequest)."""

    query: dict[str, str]
    headers: dict[str, str]

    @property
    def select(self) -> list[str] | None: ...

# Wording from https://learn.microsoft.com/en-us/graph/aad-advanced-queries ("Error handling for advanced
# queries on directory objects"); the $search one is also seen on the wire (microsoft-graph-toolkit#3028).
SEARCH_NEEDS_HEADER = ("Request with $search query parameter only works through MSGraph with a special "
                       "request header: 'ConsistencyLevel: eventual'")
COUNT_NEEDS_HEADER = "$count is not currently supported."
# Seen on the wire for $orderby (microsoft-graph-docs-contrib issues #3145 and #1354).
SORT_NEEDS_ADVANCED = "Sorting not supported for current query."
_CLAUSE = re.compile(r'^"([A-Za-z]+):([^"]*)"$')
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def eventual(req: GraphRequest) -> bool:
    """Whether the caller sent `ConsistencyLevel: eventual` (in a batch: in the inner request's headers)."""
    return any(k.lower() == "consistencylevel" and v.strip().lower() == "eventual"
               for k, v in req.headers.items())


def advanced(req: GraphRequest) -> bool:
    """The advanced query parameters: the ConsistencyLevel header *and* $count=true (aad-advanced-queries)."""
    return eventual(req) and req.query.get("$count", "").lower() == "true"


# -- $filter ---------------------------------------------------------------------------------------------
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



# -- $select ----------------------------------------------------------------------------------------------
def check_select(req: GraphRequest, entity: str) -> None:
    """A $select name the type does not have -> 400, as Graph answers (case-insensitive names).

    https://learn.microsoft.com/en-us/graph/query-parameters#select-parameter; the code and wording are
    those Graph returns for directory types ("Could not find a property named 'x' on type
    'microsoft.graph.user'."), the stricter choice for every type since the docs give no wording.
    """
    known = {p.lower() for p in PROPERTIES[entity]}
    for name in req.select or []:
        if name != "*" and name.lower() not in known:
            raise GraphError(400, "Request_BadRequest",
                         f"Could not find a property named '{name}' on type '{QUALIFIED[entity]}'.")


# -- $search ----------------------------------------------------------------------------------------------
def search_predicate(req: GraphRequest, entity: str) -> Callable[[JSON], bool] | None:
    """`$search="property:value"` clauses joined by AND/OR; None without $search.

    https://learn.microsoft.com/en-us/graph/search-query-parameter (directory objects): the header is
    required, each clause names a property, and values match tokens of the property by prefix.
    """
    raw = req.query.get("$search")
    if raw is None:
        return None
    if entity in DIRECTORY_TYPES and not eventual(req):
        raise GraphError(400, "Request_UnsupportedQuery", SEARCH_NEEDS_HEADER)
    searchable = {p.lower(): p for p in SEARCHABLE.get(entity, ())}
    if not searchable:  # not documented for these types: refused (the stricter choice)
        raise GraphError(400, "Request_UnsupportedQuery", "Search is not supported on this resource.")
    groups = [[_clause(part.strip(), searchable, entity) for part in re.split(r"\s+AND\s+", alt)]
              for alt in re.split(r"\s+OR\s+", raw.strip())]
    return lambda item: any(all(test(item) for test in group) for group in groups)


def _clause(text: str, searchable: dict[str, str], entity: str) -> Callable[[JSON], bool]:
    found = _CLAUSE.match(text)
    if found is None:
        raise GraphError(400, "Request_UnsupportedQuery", f"Invalid $search clause: {text}")
    prop = searchable.get(found.group(1).lower())
    if prop is None:
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid search clause specified "
                         f"for property '{found.group(1)}' of resource '{_label(entity)}'.")
    wanted = [t.lower() for t in _TOKEN.findall(found.group(2))] or [found.group(2).lower()]
    whole = found.group(2).lower()
    return lambda item: _matches(item.get(prop), wanted, whole)


def _matches(value: Any, wanted: list[str], whole: str) -> bool:
    values = value if isinstance(value, list) else [value]
    for text in (str(v) for v in values if v):
        tokens = [t.lower() for t in _TOKEN.findall(text)]
        if text.lower().startswith(whole) or all(any(t.startswith(w) for t in tokens) for w in wanted):
            return True
    return False


# -- $orderby ---------------------------------------------------------------------------------------------
def sort_items(req: GraphRequest, items: Sequence[JSON], entity: str | None) -> Sequence[JSON]:
    """Apply $orderby where aad-advanced-queries lists the property; everything else -> 400."""
    raw = req.query.get("$orderby")
    if raw is None:
        return items
    keys = [_sort_key(req, part.strip(), entity) for part in raw.split(",") if part.strip()]
    ordered = list(items)
    for prop, descending in reversed(keys):  # stable sorts, last key first
        ordered.sort(key=_by(prop), reverse=descending)
    return ordered


def _by(prop: str) -> Callable[[JSON], tuple[bool, str]]:
    def key(item: JSON) -> tuple[bool, str]:
        return item.get(prop) is None, str(item.get(prop) or "").lower()
    return key


def _sort_key(req: GraphRequest, part: str, entity: str | None) -> tuple[str, bool]:
    name, _, direction = part.partition(" ")
    sortable = SORTABLE.get(entity or "", {})
    prop = next((p for p in sortable if p.lower() == name.lower()), None)
    if prop is None:
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"Unsupported sort property '{name}' for '{_label(entity or 'resource')}'.")
    by_default = sortable[prop] and "$filter" not in req.query and "$search" not in req.query
    if not by_default and not advanced(req):
        raise GraphError(400, "Request_UnsupportedQuery", SORT_NEEDS_ADVANCED)
    if direction.strip().lower() not in ("", "asc", "desc"):
        raise GraphError(400, "Request_BadRequest", f"Invalid $orderby direction '{direction.strip()}'.")
    return prop, direction.strip().lower() == "desc"


def _label(entity: str) -> str:
    """The resource name Graph's query errors use: `User`, `ServicePrincipal`."""
    return entity[0].upper() + entity[1:]


# -- $count -----------------------------------------------------------------------------------------------
def wants_count(req: GraphRequest) -> bool:
    """`$count=true` counts only with ConsistencyLevel: eventual; without it the docs say it is ignored."""
    raw = req.query.get("$count")
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise GraphError(400, "Request_BadRequest", f"Invalid value '{raw}' for query option '$count'.")
    return raw.lower() == "true" and eventual(req)


def require_count_header(req: GraphRequest) -> None:
    """`/{collection}/$count` needs the header (aad-advanced-queries: 400 Request_BadRequest otherwise)."""
    if not eventual(req):
        raise GraphError(400, "Request_BadRequest", COUNT_NEEDS_HEADER)
