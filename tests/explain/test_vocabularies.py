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
from tests.explain.expect import cause_first, unrelated_kind


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
    assert "graph" in read_signals("GET https://graph.windows.net/myorganization/users").services  # AAD Graph


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
    # Exchange Online's web service: the account has neither a mailbox nor a licence
    ("err: Microsoft.Exchange.Clients.Owa2.Server.Core.OwaUserHasNoMailboxAndNoLicenseAssignedException "
     "emsg: UserHasNoMailboxAndNoLicenseAssignedError", "account-unlicensed"),
])
def test_a_vocabulary_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


def test_a_refused_acs_token_needs_no_sharepoint_host_and_lists_the_retired_model(shipped: Knowledge) -> None:
    """SharePoint's own words for an ACS app-only token it no longer takes (the ACS retirement page)."""
    result = explain('{"error":"invalid_request","error_description":"Token type is not allowed."}', shipped)
    assert [m.id for m in result.causes][:2] == ["app-certificate-missing", "legacy-auth-disabled"]
    assert result.other is None and not result.causes[1].strong


@pytest.mark.parametrize("text, kind", [
    ("AADSTS700016: Application with identifier 'Enter_the_Application_Id_here' was not found in the "
     "directory 'contoso.onmicrosoft.com'.", "invalid-input"),
    ("MailboxNotEnabledForRESTAPI for jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", "guest-account"),
    ("AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-01-01T10:00Z",
     "clock-skew"),
    ("Connect-PnPOnline: Cannot find certificate with this thumbprint in the certificate store.",
     "local-certificate"),
    ("MsalClientException: Could not use the certificate for signing. See inner exception for details.",
     "local-certificate"),  # a CNG key on old .NET: the machine's certificate, not the app registration
    ("System.Net.WebException: The request was aborted: Could not create SSL/TLS secure channel.",
     "tls-trust"),
    ("Error: getaddrinfo ENOTFOUND outlook.office365.com", "dns"),
    # azure-identity's tenant check (_internal/utils.py): the credential was not allowed that tenant
    ("azure.core.exceptions.ClientAuthenticationError: The current credential is not configured to acquire "
     "tokens for tenant 11111111-2222-3333-4444-555555555555.", "wrong-tenant"),
    # exchangelib's release notes (5.2.1): a library defect after a change in Office 365, no missing grant
    ("exchangelib.errors.ErrorAccessDenied: Not allowed to access Non IPM folder.", "tool-bug"),
])
def test_a_reason_of_its_own_names_the_unrelated_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


def test_a_generic_ews_401_lists_the_password_first_and_the_mailbox_causes_next(shipped: Knowledge) -> None:
    result = explain("The request failed. The remote server returned an error: (401) Unauthorized. "
                     "https://outlook.office365.com/EWS/Exchange.asmx", shipped)
    ranked = [m.id for m in result.causes]
    assert ranked[0] == "bad-credentials" and "exo-app-missing-full-access" in ranked[:3]
    assert all(m.confidence < 0.5 for m in result.causes)  # generic evidence, low confidence


# -- signals from words and the tool, status and library vocabularies ------------------------------------
# Placeholders written out, a status said in words, the scheme a credential class names, services matched
# as words; and one text per new vocabulary (migration tools, statuses by service, MSAL for Java and
# MSAL.js), each written from the vocabulary's own source.


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
    ('client_id: "{client_id}"', ["{client_id}"]),  # a template's field never formatted
    ("identifier '{tenant_id}' was not found", ["{tenant_id}"]),
    ("Application with identifier '__CHANGE_ME__' was not found", ["__CHANGE_ME__"]),  # a sample's default
    ("secret = <Enter your client secret>", ["<Enter your client secret>"]),
])
def test_placeholders_written_in_words_are_read(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


@pytest.mark.parametrize("text", [
    "https://<org>.sharepoint.com/_vti_bin/idcrl.svc/",  # a bracketed single word is a redaction
    "Application with identifier '<tenant>' was not found",
    'client_id: "<client_id>"',  # angle brackets: written over the real value before posting
    # the service found the app, so the bracketed id was a real one, redacted
    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
    "client secret value, not the client secret ID, for a secret added to app '<app-id>'.",
    "https://yourdomain.sharepoint.com/sites/hr",  # no separator: a host, not a setting name
    "ERROR_ACCESS_DENIED for my account",
])
def test_redactions_and_plain_words_are_no_placeholders(text: str) -> None:
    assert placeholders(text) == []


def test_a_placeholder_in_words_decides_for_invalid_input() -> None:
    text = "AADSTS700016: Application with identifier 'your-client-id' was not found in the directory"
    assert _top(text) is None and _other(text) == "invalid-input"


def test_a_redacted_app_id_leaves_the_secret_s_code_to_decide() -> None:
    text = ("POST https://login.microsoftonline.com/<tenant-id>/oauth2/token: AADSTS7000215: Invalid "
            "client secret provided. Ensure the secret being sent in the request is the client secret value, "
            "not the client secret ID, for a secret added to app '<app-id>'.")
    assert _top(text) == "app-credentials-invalid" and _other(text) is None


def test_access_denied_in_words_is_a_status_strong_only_with_its_service() -> None:
    signals = read_signals("Access denied. https://contoso-my.sharepoint.com/personal/ann_contoso_com")
    assert signals.statuses == set() and signals.worded == {403}
    assert _top("Access denied. https://contoso-my.sharepoint.com/personal/ann") == "no-onedrive-access"
    # nothing says where: the causes that answer 403 are listed as weak candidates, as for a bare 403
    alone = explain("Access denied", load_knowledge()).causes
    assert alone and not any(m.strong for m in alone)
    assert {m.id for m in alone} == {m.id for m in explain("HTTP 403", load_knowledge()).causes}
    assert all("status 403 (in words)" in m.evidence for m in alone)
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
    # UnauthorizedAccessException's default message, SharePoint's 403 for a missing permission
    assert read_signals("Attempted to perform an unauthorized operation.").worded == {403}
    assert read_signals("System.UnauthorizedAccessException").worded == {403}


def test_csom_s_unexpected_response_names_its_status_in_words() -> None:
    text = ('Unexpected response from the server. The content type of the response is "text/html". '
            'The status code is "Forbidden".')
    assert read_signals(text).worded == {403}


def test_sharepoint_s_own_app_only_refusal_needs_no_url(shipped: Knowledge) -> None:
    """Only SharePoint says "Unsupported app only token": a secret-based app-only token, where SharePoint
    takes certificates only."""
    cause_first(explain("401 Unauthorized: Unsupported app only token.", shipped), "app-certificate-missing")


def test_the_ews_managed_apis_wording_names_ews() -> None:
    text = "The request failed. The remote server returned an error: (401) Unauthorized."
    assert {"ews", "mail"} <= read_signals(text).services
    assert "ews" not in read_signals("The remote server returned an error: (401) Unauthorized.").services
    assert "ews" in read_signals("ServiceResponseException: Mailbox does not exist.").services


def test_graph_sdk_namespaces_and_cmdlets_name_graph() -> None:
    assert "graph" in read_signals("Get-MgUser_List: Insufficient privileges ...").services
    assert "graph" in read_signals("Microsoft.Graph.Models.ODataErrors.ODataError: Access denied").services
    assert _other("Azure.Identity.CredentialUnavailableException: EnvironmentCredential authentication "
                  "unavailable. Environment variables are not fully configured.") == "tool-bug"


# -- placeholders in words and empty URIs ------------------------------------------------------------------
@pytest.mark.parametrize("text, found", [
    ("AADSTS700016: Application with identifier 'b0c1' was not found in the directory 'Tenant Name Here'.",
     ["Tenant Name Here"]),
    ("identifier 'Enter tenant ID' was not found", ["Enter tenant ID"]),
    ("AADSTS500011: The resource principal named api:// was not found in the tenant named contoso.",
     ["api://"]),
    ("scope 'https:///.default' is not valid", ["https://"]),
])
def test_quoted_instructions_and_empty_uris_are_placeholders(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


@pytest.mark.parametrize("text", [
    "was not found in the directory 'Contoso Ltd'",  # a real display name
    "click here to sign in again",  # prose, not a quoted value
    "the button 'Click here' and the prompt 'Enter your password'",  # quoted, but naming no setting
    "https://graph.microsoft.com/.default and api://1b2c3d4e/.default",  # URIs with their host
    "set the URL to start with https:// instead of http:// and retry",  # a scheme named in prose
])
def test_names_prose_and_full_uris_are_no_placeholders(text: str) -> None:
    assert placeholders(text) == []


# -- status shapes of the HTTP clients ---------------------------------------------------------------------
@pytest.mark.parametrize("text, status", [
    ("The remote server returned an error: (429).", 429),  # .NET Framework, no reason phrase for 429
    ("aiohttp.client_exceptions.ClientResponseError: 429, message='Too Many Requests'", 429),
    ("(Caused by ResponseError('too many 503 error responses'))", 503),  # urllib3 Retry
    ("java.io.IOException: Server returned HTTP response code: 401 for URL: https://x.test/", 401),  # the JDK
])
def test_statuses_of_the_http_clients_are_read(text: str, status: int) -> None:
    assert status in read_signals(text).statuses


# -- literal texts of the libraries and services (from their source or Microsoft's documentation) ---------
@pytest.mark.parametrize("text, kind", [
    # glibc gai_strerror(EAI_NODATA); curl's resolver failure; Windows Sockets 11002
    ("socket.gaierror: [Errno -5] No address associated with hostname", "dns"),
    ("curl: (6) Could not resolve host: graph.microsoft.com", "dns"),
    ("This is usually a temporary error during hostname resolution and means that the local server did not "
     "receive a response from an authoritative server.", "dns"),
    # OpenSSL x509_txt.c, Java's certpath, Windows SChannel, Node.js tls
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to verify the first certificate",
     "tls-trust"),
    ("sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path "
     "to requested target", "tls-trust"),
    ("The client and server cannot communicate, because they do not possess a common algorithm", "tls-trust"),
    ("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames", "tls-trust"),
    # Java HttpURLConnection, .NET HttpClient (the 401 is the proxy's), curl
    ('java.io.IOException: Unable to tunnel through proxy. Proxy returns "HTTP/1.1 407 Proxy Authentication '
     'Required"', "proxy"),
    ("System.Net.Http.HttpRequestException: The proxy tunnel request to proxy 'http://proxy:8080/' failed "
     "with status code '401'.", "proxy"),
    ("curl: (56) Received HTTP code 407 from proxy after CONNECT", "proxy"),
    # .NET HttpClient.Timeout, curl, strerror
    ("System.Threading.Tasks.TaskCanceledException: The request was canceled due to the configured "
     "HttpClient.Timeout of 100 seconds elapsing.", "network-timeout"),
    ("curl: (28) Operation timed out after 30000 milliseconds with 0 bytes received", "network-timeout"),
    ("OSError: [Errno 101] Network is unreachable", "network-timeout"),
    # urllib3 Retry, .NET Framework's 429, EWS ErrorServerBusy
    ("Max retries exceeded with url: /v1.0/users (Caused by ResponseError('too many 429 error responses'))",
     "throttling"),
    ("Microsoft.SharePoint.Client.ClientRequestException: The remote server returned an error: (429).",
     "throttling"),
    ("<m:ResponseCode>ErrorServerBusy</m:ResponseCode><t:Value Name=\"BackOffMilliseconds\">297749</t:Value>",
     "throttling"),
    ("System.Net.WebException: The remote server returned an error: (500) Internal Server Error.",
     "service-outage"),
    # Rust std and Go net word the resolver's failure their own way
    ("reqwest::Error { kind: Request, source: hyper::Error(Connect, ConnectError(\"dns error\", Custom { "
     "kind: Uncategorized, error: \"failed to lookup address information: Name or service not known\" }))",
     "dns"),
    ("Post \"https://login.microsoftonline.com/x/oauth2/v2.0/token\": dial tcp: lookup "
     "login.microsoftonline.com on 127.0.0.53:53: no such host", "dns"),
    # a proxy's own answer (Squid's error header; Forefront TMG status 12209), a Kerberos clock
    ("HTTP/1.1 403 Forbidden\nServer: squid/5.9\nX-Squid-Error: ERR_ACCESS_DENIED 0", "proxy"),
    ("Status: 12209 Forefront TMG requires authorization to fulfill the request. Access to the Web Proxy "
     "filter is denied.", "proxy"),
    ("kinit: Clock skew too great while getting initial credentials", "clock-skew"),
    # requests and .NET refuse a malformed address before sending anything
    ("requests.exceptions.MissingSchema: Invalid URL '': No scheme supplied. Perhaps you meant https://?",
     "invalid-input"),
    ("System.UriFormatException: Invalid URI: The format of the URI could not be determined.",
     "invalid-input"),
    # the EWS Managed API takes Autodiscover's domain from the address (EwsUtilities.DomainFromEmailAddress)
    ('Exception calling "AutodiscoverUrl" with "1" argument(s): "The e-mail address is formed incorrectly."',
     "invalid-input"),
    # Exchange Online's SMTP replies for a device or tool (Microsoft's printers-and-applications article)
    ("SMTP Error: 530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
     "invalid-input"),
    ("550 5.7.60 SMTP; Client does not have permissions to send as this sender", "insufficient-role"),
    ("550 5.7.64 TenantAttribution; Relay Access Denied", "invalid-input"),
    ("451 4.4.62 Mail sent to the wrong Office 365 region.", "wrong-tenant"),
    # an app's account types against the authority's segment: /consumers for personal accounts only
    ("AADSTS9002331: Application '1111'(demo) is configured for use by Microsoft Account users only. Please "
     "use the /consumers endpoint to serve this request.", "wrong-endpoint"),
    # Entra: the SPA platform, a public client with a secret, the client credentials scope
    ("AADSTS9002326: Cross-origin token redemption is permitted only for the 'Single-Page Application' "
     "client-type.", "public-client-config"),
    ("AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
     "public-client-config"),
    # a user sign-in that sent no secret to an app treated as confidential (the client_credentials grant
    # answers AADSTS7000216 instead, a wrong or expired secret AADSTS7000215 / 7000222)
    ('{"error":"invalid_client","error_description":"AADSTS7000218: The request body must contain the '
     "following parameter: 'client_assertion' or 'client_secret'.\"}", "public-client-config"),
    ("AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
     "'client_credentials' grant type.", "tool-bug"),
    ("AADSTS1002012: The provided value for scope Mail.Read is not valid. Client credential flows must have "
     "a scope value with /.default suffixed to the resource identifier (application ID URI).",
     "invalid-scope"),
    ("access_denied: AADSTS650053: The application 'Microsoft Power Query for Excel' asked for scope "
     "'user_impersonation' that doesn't exist on the resource <resourceId>.", "invalid-scope"),
])
def test_library_and_service_texts_name_the_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind


def test_a_500_that_carries_an_ews_response_code_stays_with_the_code() -> None:
    text = ("The request failed. The remote server returned an error: (500) Internal Server Error. "
            "<m:ResponseCode>ErrorImpersonateUserDenied</m:ResponseCode> https://outlook.office365.com/EWS/"
            "Exchange.asmx")
    assert _top(text) == "exo-app-missing-full-access"

# -- migration tools, Exchange Online / Graph / PnP PowerShell and MSAL / ADAL constants -------------------
# Each text is the literal string of its source (an MSAL or ADAL constant, a module's exception message, a
# tool's documented error), not a corpus item.



@pytest.mark.parametrize("text, cause", [
    # SharePoint Migration Tool's message table; CodeTwo's and AvePoint Fly's KB pages
    ("Admin permissions are required to migrate this content into OneDrive.", "no-onedrive-access"),
    ("The SMTP address has no mailbox associated with it.", "account-unlicensed"),
    ("CO-ConsentUserUnavailable", "bad-credentials"),
    # PnP PowerShell's PnPConnection.cs, Azure.Identity's CredentialDiagnosticScope.cs
    ("Could not determine realm for the target site 'https://contoso.sharepoint.com/sites/hr'. Please "
     "validate that a site exists at this URL.", "target-site-missing"),
    ("Azure.Identity.AuthenticationFailedException: ClientSecretCredential authentication failed: ",
     "app-credentials-invalid"),
    # msal4j's WSTrustResponse.java, ADAL.NET's AdalError.cs
    ("com.microsoft.aad.msal4j.MsalServiceException: Server returned error in RSTR - ErrorCode: "
     "a:FailedAuthentication.", "sso-federated-account"),
    ("AdalException: integrated_authentication_failed", "sso-federated-account"),
])
def test_tool_and_library_texts_name_their_cause_first(text: str, cause: str) -> None:
    assert _top(text) == cause


@pytest.mark.parametrize("text, cause", [
    # SMTP AUTH's two federated 5.7.139 replies (Microsoft's printers, scanners and LOB applications page)
    ("535 5.7.139 Authentication unsuccessful, federated STS service was unreachable.",
     "sso-federated-account"),
    ("535 5.7.139 Authentication unsuccessful, the federated STS URL does not support HTTPS.",
     "sso-federated-account"),
    # and its 5.7.57 beside 535 5.7.3: SMTP AUTH turned off for the mailbox first
    ("System.Net.Mail.SmtpException: The server response was: 5.7.57 Client not authenticated to send mail.",
     "legacy-auth-disabled"),
    # Microsoft 365 admin centre: no Exchange Online licence, so no mailbox
    ("Mailbox couldn't be found for user@contoso.com.", "account-unlicensed"),
])
def test_microsoft_s_documented_replies_name_their_cause_first(text: str, cause: str) -> None:
    assert _top(text) == cause


@pytest.mark.parametrize("text, kind", [
    ("Can't connect to the mailbox of user Mailbox database guid 1111 because the ExchangePrincipal object "
     "contains outdated information. The mailbox may have been moved recently.", "wrong-endpoint"),
    ("Connect-PnPOnline : Host not reachable", "network-timeout"),
    ("AADSTS9000411: The request is not properly formatted. The parameter 'scope' is duplicated.",
     "tool-bug"),
])
def test_microsoft_s_documented_replies_name_their_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind


def test_a_client_assertion_is_the_certificate_s_subject() -> None:
    """A misspelt copy of AADSTS700027's message still speaks of the client assertion: a weak candidate."""
    text = ("The certificatae with identifier used to sign the client assertion is not registered on "
            "application.")
    assert _top(text) == "app-certificate-missing"


@pytest.mark.parametrize("text, kind", [
    # Connect-ExchangeOnline app-only without a supported Entra role; Microsoft.Graph.Authentication's texts
    ("The role assigned to application 00000000-1111-2222-3333-444444444444 isn't supported in this "
     "scenario.", "insufficient-role"),
    ("The provided access token has expired. Set a valid access token to `-AccessToken` parameter and try "
     "again.", "token-expired"),
    ("Certificate with thumbprint 'A1B2C3' was not found in certificate store or has expired.",
     "local-certificate"),
    # the earlier Microsoft.Graph.Authentication (AuthenticationHelpers.cs): the current user's store only
    ("Exception: 0A1B2C3D4E5F certificate was not found or has expired.", "local-certificate"),
    # MSAL.NET's MsalErrorMessage.cs and MsalError.cs, MSAL.js's InteractionRequiredAuthError.ts
    ("MsalClientException: The authority (including the tenant ID) must be in a well-formed URI format.",
     "invalid-input"),
    ("MsalClientException: scopes_required_client_credentials", "invalid-scope"),
    ("InteractionRequiredAuthError: refresh_token_expired: Refresh token has expired.", "token-expired"),
    # SharePoint Migration Tool: the term store needs its own administrator
    ("Migrate term store failed due to permission issue.", "insufficient-role"),
])
def test_tool_and_library_texts_name_their_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind


# -- SharePoint Online Management Shell, MSOnline, AzureAD, CSOM's IDCRL, PnP Framework / Core / PowerShell --
# Each text is the literal string its source prints (a Microsoft support article, the module's own output
# quoted in an issue, or the PnP libraries' resource and exception texts).



@pytest.mark.parametrize("text, cause", [
    # SupportArticles-docs: connect-sposervice-error.md, unable-authenticate-credentials.md (KB 2929554)
    ("Connect-SPOService: Could not connect to SharePoint Online.", "legacy-auth-disabled"),
    ("Connect-MsolService : Unable to authenticate your credentials. Make sure that your user name is in the "
     "format: <username>@<domain>. If this issue persists, contact Support.", "mfa-blocks-service-account"),
    ("+ FullyQualifiedErrorId : 0x80048862,Microsoft.Online.Administration.Automation.ConnectMsolService",
     "mfa-blocks-service-account"),
    # MSCloudLoginAssistant's MSOnline.psm1
    ("Connect-MsolService : Authentication Error: Bad username or password.", "bad-credentials"),
    # CSOM's IdcrlException texts (pnp/PnP-PowerShell#2144, #2524, SharePoint/sp-dev-docs#4393)
    ("Connect-PnPOnline : Identity Client Runtime Library (IDCRL) could not look up the realm information "
     "for a federated sign-in.", "sso-federated-account"),
    ("Connect-PnPOnline : Identity Client Runtime Library (IDCRL) encountered an error while talking to the "
     "partner STS", "sso-federated-account"),
    ("Microsoft.SharePoint.Client.IdcrlException: The partner returned a bad sign-in name or password error. "
     "For more information, see Federation Error-handling Scenarios.", "bad-credentials"),
    # pnp/powershell's TokenHandler.cs, before a cmdlet runs
    ("Current access token lacks the following required application permission scope on the resource "
     "Microsoft Graph: Sites.FullControl.All", "app-not-installed"),
])
def test_admin_module_and_idcrl_texts_name_their_cause_first(text: str, cause: str) -> None:
    assert _top(text) == cause


# -- EWS clients of other ecosystems, the Graph SDKs and Kiota, older SharePoint clients --------------------
# Each text quotes the literal string of the library's source (ews-java-api, ews-javascript-api, php-ews,
# node-ews, Viewpoint; msgraph-sdk-*-core, msgraph-sdk-javascript, Kiota; shareplum, sharepy,
# office365-rest-python-client, node-sp-auth), with the class or the endpoint a pasted error shows beside it.



@pytest.mark.parametrize("text, cause", [
    # ews-java-api ExchangeServiceBase.java (ews-javascript-api Strings.AccountIsLocked)
    ("This account is locked. Visit https://account.contoso.com/unlock to unlock it.", "bad-credentials"),
    # the Autodiscover (SOAP) ErrorCode reference, as ews-java-api's AutodiscoverRemoteException carries it
    ("microsoft.exchange.webservices.data.autodiscover.exception.AutodiscoverRemoteException: The "
     "Autodiscover service returned an error. <ErrorCode>InvalidUser</ErrorCode>", "account-unlicensed"),
    # jamesiarmes/php-ews Client.php, node-ews auth/basic.js and auth/bearer.js, Viewpoint connection.rb
    ("Uncaught Exception: SOAP client returned status of 401. in vendor/php-ews/php-ews/src/Client.php:1670",
     "bad-credentials"),
    ("Error: Basic Auth StatusCode 401: Unauthorized. at Request._callback "
     "(node_modules/node-ews/lib/auth/basic.js:29:49)", "bad-credentials"),
    ("Error: Bearer Auth StatusCode 401: Unauthorized. at Request._callback "
     "(node_modules/node-ews/lib/auth/bearer.js:33:49)", "exo-app-missing-full-access"),
    ("Viewpoint::EWS::Errors::UnauthorizedResponseError: Unauthorized request "
     "POST https://mail.contoso.com/ews/Exchange.asmx", "bad-credentials"),
    # shareplum office365.py, sharepy auth/detect.py, office365-rest-python-client authentication_context.py
    ("Exception: ('Error authenticating against Office 365. Was not able to find an error code. Here is the "
     "SOAP response from Office 365', b'<S:Envelope/>')", "bad-credentials"),
    ("sharepy.errors.AuthError: 'Unknown' namespace sites are not supported", "bad-credentials"),
    ("RuntimeError: with_user_credentials uses the legacy SAML/ACS auth flow which Microsoft has retired for "
     "SharePoint Online. Use with_username_and_password(tenant, client_id, username, password) instead.",
     "legacy-auth-disabled"),
    # node-sp-auth OnlineUserCredentials.ts and OnpremiseFbaCredentials.ts
    ("Error: Unable to resolve namespace authentiation type. Type received: Unknown", "bad-credentials"),
    ("Error: Unable to define namespace type for Online authentiation", "bad-credentials"),
    ("Error: Password doesn't not match", "bad-credentials"),
    ("<LoginResult><ErrorCode>PasswordNotMatch</ErrorCode></LoginResult>", "bad-credentials"),
])
def test_client_library_texts_name_their_cause_first(text: str, cause: str) -> None:
    assert _top(text) == cause


@pytest.mark.parametrize("text, kind", [
    # SharePoint Online Management Shell, and PnP PowerShell's Resources.resx
    ("Connect-SPOService : Current site is not a tenant administration site.", "wrong-endpoint"),
    ("get-sposite : No connection available. Use Connect-SPOService before running this CmdLet.",
     "token-expired"),
    ("Error establishing a connection with sharepoint. No valid OAuth 2.0 authentication session exists.",
     "tool-bug"),
    # MSOnline and AzureAD
    ("Connect-MsolService : Access Denied. You do not have permissions to call this cmdlet.",
     "insufficient-role"),
    ("Set-MsolUserPassword : You must call the Connect-MsolService cmdlet before calling any other cmdlets.",
     "token-expired"),
    ("Get-AzureADDomain: You must call the Connect-AzureAD cmdlet before calling any other cmdlets.",
     "token-expired"),
    # CSOM exception types that are no sign-in failure
    # (pnp/pnpframework's ObjectField.cs; the CSOM reference's PropertyOrFieldNotInitializedException class)
    ("ServerErrorTypeName: Microsoft.SharePoint.Client.ClientServiceTimeoutException", "network-timeout"),
    ("Microsoft.SharePoint.Client.PropertyOrFieldNotInitializedException", "tool-bug"),
])
def test_admin_module_texts_name_their_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind


@pytest.mark.parametrize("text, kind", [
    # pnp/powershell: CertificateHelper.cs, CredentialPipeBind.cs, PnPConnection.cs, Resources.resx,
    # PnPSharePointOnlineAdminCmdlet.cs, PnPGcsCmdlet.cs
    ("The specified certificate path 'C:\\certs\\app.pfx' does not exist", "local-certificate"),
    ("The specified certificate at 'C:\\certs\\app.pfx' could not be read. The certificate could be corrupt "
     "or it may require a password which has not been provided or is incorrect.", "local-certificate"),
    ("No credential store entry named 'spo-admin' exists", "invalid-input"),
    ("Unable to use a User Assigned Managed Identity without passing in an identifier for the User Assigned "
     "Managed Identity.", "invalid-input"),
    ("There is currently no connection yet. Use Connect-PnPOnline to connect or provide a valid connection "
     "using -Connection.", "token-expired"),
    ("You are not signed in. Please use Connect-PnPOnline to connect.", "token-expired"),
    ("You used a device login connection to authenticate to SharePoint. We do not support automatically "
     "switching context to the tenant administration site which is required to execute this cmdlet.",
     "wrong-endpoint"),
    ("This cmdlet requires a delegated (interactive) connection. App-only (certificate-based) connections "
     "are not supported by the GCS API.", "tool-bug"),
    # pnp/pnpframework: CoreResources.resx, AuthenticationManager.cs
    ("Login context does not have access to the TermGroup. If using app context, add app@sharepoint to the "
     "term group access list.", "insufficient-role"),
    ("System.Exception: Certificate path not found", "local-certificate"),
    # pnp/pnpcore: PnPCoreAuthResources.resx
    ("Cannot find the certificate with thumbprint 'A1B2C3' in store 'My' with store location 'CurrentUser' "
     "while parsing X509CertificateAuthenticationProvider configuration", "local-certificate"),
    ("The provided credential manager entry 'spo' does not exist in the system's credential manager",
     "invalid-input"),
])
def test_pnp_framework_core_and_powershell_texts_name_their_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind


@pytest.mark.parametrize("text, kind", [
    # ews-java-api AutodiscoverService.java and ExchangeService.java; ews-javascript-api Strings.ts
    ("AutodiscoverLocalException: No appropriate Autodiscover SOAP or WS-Security endpoint is available.",
     "wrong-endpoint"),
    ("microsoft.exchange.webservices.data.autodiscover.exception.MaximumRedirectionHopsExceededException: "
     "Maximum number of redirection hops 10 exceeded", "wrong-endpoint"),
    ("AutodiscoverLocalException: The maximum redirection hop count has been reached.", "wrong-endpoint"),
    ("AutodiscoverLocalException: Detected redirection loop, Redirection address already tried",
     "wrong-endpoint"),
    ("AutodiscoverLocalException: The Autodiscover service didn't return an appropriate URL that can be used "
     "for the ExchangeService Autodiscover URL.", "wrong-endpoint"),
    ("ServiceLocalException: The Url property on the ExchangeService object must be set.", "invalid-input"),
    ("AutodiscoverLocalException: WindowsLiveCredentials can't be used with this Autodiscover endpoint.",
     "tool-bug"),
    ("ServiceLocalException: This type of credentials can't be used with this AutodiscoverService.",
     "tool-bug"),
    ("ServiceLocalException: Can't set both impersonated user and privileged user in the ExchangeService "
     "object.", "tool-bug"),
    ("AutodiscoverRemoteException: The Autodiscover service returned an error. "
     "<ErrorCode>ServerBusy</ErrorCode>", "throttling"),
    # jamesiarmes/php-ews Autodiscover.php; Garethp/php-ews ExchangeAutodiscover.php, ExchangeWebServices.php
    ("Uncaught RuntimeException: Autodiscovery failed. in vendor/php-ews/php-ews/src/Autodiscover.php:270",
     "wrong-endpoint"),
    ("Uncaught garethp\\ews\\API\\Exception\\AutodiscoverFailed in src/API/ExchangeAutodiscover.php:105",
     "wrong-endpoint"),
    ("Uncaught garethp\\ews\\API\\Exception\\ServiceUnavailableException in "
     "vendor/garethp/php-ews/src/API/ExchangeWebServices.php:522", "service-outage"),
    # msgraph-sdk-dotnet-core and msgraph-sdk-java-core ErrorConstants, RetryHandler
    ("Microsoft.Graph.ServiceException: Code: tooManyRetries Message: More than 3 retries encountered while "
     "sending the request.", "throttling"),
    ("Microsoft.Graph.ServiceException: Code: generalException Message: An error occurred sending the "
     "request.", "network-timeout"),
    ("Microsoft.Graph.ServiceException: Code: invalidRequest Message: Authentication provider is required "
     "before sending a request.", "tool-bug"),
    ("java.lang.IllegalArgumentException: scopes parameter cannot be null or empty", "invalid-scope"),
    # msgraph-sdk-javascript's authentication providers, GraphRequestUtil.ts and Client.ts
    ("GraphClientError: Access token is undefined or empty. Please provide a valid token.", "tool-bug"),
    ("GraphClientError: Cannot retrieve accessToken from the Token Credential object", "tool-bug"),
    ("GraphClientError: Scopes cannot be empty, Please provide scopes", "invalid-scope"),
    ("GraphClientError: Received empty access token from PublicClientApplication", "tool-bug"),
    ("GraphClientError: Please add only hosts or hostnames to the CustomHosts config. If the url is "
     "`http://example.com:3000/`, host is `example:3000`", "invalid-input"),
    ("Error: Unable to Create Client, Please provide either authentication provider for default middleware "
     "chain or custom middleware chain", "tool-bug"),
    # Kiota's authentication providers (.NET / Java, Go, TypeScript) and AllowedHostsValidator
    ("System.ArgumentException: Only https is supported", "invalid-input"),
    ("GetAuthorizationToken: url scheme must be https", "invalid-input"),
    ("Error: Authentication scheme can only be used with https requests", "invalid-input"),
    ("System.ArgumentException: host should not contain http or https prefix", "invalid-input"),
    # office365-rest-python-client authentication_context.py, client_credential.py, ntlm_provider.py
    ("ValueError: Authentication credentials are missing or invalid", "invalid-input"),
    ("ValueError: client_secret cannot be empty", "invalid-input"),
    ("ValueError: client_id cannot be empty", "invalid-input"),
    ("ValueError: Token callback is not set.", "tool-bug"),
    ("ImportError: To use NTLM authentication the package 'requests_ntlm' needs to be installed. Install it "
     "with: pip install requests_ntlm", "tool-bug"),
    # node-sp-auth AuthResolverFactory.ts
    ("Error: Error while resolving authentication class", "invalid-input"),
])
def test_client_library_texts_name_their_unrelated_kind(text: str, kind: str) -> None:
    assert _other(text) == kind
