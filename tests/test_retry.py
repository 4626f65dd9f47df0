"""Retry policies: Retry-After honoured (seconds or HTTP-date), capped, budgeted; auth errors not retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from agent.retry import (
    RetryPolicy,
    async_retrying,
    error_status,
    is_transient,
    is_transient_write,
    parse_retry_after,
    retry_after,
    sync_retrying,
)
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)


class ODataError(Exception):
    """Shaped like kiota's: response_status_code and response_headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"status {status}")
        self.response_status_code, self.response_headers = status, headers or {}


class Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code, self.headers = status, headers


class ClientRequestException(Exception):
    """Shaped like office365's (and requests'): .response.status_code / .headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} error")
        self.response = Response(status, headers or {})


class ErrorServerBusy(Exception):
    """Shaped like exchangelib's: back_off seconds, no HTTP status."""

    def __init__(self, back_off: float) -> None:
        super().__init__("server busy")
        self.back_off = back_off


class ConnectError(Exception):
    """Named like httpx's: the connection failed before the request was sent."""


class ReadTimeout(Exception):
    """Named like httpx's and requests' read timeouts."""


class Flaky:
    """Fails with the given exceptions in turn, then returns 'done'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"

    async def acall(self) -> str:
        return self()


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(["3"]) == 3.0
    assert parse_retry_after("-4") == 0.0
    later = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert parse_retry_after(later, now=lambda: NOW) == pytest.approx(12.0)
    past = format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=lambda: NOW) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_status_and_retry_after_of_each_library_shape() -> None:
    assert error_status(ODataError(429)) == 429
    assert error_status(ClientRequestException(503)) == 503
    assert error_status(ValueError("x")) is None
    assert retry_after(ODataError(429, {"Retry-After": "5"})) == 5.0
    assert retry_after(ClientRequestException(503, {"retry-after": "2"})) == 2.0
    assert retry_after(ErrorServerBusy(9)) == 9.0


@pytest.mark.parametrize("exc, transient", [
    (ODataError(429), True), (ODataError(503), True), (ODataError(504), True),
    (ODataError(401), False), (ODataError(403), False), (ClientRequestException(400), False),
    (ConnectionResetError(), True), (ConnectError(), True), (ErrorServerBusy(1), True),
    (ReadTimeout(), True), (ValueError("bad"), False),
])
def test_only_throttling_and_transient_errors_are_retried(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_writes_retry_only_what_surely_did_not_happen() -> None:
    assert is_transient_write(ODataError(429)) and is_transient_write(ConnectError())
    assert not is_transient_write(ODataError(504))  # the gateway timed out: it may have been done
    assert not is_transient_write(ConnectionResetError())
    assert not is_transient_write(ReadTimeout())  # sent, maybe processed


def test_retry_after_is_honoured_then_exponential_fallback(fake_clock: FakeClock) -> None:
    flaky = Flaky(ODataError(429, {"Retry-After": "2"}), ClientRequestException(503), ODataError(504))
    policy = RetryPolicy(base_s=0.5, jitter_s=0.0)
    result = sync_retrying(policy, sleep=fake_clock.sleep_sync, clock=fake_clock)(flaky)
    assert result == "done" and flaky.calls == 4
    assert fake_clock.sleeps == [2.0, 1.0, 2.0]  # header, then 0.5 * 2**(n-1) for attempts 2 and 3


def test_jitter_stays_within_bounds(fake_clock: FakeClock) -> None:
    flaky = Flaky(*(ODataError(503) for _ in range(3)))
    policy = RetryPolicy(base_s=1.0, jitter_s=0.5, max_backoff_s=8.0)
    sync_retrying(policy, sleep=fake_clock.sleep_sync, clock=fake_clock, rng=random.Random(7))(flaky)
    for wait, base in zip(fake_clock.sleeps, [1.0, 2.0, 4.0], strict=True):
        assert base <= wait <= base + 0.5


def test_retry_after_is_capped(fake_clock: FakeClock) -> None:
    flaky = Flaky(ODataError(429, {"Retry-After": "3600"}))
    sync_retrying(RetryPolicy(cap_s=30.0, budget_s=100.0), sleep=fake_clock.sleep_sync,
                  clock=fake_clock)(flaky)
    assert fake_clock.sleeps == [30.0]


def test_gives_up_when_the_next_wait_would_exceed_the_budget(fake_clock: FakeClock) -> None:
    flaky = Flaky(*(ODataError(429, {"Retry-After": "20"}) for _ in range(10)))
    with pytest.raises(ODataError) as caught:  # the library's own error, not tenacity's RetryError
        sync_retrying(RetryPolicy(attempts=10, budget_s=50.0, cap_s=30.0), sleep=fake_clock.sleep_sync,
                      clock=fake_clock)(flaky)
    assert caught.value.response_status_code == 429
    assert fake_clock.sleeps == [20.0, 20.0] and flaky.calls == 3  # a third wait would end at 60 s > 50 s


def test_gives_up_after_the_last_attempt(fake_clock: FakeClock) -> None:
    flaky = Flaky(*(ODataError(503) for _ in range(10)))
    with pytest.raises(ODataError):
        sync_retrying(RetryPolicy(attempts=3, jitter_s=0), sleep=fake_clock.sleep_sync,
                      clock=fake_clock)(flaky)
    assert flaky.calls == 3


def test_auth_errors_are_raised_at_once(fake_clock: FakeClock) -> None:
    flaky = Flaky(ODataError(401, {"Retry-After": "1"}))
    with pytest.raises(ODataError):
        sync_retrying(sleep=fake_clock.sleep_sync, clock=fake_clock)(flaky)
    assert flaky.calls == 1 and fake_clock.sleeps == []


def test_write_policy_does_not_repeat_an_ambiguous_write(fake_clock: FakeClock) -> None:
    flaky = Flaky(ODataError(504))
    with pytest.raises(ODataError):
        sync_retrying(RetryPolicy(write=True), sleep=fake_clock.sleep_sync, clock=fake_clock)(flaky)
    assert flaky.calls == 1


async def test_async_retrying_uses_the_injected_sleep(fake_clock: FakeClock) -> None:
    later = format_datetime(NOW + timedelta(seconds=4), usegmt=True)
    flaky = Flaky(ODataError(429, {"Retry-After": later}))
    retrying: Any = async_retrying(sleep=fake_clock.sleep, clock=fake_clock, now=lambda: NOW)
    assert await retrying(flaky.acall) == "done"
    assert fake_clock.sleeps == [pytest.approx(4.0)]


def test_library_retry_layers_can_be_switched_off() -> None:
    from agent.retry import AZURE_CORE_NO_RETRY, exchangelib_retry_policy, graph_middleware_options

    assert AZURE_CORE_NO_RETRY == {"retry_total": 0}
    option = graph_middleware_options()["RetryHandlerOption"]
    assert option.max_retry == 0 and option.should_retry is False
    assert type(exchangelib_retry_policy()).__name__ == "FailFast"


def test_one_retrying_reused_gives_every_call_its_own_attempts_and_budget() -> None:
    """The SharePoint adapter keeps one Retrying per thread and policy: state must not carry over."""
    from agent.retry import RetryPolicy, sync_retrying

    now = [0.0]
    policy = RetryPolicy(attempts=3, budget_s=10.0, cap_s=1.0, base_s=1.0, max_backoff_s=1.0, jitter_s=0.0)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    retrying = sync_retrying(policy, sleep=sleep, clock=lambda: now[0])
    for _ in range(4):  # 4 calls x 3 attempts x 1 s: far past one call's 10 s budget in total
        tries: list[int] = []

        def failing(tries: list[int] = tries) -> None:
            tries.append(1)
            raise ConnectionError("dropped")
        with pytest.raises(ConnectionError):
            retrying(failing)
        assert len(tries) == 3
