"""Grant lifetimes: parsing, the injected clock, and which setting wins for a cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent import clock
from agent.errors import BadInput
from agent.grants.lifetime import Lifetimes, format_lifetime, from_cli, parse_lifetime, parse_until

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "span"), [("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)),
                                            ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90))])
def test_lifetimes_parse_and_print_back(text: str, span: timedelta) -> None:
    assert parse_lifetime(text, "x") == span
    assert parse_lifetime(format_lifetime(span), "x") == span


@pytest.mark.parametrize("text", ["30", "0d", "-3d", "3y", "forever", "800d"])
def test_bad_lifetimes_name_where(text: str) -> None:
    with pytest.raises(ValueError, match="--grant-for"):
        parse_lifetime(text, "--grant-for")


def test_a_date_means_the_end_of_that_day_and_must_be_ahead() -> None:
    assert parse_until("2027-01-31", NOW) == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_until("2027-01-31T08:00:00+01:00", NOW) == datetime(2027, 1, 31, 7, 0, tzinfo=UTC)
    with pytest.raises(BadInput, match="not in the future"):
        parse_until("2026-12-01", NOW)


def test_the_clock_is_injected_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV_NOW, "2027-03-01T10:00:00Z")
    assert clock.now() == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    monkeypatch.setenv(clock.ENV_NOW, "next tuesday")
    with pytest.raises(BadInput, match=r"\$AGENT_NOW"):
        clock.now()
    monkeypatch.delenv(clock.ENV_NOW)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_precedence_cli_then_policy_cause_then_playbook_then_policy_default() -> None:
    per_cause = {"no-onedrive-access": timedelta(days=14), "default": timedelta(days=60)}
    cli = Lifetimes(span=timedelta(days=3), per_cause=per_cause, now=NOW)
    assert cli.expiry("no-onedrive-access", "45d").at == NOW + timedelta(days=3)  # type: ignore[union-attr]
    policy = Lifetimes(per_cause=per_cause, now=NOW)
    assert policy.expiry("no-onedrive-access", "45d").at == NOW + timedelta(days=14)  # type: ignore[union-attr]
    assert policy.expiry("no-full-control", "45d").source == "playbook fix.expires_after: 45d"  # type: ignore[union-attr]
    assert policy.expiry("no-full-control", None).at == NOW + timedelta(days=60)  # type: ignore[union-attr]
    assert Lifetimes(now=NOW).expiry("no-full-control", None) is None  # permanent, as before


def test_cli_lifetimes_are_checked_before_anything_runs() -> None:
    with pytest.raises(BadInput, match="not both"):
        from_cli("30d", "2027-01-01")
    with pytest.raises(BadInput, match="--grant-for"):
        from_cli("thirty days", None)
    assert from_cli(None, None).asked is False and from_cli("1d", None).asked is True
