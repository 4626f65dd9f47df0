"""DavMail's own texts (agent/knowledge/davmail.yaml): its messages and its Microsoft 365 authenticators."""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind

PREFIX = "ERROR [ImapConnection-4711] davmail  - "


@pytest.mark.parametrize("text, cause", [
    ("davmail.exception.DavMailAuthenticationException: Authentication failed: password expired ?",
     "bad-credentials"),
    ("Your organization needs more information to keep your account secure, authenticate once in a web "
     "browser and try again", "mfa-blocks-service-account"),
    ("java.io.IOException: MFA authentication methods not supported", "mfa-blocks-service-account"),
    ("Okta authentication not supported, please try O365Interactive", "sso-federated-account"),
    ("java.io.IOException: Unknown ADFS authentication failure", "sso-federated-account"),
])
def test_davmail_texts_name_their_cause(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(PREFIX + text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    ("Authenticated username someone@contoso.com does not match user@contoso.com", "invalid-input"),
    ("java.io.IOException: Found EWS stored token, incompatible with Graph API", "invalid-input"),
    ("Invalid header, HTTPS connection to an HTTP listener ?", "invalid-input"),
    ("java.io.IOException: No valid refresh token found for user@contoso.com", "token-expired"),
    ("Unable to connect to OWA at https://mail.contoso.com/owa/, status code 404, check configuration",
     "wrong-endpoint"),
])
def test_davmail_texts_that_no_tenant_change_fixes(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(PREFIX + text, shipped), kind)


def test_its_generic_failure_lists_the_password_and_the_interrupt(shipped: Knowledge) -> None:
    """Thrown for 50126 and for a consent or registration interrupt alike: a candidate, not a verdict."""
    result = explain(PREFIX + "Authentication failed: invalid user or password", shipped)
    expected = ["bad-credentials", "mfa-blocks-service-account", "app-not-installed"]
    assert [m.id for m in result.causes] == expected
    assert result.causes[0].confidence < 0.5


def test_an_aadsts_code_inside_decides_over_its_wrapper(shipped: Knowledge) -> None:
    text = PREFIX + "Authentication failed: invalid user or password AADSTS50076: you must use multi-factor"
    cause_first(explain(text, shipped), "mfa-blocks-service-account")
