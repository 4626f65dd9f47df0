"""Backup and migration tools' own error texts from their vendors' pages (agent/knowledge/saas-tools-kb.yaml).

Each text is the wording its page prints: AvePoint Fly's "Gmail Related Codes" troubleshooting page and
Keepit's "Grant new permissions to Keepit backup app" article.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # Keepit, "Grant new permissions to Keepit backup app"
    ("Reauthenticate connector to update permissions", "app-not-installed"),
])
def test_a_saas_tool_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    # AvePoint Fly, "Gmail Related Codes"
    ("The email failed in the migration with the following error: GM-AdminAccountIsNotGroupAdmin",
     "insufficient-role"),
    ("The mailbox alias failed in the migration with the following error: "
     "GM-AdminAccountLackOfAliasPermission", "insufficient-role"),
])
def test_a_saas_tool_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)
