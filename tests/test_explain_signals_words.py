"""explain's signals from words: placeholders written out, a status said in words, the scheme a credential
class names, services matched as words; and one text per new vocabulary (migration tools, statuses by
service, MSAL for Java and MSAL.js), each written from the vocabulary's own source."""

from __future__ import annotations

import pytest

from agent.explain import explain
from agent.explain_knowledge import load_knowledge
from agent.explain_signals import placeholders, read_signals


def _top(text: str) -> str | None:
    result = explain(text, load_knowledge())
    return result.causes[0].id if result.causes else None


def _other(text: str) -> str | None:
    result = explain(text, load_knowledge())
    return result.other.id if result.other is not None and not result.causes else None


@pytest.mark.parametrize("text, found", [
    ("Application with identifier your-client-id was not found in the directory your-tenant-id",
     ["your-client-id", "your-tenant-id"]),
    ("// Insert your client ID here", ["Insert your client ID here"]),
    ('client_id: "<client_id>"', ["<client_id>"]),
    ("identifier '{tenant_id}' was not found", ["{tenant_id}"]),
    ("secret = <Enter your client secret>", ["<Enter your client secret>"]),
])
def test_placeholders_written_in_words_are_read(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


@pytest.mark.parametrize("text", [
    "https://<org>.sharepoint.com/_vti_bin/idcrl.svc/",  # a bracketed single word is a redaction
    "Application with identifier '<tenant>' was not found",
    "https://yourdomain.sharepoint.com/sites/hr",  # no separator: a host, not a setting name
    "ERROR_ACCESS_DENIED for my account",
])
def test_redactions_and_plain_words_are_no_placeholders(text: str) -> None:
    assert placeholders(text) == []


def test_a_placeholder_in_words_decides_for_invalid_input() -> None:
    text = "AADSTS700016: Application with identifier 'your-client-id' was not found in the directory"
    assert _top(text) is None and _other(text) == "invalid-input"


def test_access_denied_in_words_counts_with_its_service_only() -> None:
    signals = read_signals("Access denied. https://contoso-my.sharepoint.com/personal/ann_contoso_com")
    assert signals.statuses == set() and signals.worded == {403}
    assert _top("Access denied. https://contoso-my.sharepoint.com/personal/ann") == "no-onedrive-access"
    assert explain("Access denied", load_knowledge()).causes == []  # nothing says where: no cause
    assert read_signals("(401) Unauthorized. Access denied").worded == set()  # a number given wins


def test_a_local_path_denial_is_no_status() -> None:
    assert read_signals("Access to the path 'C:\\temp\\a.log' is denied.").worded == set()


def test_the_credential_class_names_the_scheme() -> None:
    ews = ("The request failed. The remote server returned an error: (401) Unauthorized. "
           "https://outlook.office365.com/EWS/Exchange.asmx\n"
           "service.Credentials = new WebCredentials(user, pwd);")
    assert "basic" in read_signals(ews).schemes
    assert _top(ews) == "legacy-auth-disabled"
    assert "bearer" in read_signals("ClientSecretCredential.get_token failed").schemes
    spo = ("ctx.Credentials = new SharePointOnlineCredentials(user, pwd); ctx.ExecuteQuery(); "
           "The remote server returned an error: (401) Unauthorized. https://contoso.sharepoint.com/sites/hr")
    assert _top(spo) in {"legacy-auth-disabled", "bad-credentials"}


def test_services_are_matched_as_words() -> None:
    ews = read_signals("at Microsoft.Exchange.WebServices.Data.EwsHttpWebRequest.GetResponse()")
    assert "sharepoint" not in ews.services and "ews" in ews.services  # no 'spo' inside 'response'
    assert "ews" not in read_signals("GET https://contoso.sharepoint.com/sites/news /_api/web").services
    assert "ews" in read_signals("EWS: the request failed").services
    assert "sharepoint" in read_signals('Exception calling "ExecuteQuery" with "0" argument(s)').services
    assert "sharepoint" in read_signals("Connect-SPOService : The sign-in name ...").services


def test_a_graph_only_code_names_graph() -> None:
    body = ('{"error":{"code":"Authorization_RequestDenied",'
            '"message":"Insufficient privileges to complete the operation."}}')
    assert "graph" in read_signals(body).services
    assert _top(body) == "app-not-installed"


@pytest.mark.parametrize("text, cause", [
    ("SPMT: Error 0x02010017 You do not have sufficient permission.", "not-site-collection-admin"),
    ("0x0201000C Invalid credentials.", "bad-credentials"),
    ("Migration Manager: Destination site or web doesn't exist", "target-site-missing"),
    ("Role 'ApplicationImpersonation' is not assigned to admin account", "exo-app-missing-full-access"),
])
def test_migration_tools_codes_and_texts(text: str, cause: str) -> None:
    assert _top(text) == cause


def test_a_code_with_several_listed_reasons_is_weak_evidence() -> None:
    result = explain("0x02010018 A problem occurred accessing SharePoint.", load_knowledge())
    assert result.causes and not any(m.strong for m in result.causes)
    assert _other("0x02010018 SharePoint access failure - DNS resolving failure") == "dns"


@pytest.mark.parametrize("text, kind", [
    ("HTTP Error 503: Service Unavailable", "service-outage"),
    ("HTTP/1.1 504 Gateway Timeout", "network-timeout"),
    ("Microsoft.Exchange.WebServices.Data.ServiceRequestException: The request failed. "
     "The remote server returned an error: (403) Forbidden.", "app-access-policy"),
    ("com.microsoft.aad.msal4j.MsalThrottlingException: Request was throttled according to instructions "
     "from STS. Retry in 5000 ms.", "throttling"),
    ("ClientAuthError: invalid_client_credential: Client credential (secret, certificate, or assertion) must "
     "not be empty when creating a confidential client.", "invalid-input"),
    ("ClientAuthError: missing_tenant_id_error: A tenant id - not common, organizations, or consumers - must "
     "be specified when using the client_credentials flow.", "wrong-tenant"),
    ("BrowserAuthError: interaction_in_progress: Interaction is currently in progress.", "tool-bug"),
])
def test_unrelated_kinds_from_statuses_and_libraries(text: str, kind: str) -> None:
    assert _other(text) == kind


def test_msal4j_federated_codes_point_at_the_federated_account() -> None:
    text = "com.microsoft.aad.msal4j.MsalClientException: wstrust_service_error"
    assert _top(text) == "sso-federated-account"


def test_unauthorized_in_words_is_401_but_not_sharepoints_unauthorized_operation() -> None:
    assert read_signals("Connect-PnPOnline : Unauthorized").worded == {401}
    assert read_signals("Attempted to perform an unauthorized operation.").worded == set()
    assert read_signals("System.UnauthorizedAccessException").worded == {403}


def test_the_ews_managed_apis_wording_names_ews() -> None:
    text = "The request failed. The remote server returned an error: (401) Unauthorized."
    assert {"ews", "mail"} <= read_signals(text).services
    assert "ews" not in read_signals("The remote server returned an error: (401) Unauthorized.").services
    assert "ews" in read_signals("ServiceResponseException: Mailbox does not exist.").services
