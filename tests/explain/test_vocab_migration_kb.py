"""Migration tools' own error texts from their knowledge-base pages, second set (migration-kb.yaml).

Each line is the wording its page prints, with the page's own placeholders: Migration Manager's failure and
status codes for cloud migrations, the SharePoint Migration Tool's troubleshooting tables, Migration
Manager's file share agent messages, and a MigrationWiz knowledge-base article.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # Migration Manager, "Reports and codes for cloud migrations": failure codes
    ("MDESTINATIONNOTWRITABLE: You don't have write access to the destination.", "no-full-control"),
])
def test_a_migration_kb_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    # Migration Manager, "Reports and codes for cloud migrations": failure codes; the source cloud's
    # account must authorize the migration app again: nothing in the Microsoft 365 tenant is missing
    ("MAUTHMOVERAPP: Microsoft 365 migration app needs to be authorized in source account.",
     "token-expired"),
    ("Microsoft 365 migration app needs to be authorized in source account. Sign in to the source account "
     "and grant permission to the Microsoft 365 migration app. Try again.", "token-expired"),
    ("MAUTHACCESSTOKENINVALID: Connector authorization failure. The API request failed because the access "
     "token is invalid or expired.", "token-expired"),
    ("MAUTHREFRESHTOKEN: Connector authorization failure. Failed to get refresh token.", "token-expired"),
    ("MAUTHUSERNOTADMIN: Connector authorization failed; user doesn't have admin role.", "insufficient-role"),
    ("MTHROTTLE: API requests made by connector are getting throttled.", "throttling"),
    ("MSTORAGEQUOTAREACHED: Storage quota exceeded for connector.", "quota-exceeded"),
    ("MUSERQUOTAREACHED: User quota limit reached.", "quota-exceeded"),
    ("MDUPLICATE: Duplicate. This file already exists in your destination location.", "item-conflict"),
    ("MFILELOCKED: File is locked, and can't download or get metadata.", "item-conflict"),
    ("MHTTPCONNECTION: Connection failure.", "network-timeout"),
    ("MSERVICENOTAVAILABLE: Service unavailable.", "service-outage"),
    ("MPATHMALFORMED: Invalid path format.", "invalid-input"),
    # the same page: status codes
    ("402 Failed Connector authorization failed. Try reauthorizing Source name or Destination name",
     "token-expired"),
    ("260 Failed Storage Quota Exceeded on Destination name", "quota-exceeded"),
    ("261 Failed Quota API Exceeded on Destination name", "throttling"),
    # SharePoint Migration Tool, "Troubleshooting common SPMT issues and errors"
    ("Migration failed due to it is an unsafe web part and the server setting 'NoScript'",
     "custom-script-blocked"),
    ("0x0131000F Failed to Read the file. File is checked out.", "item-conflict"),
    ("0x01710004 Errors or timeout for Server Processing the file. Fail to look up folder name.",
     "item-conflict"),
    ("Errors or timeout for Server Processing the file. Fail to look up folder name. The item may exist in "
     "other list or site in the same site collection. Or the item is in the recycle bin.", "item-conflict"),
    ("0x02060009 The site collection can't be created because the URL is already in use or an invalid URL.",
     "item-conflict"),
    ("0x01610001 The Azure container is expired. Retry migration task.", "token-expired"),
    ("The Azure container is expired. Retry migration task.", "token-expired"),
    # Migration Manager, "Troubleshoot Migration Manager file migrations": agent messages
    ("The source file share doesn't exist", "invalid-input"),
    # BitTitan MigrationWiz knowledge base
    ("The refresh token must not be null nor white space", "token-expired"),
])
def test_a_migration_kb_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_a_migration_manager_code_is_matched_as_a_word_only(shipped: Knowledge) -> None:
    """MDUPLICATE inside a longer word names nothing."""
    result = explain("error: XMDUPLICATEX", shipped)
    assert result.other is None or result.other.id != "item-conflict"
