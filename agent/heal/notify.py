"""Webhook notifications of a heal run (generic JSON or a Teams card); a failing hook never fails the run."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import redact as redactor
from agent.model import Outcome, RunReport
from agent.redact import redact, redact_obj

USER_AGENT = "m365-401-agent-heal"
MAX_ROWS = 50  # a card with thousands of rows is unreadable and may exceed the hook's size limit
COLOURS = {"failed": "C4314B", "unverified": "C4314B", "found": "F2A900", "planned": "0078D7",
           "unknown": "8764B8", "fixed": "2E8B57"}
ORDER = ("failed", "unverified", "unknown", "found", "planned", "skipped", "fixed", "ok")
Post = Callable[[str, bytes, float], int]


@dataclass(frozen=True)
class Delivery:
    """What happened to one webhook: sent, not needed, or failed (with a redacted reason)."""

    hook: str
    sent: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hook": self.hook, "sent": self.sent, "error": self.error}


def counts(report: RunReport) -> dict[str, int]:
    """Results per status, worst first, only statuses that occur."""
    seen = Counter(o.status.value for o in report.results)
    return {status: seen[status] for status in ORDER if seen[status]}


def headline(report: RunReport) -> str:
    """`heal run 20261125-...: 1 fixed, 1 planned (exit 3)`."""
    parts = ", ".join(f"{n} {s}" for s, n in counts(report).items()) or "nothing checked"
    return f"{report.mode} run {report.run_id}: {parts} (exit {report.exit_code})"


def _rows(report: RunReport, on: Sequence[str]) -> list[Outcome]:
    rank = {s: i for i, s in enumerate(ORDER)}
    rows = [o for o in report.results if o.status.value in on]
    return sorted(rows, key=lambda o: (rank[o.status.value], o.connector, o.cause))


def _row(outcome: Outcome) -> dict[str, Any]:
    return {"connector": outcome.connector, "cause": outcome.cause, "status": outcome.status.value,
            "risk": outcome.risk, "summary": outcome.summary, "reason": outcome.reason,
            "changes": len(outcome.changes)}


def json_payload(report: RunReport, on: Sequence[str]) -> dict[str, Any]:
    """The generic body: the run, its counts, and the results that matter (no evidence, no bodies)."""
    rows = _rows(report, on)
    return {"agent": USER_AGENT, "run_id": report.run_id, "mode": report.mode, "started": report.started,
            "finished": report.finished, "exit_code": report.exit_code, "text": headline(report),
            "summary": counts(report), "results": [_row(o) for o in rows[:MAX_ROWS]],
            "truncated": max(0, len(rows) - MAX_ROWS)}


def teams_payload(report: RunReport, on: Sequence[str]) -> dict[str, Any]:
    """A Teams Workflows message carrying an Adaptive Card (the successor of Office 365 connectors)."""
    rows = _rows(report, on)[:MAX_ROWS]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": headline(report)},
        {"type": "FactSet", "facts": [{"title": s, "value": str(n)} for s, n in counts(report).items()]},
    ]
    for outcome in rows:
        text = f"**{outcome.status.value}** {outcome.connector} / {outcome.cause}"
        detail = outcome.reason or outcome.summary
        body.append({"type": "TextBlock", "wrap": True, "spacing": "Small",
                     "text": f"{text}: {detail}" if detail else text})
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def messagecard_payload(report: RunReport, on: Sequence[str]) -> dict[str, Any]:
    """A legacy Office 365 connector MessageCard (incoming webhooks still created that way)."""
    rows = _rows(report, on)[:MAX_ROWS]
    worst = next(iter(counts(report)), "ok")
    facts = [{"name": f"{o.connector} / {o.cause}", "value": f"{o.status.value}: {o.reason or o.summary}"}
             for o in rows]
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": headline(report),
            "themeColor": COLOURS.get(worst, "808080"), "title": headline(report),
            "sections": [{"facts": facts}] if facts else []}


PAYLOADS: dict[str, Callable[[RunReport, Sequence[str]], dict[str, Any]]] = {
    "json": json_payload, "teams": teams_payload, "messagecard": messagecard_payload}


def payload(report: RunReport, fmt: str, on: Sequence[str], grants: Mapping[str, Any] | None = None) -> bytes:
    """The redacted body for one hook format (with what grants expire soon or were revoked, if any)."""
    data = PAYLOADS[fmt](report, on)
    if grants:
        _add_grants(fmt, data, grants)
    return json.dumps(redact_obj(data)).encode("utf-8")


def _add_grants(fmt: str, data: dict[str, Any], grants: Mapping[str, Any]) -> None:
    """Time-boxed grants in each format: the data itself (json), text lines (cards)."""
    from agent.heal.grants import news_lines

    lines = news_lines(dict(grants))[:MAX_ROWS]
    if fmt == "json":
        data["grants"] = dict(grants)
    elif fmt == "teams":
        body = data["attachments"][0]["content"]["body"]
        body += [{"type": "TextBlock", "wrap": True, "spacing": "Small", "text": line} for line in lines]
    else:
        data.setdefault("sections", []).append({"title": "time-boxed grants", "text": "<br>".join(lines)})


def post(url: str, body: bytes, timeout_s: float) -> int:
    """POST JSON with a short timeout; returns the HTTP status (urllib raises on 4xx/5xx)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT})
    context = ssl.create_default_context()  # certificate and host name always checked
    with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
        return int(response.status)


def notify(report: RunReport, hooks: Sequence[Any], base_dir: Path | None = None,
           sender: Post = post, grants: Mapping[str, Any] | None = None) -> list[Delivery]:
    """Post to every hook whose `on` statuses occur in the run, or when grants expire soon or were revoked;
    failures are returned, never raised."""
    deliveries = []
    for hook in hooks:
        if not grants and not any(o.status.value in hook.when for o in report.results):
            deliveries.append(Delivery(hook.label, False))
            continue
        deliveries.append(_deliver(report, hook, base_dir, sender, grants))
    return deliveries


def _deliver(report: RunReport, hook: Any, base_dir: Path | None, sender: Post,
             grants: Mapping[str, Any] | None = None) -> Delivery:
    try:
        url = hook.resolve_url(base_dir)
        redactor.register(url)  # a hook URL is a credential: masked wherever it might surface
        status = sender(url, payload(report, hook.format, hook.when, grants), hook.timeout_s)
    except urllib.error.HTTPError as exc:
        return Delivery(hook.label, False, f"HTTP {exc.code}")
    except urllib.error.URLError as exc:
        return Delivery(hook.label, False, _reason(exc.reason))
    except TimeoutError:
        return Delivery(hook.label, False, f"timed out after {hook.timeout_s:g}s")
    except Exception as exc:  # a webhook must never take the heal run down with it
        return Delivery(hook.label, False, _reason(exc))
    if not 200 <= status < 300:
        return Delivery(hook.label, False, f"HTTP {status}")
    return Delivery(hook.label, True)


def _reason(exc: Any) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    text = " ".join(str(exc).split()) or type(exc).__name__
    # the hook's URL is a credential: never echo it, even inside a library's message
    return redact(f"{type(exc).__name__}: {text}" if not isinstance(exc, str) else text)[:200]


def failed_lines(deliveries: Sequence[Delivery]) -> list[str]:
    """One warning line per hook that could not be told."""
    return [f"warning: notification to {d.hook} failed: {d.error}" for d in deliveries if d.error]
