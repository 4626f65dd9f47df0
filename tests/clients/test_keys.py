"""Certificate keys: parsed once per process, every assertion signed anew with the same key."""

from __future__ import annotations

import jwt
import pytest
import trustme
from cryptography import x509

from agent.clients import keys


@pytest.fixture(scope="module")
def pem() -> str:
    cert = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert("agent.local", key_type=trustme.KeyType.RSA)
    return cert.private_key_pem.bytes().decode() + cert.cert_chain_pems[0].bytes().decode()


def test_a_key_is_parsed_once_for_many_credentials(pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[bytes] = []
    real = keys._parse
    monkeypatch.setattr(keys, "_cache", {})
    monkeypatch.setattr(keys, "_parse", lambda data: parses.append(data) or real(data))
    for _ in range(5):
        keys.cached_key_credential("contoso.example", "app-id", pem, authority="https://login.example")
    assert len(parses) == 1
    assert keys.cache_size() == 1


def test_each_assertion_is_new_and_verifies_with_the_certificate(pem: str) -> None:
    key = keys.load_key(pem)
    audience = keys.token_endpoint("https://login.example/", "contoso.example")
    first, second = key.assertion(audience, "app-id"), key.assertion(audience, "app-id")
    public = x509.load_pem_x509_certificate(pem.encode()).public_key()
    claims = [jwt.decode(a, public, algorithms=["RS256"], audience=audience) for a in (first, second)]  # type: ignore[arg-type]
    assert claims[0]["iss"] == claims[0]["sub"] == "app-id"
    assert claims[0]["jti"] != claims[1]["jti"]
    assert jwt.get_unverified_header(first)["x5t"]
    assert audience == "https://login.example/contoso.example/oauth2/v2.0/token"


def test_the_loaded_key_prints_nothing_secret(pem: str) -> None:
    key = keys.load_key(pem)
    body = pem.split("PRIVATE KEY-----")[1].strip()[:40]
    assert body not in repr(key) and body not in str(key)
    assert key.thumbprint in repr(key)


def test_a_pem_without_a_key_is_refused_as_the_library_does() -> None:
    with pytest.raises(ValueError):
        keys.load_key("-----BEGIN CERTIFICATE-----\nnot a key\n-----END CERTIFICATE-----\n")


class _Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self._body = status, body

    def body(self) -> bytes:
        return self._body


@pytest.mark.parametrize(("status", "body", "why"), [
    (200, b'{"access_token": "eyJ.secret.token"}', "lacks access_token or its expiry"),
    (200, b"<html>", "not JSON"),
    (200, b"x" * (keys.MAX_TOKEN_ANSWER + 1), "not a token answer"),
])
def test_odd_token_answers_fail_short_without_quoting_the_body(status: int, body: bytes, why: str) -> None:
    from azure.core.exceptions import ServiceResponseError

    with pytest.raises(ServiceResponseError, match=why) as raised:
        keys._check_token_answer(_Answer(status, body))
    assert "secret" not in str(raised.value)


def test_a_token_answer_and_an_oauth_error_pass_the_guard() -> None:
    keys._check_token_answer(_Answer(200, b'{"access_token": "t", "expires_in": 3599}'))
    keys._check_token_answer(_Answer(400, b'{"error": "invalid_client", "error_description": "AADSTS"}'))
