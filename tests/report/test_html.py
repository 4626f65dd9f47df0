"""The HTML report: one self-contained file, escaped, checked in a real headless browser (Debian chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent.report.render import render
from tests.report import STATUSES, sample_report

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0")
INSTALL = "apt-get update && apt-get install -y chromium"


def chromium() -> str:
    """The browser; in CI (the CI variable set) its absence fails, elsewhere it skips."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"chromium is required in CI to check the HTML report: {INSTALL}")
    pytest.skip(f"chromium is not installed ({INSTALL}); in CI (CI set) this test runs")


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(html: str) -> Elements:
    page = Elements()
    page.feed(html)
    return page


def test_html_is_self_contained_and_escaped() -> None:
    html = render(sample_report(), "html")
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert "default-src 'none'" in html  # nothing outside the file may load, even by mistake
    assert "Do &lt;b&gt;this&lt;/b&gt; by hand." in html and "<b>this</b>" not in html
    page = parse(html)
    counts = {a["data-status"]: a["data-count"] for a in page.having("span") if a.get("data-count")}
    assert counts == {s.value: "1" for s in STATUSES}


def test_html_report_in_a_real_browser(tmp_path: Path) -> None:
    browser = chromium()
    report_file = tmp_path / "report.html"
    report_file.write_text(render(sample_report(), "html", {"pending": [{"cause": "cause-planned"}]}))
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", report_file.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no script error, no blocked or failed load
    page = parse(done.stdout)
    rows = page.having("tr")
    shown = {(r.get("data-connector"), r.get("data-cause"), r.get("data-status")) for r in rows
             if r.get("data-cause")}
    expected = {(o.connector, o.cause, o.status.value) for o in sample_report().results}
    assert shown == expected
    sections = {a.get("data-connector") for a in page.having("section") if a.get("data-connector")}
    assert sections == {"mail-exo", "files-onedrive"}
    articles = {(a.get("data-cause"), a.get("data-status")) for a in page.having("article")}
    assert articles == {(o.cause, o.status.value) for o in sample_report().results}
    text = " ".join(page.text)
    assert "heal run" in text and "20261125-142233-ab12" in text and "assign-licence" in text
    assert "***" in text and "Rep0rt-Secret" not in done.stdout
    assert page.having("tr", **{"data-state": "applied"})
