"""A cap on the size of every response body, for each client library: past it the call fails, unread.

A server (or something in front of it) may answer with hundreds of megabytes; each library would read the
whole body into memory before the agent sees a byte. Here the body is counted while it arrives and the
connection is closed once it passes the tenant's `network.max_response_bytes`:

* requests (exchangelib, office365, and azure-core's transport behind azure-identity/msal): an HTTPAdapter
  that checks Content-Length, then streams the body through a counting reader;
* httpx (msgraph-sdk): a transport whose response stream counts the bytes it hands out.

The failure is ResponseTooLarge, which no retry repeats and which a detector reports `unknown`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import requests

from agent.clients.shared_tls import SharedContextAdapter

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024
TOO_LARGE = "response too large"


class ResponseTooLarge(Exception):
    """A response body passed the cap; the message names the URL and the limit, never the body."""

    def __init__(self, url: str, limit: int) -> None:
        self.url, self.limit = url, limit
        super().__init__(f"{TOO_LARGE}: the answer from {_no_query(url)} passed the {_size(limit)} limit "
                         "(network.max_response_bytes)")


class RequestsResponseTooLarge(ResponseTooLarge, requests.RequestException):
    """ResponseTooLarge as a requests error: exchangelib, office365 and azure-core pass those on."""


def _no_query(url: str) -> str:
    return str(url).split("?", 1)[0]


def _size(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{limit} bytes"


def declared_length(headers: Any) -> int | None:
    try:
        value = headers.get("content-length")
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def find_too_large(exc: BaseException | None) -> ResponseTooLarge | None:
    """The cap's error when it is `exc` or one `exc` wraps (azure-core keeps the requests error inside)."""
    for _ in range(8):
        if exc is None or isinstance(exc, ResponseTooLarge):
            return exc
        inner = getattr(exc, "inner_exception", None) or getattr(exc, "error", None)
        exc = inner if isinstance(inner, BaseException) else (exc.__cause__ or exc.__context__)
    return None


# -- requests --------------------------------------------------------------------------------------

class _CountingRaw:
    """urllib3's response behind a counter: what requests and azure-core read goes through it."""

    _own = ("_raw", "_limit", "_url", "_seen")

    def __init__(self, raw: Any, limit: int, url: str) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_limit", limit)
        object.__setattr__(self, "_url", url)
        object.__setattr__(self, "_seen", 0)

    def _count(self, data: bytes) -> bytes:
        seen = self._seen + len(data)
        object.__setattr__(self, "_seen", seen)
        if seen > self._limit:
            self._raw.close()
            raise RequestsResponseTooLarge(self._url, self._limit)
        return data

    def stream(self, amt: int = CHUNK, decode_content: bool | None = None) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            yield self._count(chunk)

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return self._count(self._raw.read(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)


class CappedHTTPAdapter(SharedContextAdapter):
    """requests' HTTPAdapter that never lets a body past `max_bytes` into memory (also when the caller
    streams: its reads are counted the same way); its pools share one TLS context per CA file."""

    max_bytes = DEFAULT_MAX_BYTES

    def limit_for(self, url: str) -> int:
        return self.max_bytes

    def send(self, request: Any, stream: bool = False, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().send(request, True, *args, **kwargs)
        limit = self.limit_for(str(request.url))
        try:
            declared = declared_length(response.headers)
            if declared is not None and declared > limit:
                raise RequestsResponseTooLarge(str(request.url), limit)
            response.raw = _CountingRaw(response.raw, limit, str(request.url))
            if not stream:
                response.content  # noqa: B018 - read now, through the counter, as requests would
        except BaseException:
            response.close()
            raise
        return response


def capped_session(limit: int) -> requests.Session:
    """A requests.Session whose https and http adapters cap bodies at `limit`."""
    session = requests.Session()
    adapter = CappedHTTPAdapter(max_retries=0)
    adapter.max_bytes = limit
    for prefix in ("https://", "http://"):
        session.mount(prefix, adapter)
    return session


def azure_transport(limit: int, **kwargs: Any) -> Any:
    """azure-core's RequestsTransport (what azure-identity hands msal as its http client) on a capped
    adapter; the transport owns and closes its session as usual."""
    from azure.core.pipeline.transport import RequestsTransport

    class CappedRequestsTransport(RequestsTransport):
        def _init_session(self, session: requests.Session) -> None:
            super()._init_session(session)
            mounted: Any = session.get_adapter("https://")  # azure-core's, with its retries off
            adapter = CappedHTTPAdapter(max_retries=mounted.max_retries)
            adapter.max_bytes = limit
            for prefix in self._protocols:
                session.mount(prefix, adapter)

    return CappedRequestsTransport(**kwargs)


# -- httpx -----------------------------------------------------------------------------------------

class _CountingStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, limit: int, url: str) -> None:
        self.inner, self.limit, self.url, self.seen = inner, limit, url, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.seen += len(chunk)
            if self.seen > self.limit:
                raise ResponseTooLarge(self.url, self.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedAsyncTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose responses fail once their body passes `limit` bytes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        url = str(request.url)
        declared = declared_length(response.headers)
        if declared is not None and declared > self.limit:
            await response.aclose()
            raise ResponseTooLarge(url, self.limit)
        stream: Any = response.stream
        return httpx.Response(response.status_code, headers=response.headers, request=request,
                              stream=_CountingStream(stream, self.limit, url), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()
