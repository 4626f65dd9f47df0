"""Prometheus metrics of a run: causes by tenant and status, duration, retries; textfile and Pushgateway."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.errors import BadInput
from agent.heal import metrics
from agent.journal.grants import Grant
from agent.model import Outcome, RunReport, Status
from agent.simulator import Simulator
from tests.e2e.harness import World

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


def grant_series(found: dict[tuple[str, tuple[tuple[str, str], ...]], float],
                 name: str) -> dict[str, float]:
    """cause -> value of one grants family, for the tenant contoso."""
    return {dict(labels)["cause"]: value for (sample, labels), value in found.items()
            if sample == name and dict(labels)["tenant"] == "contoso"}


def test_grants_expiring_after_a_real_heal_of_the_simulated_tenant(
        sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(sim, tmp_path).reset(["not-site-collection-admin", "no-full-control"])
    monkeypatch.setenv("AGENT_NOW", "2026-12-07T00:00:00Z")  # agent.clock's; nothing is patched
    rules = tmp_path / "policy.yaml"
    rules.write_text("grant_lifetime:\n  not-site-collection-admin: 14d\n  default: 30d\n"
                     "grant_warn_days: 20\n")
    prom = tmp_path / "agent.prom"
    heal = ("heal", "--policy", str(rules), "--connector", "sp-sites", "--metrics-file", str(prom), "-o",
            "json")
    healed = world.run(*heal)
    assert healed.code == 0, healed.stdout
    text = prom.read_text()
    found = samples(text)
    admin, control = "not-site-collection-admin", "no-full-control"
    assert grant_series(found, "agent_grants_live") == {admin: 1, control: 1}
    assert grant_series(found, "agent_grants_expiring") == {admin: 1, control: 0}  # 14 and 30 days left
    assert grant_series(found, "agent_grants_next_expiry_seconds") == {admin: 14 * 86400,
                                                                       control: 30 * 86400}
    stamps = grant_series(found, "agent_grants_next_expiry_timestamp_seconds")
    assert stamps[admin] == datetime(2026, 12, 21, tzinfo=UTC).timestamp()
    assert found[("agent_grants_warn_window_seconds", (("tenant", "contoso"),))] == 20 * 86400
    assert "https://" not in text and "@" not in text  # no URL, no account in any label

    monkeypatch.setenv("AGENT_NOW", "2026-12-25T00:00:00Z")  # the admin flag expired: heal revokes it
    late = world.run(*heal)
    assert late.code == 3, late.stderr  # found again, and heal does not grant a closed window again
    assert [g["kind"] for g in late.json["grants"]["revoked"]] == ["site-collection-admin"]
    found = samples(prom.read_text())
    assert grant_series(found, "agent_grants_live") == {control: 1}
    assert grant_series(found, "agent_grants_expiring") == {control: 1}  # 12 days left, within 20
    assert grant_series(found, "agent_grants_next_expiry_seconds") == {control: 12 * 86400}


def grant(connector: str, cause: str, expires_at: str, state: str = "active", seq: int = 1) -> Grant:
    return Grant("20261207-000000-abcd", seq, connector, cause, "fixer", "grant-x", "app-role", "p", "t",
                 expires_at, state=state)


def test_grant_metrics_count_only_this_job_s_live_grants() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    grants = [grant("c-mail", "exo-app-missing-full-access", "2026-12-10T00:00:00+00:00", seq=1),
              grant("c-mail", "exo-app-missing-full-access", "2026-12-06T00:00:00+00:00", seq=2),  # overdue
              grant("c-mail", "exo-app-missing-full-access", "2026-12-08T00:00:00+00:00", "revoked", seq=3),
              grant("other-tenant-connector", "no-onedrive-access", "2026-12-08T00:00:00+00:00", seq=4)]
    registry = metrics.registry_for(report(), TENANTS, 1.0, {}, 0.0)
    metrics.add_grants(registry, grants, TENANTS, now, 7)
    found = samples(generate_latest(registry).decode())
    key = (("cause", "exo-app-missing-full-access"), ("tenant", "contoso"))
    assert found[("agent_grants_live", key)] == 2  # the revoked one is not in force
    assert found[("agent_grants_expiring", key)] == 1  # an expired one is not "expiring"
    assert found[("agent_grants_next_expiry_seconds", key)] == -86400  # in force a day past its expiry
    assert not any(name.startswith("agent_grants") and dict(labels).get("cause") == "no-onedrive-access"
               for name, labels in found)  # another tenant's connector, in a shared journal
