"""Graph answers read as plain JSON, with the typed models' attribute names, for reads that use a few fields.

The first typed parse of any Graph entity makes kiota import every one of msgraph's ~1,200 derived model
modules (Entity.get_field_deserializers names them all): close to a second of CPU and 30 MB, paid by
every run, for reads of a handful of fields. The same answer as JSON costs a json.loads. GraphObject
gives the detectors the attribute names they would read from the model (snake_case for camelCase,
`...DateTime` values as aware datetimes), so the catalog reads either the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_SPECIAL = {"odata_type": "@odata.type", "odata_next_link": "@odata.nextLink"}
_UPPER = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """The Graph JSON name of a model attribute: account_enabled -> accountEnabled."""
    return _SPECIAL.get(name) or _UPPER.sub(lambda m: m.group(1).upper(), name)


class GraphObject:
    """One Graph JSON object; `obj.some_field` reads `someField` (None when absent, as a model gives)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        key = camel(name)
        return _view(key, self._data.get(key))

    def __repr__(self) -> str:
        return f"GraphObject({sorted(self._data)})"  # field names only: values may be anything

    @property
    def json(self) -> dict[str, Any]:
        """The object as Graph sent it (camelCase keys)."""
        return self._data


def _view(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return GraphObject(value)
    if isinstance(value, list):
        return [_view(key, v) for v in value]
    if isinstance(value, str) and key.endswith("DateTime"):
        return parse_datetime(value)
    return value


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 Graph timestamp (Z or an offset, up to 7 fractional digits) as an aware datetime."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if match:  # Python takes at most 6 fractional digits; Graph sends up to 7
        text = match.group(1) + (match.group(2) or "")[:7] + match.group(3)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed


def views(items: list[dict[str, Any]]) -> list[GraphObject]:
    return [GraphObject(i) for i in items if isinstance(i, dict)]
