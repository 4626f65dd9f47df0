"""explain beyond its corpus: placeholders and other reasons that decide, the mail service, more status
shapes, and one text per vocabulary family of the shipped knowledge (written from the vocabulary itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.errors import PlaybookError
from agent.explain.knowledge import Entry, Knowledge, load_knowledge
from agent.explain.rank import explain
from agent.explain.signals import placeholders, read_signals
from agent.explain.vocab import Clue, ContextSpec, load_clues


def _clue(kind: str, value: object, target: str, weight: float = 3.0, **kw: object) -> Clue:
    return Clue(kind, value, target, bool(kw.pop("unrelated", False)), weight,
                "https://learn.microsoft.com/x", "toy", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, found", [
    ("Application with identifier 'ENTER_YOUR_CLIENT_ID' was not found", ["ENTER_YOUR_CLIENT_ID"]),
    ("identifier 'Enter_the_Application_Id_here' was not found", ["Enter_the_Application_Id_here"]),
    ("The resource principal named RESOURCE_ID/TENANT_NAME.sharepoint.com was not found",
     ["RESOURCE_ID", "TENANT_NAME"]),
    ("POST https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token", ["TENANT_ID"]),
])
def test_placeholders_are_read_where_a_real_value_belongs(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


@pytest.mark.parametrize("text", [
    "https://<org>.sharepoint.com/_vti_bin/idcrl.svc/",  # a redaction, not a placeholder
    "Application with identifier '***' was not found in the directory [guid2]",
    "error 'ERROR_ACCESS_DENIED' (E_ACCESSDENIED) and PPCRL_REQUEST_E_BAD_MEMBER_NAME_OR_PASSWORD",
    "[Error] make sure you have FULL CONTROL at the source site: $SOURCE_SITE_URL",  # a script's variable
    "scope 'https://graph.microsoft.com/.default' and error 'invalid_grant'",
])
def test_redactions_error_constants_and_variables_are_no_placeholders(text: str) -> None:
    assert placeholders(text) == []


def test_a_deciding_reason_names_its_kind_over_a_stronger_cause() -> None:
    knowledge = Knowledge(
        (Entry("app", "App", "advice", ()),),
        (Entry("invalid-input", "Placeholder", "Fill it in.", ()),),
        (_clue("code", "AADSTS700016", "app", 3.0),
         _clue("context", ContextSpec(placeholder=True), "invalid-input", 1.0, unrelated=True, decides=True)))
    decided = explain("AADSTS700016: Application with identifier 'Enter_the_Application_Id_here'", knowledge)
    assert decided.causes == [] and decided.other is not None and decided.other.id == "invalid-input"
    assert any("placeholder 'Enter_the_Application_Id_here'" in e for e in decided.other.evidence)
    real = explain("AADSTS700016: Application with identifier '1b2c...' was not found", knowledge)
    assert [m.id for m in real.causes] == ["app"] and real.other is None


def test_only_an_unrelated_kind_may_decide(tmp_path: Path) -> None:
    bad = tmp_path / "v.yaml"
    bad.write_text("vocabulary: v\ntitle: V\nsource: https://x.test/\nentries:\n"
                   "  - {text: Y, cause: a, decides: true}\n")
    with pytest.raises(PlaybookError) as caught:
        load_clues([bad], lambda p: yaml.safe_load(p.read_text()))
    assert any("decides" in line for line in caught.value.lines())


def test_graph_mailbox_paths_are_the_mail_service_and_graph_sites_are_sharepoint() -> None:
    mail = read_signals("403 Forbidden GET https://graph.microsoft.com/v1.0/users/a@b.c/mailFolders/Inbox")
    assert {"graph", "mail"} <= mail.services and "sharepoint" not in mail.services
    assert "mail" in read_signals("POST https://outlook.office365.com/EWS/Exchange.asmx").services
    assert "sharepoint" in read_signals("GET https://graph.microsoft.com/v1.0/sites/root").services


@pytest.mark.parametrize("text, status", [
    ("Response status code does not indicate success: 401 (Unauthorized).", 401),
    ("Request failed: 403 - Forbidden", 403),
    ("Error 401 while reading the mailbox", 401),
    ("The request failed with HTTP status 401: Unauthorized.", 401),
])
def test_statuses_of_dotnet_and_prose_shapes_are_read(text: str, status: int) -> None:
    assert status in read_signals(text).statuses


def test_line_numbers_and_long_codes_are_no_status() -> None:
    assert read_signals("line 401 of file; error 40123").statuses == set()


# -- the shipped knowledge: one text per family, taken from the vocabulary, not from the corpus -----------
@pytest.fixture(scope="module")
def shipped() -> Knowledge:
    return load_knowledge()


@pytest.mark.parametrize("text, cause", [
    # Entra codes across the reference's families
    ("AADSTS500121: Authentication failed during strong authentication request.",
     "mfa-blocks-service-account"),
    ("AADSTS90020: The SAML 1.1 Assertion is missing ImmutableID of the user.", "sso-federated-account"),
    ("AADSTS120014: PasswordChangeOnPremUserAccountLockedOutOrDisabled", "bad-credentials"),
    # the sign-in service's SOAP fault for a federated namespace (extSTS.srf / IDCRL)
    ("<psf:value>0x80048821</psf:value><psf:text>Direct login to WLID is not allowed for this federated "
     "namespace</psf:text>", "sso-federated-account"),
    ("Cannot contact web site 'https://contoso.sharepoint.com/' or the web site does not support SharePoint "
     "Online credentials. The response status code is 'Unauthorized'.", "legacy-auth-disabled"),
    # Exchange Online's refusals of the legacy protocols a mail tool may also use
    ("New-PSSession : [outlook.office365.com] Connecting to remote server outlook.office365.com failed with "
     "the following error message : Access is denied.", "legacy-auth-disabled"),
    ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
     "legacy-auth-disabled"),
    # ADAL / MSAL texts of other ecosystems
    ("AdalError: Unsupported wstrust endpoint version. Current support version is wstrust2005 or wstrust13.",
     "sso-federated-account"),
    ("MsalClientException: Federation Metadata URL is missing for federated user. This user type is "
     "unsupported.", "sso-federated-account"),
    # EWS response codes of the access family
    ("<m:ResponseCode>ErrorNotDelegate</m:ResponseCode> https://outlook.office365.com/EWS/Exchange.asmx",
     "exo-app-missing-full-access"),
    # a generic access denied decided by the service
    ("Access denied. GET https://contoso-my.sharepoint.com/personal/jane_contoso_com/_api/web",
     "no-onedrive-access"),
    ("403 Forbidden: Access is denied. Check credentials and try again. "
     "https://graph.microsoft.com/v1.0/users/a@b.c/messages", "exo-app-missing-full-access"),
])
def test_a_vocabulary_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    result = explain(text, shipped)
    assert result.causes and result.causes[0].id == cause, [(m.id, m.evidence) for m in result.causes]


@pytest.mark.parametrize("text, kind", [
    ("AADSTS700016: Application with identifier 'Enter_the_Application_Id_here' was not found in the "
     "directory 'contoso.onmicrosoft.com'.", "invalid-input"),
    ("MailboxNotEnabledForRESTAPI for jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", "guest-account"),
    ("AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-01-01T10:00Z",
     "clock-skew"),
    ("Connect-PnPOnline: Cannot find certificate with this thumbprint in the certificate store.",
     "local-certificate"),
    ("System.Net.WebException: The request was aborted: Could not create SSL/TLS secure channel.",
     "tls-trust"),
    ("Error: getaddrinfo ENOTFOUND outlook.office365.com", "dns"),
])
def test_a_reason_of_its_own_names_the_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    result = explain(text, shipped)
    assert result.causes == [] and result.other is not None and result.other.id == kind, \
        [(m.id, m.evidence) for m in result.causes]


def test_a_generic_ews_401_lists_the_password_first_and_the_mailbox_causes_next(shipped: Knowledge) -> None:
    result = explain("The request failed. The remote server returned an error: (401) Unauthorized. "
                     "https://outlook.office365.com/EWS/Exchange.asmx", shipped)
    ranked = [m.id for m in result.causes]
    assert ranked[0] == "bad-credentials" and "exo-app-missing-full-access" in ranked[:3]
    assert all(m.confidence < 0.5 for m in result.causes)  # generic evidence, low confidence
