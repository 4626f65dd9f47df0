"""tenacity retry policies that honour Retry-After, capped per wait and bounded by a total budget.

Only throttling and transient failures are retried (429, 503, 504, dropped connections, timeouts); an
authentication or permission error (401, 403 and the other 4xx) is an answer, never retried.

The client libraries carry retry layers of their own. Left on, they stack under these policies
(3 kiota retries x 5 tenacity attempts = 20 POSTs), so each adapter turns them off or down:

* msgraph-sdk (kiota RetryHandler retries 429/503/504 on every method, POST included):
  pass ``graph_middleware_options()`` to ``GraphClientFactory.create_with_default_middleware``
  (``RetryHandlerOption(max_retries=0, should_retry=False)``).
* azure-identity / azure-core (retries token POSTs on 408/429/5xx): pass
  ``**AZURE_CORE_NO_RETRY`` (``retry_total=0``) to every credential.
* office365-rest-python-client: never call ``ClientContext.with_auto_retry()``; its contextInfo
  retry is built in and cannot be turned off, so faults are not injected on contextInfo.
* exchangelib: ``Configuration(retry_policy=exchangelib_retry_policy())``, a ``FailFast``
  policy (``FaultTolerance`` treats a 401 as throttling and backs off for minutes).

Nothing here imports those libraries at module import time: errors are read by duck typing.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tenacity
from tenacity import RetryCallState

from agent.deadline import remaining_s

RETRYABLE_STATUS = frozenset({429, 503, 504})
# a write is retried only when the server said it did not process it (429, 503) or the
# connection failed before the request was sent; 504 or a reset mid-request may mean it was done
RETRYABLE_WRITE_STATUS = frozenset({429, 503})
_RESET_NAMES = frozenset({
    "ConnectionError", "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError",
    "RemoteDisconnected", "RemoteProtocolError", "ReadError", "WriteError", "ConnectError",
    "ServiceRequestError", "ServiceResponseError", "ProtocolError", "IncompleteRead",
})
# exchangelib re-raises every requests connection error and timeout as ErrorTimeoutExpired
_TIMEOUT_NAMES = frozenset({"ReadTimeout", "ConnectTimeout", "PoolTimeout", "TimeoutException", "Timeout",
                            "WriteTimeout", "ErrorTimeoutExpired"})
_NOT_SENT_NAMES = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "ServiceRequestError",
                             "NewConnectionError"})

AZURE_CORE_NO_RETRY: dict[str, Any] = {"retry_total": 0}
# the retries this process made, by reason (throttled: 429 or server busy; transient: the rest), for metrics
RETRIES: collections.Counter[str] = collections.Counter()

Sleep = Callable[[float], Awaitable[None]]
SyncSleep = Callable[[float], None]
Clock = Callable[[], float]
Now = Callable[[], datetime]


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry one call."""

    attempts: int = 5
    budget_s: float = 60.0  # stop when the next wait would take the call past this
    cap_s: float = 30.0  # no single wait longer than this, whatever Retry-After says
    base_s: float = 0.5  # exponential fallback when there is no Retry-After
    max_backoff_s: float = 8.0
    jitter_s: float = 0.5
    write: bool = False  # a non-idempotent call: retry only what surely was not processed


DEFAULT_POLICY = RetryPolicy()
WRITE_POLICY = RetryPolicy(write=True)


def graph_middleware_options() -> dict[str, Any]:
    """msgraph's default middleware options with kiota's RetryHandler off, for GraphClientFactory."""
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph.graph_request_adapter import options as graph_default_options

    option = RetryHandlerOption(max_retries=0, should_retry=False)
    return {**graph_default_options, RetryHandlerOption.get_key(): option}


def exchangelib_retry_policy() -> Any:
    """exchangelib's fail-fast policy, so a 401 is raised at once rather than backed off."""
    from exchangelib.protocol import FailFast

    return FailFast()


def parse_retry_after(value: Any, now: Now | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def error_status(exc: BaseException) -> int | None:
    """The HTTP status an exception of any of the client libraries carries, if any."""
    for holder in (exc, getattr(exc, "response", None)):
        if holder is None:
            continue
        for attr in ("response_status_code", "status_code", "status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def error_headers(exc: BaseException) -> Any:
    """The response headers an exception carries (kiota, requests, httpx, azure-core), or None."""
    headers = getattr(exc, "response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        headers = getattr(exc, "headers", None)
    return headers


def header(headers: Any, name: str) -> Any:
    """A header value looked up case-insensitively in any mapping-like headers object."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        for key in (name, name.lower(), name.title()):
            value = getter(key)
            if value is not None:
                return value
    items = headers.items() if isinstance(headers, Mapping) or hasattr(headers, "items") else []
    for key, value in items:
        if str(key).lower() == name.lower():
            return value
    return None


def retry_after(exc: BaseException, now: Now | None = None) -> float | None:
    """The server-requested wait carried by an exception: Retry-After, or exchangelib's back_off."""
    value = parse_retry_after(header(error_headers(exc), "retry-after"), now)
    if value is None:
        back_off = getattr(exc, "back_off", None)  # exchangelib ErrorServerBusy
        if isinstance(back_off, (int, float)):
            value = max(0.0, float(back_off))
    return value


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _too_large(exc: BaseException) -> bool:
    """The body-size cap stopped the answer (agent.clients.bodycap): asking again brings the same body."""
    for _ in range(8):
        if "ResponseTooLarge" in _class_names(exc):
            return True
        inner = getattr(exc, "inner_exception", None) or getattr(exc, "error", None)
        nxt = inner if isinstance(inner, BaseException) else (exc.__cause__ or exc.__context__)
        if nxt is None:
            return False
        exc = nxt
    return False


def is_transient(exc: BaseException) -> bool:
    """True for throttling and transient failures that a later attempt may get past."""
    if _too_large(exc):
        return False
    status = error_status(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    names = _class_names(exc)
    if "ErrorServerBusy" in names:
        return True
    return bool(names & (_RESET_NAMES | _TIMEOUT_NAMES)) or isinstance(exc, ConnectionError)


def is_transient_write(exc: BaseException) -> bool:
    """True only when a failed write surely did not happen, so repeating it cannot duplicate it."""
    status = error_status(exc)
    if status is not None:
        return status in RETRYABLE_WRITE_STATUS
    names = _class_names(exc)
    return "ErrorServerBusy" in names or bool(names & _NOT_SENT_NAMES) or isinstance(
        exc, ConnectionRefusedError)


class wait_retry_after(tenacity.wait.wait_base):
    """Wait what the server asked (capped), else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy, now: Now | None = None,
                 rng: random.Random | None = None) -> None:
        self.policy, self.now, self.rng = policy, now, rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        asked = retry_after(exc, self.now) if exc is not None else None
        if asked is None:
            step = self.policy.base_s * 2 ** (retry_state.attempt_number - 1)
            asked = min(self.policy.max_backoff_s, step) + self.rng.uniform(0, self.policy.jitter_s)
        return min(self.policy.cap_s, asked)


class stop_budget(tenacity.stop.stop_base):
    """Stop after the last attempt, or when the next wait would exceed the total budget."""

    def __init__(self, policy: RetryPolicy, clock: Clock) -> None:
        self.policy, self.clock = policy, clock
        self._started: weakref.WeakKeyDictionary[RetryCallState, float] = weakref.WeakKeyDictionary()

    def mark_start(self, retry_state: RetryCallState) -> None:
        self._started.setdefault(retry_state, self.clock())

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.policy.attempts:
            return True
        left = remaining_s()  # the run's deadline: no retry that would start after it
        if left is not None and left <= retry_state.upcoming_sleep:
            return True
        started = self._started.get(retry_state, self.clock())
        elapsed = self.clock() - started
        return elapsed + retry_state.upcoming_sleep > self.policy.budget_s


def count_retry(retry_state: RetryCallState) -> None:
    """tenacity's before_sleep: one more retry, counted by why."""
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None and outcome.failed else None
    throttled = exc is not None and (error_status(exc) == 429 or "ErrorServerBusy" in _class_names(exc))
    RETRIES["throttled" if throttled else "transient"] += 1


def _parts(policy: RetryPolicy, clock: Clock, now: Now | None,
           rng: random.Random | None) -> dict[str, Any]:
    stop = stop_budget(policy, clock)
    predicate = is_transient_write if policy.write else is_transient
    return {
        "stop": stop,
        "wait": wait_retry_after(policy, now, rng),
        "retry": tenacity.retry_if_exception(predicate),
        "before": stop.mark_start,
        "before_sleep": count_retry,
        "reraise": True,  # the caller sees the library's own error, not a RetryError
    }


def async_retrying(policy: RetryPolicy = DEFAULT_POLICY, *, sleep: Sleep = asyncio.sleep,
                   clock: Clock = time.monotonic, now: Now | None = None,
                   rng: random.Random | None = None) -> tenacity.AsyncRetrying:
    """An AsyncRetrying for coroutines: ``await async_retrying(policy)(fn, *args)``."""
    return tenacity.AsyncRetrying(sleep=sleep, **_parts(policy, clock, now, rng))


def sync_retrying(policy: RetryPolicy = DEFAULT_POLICY, *, sleep: SyncSleep = time.sleep,
                  clock: Clock = time.monotonic, now: Now | None = None,
                  rng: random.Random | None = None) -> tenacity.Retrying:
    """A Retrying for the synchronous libraries (exchangelib, office365) run in threads."""
    return tenacity.Retrying(sleep=sleep, **_parts(policy, clock, now, rng))
