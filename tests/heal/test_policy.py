"""The heal policy: risk limits, allow/deny, expiring-secret rotation, webhooks, and one-line load errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.errors import BadInput
from agent.heal.policy import (
    ENV_POLICY,
    Policy,
    Webhook,
    decide,
    expiring_in_days,
    load_policy,
    policy_path,
)
from agent.model import Finding, Risk

REPO = Path(__file__).resolve().parents[2]
FOUND = Finding.found("something is wrong")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def make(text: str) -> Path:
        path = tmp_path / "policy.yaml"
        path.write_text(text)
        return path
    return make


@pytest.mark.parametrize(("risk", "applied"), [(Risk.LOW, True), (Risk.MEDIUM, True), (Risk.HIGH, False)])
def test_default_policy_applies_low_and_medium_only(risk: Risk, applied: bool) -> None:
    decision = decide(Policy(), "account-unlicensed", risk, FOUND)
    assert decision.apply is applied
    if not applied:
        assert "high risk is above the heal policy's max_risk medium" in decision.reason


def test_allow_overrides_risk_and_deny_wins() -> None:
    policy = Policy(allow=("exo-app-missing-full-access",), deny=("account-unlicensed",))
    assert decide(policy, "exo-app-missing-full-access", Risk.HIGH, FOUND).apply
    denied = decide(policy, "account-unlicensed", Risk.LOW, FOUND)
    assert not denied.apply and "denies account-unlicensed" in denied.reason


def test_max_risk_none_applies_nothing_by_risk() -> None:
    policy = Policy(max_risk="none", allow=("account-unlicensed",))
    assert not decide(policy, "no-full-control", Risk.LOW, FOUND).apply
    assert decide(policy, "account-unlicensed", Risk.MEDIUM, FOUND).apply


@pytest.mark.parametrize(("days_left", "rotate", "applied"), [
    (10, 0, False),   # rotation off: a warning stays a warning
    (10, 14, True),   # within the window: rotated before it breaks
    (20, 14, False),  # not yet
    (0, 0, False),    # expires today but still works: rotation off means off
    (0, 1, True),
])
def test_expiring_secret_rotated_only_within_the_window(days_left: int, rotate: int, applied: bool) -> None:
    finding = Finding.found("secret expires soon", expiring_in_days=days_left)
    decision = decide(Policy(rotate_expiring_days=rotate), "app-credentials-invalid", Risk.MEDIUM, finding)
    assert decision.apply is applied
    if not applied:
        assert f"expires in {days_left} day(s)" in decision.reason


def test_an_expired_secret_is_broken_and_follows_the_risk_rules() -> None:
    expired = Finding.found("all secrets expired", expiring_in_days=-3)
    assert expiring_in_days(expired) is None
    assert decide(Policy(), "app-credentials-invalid", Risk.MEDIUM, expired).apply
    assert expiring_in_days(Finding.ok(expiring_in_days=5)) is None  # ok is not a warning


def test_example_policy_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_policy(REPO / "configs" / "heal-policy.yaml")
    assert policy.max_risk == "medium" and "bad-credentials" in policy.deny
    assert policy.rotate_expiring_days == 14
    hook = policy.notify[0]
    assert hook.format == "teams" and hook.url.startswith("env:")
    monkeypatch.setenv("AGENT_TEAMS_WEBHOOK", "https://example.webhook.office.com/workflows/abc")
    assert hook.resolve_url(policy.base_dir) == "https://example.webhook.office.com/workflows/abc"


def test_missing_file_means_default_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_POLICY, raising=False)
    assert policy_path(None) is None
    assert load_policy(None) == Policy()
    monkeypatch.setenv(ENV_POLICY, str(tmp_path / "p.yaml"))
    assert policy_path(None) == tmp_path / "p.yaml"
    assert policy_path(Path("x.yaml")) == Path("x.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("max_risk: medium\nmax_rsk: high\n", "policy.yaml:2: max_rsk: unknown field 'max_rsk'; valid: allow"),
    ("max_risk: extreme\n", "policy.yaml:1: max_risk: invalid value 'extreme'; valid: none, low, medium"),
    ("allow: [a]\ndeny: [a]\n", "a both allowed and denied"),
    ("allow: [Not_A_Cause]\n", "is not a cause id"),
    ("rotate_expiring_days: -1\n", "rotate_expiring_days: Input should be greater than or equal to 0"),
    ("notify:\n  - url: http://hooks.example.com/x\n", "plain http is allowed only to localhost"),
    ("notify:\n  - url: ftp://x\n", "must be an https:// URL"),
    ("notify:\n  - url: https://h.example.com/x\n    format: slack\n", "valid: json, teams, messagecard"),
    ("max_risk: [\n", "YAML syntax error"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_bad_policy_is_one_line_naming_file_and_line(write: Callable[[str], Path], text: str,
                                                     expected: str) -> None:
    with pytest.raises(BadInput) as info:
        load_policy(write(text))
    message = str(info.value)
    assert "\n" not in message and message.startswith("heal policy ")
    assert expected in message


def test_unreadable_policy_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_policy_causes_are_checked_against_the_playbooks() -> None:
    policy = Policy(deny=("no-such-cause",))
    with pytest.raises(BadInput, match="deny: unknown cause id no-such-cause; valid: account-unlicensed"):
        policy.check_causes(["account-unlicensed", "bad-credentials"])
    Policy(allow=("bad-credentials",)).check_causes(["bad-credentials"])


def test_webhook_urls(tmp_path: Path) -> None:
    assert Webhook(url="http://127.0.0.1:8080/hook").label == "json webhook"
    assert Webhook(url="http://localhost/hook", name="ops").label == "ops"
    (tmp_path / "hook.url").write_text("https://example.webhook.office.com/x\n")
    hook = Webhook(url="file:hook.url", format="messagecard")
    assert hook.resolve_url(tmp_path) == "https://example.webhook.office.com/x"
    (tmp_path / "bad.url").write_text("http://evil.example.com/x\n")
    with pytest.raises(ValueError, match="only to localhost"):
        Webhook(url="file:bad.url").resolve_url(tmp_path)
    with pytest.raises(ValueError):
        Webhook(url="https://x.example.com", timeout_s=120)
