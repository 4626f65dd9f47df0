"""The JUnit renderer: a test case per connector and cause, statuses mapped to pass/failure/error/skipped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from agent.report.render import render
from tests.report import sample_report


def test_junit_maps_statuses() -> None:
    root = ET.fromstring(render(sample_report(), "junit"))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "heal 20261125-142233-ab12"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        ("8", "4", "1", "1")
    assert root.get("failures") == "4"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["cause-ok"].get("classname") == "mail-exo"
    for status in ("found", "planned", "failed", "unverified"):
        failure = cases[f"cause-{status}"].find("failure")
        assert failure is not None and failure.get("type") == status
        assert failure.get("message", "").startswith(f"{status}: {status} <summary> & more")
    error = cases["cause-unknown"].find("error")
    assert error is not None and "because ***" in error.get("message", "")
    assert cases["cause-skipped"].find("skipped") is not None
    for passing in ("cause-ok", "cause-fixed"):
        case = cases[passing]
        assert case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    details = cases["cause-failed"].find("failure")
    assert details is not None and "advice: Do <b>this</b> by hand." in (details.text or "")


def test_empty_run_is_valid_junit() -> None:
    report = sample_report()
    report.results = []
    root = ET.fromstring(render(report, "junit"))
    assert root.get("tests") == "0"
