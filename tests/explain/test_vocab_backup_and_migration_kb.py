"""Backup and migration tools' error texts from a second reading of their pages
(agent/knowledge/backup-and-migration-kb.yaml).

Each text is the wording its page prints: Veeam's KB4847, Datto SaaS Protection's and NinjaOne's
troubleshooting pages, Keepit's connection articles, Druva's EUAUTH and EUSERNOTFOUND articles, Spanning's
problem code 14021, Afi's troubleshooting page, Acronis's and Carbonite's limits, BitTitan's Exchange and
Advanced Options pages, Cloudiway's and Mailbox Taxi's articles, Microsoft's migration batch pages, Quest
Content Matrix's and SPMT's documentation, Mover's connector troubleshooting and AvePoint Fly's group codes.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    ("Datto SaaS Protection: Unauthorized Organizations", "app-not-installed"),
    ("Main App (Global Admin) Token authorization error was detected", "app-not-installed"),
    ("Exchange Online backup failed: EUAUTH", "mfa-blocks-service-account"),
    ("Drive API is disabled for the account", "account-unlicensed"),
    ("Error: MailboxNotFound", "account-unlicensed"),
    ("Couldn't connect to the source mailbox.", "exo-app-missing-full-access"),
    ("The Mailbox Replication Service was unable to connect to the remote server using the credentials "
     "provided. Please check the credentials and try again.", "bad-credentials"),
    ("Insufficient Credentials", "not-site-collection-admin"),
    ("GG-AppPermissionError", "app-not-installed"),
    ("GG-TargetUserRoleLimitedByLicenseRestriction", "account-unlicensed"),
])
def test_a_tool_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    ("Contract schema check for the Exchange Online REST API failed", "insufficient-role"),
    ('The user "contoso\\0f1e2d3c" isn\'t assigned to any management roles.', "insufficient-role"),
    ("Access denied: The app needs access to a service ('https://*onenote.com/'). Please log in to this "
     "service first before creating new backups.", "invalid-resource"),
    ("Credentials no longer valid, please update", "token-expired"),
    ("Authentication no longer valid", "token-expired"),
    ("EUSERNOTFOUND", "invalid-input"),
    ("Problem Code 14021", "throttling"),
    ("Can't download the item due to exceeded provider quota on this resource, will retry later",
     "throttling"),
    ("The following quota is reached: Number of protected Microsoft 365 seats", "quota-exceeded"),
    ("There is a monthly limit on the amount of content that can be exported.", "quota-exceeded"),
    ("'>' is an unexpected token", "wrong-endpoint"),
    ("[ALREADYEXISTS] Mailbox already exists", "item-conflict"),
    ("There are syntax errors in the support options. Please note that these support options will not be "
     "saved despite any attempts.", "invalid-input"),
    ("Error: 'invalid_request', Description: 'Invalid impersonation prn email address.'", "invalid-input"),
    ("License Exceeding", "quota-exceeded"),
    ("User Rate Limit Exceeded", "throttling"),
    ("invalid_grant: The refresh token has expired", "token-expired"),
    ("OAuth2 token expired", "token-expired"),
    ("You can't use the domain because it's not an accepted domain for your organization.", "invalid-input"),
    ("The migration endpoint 'Cross-Tenant' couldn't be found.", "invalid-input"),
    ("The application will exit because of sign-in failure. Please double-check and try again.",
     "invalid-input"),
    ("SharePoint sign in fail", "proxy"),
    ("SharePoint login fail", "proxy"),
    ("CANNOT_ACCCESS", "token-expired"),
    ("PAGES_BLOCKED_COZ_NO_SCRIPT", "custom-script-blocked"),
    ("Tenant lacks SPO license", "sharepoint-unlicensed"),
])
def test_a_tool_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_conditional_access_sign_in_frequency_is_not_read_as_an_expired_token(shipped: Knowledge) -> None:
    """AADSTS70043's message also says the refresh token "has expired": the code decides, not the words."""
    text = ("AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by "
            "conditional access. The token was issued on 2024-05-01T08:00:00Z.")
    cause_first(explain(text, shipped), "mfa-blocks-service-account")

