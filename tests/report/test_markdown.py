"""The Markdown renderer: summary first, one row per result, details per connector."""

from __future__ import annotations

from agent.report.render import render
from tests.report import STATUSES, sample_report


def test_markdown_summary_table_and_details() -> None:
    text = render(sample_report(), "md")
    lines = text.splitlines()
    assert lines[0] == "# heal run 20261125-142233-ab12"
    assert "| failed | 1 |" in lines and "| ok | 1 |" in lines
    for status in STATUSES:
        assert f"**{status.value}**" in text
        assert f"### cause-{status.value}: {status.value}" in text
    assert "## mail-exo" in text and "## files-onedrive" in text
    row = next(line for line in lines if line.startswith("| applied | assign-licence"))
    assert "`POST https://graph.example/v1.0/users/1/assignLicense`" in row
    assert '{"licensed": false}' in row and '{"licensed": true}' in row
    assert "> Do <b>this</b> by hand." in text  # advice of a result that needs attention
    assert "| mail-exo | cause-ok | **ok** | medium |" in text


def test_pipes_in_cells_do_not_break_the_table() -> None:
    report = sample_report()
    report.results[0].summary = "a | b"
    assert "a \\| b" in render(report, "md")
