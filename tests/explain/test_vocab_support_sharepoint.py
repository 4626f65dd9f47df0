"""Messages quoted by Microsoft's SharePoint Online and OneDrive troubleshooting articles
(agent/knowledge/support-sharepoint.yaml).

Each text is the literal message an article's Symptoms section quotes (learn.microsoft.com/troubleshoot/
sharepoint/...), with the site address a tool or browser shows beside it where the message needs its service
named; the expected cause or unrelated kind is the one the article's Cause / Resolution gives.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # sharing-and-permissions/access-denied-sharepoint-error: another user's OneDrive, then a team site
    ("https://contoso-my.sharepoint.com/personal/megan_contoso_com/ You need permission to access this site",
     "no-onedrive-access"),
    ("https://contoso.sharepoint.com/sites/finance/ You need permission to access this site",
     "no-full-control"),
    # sharing-and-permissions/request-access-to-resource
    ("https://contoso-my.sharepoint.com/personal/megan_contoso_com/ "
     "Sorry, this site hasn't been shared with you.", "no-onedrive-access"),
    # sharing-and-permissions/access-denied-due-to-org-policies
    ("Access Denied\nDue to organizational policies, you can't access this resource from this "
     "network location.", "mfa-blocks-service-account"),
    ("Access Denied\nDue to organizational policies, you can't access this resource from this "
     "untrusted device.", "mfa-blocks-service-account"),
    # administration/access-to-sharepoint-online-is-monitored
    ("Access to Microsoft SharePoint Online is monitored. For improved security, your organization allows "
     "access to Microsoft SharePoint Online in monitor mode. Access is only available from a web browser.",
     "mfa-blocks-service-account"),
    # administration/error-404-onedrive-sharepoint
    ("https://contoso.sharepoint.com/sites/finance Error 404: File/Page not found", "target-site-missing"),
])
def test_a_support_article_message_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    # apps/cannot-register-app-update-permissions (AppRegNew.aspx, AppInv.aspx)
    ("Your SharePoint admin doesn't allow site owners to create an Azure Access Control (ACS) principal. "
     "Please contact your SharePoint administrator.", "insufficient-role"),
    ("Your SharePoint admin doesn't allow site owners to update app permissions. Please contact your "
     "SharePoint administrator.", "insufficient-role"),
    # sites/site-is-read-only: names a site collection administrator, but the site is closed
    ("This site is read only at the site collection administrator's request.", "tenant-blocked"),
    ("SharePoint sites are read-only right now while we do some maintenance. We apologize for the "
     "inconvenience.", "tenant-blocked"),
    # sites/site-storage-quota-exceeded, administration/out-of-storage
    ("This site has exceeded its maximum file storage limit. To free up space, delete files you don't need "
     "and empty the recycle bin.", "quota-exceeded"),
    ("Unable to create new file. Site quota is full.", "quota-exceeded"),
    ("SharePoint Online is out of storage space", "quota-exceeded"),
    # sites/troubleshooting-guide-for-sites-stopped-at-provisioning,
    # sites/cannot-edit-files-onedrive-license-end
    ("We're still working on getting files setup on SharePoint This should take us a few minutes",
     "onedrive-not-provisioned"),
    ("You can't edit your files because your license to use OneDrive ended over a couple of months ago.",
     "onedrive-not-provisioned"),
    # administration/troubleshoot-error-when-you-use-hybrid-picker
    ("Value cannot be null. Parameter name: My site URL or team site URL from Discovery Service is null or "
     "empty.", "onedrive-not-provisioned"),
    # sharing-and-permissions/troubleshoot-error-when-tries-to-access-center
    ("External sharing is disabled for the site.", "guest-account"),
    # sharing-and-permissions/sharepoint-online-inaccessible
    ("You are now in line to access this site", "service-outage"),
    # security/session-has-expired
    ("Sorry, your session has expired. Please refresh the page to continue.", "clock-skew"),
    # administration/sharepoint-online-powershell-command-does-not-work-correctly
    ("The term 'Get-SPOSite' is not recognized as the name of a cmdlet, function, script file, or operable "
     "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
     "and try again.", "tool-bug"),
])
def test_a_support_article_message_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_a_permission_page_without_its_site_names_no_cause(shipped: Knowledge) -> None:
    """The permission pages need the site's address to tell a OneDrive from a team site."""
    result = explain("You need permission to access this site", shipped)
    assert result.causes == [] and result.other is None
