"""Microsoft Remote Connectivity Analyzer's error texts (agent/knowledge/connectivity-analyzer.yaml).

Each text is the literal wording its page in the Analyzer's documentation quotes (learn.microsoft.com,
connectivity-analyzer), placeholders as the page prints them: the EWS Act As account and impersonation
errors, the authentication-method checks, the Office 365 sign-in and single sign-on warnings, the
Autodiscover error statuses, and the DNS, connection, certificate and clock errors.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    # EWS: the Act As account's rights on the folder, and impersonation
    ("ErrorCreateItemAccessDenied, the Act As Account does not have permissions to create items in this "
     "folder.", "exo-app-missing-full-access"),
    ("ErrorCannotDeleteObject, the Act As account may not have permission to delete items in this folder.",
     "exo-app-missing-full-access"),
    ("The Act As Account may not have permissions to access this folder.", "exo-app-missing-full-access"),
    ("ErrorImpersonateUserDenied, this error code indicates that the Service Account specified does not have "
     "the ms-Exch-EPI-May-Impersonate right on the Act As Account it is trying to impersonate",
     "exo-app-missing-full-access"),
    ("ErrorImpersonationDenied, this error code indicates that the Service Account specified does not have "
     "the ms-Exch-EPI-Impersonation right on the Exchange Client Access server.",
     "exo-app-missing-full-access"),
    # the authentication methods the server offers
    ("All Required Authentication Methods could not be found.", "legacy-auth-disabled"),
    ("No supported Authentication Methods found in Response", "legacy-auth-disabled"),
    # the account's name or password
    ("An HTTP 401 Unauthorized response was received from the remote IIS server. This is usually the result "
     "of an incorrect username or password. If you are attempting to log onto an Office 365 service, ensure "
     "you are using your full User Principal Name (UPN).", "bad-credentials"),
    ("The Security Token Service indicated that the authentication failed. Check the username and password "
     "and try again.", "bad-credentials"),
    ("To authenticate to Office 365, you must enter your Microsoft account. This is your User Principal Name "
     "and in many cases will be something like user@contoso.com.", "bad-credentials"),
    ("The user name provided could not be matched to a name in the email server's address list. Please check "
     "that you are using the correct user name.", "bad-credentials"),
    # federated (AD FS) sign-in
    ("Your organization could not sign you in to this service.", "sso-federated-account"),
    ("There was a problem accessing the site. Try to browse to the site again.If the problem persists, "
     "contact the administrator of this site and provide the reference number to identify the problem."
     "Reference number: <GUID>", "sso-federated-account"),
    # Autodiscover: no mailbox behind the address
    ("Autodiscover cannot process the given e-mail address. Only mailboxes and contacts are allowed.",
     "account-unlicensed"),
    ("The e-mail address cannot be found.", "account-unlicensed"),
])
def test_an_analyzer_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    ("The host name could not be resolved in DNS.", "dns"),
    ("A network connection error occurred while communicating with the remote host: '0'", "network-timeout"),
    ("SSL Certificate Name Mismatch", "tls-trust"),
    ("The name of the security certificate is invalid or does not match the name of the site.", "tls-trust"),
    ("The security certificate on the server is not valid. Support code: 0x80072f0d", "tls-trust"),
    ("The security certificate on the server is invalid. Contact your Exchange Server administrator or ISP "
     "to install a valid certificate on the server. Support Code: 80072F0D or 0x80072f0d.", "tls-trust"),
    ("Synchronization failed. The security certificate on the server has expired. Check that the date and "
     "time on the device is correct and try again. Error code: 80072f05 or 0x80072f05.", "tls-trust"),
    ("An HTTP 403.4 was returned because SSL was required on the virtual directory.", "wrong-endpoint"),
    ("1007 AccessDenied: Access Denied", "clock-skew"),
])
def test_an_analyzer_text_names_its_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_a_support_code_is_matched_as_a_whole_number_only(shipped: Knowledge) -> None:
    """The certificate support codes name nothing inside a longer hexadecimal number."""
    result = explain("request id 180072f0d42 failed", shipped)
    assert result.other is None or result.other.id != "tls-trust"
