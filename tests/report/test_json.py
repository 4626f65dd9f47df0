"""The JSON renderer: the -o json shape plus summary counts, redacted."""

from __future__ import annotations

import json

import pytest

from agent.report.data import counts
from agent.report.render import FORMATS, prepare, render
from tests.report import SECRET, STATUSES, sample_report


def test_json_has_the_documented_shape_and_counts() -> None:
    data = json.loads(render(sample_report(), "json", {"pending": [{"cause": "x"}]}))
    assert data["run_id"] == "20261125-142233-ab12" and data["mode"] == "heal" and data["exit_code"] == 4
    assert data["summary"] == {s.value: 1 for s in STATUSES} and next(iter(data["summary"])) == "failed"
    for row in data["results"]:
        assert {"connector", "cause", "status", "evidence", "changes", "advice"} <= set(row)
    assert data["pending"] == [{"cause": "x"}]


def test_every_format_redacts() -> None:
    for fmt in FORMATS:
        text = render(sample_report(), fmt)
        assert SECRET not in text, fmt
    data = prepare(sample_report())
    assert data["results"][0]["evidence"]["client_secret"] == "***"


def test_counts_and_unknown_format() -> None:
    assert counts([{"status": "ok"}, {"status": "failed"}, {"status": "ok"}]) == {"failed": 1, "ok": 2}
    with pytest.raises(ValueError, match="valid: json, md, html, junit"):
        render(sample_report(), "pdf")
