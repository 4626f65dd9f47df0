"""Wire faults that answer badly rather than not at all: stall, trickle, truncate, garbage and huge bodies.

stall     accepts the request and never answers, until the client gives up (or `hold_s` passes)
trickle   a 200 whose body comes one byte every `interval_s` seconds
truncate  a 200 whose connection closes half-way through the body it announced
garbage   a 200 whose body is malformed JSON, XML or SOAP, as each service would send it
huge      a 200 whose body is `size_mb` of valid-looking JSON or XML, streamed, never built in memory

Each is a FaultRule (rate, first, services, path, after) with its own extra knob. Every fault waits on the
event loop, so a stalled request never blocks the server's other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from agent.simulator.fault_rules import FaultRule, drop_connection, parse_rule

STREAM_KINDS = ("stall", "trickle", "truncate", "garbage", "huge")
EXTRA_KEYS = {"stall": ("hold_s",), "trickle": ("interval_s",), "huge": ("size_mb",)}
DEFAULTS = {"hold_s": 600.0, "interval_s": 2.0, "size_mb": 300.0}
CHUNK = 64 * 1024
_XML = "text/xml; charset=utf-8"
_JSON = "application/json"
# well-formed openings with no end: the client library's parser fails on each
_GARBAGE = {
    "graph": (b'{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[{"id":', _JSON),
    "identity": (b'{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eX', _JSON),
    "sharepoint": (b'{"odata.metadata":"x","value":[{"Id":7,"LoginName":"i:0#.f|membership|', _JSON),
    "ews": (b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/'
            b'envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/'
            b'services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage Resp', _XML),
}
_BODY = {  # a complete, plausible answer: trickled or cut in half
    "graph": (b'{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[]}', _JSON),
    "identity": (b'{"token_type":"Bearer","expires_in":3599,"access_token":"x"}', _JSON),
    "sharepoint": (b'{"value":[]}', _JSON),
    "ews": (_GARBAGE["ews"][0] + b'onseClass="Success"/></m:ResponseMessages></m:GetFolderResponse>'
            b'</s:Body></s:Envelope>', _XML),
}


@dataclass
class StreamRule:
    """One streaming fault: when it fires (a FaultRule) and its knob (hold_s, interval_s or size_mb)."""

    kind: str
    rule: FaultRule
    value: float


def parse_stream(data: Mapping[str, Any], where: str) -> list[StreamRule]:
    """The streaming faults of a `wire:` mapping, in STREAM_KINDS order; ValueError names the bad key."""
    found = []
    for kind in STREAM_KINDS:
        value = data.get(kind)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}.{kind}: expected a mapping, got {type(value).__name__}")
        extra = EXTRA_KEYS.get(kind, ())
        knob = extra[0] if extra else ""
        number = value.get(knob, DEFAULTS.get(knob, 0.0)) if knob else 0.0
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            raise ValueError(f"{where}.{kind}.{knob}: expected a number >= 0, got {number!r}")
        rule = parse_rule({k: v for k, v in value.items() if k not in extra}, f"{where}.{kind}", kind)
        assert rule is not None
        found.append(StreamRule(kind, rule, float(number)))
    return found


def decide_stream(rules: list[StreamRule], service: str, path: str, rng: Any) -> StreamRule | None:
    for item in rules:
        if item.rule.matches(service, path) and item.rule.fires(rng):
            return item
    return None


async def answer(item: StreamRule, service: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one request with the streaming fault `item`."""
    await _read_body(receive)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        if item.kind == "stall":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(gone), item.value)
            if not gone.done():  # held as long as asked: now cut it, as a load balancer's idle timeout does
                await drop_connection(scope, send)
            return
        if item.kind == "garbage":
            body, media = _GARBAGE.get(service, _GARBAGE["graph"])
            await _start(send, media, len(body))
            await send({"type": "http.response.body", "body": body})
        elif item.kind == "truncate":
            body, media = _BODY.get(service, _BODY["graph"])
            await _start(send, media, len(body))
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            await asyncio.sleep(0.05)  # let the half reach the client before the cut
            await drop_connection(scope, send)
        elif item.kind == "trickle":
            await _trickle(item.value, service, send, gone)
        else:
            await _huge(int(item.value * 1024 * 1024), service, send, gone)
    finally:
        gone.cancel()


async def _read_body(receive: Receive) -> None:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = bool(message.get("more_body"))


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _start(send: Send, media: str, length: int | None) -> None:
    headers = [(b"content-type", media.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _trickle(interval_s: float, service: str, send: Send, gone: asyncio.Future[None]) -> None:
    body, media = _BODY.get(service, _BODY["graph"])
    await _start(send, media, len(body))
    for i in range(len(body)):
        if gone.done():
            return
        await send({"type": "http.response.body", "body": body[i:i + 1], "more_body": i < len(body) - 1})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(gone), interval_s)


async def _huge(size: int, service: str, send: Send, gone: asyncio.Future[None]) -> None:
    """A valid document of about `size` bytes, made chunk by chunk as the client reads it."""
    xml = service == "ews"
    head, item, tail = ((b'<?xml version="1.0"?><root>', b"<i>0123456789abcdef</i>", b"</root>") if xml else
                        (b'{"value":[', b'{"id":"0123456789abcdef"},', b'{"id":"end"}]}'))
    chunk = item * (CHUNK // len(item))
    await _start(send, _XML if xml else _JSON, None)
    await send({"type": "http.response.body", "body": head, "more_body": True})
    sent = len(head)
    while sent < size and not gone.done():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent += len(chunk)
        await asyncio.sleep(0)  # a client that hung up is seen at once, not after the whole body
    await send({"type": "http.response.body", "body": tail, "more_body": False})
