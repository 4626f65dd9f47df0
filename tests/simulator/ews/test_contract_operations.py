"""Contract tests, one per EWS operation the simulator serves, on Exchange Online and on-premises.

Each test replays the request example of its office-developer-exchange-docs page
(docs/web-service-reference/<operation>-operation.md) and checks the status, content type, the
ServerVersionInfo header and the response message's shape; the same call then goes through exchangelib,
which the agent uses. The pages' namespaces are the real http:// ones (two pages print https:// by mistake).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from exchangelib import Account
from exchangelib.protocol import CachingProtocol

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, INITIAL_DOMAIN
from tests.simulator.ews.test_ews import exo_account, onprem_account

EXO = "https://outlook.office365.com"
USER2 = f"user0002@{INITIAL_DOMAIN}"
NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/",
      "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
      "t": "http://schemas.microsoft.com/exchange/services/2006/types"}


@pytest.fixture(autouse=True)
def fresh_protocols(trust: Simulator) -> Iterator[None]:
    """exchangelib caches a protocol per endpoint and credentials; each test starts without one."""
    yield
    CachingProtocol.clear_cache()


def _envelope(body: str) -> bytes:
    """The pages' envelope: no SOAP header, the operation in the messages namespace."""
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{NS["s"]}" '
            f'xmlns:t="{NS["t"]}"><soap:Body>{body}</soap:Body></soap:Envelope>').encode()


def _user_token(tenant: Simulator) -> str:
    """A delegated EWS token: the pages' requests carry no ExchangeImpersonation header."""
    return tenant.services.tokens.issue(tenant_id=tenant.state.tenant_id, audience=EXO,
                                        app_id=CONNECTOR_APP_ID, appidacr="0", scp="EWS.AccessAsUser.All",
                                        upn=ACCOUNT_UPN, oid=tenant.state.user(ACCOUNT_UPN).id)


def _post(tenant: Simulator, body: str, where: str = "online",
          authorization: str | None = "bearer") -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if authorization == "bearer":
        headers["Authorization"] = f"Bearer {_user_token(tenant)}"
    elif authorization == "basic":
        pair = f"{ACCOUNT_UPN}:{tenant.state.extras['account_password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif authorization:
        headers["Authorization"] = authorization
    path = "/EWS/Exchange.asmx" if where == "online" else "/onprem/EWS/Exchange.asmx"
    return requests.post(tenant.base_url + path, data=_envelope(body), headers=headers,
                         verify=tenant.ca_path, timeout=30)


def _messages(response: requests.Response, operation: str) -> list[ET.Element]:
    """The response messages, after the checks every EWS answer shares."""
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    version = root.find("s:Header/t:ServerVersionInfo", NS)
    assert version is not None and version.get("MajorVersion") == "15"
    assert all(version.get(a, "").isdigit() for a in ("MinorVersion", "MajorBuildNumber", "MinorBuildNumber"))
    return root.findall(f"s:Body/m:{operation}Response/m:ResponseMessages/m:{operation}ResponseMessage", NS)


def _error(message: ET.Element, code: str, text: str) -> None:
    """The error message shape of every page: MessageText, ResponseCode, DescriptiveLinkKey."""
    assert message.get("ResponseClass") == "Error"
    assert message.findtext("m:MessageText", namespaces=NS) == text
    assert message.findtext("m:ResponseCode", namespaces=NS) == code
    assert message.findtext("m:DescriptiveLinkKey", namespaces=NS) == "0"


def _account(tenant: Simulator, where: str) -> Account:
    """exchangelib as the agent runs it: app-only impersonation online, Basic on-premises."""
    if where == "online":
        return exo_account(tenant, USER2)
    return onprem_account(tenant, tenant.state.extras["account_password"])


def _get_folder(folder_id: str) -> str:
    return (f'<GetFolder xmlns="{NS["m"]}" xmlns:t="{NS["t"]}"><FolderShape><t:BaseShape>Default'
            f"</t:BaseShape></FolderShape><FolderIds>{folder_id}</FolderIds></GetFolder>")


@pytest.mark.parametrize(("where", "auth"), [("online", "bearer"), ("onprem", "basic")])
def test_get_folder_as_the_page_requests_it(tenant: Simulator, where: str, auth: str) -> None:
    """getfolder-operation.md, request and response examples: Folders/Folder with FolderId (Id,
    ChangeKey), DisplayName, TotalCount, ChildFolderCount and UnreadCount."""
    response = _post(tenant, _get_folder('<t:DistinguishedFolderId Id="inbox"/>'), where, auth)
    [message] = _messages(response, "GetFolder")
    assert message.get("ResponseClass") == "Success"
    assert message.findtext("m:ResponseCode", namespaces=NS) == "NoError"
    folder = message.find("m:Folders/t:Folder", NS)
    assert folder is not None and folder.findtext("t:DisplayName", namespaces=NS) == "Inbox"
    folder_id = folder.find("t:FolderId", NS)
    assert folder_id is not None and folder_id.get("Id") and folder_id.get("ChangeKey")
    for count in ("TotalCount", "ChildFolderCount", "UnreadCount"):
        assert (folder.findtext(f"t:{count}", namespaces=NS) or "").isdigit()
    account = _account(tenant, where)
    assert account.inbox.name == "Inbox" and isinstance(account.inbox.total_count, int)


def test_get_folder_error_keeps_an_empty_folders(tenant: Simulator) -> None:
    """getfolder-operation.md, error response example: a malformed FolderId is ErrorInvalidIdMalformed
    "Id is malformed." and the message still carries an empty `<m:Folders />`."""
    [message] = _messages(_post(tenant, _get_folder('<t:FolderId Id="not-an-id!"/>')), "GetFolder")
    _error(message, "ErrorInvalidIdMalformed", "Id is malformed.")
    folders = message.find("m:Folders", NS)
    assert folders is not None and len(folders) == 0


def _find_folder(parent: str) -> str:
    return (f'<FindFolder Traversal="Shallow" xmlns="{NS["m"]}"><FolderShape><t:BaseShape>Default'
            f"</t:BaseShape></FolderShape><ParentFolderIds>{parent}</ParentFolderIds></FindFolder>")


@pytest.mark.parametrize(("where", "auth"), [("online", "bearer"), ("onprem", "basic")])
def test_find_folder_as_the_page_requests_it(tenant: Simulator, where: str, auth: str) -> None:
    """findfolder-operation.md, request and response examples: RootFolder with TotalItemsInView and
    IncludesLastItemInRange around t:Folders (the modelled mailboxes have no subfolders)."""
    response = _post(tenant, _find_folder('<t:DistinguishedFolderId Id="inbox"/>'), where, auth)
    [message] = _messages(response, "FindFolder")
    assert message.findtext("m:ResponseCode", namespaces=NS) == "NoError"
    root = message.find("m:RootFolder", NS)
    assert root is not None and root.get("IncludesLastItemInRange") in ("true", "false")
    assert (root.get("TotalItemsInView") or "").isdigit() and root.find("t:Folders", NS) is not None
    assert list(_account(tenant, where).inbox.children) == []


def test_find_folder_with_a_malformed_parent_is_error_invalid_id_malformed(tenant: Simulator) -> None:
    """findfolder-operation.md, error response example: ErrorInvalidIdMalformed, and no RootFolder."""
    [message] = _messages(_post(tenant, _find_folder('<t:FolderId Id="not-an-id!"/>')), "FindFolder")
    _error(message, "ErrorInvalidIdMalformed", "Id is malformed.")
    assert message.find("m:RootFolder", NS) is None


def _resolve(entry: str, full: bool = True) -> str:
    flag = ' ReturnFullContactData="true"' if full else ""
    return (f'<ResolveNames xmlns="{NS["m"]}" xmlns:t="{NS["t"]}"{flag}>'
            f"<UnresolvedEntry>{entry}</UnresolvedEntry></ResolveNames>")


def test_resolve_names_with_full_contact_data_as_the_page_requests_it(tenant: Simulator) -> None:
    """resolvenames-operation.md, request and successful response examples: a ResolutionSet whose
    Resolution has the Mailbox and, with ReturnFullContactData, the directory Contact."""
    [message] = _messages(_post(tenant, _resolve("user0002")), "ResolveNames")
    assert message.get("ResponseClass") == "Success"
    found = message.find("m:ResolutionSet", NS)
    assert found is not None and found.get("TotalItemsInView") == "1"
    assert found.get("IncludesLastItemInRange") == "true"
    mailbox = found.find("t:Resolution/t:Mailbox", NS)
    assert mailbox is not None and mailbox.findtext("t:EmailAddress", namespaces=NS) == USER2
    assert mailbox.findtext("t:RoutingType", namespaces=NS) == "SMTP"
    assert mailbox.findtext("t:MailboxType", namespaces=NS) == "Mailbox"
    contact = found.find("t:Resolution/t:Contact", NS)
    assert contact is not None and contact.findtext("t:ContactSource", namespaces=NS) == "ActiveDirectory"
    assert contact.findtext("t:EmailAddresses/t:Entry", namespaces=NS) == f"SMTP:{USER2}"
    protocol = exo_account(tenant, USER2).protocol
    [(hit, card)] = protocol.resolve_names(["user0002"], return_full_contact_data=True)
    assert hit.email_address == USER2 and card.display_name


def test_resolve_names_with_several_matches_is_a_warning(tenant: Simulator) -> None:
    """resolvenames-operation.md: several matches answer ResponseClass Warning (responsecode.md
    ErrorNameResolutionMultipleResults) and still list the candidates; no Contact unless asked."""
    [message] = _messages(_post(tenant, _resolve("user000", full=False)), "ResolveNames")
    assert message.get("ResponseClass") == "Warning"
    assert message.findtext("m:ResponseCode", namespaces=NS) == "ErrorNameResolutionMultipleResults"
    resolutions = message.findall("m:ResolutionSet/t:Resolution", NS)
    assert len(resolutions) > 1 and all(r.find("t:Contact", NS) is None for r in resolutions)
    hits = exo_account(tenant, USER2).protocol.resolve_names(["user000"])
    assert len(hits) == len(resolutions)


def test_resolve_names_without_a_match_is_the_documented_error(tenant: Simulator) -> None:
    """resolvenames-operation.md, error response example."""
    [message] = _messages(_post(tenant, _resolve("nobody-by-this-name")), "ResolveNames")
    _error(message, "ErrorNameResolutionNoResults", "No results were found.")


def _convert(source_id: str, mailbox: str) -> str:
    return (f'<ConvertId xmlns="{NS["m"]}" xmlns:t="{NS["t"]}" DestinationFormat="OwaId"><SourceIds>'
            f'<t:AlternateId Format="EwsId" Id="{source_id}" Mailbox="{mailbox}"/></SourceIds></ConvertId>')


def test_convert_id_as_the_page_requests_it(tenant: Simulator) -> None:
    """convertid-operation.md, request and response examples: an AlternateId (xsi:type
    t:AlternateIdType) in the DestinationFormat, for the source's mailbox; a malformed id is
    ErrorInvalidIdMalformed (the page's error example)."""
    folder_id = str(exo_account(tenant, USER2).inbox.id)
    [message] = _messages(_post(tenant, _convert(folder_id, ACCOUNT_UPN)), "ConvertId")
    assert message.findtext("m:ResponseCode", namespaces=NS) == "NoError"
    converted = message.find("m:AlternateId", NS)
    assert converted is not None and converted.get("Format") == "OwaId"
    assert converted.get("Mailbox") == ACCOUNT_UPN and converted.get("Id")
    xsi_type = converted.get("{http://www.w3.org/2001/XMLSchema-instance}type")
    assert xsi_type == "t:AlternateIdType"
    [bad] = _messages(_post(tenant, _convert("DUMMY", ACCOUNT_UPN)), "ConvertId")
    _error(bad, "ErrorInvalidIdMalformed", "Id is malformed.")


@pytest.mark.parametrize(("authorization", "diagnostics"),
                         [(None, None), ("Basic dXNlcjpwYXNz", None), ("Bearer not-a-jwt", "2000001;")])
def test_exchange_online_401_is_a_bearer_challenge(tenant: Simulator, authorization: str | None,
                                                   diagnostics: str | None) -> None:
    """No Microsoft page lists the challenge's parameters (review row E1): compared with api-facts §1
    and how-to-authenticate-an-ews-application-by-using-oauth.md (OAuth only). An empty 401 with one
    Bearer challenge naming Exchange's resource id; a bad token adds x-ms-diagnostics."""
    response = _post(tenant, _get_folder('<t:DistinguishedFolderId Id="inbox"/>'),
                     authorization=authorization or "")
    assert response.status_code == 401 and response.content == b""
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer client_id="00000002-0000-0ff1-ce00-000000000000"')
    for part in ("trusted_issuers=", "token_types=", "authorization_uri="):
        assert part in challenge
    if diagnostics is None:
        assert "x-ms-diagnostics" not in response.headers
    else:
        assert response.headers["x-ms-diagnostics"].startswith(diagnostics)


def test_onprem_401_offers_each_enabled_scheme_in_its_own_header(tenant: Simulator) -> None:
    """No Microsoft page for the header list (review row E2): compared with api-facts §6 (IIS sends one
    WWW-Authenticate per enabled scheme of the EWS virtual directory)."""
    response = _post(tenant, _get_folder('<t:DistinguishedFolderId Id="inbox"/>'), "onprem", "")
    assert response.status_code == 401
    offered = response.raw.headers.getlist("WWW-Authenticate")
    realm = tenant.state.onprem.realm
    assert f'Basic realm="{realm}"' in offered and len(offered) == len(tenant.state.onprem.auth_schemes)
