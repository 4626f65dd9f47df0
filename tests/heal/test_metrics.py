"""Prometheus metrics of a run: causes by tenant and status, duration, retries; textfile and Pushgateway."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.errors import BadInput
from agent.heal import metrics
from agent.model import Outcome, RunReport, Status

TENANTS = {"c-mail": "contoso", "c-files": "contoso"}


def report() -> RunReport:
    return RunReport("20261207-010203-abcd", "heal", "2026-12-07T01:02:03+00:00", results=[
        Outcome("c-mail", "account-unlicensed", Status.FIXED),
        Outcome("c-mail", "bad-credentials", Status.UNKNOWN, reason="AADSTS50126"),
        Outcome("c-files", "no-onedrive-access", Status.UNVERIFIED),
        Outcome("c-files", "app-certificate-missing", Status.OK)], exit_code=4)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_run_s_metrics_in_the_textfile_format(tmp_path: Path) -> None:
    registry = metrics.registry_for(report(), TENANTS, 12.5, {"throttled": 3}, 1_796_000_000.0)
    path = tmp_path / "agent.prom"
    metrics.write_textfile(path, registry)
    found = samples(path.read_text())
    assert found[("agent_run_exit_code", (("mode", "heal"), ("tenant", "contoso")))] == 4
    assert found[("agent_run_duration_seconds", (("mode", "heal"), ("tenant", "contoso")))] == 12.5
    cause = (("cause", "account-unlicensed"), ("status", "fixed"), ("tenant", "contoso"))
    assert found[("agent_causes", cause)] == 1
    assert found[("agent_causes", (("cause", "account-unlicensed"), ("status", "unverified"),
                                   ("tenant", "contoso")))] == 0  # a watched status exists at zero
    assert found[("agent_causes", (("cause", "bad-credentials"), ("status", "unknown"),
                                   ("tenant", "contoso")))] == 1
    assert found[("agent_retries", (("reason", "throttled"), ("tenant", "contoso")))] == 3
    assert found[("agent_retries", (("reason", "transient"), ("tenant", "contoso")))] == 0
    assert list(tmp_path.iterdir()) == [path]  # written whole, then renamed: no temporary file left


def test_a_textfile_that_the_collector_would_not_read_is_bad_input(tmp_path: Path) -> None:
    registry = metrics.registry_for(report(), TENANTS, 1.0, {}, 0.0)
    with pytest.raises(BadInput, match=r"\*\.prom"):
        metrics.write_textfile(tmp_path / "agent.txt", registry)
    with pytest.raises(BadInput, match="does not exist"):
        metrics.write_textfile(tmp_path / "missing" / "agent.prom", registry)


class _Gateway(BaseHTTPRequestHandler):
    pushed: list[tuple[str, bytes]] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.pushed.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_pushed_to_a_pushgateway_grouped_by_tenant(gateway: str) -> None:
    _Gateway.pushed.clear()
    registry = metrics.registry_for(report(), TENANTS, 1.0, {}, 0.0)
    assert metrics.push(gateway, registry, "contoso") is None
    ((path, body),) = _Gateway.pushed
    assert path == "/metrics/job/agent/tenant/contoso"
    assert b"agent_causes" in body


def test_an_unreachable_pushgateway_is_one_warning() -> None:
    registry = metrics.registry_for(report(), TENANTS, 1.0, {}, 0.0)
    note = metrics.push("http://127.0.0.1:9", registry, "contoso")
    assert note is not None and note.startswith("warning: could not push metrics") and "\n" not in note
