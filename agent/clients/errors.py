"""Each client library's exceptions translated into the agent's small set, every message redacted."""

from __future__ import annotations

import re
from typing import Any

from agent.redact import redact
from agent.retry import error_headers, error_status, header

_AADSTS = re.compile(r"AADSTS(\d+)")
_MAX_MESSAGE = 300
# a connection that failed to open: the request never left, so nothing can have been written
_NOT_SENT_NAMES = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "NewConnectionError",
                             "ServiceRequestError"})
_LOST_NAMES = frozenset({"ReadError", "WriteError", "IncompleteRead", "RemoteDisconnected"})
_CONNECTION_NAMES = frozenset({
    "ConnectionError", "ConnectError", "ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutException",
    "RemoteProtocolError", "ServiceRequestError", "ServiceResponseError", "SSLError", "ErrorTimeoutExpired",
    "ProtocolError", "NewConnectionError", "ChunkedEncodingError",
})
# Throttling is a 429/503 status (SharePoint and Graph send Retry-After) or EWS's ErrorServerBusy.
# SPQueryThrottledException is not here: it is SharePoint's list view threshold error, which a retry
# does not get past.
_THROTTLE_NAMES = frozenset({"ErrorServerBusy", "RateLimitError"})


class ClientError(Exception):
    """A call through one of the client libraries failed; the text is redacted and one line."""

    def __init__(self, reason: str, status: int | None = None, code: str | None = None) -> None:
        self.reason = one_line(reason)
        self.status, self.code = status, code
        super().__init__(self.reason)


class ReadFailed(ClientError):
    """A read got no answer; a detector reports `unknown` with `.reason` (never `found`)."""


class Throttled(ReadFailed):
    """Still throttled (429/503) after the retry budget was spent."""


class AuthFailed(ReadFailed):
    """The agent's own credential was refused: token endpoint error or 401 from the service."""


class WriteFailed(ClientError):
    """A write was refused or failed; the fixer's step is `failed`, or `uncertain` when `lost`.

    `lost`: the request was sent but its answer never came (a timeout, a dropped connection, a 5xx
    other than 503): the tenant may have made the write, so it is neither done nor refused.
    """

    def __init__(self, reason: str, status: int | None = None, code: str | None = None, *,
                 lost: bool = False) -> None:
        super().__init__(reason, status, code)
        self.lost = lost


def aadsts_code(text: str | None) -> int | None:
    """The first AADSTS number in an Entra ID error text."""
    match = _AADSTS.search(text or "")
    return int(match.group(1)) if match else None


def one_line(text: str) -> str:
    """First non-empty line, redacted and shortened: error texts end up in reports and logs."""
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    first = redact(first)
    return first if len(first) <= _MAX_MESSAGE else first[: _MAX_MESSAGE - 3] + "..."


def translate(exc: BaseException, *, write: bool = False, needs: str | None = None) -> ClientError:
    """The agent's error for `exc`: WriteFailed for writes, else ReadFailed / Throttled / AuthFailed."""
    if isinstance(exc, ClientError):
        return exc
    status, code, message = describe(exc)
    shown = code if code and not message.startswith(code) else None  # AADSTS texts start with the code
    reason = " ".join(str(p) for p in (status, shown) if p is not None)
    reason = f"{reason}: {message}" if reason else message
    if needs and status == 403:
        reason += f" (needs {needs})"
    if write:
        return WriteFailed(reason, status, code, lost=answer_lost(exc))
    names = _names(exc)
    if find_too_large(exc) is not None:  # no verdict, whatever the library called it (azure: auth failed)
        return ReadFailed(reason, status, code)
    if status in (429, 503) or names & _THROTTLE_NAMES:
        return Throttled(reason, status, code)
    if status == 401 or "ClientAuthenticationError" in names or "UnauthorizedError" in names:
        return AuthFailed(reason, status, code)
    return ReadFailed(reason, status, code)


def answer_lost(exc: BaseException) -> bool:
    """True when a sent write got no answer that says whether it was made.

    429 and 503 say "not processed" (retry.py retries them on writes), a 4xx is a refusal; a 5xx else,
    a timeout or a connection dropped after the request went out may hide a write that was made. A
    connection that never opened (ConnectError, refused) surely sent nothing.
    """
    if isinstance(exc, WriteFailed):
        return exc.lost
    if find_too_large(exc) is not None:  # the server answered, but what it said was never read
        return True
    status = error_status(exc)
    if status is not None:
        return status >= 500 and status != 503
    names = _names(exc)
    if names & _NOT_SENT_NAMES or isinstance(exc, ConnectionRefusedError):
        return False
    return bool(names & (_CONNECTION_NAMES | _LOST_NAMES)) or isinstance(exc, (ConnectionError, TimeoutError))


def describe(exc: BaseException) -> tuple[int | None, str | None, str]:
    """(HTTP status, error code, one-line message) for any of the libraries' exceptions."""
    names = _names(exc)
    too_large = find_too_large(exc)
    if too_large is not None:  # `unknown (response too large)`, whichever library met it
        return None, None, one_line(str(too_large))
    if "ODataError" in names or "APIError" in names:
        return _kiota(exc)
    if "ClientAuthenticationError" in names:
        return _azure_auth(exc)
    if "ClientRequestException" in names:
        return _office365(exc)
    if "OAuth2Error" in names:
        return (getattr(exc, "status_code", None), getattr(exc, "error", None),
                one_line(getattr(exc, "description", None) or str(exc)))
    if "EWSError" in names:
        return _exchangelib(exc, names)
    if names & _CONNECTION_NAMES or isinstance(exc, (ConnectionError, TimeoutError)):
        return None, None, one_line(f"connection failed ({type(exc).__name__}): {exc}")
    return error_status(exc), None, one_line(f"{type(exc).__name__}: {exc}")


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _kiota(exc: Any) -> tuple[int | None, str | None, str]:
    status = getattr(exc, "response_status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    return status, code, one_line(message)


def _azure_auth(exc: Any) -> tuple[int | None, str | None, str]:
    text = str(getattr(exc, "message", None) or exc)
    text = text.removeprefix("Authentication failed: ")
    number = aadsts_code(text)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status, f"AADSTS{number}" if number else None, one_line(text)


def _office365(exc: Any) -> tuple[int | None, str | None, str]:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    code = getattr(exc, "code", None) or None
    message = getattr(exc, "message", None) or (exc.args[-1] if exc.args else "") or str(exc)
    diagnostics = header(error_headers(exc), "x-ms-diagnostics")
    if status == 401 and diagnostics:
        message = f"{message} [x-ms-diagnostics: {diagnostics}]"
    return status, code, one_line(str(message))


def _exchangelib(exc: Any, names: set[str]) -> tuple[int | None, str | None, str]:
    if "UnauthorizedError" in names:
        return 401, None, one_line(str(exc))
    if "ResponseMessageError" in names:  # EWS answered with a response code: the class name is the code
        return None, type(exc).__name__, one_line(str(exc))
    return None, None, one_line(f"{type(exc).__name__}: {exc}")


def find_too_large(exc: BaseException | None) -> Any:
    """agent.clients.bodycap's check, imported when an error is translated: bodycap loads httpx and
    requests, which the commands that call no service (playbooks, history, explain) never need."""
    from agent.clients.bodycap import find_too_large as found

    return found(exc)
