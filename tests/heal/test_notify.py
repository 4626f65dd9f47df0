"""Webhook notifications: the three body formats, redaction, and hooks that fail without failing the run."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent import redact
from agent.heal.notify import counts, failed_lines, headline, notify, payload
from agent.heal.policy import Webhook
from agent.model import Outcome, RunReport, Status

SECRET = "Sup3r-Secret-Value-9931"


class HookServer:
    """A webhook receiver on 127.0.0.1 in a thread: records each POST, answers `status` after `delay`."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status, self.delay = status, delay
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                owner.bodies.append(json.loads(self.rfile.read(length)))
                owner.headers.append(dict(self.headers))
                if owner.delay:
                    owner.release.wait(owner.delay)
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self) -> HookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def sample(*statuses: Status) -> RunReport:
    results = [Outcome(f"conn{i}", f"cause-{s.value}", s, summary=f"{s.value} summary", reason=None,
                       risk="medium") for i, s in enumerate(statuses)]
    return RunReport("20261125-142233-ab12", "heal", "2026-11-25T14:22:33+00:00",
                     "2026-11-25T14:23:00+00:00", results, 4)


@pytest.fixture
def hook() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


def test_counts_and_headline_worst_first() -> None:
    report = sample(Status.OK, Status.FIXED, Status.FAILED, Status.OK)
    assert counts(report) == {"failed": 1, "fixed": 1, "ok": 2}
    assert headline(report) == "heal run 20261125-142233-ab12: 1 failed, 1 fixed, 2 ok (exit 4)"


def test_generic_json_hook_receives_summary(hook: HookServer) -> None:
    report = sample(Status.OK, Status.FIXED, Status.PLANNED)
    [delivery] = notify(report, [Webhook(url=hook.url)])
    assert delivery.sent and delivery.error is None
    [body] = hook.bodies
    assert body["run_id"] == report.run_id and body["exit_code"] == 4
    assert body["summary"] == {"planned": 1, "fixed": 1, "ok": 1}
    assert [(r["cause"], r["status"]) for r in body["results"]] == [("cause-planned", "planned"),
                                                                      ("cause-fixed", "fixed")]
    assert hook.headers[0]["Content-Type"] == "application/json"


def test_teams_adaptive_card_and_messagecard_shapes() -> None:
    report = sample(Status.FAILED, Status.OK)
    teams = json.loads(payload(report, "teams", ("failed",)))
    assert teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    texts = [b.get("text", "") for b in card["content"]["body"]]
    assert texts[0].startswith("heal run 20261125-142233-ab12: 1 failed, 1 ok")
    assert any("**failed** conn0 / cause-failed" in t for t in texts)
    legacy = json.loads(payload(report, "messagecard", ("failed",)))
    assert legacy["@type"] == "MessageCard" and legacy["themeColor"] == "C4314B"
    assert legacy["sections"][0]["facts"][0]["name"] == "conn0 / cause-failed"


def test_secrets_never_leave_in_a_notification(hook: HookServer) -> None:
    redact.register(SECRET)
    report = sample(Status.FAILED)
    report.results[0].reason = f"fix failed: client_secret={SECRET} rejected"
    report.results[0].summary = f"token eyJhbGciOi.eyJzdWIiOi.sig and {SECRET}"
    for fmt in ("json", "teams", "messagecard"):
        notify(report, [Webhook(url=hook.url, format=fmt)])
    raw = json.dumps(hook.bodies)
    assert len(hook.bodies) == 3 and SECRET not in raw and "eyJhbGciOi" not in raw
    assert "***" in raw


def test_nothing_posted_when_no_status_matches(hook: HookServer) -> None:
    [delivery] = notify(sample(Status.OK), [Webhook(url=hook.url)])
    assert not delivery.sent and delivery.error is None and hook.bodies == []


def test_failing_hooks_are_reported_not_raised() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    with HookServer(status=500) as broken, HookServer(delay=5) as slow:
        hooks = [Webhook(url=f"http://127.0.0.1:{port}/x", name="refused"),
                 Webhook(url=broken.url, name="broken"),
                 Webhook(url=slow.url, name="slow", timeout_s=0.2),
                 Webhook(url="env:AGENT_TEST_UNSET_HOOK", name="unset")]
        deliveries = notify(sample(Status.FAILED), hooks)
    errors = {d.hook: d.error for d in deliveries}
    assert not any(d.sent for d in deliveries)
    assert "ConnectionRefusedError" in (errors["refused"] or "")
    assert errors["broken"] == "HTTP 500"
    assert "timed out" in (errors["slow"] or "")
    assert "AGENT_TEST_UNSET_HOOK is not set" in (errors["unset"] or "")
    lines = failed_lines(deliveries)
    assert lines[0].startswith("warning: notification to refused failed: ")
    assert all("127.0.0.1" not in line for line in lines)  # the hook URL is never echoed
