"""rclone's OAuth texts (agent/knowledge/rclone.yaml): what its log keeps of a token endpoint's refusal."""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind

FETCH = 'Failed to create file system for "od:": failed to get root: couldn\'t fetch token: '


@pytest.mark.parametrize("text", [
    'invalid_grant: maybe token expired? - try refreshing with "rclone config reconnect od:"',
    'token expired and there\'s no refresh token - manually refresh with "rclone config reconnect od:"',
    'empty token found - please run "rclone config reconnect od:"',
    '(can\'t decode error info) - try refreshing token with "rclone config reconnect od:"',
])
def test_a_refresh_token_that_no_longer_works_is_not_a_tenant_cause(shipped: Knowledge, text: str) -> None:
    unrelated_kind(explain(FETCH + text, shipped), "token-expired")


def test_its_client_advice_names_the_app_s_own_credentials(shipped: Knowledge) -> None:
    text = FETCH + ("invalid_client: if you're using your own client id/secret, make sure they're properly "
                    "set up following the docs")
    cause_first(explain(text, shipped), "app-credentials-invalid")


def test_a_cause_s_own_error_string_decides_over_the_generic_suggestion(shipped: Knowledge) -> None:
    """rclone says "maybe token expired?" after every OAuth error it does not list; interaction_required
    is Entra asking for MFA or a Conditional Access step, which a new refresh token does not get past."""
    suggestion = "maybe token expired? - try refreshing with \"rclone config reconnect od:\""
    text = FETCH + "interaction_required: " + suggestion
    cause_first(explain(text, shipped), "mfa-blocks-service-account")
