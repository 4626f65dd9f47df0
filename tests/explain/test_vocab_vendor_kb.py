"""Migration tools' own error texts from their knowledge-base pages (agent/knowledge/vendor-kb.yaml).

Each text is the literal wording its page quotes, placeholders as the page prints them: BitTitan
MigrationWiz's 401 error suite and Teams private chat troubleshooting, AssureStor's impersonation article,
Cloudiway's preprocessing article, Movebot's failure and error types, CodeTwo's Security defaults article,
AvePoint Fly's Teams chat codes, Zoho Mail's migration troubleshooting, Mover's error table, and Microsoft's
error list for tenant-to-tenant (orchestrated) migration.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge, load_knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # BitTitan MigrationWiz, "MigrationWiz Errors - 401 Unauthorized Error Suite"
    ("401 Unauthorized - Http POST request to 'autodiscover-s.outlook.com' failed - Basic Auth Disabled",
     "legacy-auth-disabled"),
    # AssureStor, adding an Office 365 domain
    ("The account does not have permissions to impersonate the requested user",
     "exo-app-missing-full-access"),
    # Movebot, "Common errors and failure reasons"
    ("invalid-credentials", "bad-credentials"),
    # Microsoft 365 orchestrated migration: CTM-104, CTTM-002, MMS-001/002, CTTM-006, MMS-008/009
    ("User migration failed. The CTMS App in tenant is not provisioned, or the app is provisioned but is not "
     "enabled. Please refer to tenant configuration documentation and retry migration.", "app-not-installed"),
    ("Teams migration failed. App {0} in tenant {1} is not provisioned, or the app is provisioned but is not "
     "enabled. Please refer to tenant configuration documentation and retry migration.", "app-not-installed"),
    ("Teams Meeting migration failed. The MMS App {0} in tenant {1} isn't provisioned, or the app is "
     "provisioned but isn't enabled. Please refer to tenant configuration documentation and retry migration.",
     "app-not-installed"),
    ("Teams migration failed. App {0} in tenant {1} is missing all the necessary role assignments. Refer to "
     "tenant configuration documentation retry migration.", "app-not-installed"),
    ("Teams Meeting migration failed. The MMS App on tenant {0} is missing the required app role "
     "assignments. Refer to tenant configuration documentation and retry migration.", "app-not-installed"),
    # MMS-003, MMS-007
    ("Teams Meeting migration failed. MMS app in tenant {0} is missing the required RBAC roles to access "
     "the calendar. Refer to tenant configuration documentation and retry migration.",
     "exo-app-missing-full-access"),
    ("Teams Meeting migration failed for user {0}. User {0} in tenant {1} does not have an active Exchange "
     "Online Plan. Assign an Exchange Online Plan to the user and retry migration.", "account-unlicensed"),
    # CodeTwo, "Entra ID security policies prevent CodeTwo Backup from connecting to SharePoint Online"
    ("Failed to connect to SharePoint by using legacy authentication.", "legacy-auth-disabled"),
    # Mover's error table (Microsoft's retired cloud migration service)
    ('Error: "The Office 365 connector hasn\'t been authorized in the Azure Tenant yet."',
     "app-not-installed"),
    ("Error: Unable to get contents of this folder: Connection Error", "mfa-blocks-service-account"),
    # Zoho Mail, migration from Microsoft 365
    ("Invalid User Details", "mfa-blocks-service-account"),
])
def test_a_vendor_kb_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    # Cloudiway, "OneDrive Not Provisioned" (file migration preprocessing)
    ("OneDrive not provisioned", "onedrive-not-provisioned"),
    # Movebot, "Common errors and failure reasons"
    ("no-space-left", "quota-exceeded"),
    # Microsoft 365 orchestrated migration: CTM-102, CTM-103, CTTM-014, MMS-012/013
    ("Service is experiencing a high volume of requests and we are unable to validate the user at this time. "
     "Please resubmit the user as part of a different batch after some time.", "throttling"),
    ("An internal server error occurred during the validation of the user. Please resubmit the user as part "
     "of a different batch or contact support if the issue persists.", "service-outage"),
    ("Teams migration failed. The tenant {0} does not exist. Check the tenant Id and retry migration.",
     "wrong-tenant"),
    ("Teams Meeting migration failed. The MMS App {0} in target or source tenant {1} does not have the "
     "Exchange Administrator directory role assigned. Please assign the role and retry migration.",
     "insufficient-role"),
    # the same list's cross-tenant OneDrive migration errors
    ("MnAOdbForSourceUPNDoesNotExist: OneDrive site for source user UPN [{0}] does not exist.",
     "onedrive-not-provisioned"),
    ("OneDrive site for source user UPN [{0}] does not yet exist. Current URL - [{1}].",
     "onedrive-not-provisioned"),
    ("MnATargetUserIsNotSpoEnabled: Target user [{0}] is not allowed to have any SharePoint resources, "
     "including OneDrive.", "onedrive-not-provisioned"),
    # BitTitan MigrationWiz, "Troubleshooting Teams Private Chat"
    ("The operation was canceled due to high load. Please try again later.", "throttling"),
    ("A worker operation was canceled. Please try again or contact support if the issue persists.",
     "throttling"),
    ("A network error occurred communicating with Microsoft 365.", "throttling"),
    ("The connector does not have sufficient privileges to perform the operation. Verify the connector "
     "permissions and re-authorize if necessary.", "throttling"),
    # Mover's error table
    ('Error: "Source Initialization" or "Destination Initialization": Application has lost connection with '
     "the source connector.", "token-expired"),
    ('Error: "Refreshed OAuth Authorization Token: 404 Not Found" - "itemNotFound: The resource couldn\'t be '
     'found"', "token-expired"),
    ("Couldn't retrieve user count: user count couldn't be retrieved.", "token-expired"),
    ('Error: "Transfer failed because the target folder for one of your connectors couldn\'t be set."',
     "invalid-input"),
    # Movebot, "Error: token-expired"
    ("token-expired", "token-expired"),
    # AvePoint Fly, "Teams Chat Related Codes"
    ("TC-ExceededFileStorageLimit", "quota-exceeded"),
    ("TC-CannotAddExternalUserToDestinationChat", "tenant-restrictions"),
])
def test_a_vendor_kb_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_a_tool_code_is_matched_as_a_word_only() -> None:
    """Movebot's failure types are codes: 'no-space-left' inside another word names nothing."""
    result = explain("error: disk-has-no-space-leftover", load_knowledge())
    assert result.other is None or result.other.id != "quota-exceeded"
