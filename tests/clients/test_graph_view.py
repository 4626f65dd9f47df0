"""Graph JSON read with the typed models' attribute names."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.clients.graph_json import as_dict
from agent.clients.graph_view import GraphObject, camel, parse_datetime, views


def test_attributes_read_the_camel_case_fields() -> None:
    sp = GraphObject({"id": "1", "appId": "a", "appRoles": [{"id": "r", "value": "full_access_as_app"}],
                      "@odata.nextLink": "next", "accountEnabled": False})
    assert (sp.id, sp.app_id, sp.account_enabled, sp.odata_next_link) == ("1", "a", False, "next")
    assert [r.value for r in sp.app_roles] == ["full_access_as_app"]
    assert sp.display_name is None  # absent, as the typed model gives it
    assert camel("required_resource_access") == "requiredResourceAccess"


def test_timestamps_become_aware_datetimes_with_graphs_seven_digits() -> None:
    cred = GraphObject({"endDateTime": "2026-12-07T01:02:03.1234567Z", "hint": "abc"})
    assert cred.end_date_time == datetime(2026, 12, 7, 1, 2, 3, 123456, tzinfo=UTC)
    assert cred.hint == "abc"  # only ...DateTime fields are parsed
    assert parse_datetime("not a date") is None


def test_as_dict_gives_the_json_back_and_views_skip_non_objects() -> None:
    data = {"id": "x", "conditions": {"users": {"excludeUsers": ["u"]}}}
    assert as_dict(GraphObject(data)) == data
    assert [v.id for v in views([data, "junk"])] == ["x"]  # type: ignore[list-item]
    assert "s3cr3t" not in repr(GraphObject({"secretText": "s3cr3t"}))  # repr names fields, never values
