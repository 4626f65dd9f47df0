"""A report as JUnit XML for CI dashboards: one test case per connector and cause.

ok and fixed pass; found, planned, failed and unverified are failures (something needs doing);
unknown is an error (the check itself could not tell); skipped is skipped, with its reason.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

FAILURES = frozenset({"found", "planned", "failed", "unverified"})


def render(data: dict[str, Any]) -> str:
    """<testsuites><testsuite name="heal 2026..."><testcase classname="connector" name="cause">..."""
    results = data.get("results", [])
    suite = ET.Element("testsuite", name=f"{data.get('mode')} {data.get('run_id')}",
                       timestamp=str(data.get("started") or ""))
    tally = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for row in results:
        tally["tests"] += 1
        kind = _case(suite, row)
        if kind:
            tally[kind] += 1
    for key, value in tally.items():
        suite.set(key, str(value))
    root = ET.Element("testsuites", {"name": "m365-401-agent", **{k: str(v) for k, v in tally.items()}})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(suite: ET.Element, row: dict[str, Any]) -> str | None:
    """Add one test case; returns which tally it counts in (None for a pass)."""
    status = str(row.get("status"))
    case = ET.SubElement(suite, "testcase", classname=str(row.get("connector")), name=str(row.get("cause")))
    message = _message(row)
    if status in FAILURES:
        node = ET.SubElement(case, "failure", type=status, message=message)
        node.text = _details(row)
        return "failures"
    if status == "unknown":
        node = ET.SubElement(case, "error", type=status, message=message)
        node.text = _details(row)
        return "errors"
    if status == "skipped":
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    out = ET.SubElement(case, "system-out")
    out.text = message
    return None


def _message(row: dict[str, Any]) -> str:
    parts = [f"{row.get('status')}", str(row.get("summary") or ""), str(row.get("reason") or "")]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return f"{seen[0]}: {' - '.join(seen[1:])}" if len(seen) > 1 else seen[0]


def _details(row: dict[str, Any]) -> str:
    lines = [_message(row)]
    if row.get("evidence"):
        lines.append("evidence: " + json.dumps(row["evidence"], sort_keys=True, default=str))
    for change in row.get("changes") or []:
        call = change.get("call") or {}
        lines.append(f"change [{change.get('state')}] {change.get('action')}: {call.get('method', '')} "
                     f"{call.get('url', '')}")
    if row.get("advice"):
        lines.append("advice: " + " ".join(str(row["advice"]).split()))
    return "\n".join(lines)
