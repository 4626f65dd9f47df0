"""Windows' own words for a refused sign-in (agent/knowledge/windows-logon.yaml).

Win32 system error codes and messages, the NTSTATUS codes of the Security log, Kerberos failure codes and
IIS's 401 sub-statuses, each as Microsoft's pages print them.
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text, cause", [
    ("The user name or password is incorrect. (Exception from HRESULT: 0x8007052E)", "bad-credentials"),
    ("Logon failure: unknown user name or bad password.", "bad-credentials"),
    ("System.ComponentModel.Win32Exception: The password for this account has expired", "bad-credentials"),
    ("This user can't sign in because this account is currently disabled.", "bad-credentials"),
    ("The referenced account is currently locked out and may not be logged on to.", "bad-credentials"),
    ("Win32 error ERROR_ACCOUNT_EXPIRED", "bad-credentials"),
    ("The user's password must be changed before signing in.", "bad-credentials"),
    ("An account failed to log on. Failure Reason: Unknown user name or bad password. Status: 0xC000006D "
     "Sub Status: 0xC000006A", "bad-credentials"),
    ("Status: 0xC0000234", "bad-credentials"),
    ("Kerberos SessionError: KDC_ERR_PREAUTH_FAILED(Pre-authentication information was invalid)",
     "bad-credentials"),
    ("Kerberos SessionError: KDC_ERR_CLIENT_REVOKED(Clients credentials have been revoked)",
     "bad-credentials"),
    ("HTTP Error 401.1 - Unauthorized: Access is denied due to invalid credentials.", "bad-credentials"),
    ("HTTP Error 401.2 - Unauthorized: You are not authorized to view this page due to invalid "
     "authentication headers. https://mail.contoso.com/EWS/Exchange.asmx", "legacy-auth-disabled"),
])
def test_windows_logon_texts_name_their_cause(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


def test_a_domain_controller_clock_apart_is_clock_skew(shipped: Knowledge) -> None:
    unrelated_kind(explain("An account failed to log on. Status: 0xC0000133", shipped), "clock-skew")


def test_a_version_number_is_not_an_iis_sub_status(shipped: Knowledge) -> None:
    assert explain("Installed version 10.401.1 of the tool", shipped).causes == []


@pytest.mark.parametrize("data", ["52e", "533", "775"])
def test_an_ldap_bind_names_its_win32_reason(shipped: Knowledge, data: str) -> None:
    text = f"80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data {data}, v3839"
    cause_first(explain(text, shipped), "bad-credentials")


def test_an_ad_fs_code_names_the_federation(shipped: Knowledge) -> None:
    """AD FS numbers its errors MSIS<digits>: the sign-in went through federation."""
    cause_first(explain("Sign-in failed: MSIS7068: Access denied.", shipped), "sso-federated-account")
    stack = "at Microsoft.IdentityServer.Web.PassiveProtocolListener.OnGetContext(WrappedHttpListenerContext)"
    cause_first(explain(f"Token request failed (400)\n{stack}", shipped), "sso-federated-account")
    assert explain("the msis20 chart", shipped).causes == []  # MSIS and four digits, a code's shape
