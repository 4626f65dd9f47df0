"""Graph models to and from their JSON dicts (kiota's own serializers, loaded on first use so that the
catalog, `agent playbooks` and `agent explain` do not pay for the Graph library when they never call it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from kiota_abstractions.serialization import Parsable

    from agent.clients.graph_view import GraphObject

P = TypeVar("P", bound="Parsable")


def as_dict(model: Parsable | GraphObject) -> dict[str, Any]:
    """A Graph model (or a GraphObject read as JSON) as its JSON (camelCase) dict, for evidence, plans and
    the journal."""
    from agent.clients.graph_view import GraphObject

    if isinstance(model, GraphObject):
        return dict(model.json)
    from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter

    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    return dict(json.loads(writer.get_serialized_content() or b"{}"))


def from_dict(model_cls: type[P], data: dict[str, Any]) -> P:
    """The Graph model of `model_cls` parsed from its JSON dict (e.g. a saved `before` state)."""
    from kiota_serialization_json.json_parse_node import JsonParseNode

    parsed: P | None = JsonParseNode(data).get_object_value(cast(Any, model_cls))
    if parsed is None:
        raise ValueError(f"cannot build {model_cls.__name__} from the given data")
    return parsed
