"""Texts quoted by Microsoft's troubleshooting articles (agent/knowledge/support-exchange-entra.yaml).

Each text is the error message as the article's Symptoms section quotes it, placeholders filled in: Entra
consent and sign-in pages, pass-through authentication, Conditional Access, Exchange Online PowerShell and
the Exchange Online migration service (Google Workspace, IMAP and cutover batches).
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # troubleshoot/entra/entra-id/app-integration/troubleshoot-consent-issues
    ("Need admin approval", "app-not-installed"),
    # entra/identity/enterprise-apps/application-sign-in-unexpected-user-consent-error (no code printed)
    ("Contoso Migrator is requesting one or more permissions that you aren't authorized to grant. Contact an "
     "administrator, who can consent to this application on your behalf.", "app-not-installed"),
    ("Contoso Migrator needs permission to access resources in your organization that only an admin can "
     "grant. Ask an admin to grant permission to this app before you can use it.", "app-not-installed"),
    ("AADSTS900941: Administrator consent is required. App is considered risky. "
     "(AdminConsentRequiredDueToRiskyApp)", "app-not-installed"),
    # troubleshoot-admin-consent-issues: the audit log's status reason
    ("Microsoft.Online.Security.UserConsentBlockedForRiskyAppsException", "app-not-installed"),
    # error-code-aadsts50173-grant-expired-revoked, the message without its code
    ("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
     "have changed or reset their password.", "bad-credentials"),
    # troubleshoot/azure/active-directory/authentication-fails-with-error
    ("The requested federation realm object 'http://sts.contoso.com/adfs/services/trust' does not exist.",
     "sso-federated-account"),
    # entra/identity/hybrid/connect/tshoot-connect-pass-through-authentication
    ("AADSTS80004: The username passed to the agent was not valid", "bad-credentials"),
    # entra/identity/conditional-access/troubleshoot-conditional-access
    ("AADSTS53009: Application needs to enforce Intune protection policies", "mfa-blocks-service-account"),
    # troubleshoot/exchange/move-or-migrate-mailboxes/google-workspace-mailbox-migration-fail
    ("Error MigrationPermanentExeption: Special credentials are required in order to access this IMAP "
     "account. --> Special credentials are required in order to access this IMAP account. --> Imap server "
     "reported an error during LoginCommand with the following alert: 'Application-specific password "
     "required: https://support.google.com/accounts/answer/185833 (failure).", "mfa-blocks-service-account"),
    # troubleshoot-issues-with-imap-mailbox-migration: the migration error report
    ("We had trouble signing in to this account. Confirm that you're using the correct user name and "
     "password.", "bad-credentials"),
    ("A recipient wasn't found for user@contoso.com on the target. Create a recipient of the appropriate "
     "type for this migration on the target and try again.", "account-unlicensed"),
    # error-code-aadsts530004-acceptcompliantdevice-setting-not-configured
    ("AADSTS530004: AcceptCompliantDevice setting isn't configured for this organization.",
     "mfa-blocks-service-account"),
    # how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth: an app's token without the mailbox
    ("imaplib.IMAP4.error: b'AUTHENTICATE failed.' (XOAUTH2 with an app token, outlook.office365.com:993)",
     "exo-app-missing-full-access"),
])
def test_a_quoted_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    # application-sign-in-unexpected-user-consent-error: AADSTS90090 wording without its code
    ("It looks like the sign-in process encountered an intermittent problem recording the permissions you "
     "attempted to grant to Contoso Migrator. try again later.", "service-outage"),
    # error-aadsts900439-usgclientnotsupportedonpublicendpoint
    ("AADSTS900439: USGClientNotSupportedOnPublicEndpoint", "wrong-cloud"),
    # tshoot-connect-pass-through-authentication: user-facing errors and the agent's trace log
    ("A timeout occurred connecting to Active Directory", "hybrid-auth-agent"),
    ("AzureADConnectAuthenticationAgentService.exe Error: 0 : Passthrough Authentication request failed. "
     "RequestId: 'df63f4a4-68b9-44ae-8d81-6ad2d844d84e'. Reason: '1328'.", "hybrid-auth-agent"),
    # troubleshoot/exchange/administration/winrm-cannot-process-request
    ("[outlook.office365.com] Connecting to remote server failed with the following error message: The WinRM "
     "client cannot process the request because the server name cannot be resolved. For more information, "
     "see the about_Remote_Troubleshooting Help topic.", "dns"),
    # googlepermanentwebexception-in-google-workspace-migration
    ("Error: GooglePermanentWebException: The API call to Google ended in the error: "
     "uri=https://www.googleapis.com/calendar/v3/users/user@contoso.com/calendarList?maxResults=250 "
     "response={\"error\":{\"code\":403,\"message\":\"Google Calendar API has not been used in project 1234 "
     "before or it is disabled.\"}} (403) Forbidden.", "invalid-resource"),
    # mailbox-migration-fails-using-imap
    ("Microsoft.Exchange.Migration.MigrationServerConnectionFailedException: The connection to the server "
     "'mail.contoso.com' could not be completed. "
     "Microsoft.Exchange.Connections.Common.SslStreamFailureException: TLS negotiation failed.", "tls-trust"),
    # troubleshoot-issues-with-imap-mailbox-migration: creating the batch
    ("The connection to the server imap.contoso.com timed out after 00:00:15.", "network-timeout"),
    ("Row 7 has the wrong number of columns. Expected number: 3. Actual number: 2. Please edit this row and "
     "re-submit the file.", "invalid-input"),
    # error-code-aadsts50020-user-account-identity-provider-does-not-exist: the home tenant's sign-in log
    ("User account user@fabrikam.com from identity provider https://sts.windows.net/fabrikam/ does not "
     "exist in tenant Contoso and cannot access the application Migrator in that tenant. The account needs "
     "to be added as an external user in the tenant first.", "wrong-tenant"),
    # bad-request-error-when-connecting-to-exchange-online-powershell (RemotePowerShellEnabled False)
    ("New-PSSession : [outlook.office365.com] Connecting to remote server outlook.office365.com failed with "
     "the following error message : Bad Request", "insufficient-role"),
    # python-scripts-microsoft-graph-requests-detected-as-web-crawler
    ('{"error": {"code": "UnknownError", "message": "403 Forbidden Microsoft-Azure-Application-Gateway/v2"}} '
     "GET https://graph.microsoft.com/v1.0/users", "tool-bug"),
    # hybrid-configuration-wizard-not-connect-to-office-365 (TLS 1.2 off on the machine)
    ("The server certificate on the destination computer (outlook.office365.com:443) has the following "
     "errors: Encountered an internal error in the SSL library.", "tls-trust"),
    # v2-oauth2-auth-code-flow: a Single-page application redirect URI needs PKCE
    ("AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
     "public-client-config"),
    # confidential-client-application-authentication-error-aadsts7000218: the wording without its code
    ("The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
     "public-client-config"),
])
def test_a_quoted_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)
