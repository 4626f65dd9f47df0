"""Exchange Online EWS refuses what the real service refuses: impersonation headers, anchoring, throttling.

Pages and threads followed: office-developer-exchange-docs
`how-to-authenticate-an-ews-application-by-using-oauth.md` (X-AnchorMailbox with impersonation),
`ews-throttling-in-exchange.md` (ErrorServerBusy in an HTTP 500 fault) and, for the impersonation faults
Microsoft does not document, ecederstrand/exchangelib#735/#757 and OfficeDev/ews-managed-api#245/#212.
"""

from __future__ import annotations

import pytest
import requests

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, INITIAL_DOMAIN

USER1 = f"user0001@{INITIAL_DOMAIN}"
EXO = "https://outlook.office365.com"
HEADER_DATA = "ErrorInvalidExchangeImpersonationHeaderData"


def _envelope(impersonate: str | None = None, mailbox: str | None = None, folder: str = "inbox") -> str:
    header = ('<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>'
              f'{impersonate}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>'
              if impersonate else "")
    target = f"<t:Mailbox><t:EmailAddress>{mailbox}</t:EmailAddress></t:Mailbox>" if mailbox else ""
    folder_xml = (f'<t:DistinguishedFolderId Id="{folder}">{target}</t:DistinguishedFolderId>'
                  if folder.isalpha() and folder.islower() else f'<t:FolderId Id="{folder}"/>')
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
            f'<soap:Header><t:RequestServerVersion Version="Exchange2016"/>{header}</soap:Header>'
            '<soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>'
            f'<m:FolderIds>{folder_xml}</m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>')


def _app_token(tenant: Simulator) -> str:
    return tenant.services.tokens.issue(tenant_id=tenant.state.tenant_id, audience=EXO,
                                        app_id=CONNECTOR_APP_ID, appidacr="1", roles=["full_access_as_app"])


def _user_token(tenant: Simulator) -> str:
    return tenant.services.tokens.issue(tenant_id=tenant.state.tenant_id, audience=EXO,
                                        app_id=CONNECTOR_APP_ID, appidacr="0", scp="EWS.AccessAsUser.All",
                                        upn=ACCOUNT_UPN,
                                        oid=tenant.state.user(ACCOUNT_UPN).id)


def _post(tenant: Simulator, token: str, body: str, anchor: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/xml; charset=utf-8"}
    if anchor:
        headers["X-AnchorMailbox"] = anchor
    return requests.post(f"{tenant.base_url}/EWS/Exchange.asmx", data=body.encode(), headers=headers,
                         verify=tenant.ca_path, timeout=10)


def _fault(response: requests.Response) -> str:
    assert response.status_code == 500 and "<s:Fault>" in response.text and "NoError" not in response.text
    return response.text


@pytest.mark.parametrize("mailbox", [None, USER1], ids=["distinguished", "explicit-mailbox"])
def test_app_only_without_exchange_impersonation_is_a_header_data_fault(tenant: Simulator,
                                                                          mailbox: str | None) -> None:
    text = _fault(_post(tenant, _app_token(tenant), _envelope(mailbox=mailbox)))
    assert f"a:{HEADER_DATA}</faultcode>" in text
    assert "ExchangeImpersonation SOAP header must be present for this type of OAuth token." in text


def test_delegated_token_with_exchange_impersonation_is_a_header_data_fault(tenant: Simulator) -> None:
    text = _fault(_post(tenant, _user_token(tenant), _envelope(impersonate=USER1), anchor=USER1))
    assert f'/errors">{HEADER_DATA}</e:ResponseCode>' in text
    assert "ExchangeImpersonation SOAP header must not exist for this type of OAuth token." in text


def test_delegated_token_without_the_header_reads_its_own_mailbox(tenant: Simulator) -> None:
    response = _post(tenant, _user_token(tenant), _envelope(), anchor=ACCOUNT_UPN)
    assert response.status_code == 200 and "NoError" in response.text


@pytest.mark.parametrize("anchor", [None, f"user0002@{INITIAL_DOMAIN}"], ids=["missing", "other-mailbox"])
def test_impersonation_needs_the_anchor_mailbox_of_the_impersonated_user(tenant: Simulator,
                                                                         anchor: str | None) -> None:
    text = _fault(_post(tenant, _app_token(tenant), _envelope(impersonate=USER1), anchor=anchor))
    assert "a:ErrorInvalidRequest</faultcode>" in text and "X-AnchorMailbox" in text


def test_impersonation_with_its_anchor_mailbox_succeeds(tenant: Simulator) -> None:
    response = _post(tenant, _app_token(tenant), _envelope(impersonate=USER1), anchor=USER1.upper())
    assert response.status_code == 200 and "NoError" in response.text


def test_a_malformed_folder_id_is_error_invalid_id_malformed(tenant: Simulator) -> None:
    """responsecode.md: a malformed Id attribute is ErrorInvalidIdMalformed; a well-formed unknown one
    is ErrorItemNotFound."""
    malformed = _post(tenant, _app_token(tenant), _envelope(impersonate=USER1, folder="not-an-id!"), USER1)
    assert "<m:ResponseCode>ErrorInvalidIdMalformed</m:ResponseCode>" in malformed.text
    unknown = _post(tenant, _app_token(tenant), _envelope(impersonate=USER1, folder="AAMkAAAAAAAAAAAAAAAA"),
                    USER1)
    assert "<m:ResponseCode>ErrorItemNotFound</m:ResponseCode>" in unknown.text


def test_server_busy_is_an_http_500_fault_with_back_off(tenant: Simulator) -> None:
    """ews-throttling-in-exchange.md: ErrorServerBusy in an HTTP 500 fault with BackOffMilliseconds; an
    HTTP 503 is IIS queueing and carries no EWS fault."""
    tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 2, "services": ["ews"]}})
    busy = _post(tenant, _app_token(tenant), _envelope(impersonate=USER1), USER1)
    assert busy.status_code == 500 and "a:ErrorServerBusy</faultcode>" in busy.text
    assert '<t:Value Name="BackOffMilliseconds">2000</t:Value>' in busy.text
    tenant.set_faults({"errors": {"first": 1, "status": 503, "retry_after_s": 2, "services": ["ews"]}})
    queued = _post(tenant, _app_token(tenant), _envelope(impersonate=USER1), USER1)
    assert queued.status_code == 503 and "Fault" not in queued.text and queued.headers["Retry-After"] == "2"
