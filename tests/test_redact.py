"""Tests for agent.redact: registered values, token-shaped text, nested data, log records, threads."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent import redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJyb2xlcyI6WyJmdWxsX2FjY2Vzc19hc19hcHAiXX0.c2lnbmF0dXJlLWJ5dGVz"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    redact.clear()
    yield
    redact.clear()


def test_registered_value_is_masked_everywhere() -> None:
    redact.register("Tr0ub4dor&3")
    assert redact.redact("login with Tr0ub4dor&3 failed") == "login with *** failed"
    # the same secret URL-encoded in a form body, and JSON-escaped
    assert redact.redact("grant_type=password&pw=Tr0ub4dor%263") == "grant_type=password&pw=***"
    redact.register('quo"te-secret')
    assert redact.redact('{"value": "quo\\"te-secret"}') == '{"value": "***"}'


def test_short_and_empty_values_are_ignored() -> None:
    redact.register("abc")
    redact.register("")
    redact.register(None)
    assert redact.redact("abc abcd") == "abc abcd"


def test_longer_registered_value_wins_over_its_prefix() -> None:
    redact.register("secret")
    redact.register("secret-and-more")
    assert redact.redact("x secret-and-more y") == "x *** y"


def test_values_are_literal_and_long_ones_masked_in_every_spelling() -> None:
    """Registered values are matched as written (no pattern syntax), a kilobyte PEM in its JSON escape too."""
    redact.register("a.b*c(d")
    assert redact.redact("aXbbbc(d and a.b*c(d") == "aXbbbc(d and ***"
    key = "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 400 + "\n-----END PRIVATE KEY-----"
    redact.register(key)
    assert redact.redact(json.dumps({"pem": key})) == '{"pem": "***"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {JWT} end", "token *** end"),
        ("client_id=abc&client_secret=Q~x.y_z&scope=s", "client_id=abc&client_secret=***&scope=s"),
        (
            "username=u@contoso.com&password=P%40ss&grant_type=password",
            "username=u@contoso.com&password=***&grant_type=password",
        ),
        ("client_assertion=aaa.bbb.ccc&x=1", "client_assertion=***&x=1"),
        ("Authorization: Bearer abcdefghijklmnop.qrs", "Authorization: Bearer ***"),
        ("Authorization: Basic bWlnc3ZjOnBhc3N3b3Jk", "Authorization: Basic ***"),
        ("{'Authorization': 'Bearer opaque.token'}", "{'Authorization': 'Bearer ***'}"),
        ("retrying with Bearer 0paque-token-9 now", "retrying with Bearer *** now"),
        ('{"secretText": "Gx8~abc\\"def", "keyId": "k1"}', '{"secretText": "***", "keyId": "k1"}'),
        ("{'access_token': 'opaque-token-value'}", "{'access_token': '***'}"),
        (f"key:\n{PEM}\ntail", "key:\n***\ntail"),
    ],
)
def test_token_shaped_text_is_masked(text: str, expected: str) -> None:
    assert redact.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'WWW-Authenticate: Bearer authorization_uri="https://login.microsoftonline.com/x/oauth2/authorize"',
        'WWW-Authenticate: Basic realm="mail.contoso.com"',
        "passwordPolicies=DisablePasswordExpiration",
        "The server requires Basic authentication over HTTPS",
        "AADSTS50126: Error validating credentials due to invalid username or password.",
    ],
)
def test_ordinary_diagnostic_text_is_kept(text: str) -> None:
    assert redact.redact(text) == text


def test_redact_obj_masks_secret_keys_and_strings() -> None:
    redact.register("registered-pw-1")
    data: dict[str, Any] = {
        "passwordProfile": {"password": "Init1al!Pass", "forceChangePasswordNextSignIn": False},
        "passwordCredentials": [
            {"keyId": "k1", "hint": "Gx8", "secretText": "Gx8~full", "endDateTime": None}
        ],
        "client_secret": "cs-value",
        "Access-Token": "at",
        "keyCredentials": [{"key": PEM, "type": "AsymmetricX509Cert"}, {"key": "MIIC-public-cert"}],
        "note": f"used registered-pw-1 and {JWT}",
        "pair": ("registered-pw-1", 3),
        "password_unset": None,
    }
    out = redact.redact_obj(data)
    assert out["passwordProfile"] == {"password": "***", "forceChangePasswordNextSignIn": False}
    assert out["passwordCredentials"] == [
        {"keyId": "k1", "hint": "Gx8", "secretText": "***", "endDateTime": None}
    ]
    assert out["client_secret"] == "***" and out["Access-Token"] == "***"
    assert out["keyCredentials"][0]["key"] == "***"
    assert out["keyCredentials"][1]["key"] == "MIIC-public-cert"  # a public certificate is evidence
    assert out["note"] == "used *** and ***"
    assert out["pair"] == ("***", 3)
    assert out["password_unset"] is None
    assert data["client_secret"] == "cs-value"  # the input is not changed
    assert "cs-value" not in json.dumps(out)


@pytest.fixture
def root_capture() -> Iterator[io.StringIO]:
    """A handler on the root logger; the root's filters and handlers are restored afterwards."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    redact.uninstall()
    root.removeHandler(handler)
    root.setLevel(saved_level)


def test_log_records_from_child_loggers_are_redacted(root_capture: io.StringIO) -> None:
    flt = redact.install()
    assert redact.install() is flt  # idempotent: one filter
    assert sum(isinstance(f, redact.RedactingFilter) for f in logging.getLogger().filters) == 1
    redact.register("hunter2-secret")
    log = logging.getLogger("agent.test.child")
    log.info("signing in with %s as %s", "hunter2-secret", "migsvc")
    log.warning("header Authorization: Bearer %s", JWT)
    try:
        raise RuntimeError("failed with hunter2-secret")
    except RuntimeError:
        log.exception("boom")
    text = root_capture.getvalue()
    assert "INFO signing in with *** as migsvc" in text
    assert "Authorization: Bearer ***" in text
    assert "RuntimeError: failed with ***" in text
    assert "hunter2" not in text and JWT not in text


def test_handlers_added_after_install_are_covered(root_capture: io.StringIO) -> None:
    redact.install()
    late = io.StringIO()
    handler = logging.StreamHandler(late)
    other = logging.getLogger("agent.test.late")
    other.addHandler(handler)
    try:
        redact.register("late-secret-42")
        other.error("token late-secret-42")
    finally:
        other.removeHandler(handler)
    assert late.getvalue() == "token ***\n"
    redact.uninstall()
    assert logging.getLogRecordFactory() is logging.LogRecord  # restored
    assert not any(isinstance(f, redact.RedactingFilter) for f in logging.getLogger().filters)


def test_filter_on_a_single_record() -> None:
    redact.register("pw-in-record")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b", ("pw-in-record",), None)
    assert redact.RedactingFilter().filter(record) is True
    assert record.getMessage() == "a *** b"


def test_register_and_redact_from_many_threads() -> None:
    values = [f"thread-secret-{i:03d}" for i in range(200)]
    errors: list[BaseException] = []

    def work(chunk: list[str]) -> None:
        try:
            for value in chunk:
                redact.register(value)
                assert value not in redact.redact(f"x {value} y")
        except BaseException as exc:  # surfaced below: a thread's assertion does not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert redact.redact(" ".join(values)) == " ".join(["***"] * len(values))


@pytest.mark.parametrize("text", [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl here",
    "Authorization: sk-live-12345",
    "header was Bearer abc123def456ghi",
    "body client_secret=s3cr3t-value&grant_type=x",
    '{"secretText": "s3cr3t-value"}',
    "NTLM TlRMTVNTUAABAAAAB4IIog==",
])
def test_the_quick_check_never_skips_a_text_a_pattern_would_mask(text: str) -> None:
    assert any(pattern.search(text) for pattern, _ in redact._PATTERNS)  # a pattern masks each sample
    assert redact._TRIGGER.search(text) is not None
    assert redact.redact(text) != text


def test_plain_fleet_evidence_passes_unchanged() -> None:
    users = [f"user{i:04d}@contoso.onmicrosoft.com" for i in range(50)]
    assert redact.redact_obj({"missing_users": users}) == {"missing_users": users}


def test_a_secret_registered_after_a_text_was_redacted_is_masked_in_it() -> None:
    text = "connector says: hunter2-but-longer-secret-value rejected"
    assert redact.redact(text) == text  # not a secret yet: answered, and remembered
    redact.register("hunter2-but-longer-secret-value")
    assert "hunter2-but-longer-secret-value" not in redact.redact(text)
    assert redact.redact(text) == redact.redact(text)  # the same answer again, from the new memo
