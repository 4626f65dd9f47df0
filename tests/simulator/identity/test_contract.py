"""The simulated token endpoint refuses and trims as Entra ID documents it.

Pages followed (MicrosoftDocs/entra-docs, identity-platform/): v2-oauth2-client-creds-grant-flow.md (a
tenant is required; client_secret_basic is supported), v2-oauth-ropc.md (tenant or `organizations` only;
id_token with `openid`, refresh_token with `offline_access`) and reference-error-codes.md (50059,
65001, 700025, 900561, 9001023).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any

import jwt
import msal
import pytest
import requests

from agent.simulator import Simulator
from agent.simulator.identity.consent import CONSENT_KEY
from agent.simulator.identity.grants import REFRESH_AUDIENCE
from agent.simulator.state.tenant import EXCHANGE_APP_ID
from tests.simulator.conftest import TENANT

GRAPH = "https://graph.microsoft.com/.default"
EWS = "https://outlook.office365.com/EWS.AccessAsUser.All"


def _token(sim: Simulator, form: dict[str, str], authority: str = TENANT,
           headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{sim.base_url}/{authority}/oauth2/v2.0/token", data=form, headers=headers,
                         verify=sim.ca_path, timeout=10)


def _admin_form(sim: Simulator) -> dict[str, str]:
    x = sim.state.extras
    return {"grant_type": "client_credentials", "client_id": str(x["admin_app_id"]),
            "client_secret": str(x["admin_secret"]), "scope": GRAPH}


def _ropc_form(sim: Simulator, scope: str, **extra: str) -> dict[str, str]:
    x = sim.state.extras
    return {"grant_type": "password", "client_id": str(x["public_client_id"]),
            "username": str(x["account_upn"]), "password": str(x["account_password"]),
            "scope": scope, **extra}


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("authority", ["common", "organizations", "consumers"])
def test_client_credentials_need_a_tenant(tenant: Simulator, authority: str) -> None:
    response = _token(tenant, _admin_form(tenant), authority)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_request"
    assert body["error_codes"] == [50059] and body["error_description"].startswith("AADSTS50059: ")


@pytest.mark.parametrize("authority", ["common", "consumers"])
def test_ropc_is_refused_on_common_and_consumers(tenant: Simulator, authority: str) -> None:
    response = _token(tenant, _ropc_form(tenant, EWS), authority)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_request"
    assert body["error_codes"] == [9001023]


def test_ropc_on_organizations_is_allowed(tenant: Simulator) -> None:
    assert _token(tenant, _ropc_form(tenant, EWS), "organizations").status_code == 200


def test_ropc_returns_only_what_the_oidc_scopes_ask_for(tenant: Simulator) -> None:
    bare = _token(tenant, _ropc_form(tenant, EWS)).json()
    assert "access_token" in bare
    assert not {"refresh_token", "id_token", "client_info"} & set(bare)
    full = _token(tenant, _ropc_form(tenant, f"{EWS} openid profile offline_access", client_info="1")).json()
    assert {"refresh_token", "id_token", "client_info"} <= set(full)
    no_info = _token(tenant, _ropc_form(tenant, f"{EWS} openid")).json()
    assert "id_token" in no_info and "client_info" not in no_info and "refresh_token" not in no_info


def test_scp_is_what_was_requested_and_consented(tenant: Simulator) -> None:
    one = _token(tenant, _ropc_form(tenant, "https://graph.microsoft.com/User.Read")).json()
    assert _claims(one["access_token"])["scp"] == "User.Read" and one["scope"] == "User.Read"
    every = _token(tenant, _ropc_form(tenant, GRAPH)).json()
    assert set(_claims(every["access_token"])["scp"].split()) == {
        "Files.ReadWrite.All", "Mail.ReadWrite", "Sites.FullControl.All", "User.Read"}
    ews = _token(tenant, _ropc_form(tenant, f"{EWS} offline_access")).json()
    assert ews["scope"] == f"{EWS} offline_access"


def test_a_scope_without_consent_is_65001_consent_required(tenant: Simulator) -> None:
    response = _token(tenant, _ropc_form(tenant, "https://graph.microsoft.com/Directory.AccessAsUser.All"))
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_grant"
    assert body["error_codes"] == [65001] and body["suberror"] == "consent_required"


def test_consent_revoked_by_the_scenario_state_is_65001(tenant: Simulator) -> None:
    assert _token(tenant, _ropc_form(tenant, EWS)).status_code == 200
    tenant.state.extras[CONSENT_KEY] = {str(tenant.state.extras["public_client_id"]): {EXCHANGE_APP_ID: ""}}
    body = _token(tenant, _ropc_form(tenant, EWS)).json()
    assert body["error_codes"] == [65001]
    assert str(tenant.state.extras["public_client_id"]) in body["error_description"]


def test_a_confidential_app_without_a_credential_is_7000216_or_7000218_by_grant(tenant: Simulator) -> None:
    """The client_credentials grant names its own missing parameter; a user grant asks for a secret."""
    form = {k: v for k, v in _admin_form(tenant).items() if k != "client_secret"}
    response = _token(tenant, form)
    body = response.json()
    assert response.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [7000216] and "'client_credentials' grant type" in body["error_description"]
    ropc = _ropc_form(tenant, GRAPH, client_id=str(tenant.state.extras["admin_app_id"]))
    body = _token(tenant, ropc).json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000218]


def test_a_public_client_sending_a_secret_is_700025(tenant: Simulator) -> None:
    response = _token(tenant, _ropc_form(tenant, EWS, client_secret="anything"))
    body = response.json()
    assert response.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [700025]


def test_get_on_the_token_endpoint_is_900561_json(tenant: Simulator) -> None:
    response = requests.get(f"{tenant.base_url}/{TENANT}/oauth2/v2.0/token", verify=tenant.ca_path,
                            timeout=10)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_request"
    assert body["error_codes"] == [900561] and "Received a GET request." in body["error_description"]


def test_client_secret_basic_is_served_as_advertised(tenant: Simulator) -> None:
    meta = requests.get(f"{tenant.base_url}/{TENANT}/v2.0/.well-known/openid-configuration",
                        verify=tenant.ca_path, timeout=10).json()
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    form = _admin_form(tenant)
    cid = urllib.parse.quote_plus(form.pop("client_id"))
    secret = urllib.parse.quote_plus(form.pop("client_secret"))
    pair = f"{cid}:{secret}"
    basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    response = _token(tenant, form, headers=basic)
    assert response.status_code == 200 and "access_token" in response.json()
    both = _token(tenant, _admin_form(tenant), headers=basic)  # two client authentication methods at once
    assert both.status_code == 400


def test_msal_ropc_still_gets_its_account_and_refresh_token(tenant: Simulator, trust: Simulator,
                                                           ropc: None) -> None:
    x = tenant.state.extras
    app = msal.PublicClientApplication(str(x["public_client_id"]), authority=f"{tenant.base_url}/{TENANT}",
                                       instance_discovery=False, verify=tenant.ca_path)
    result = app.acquire_token_by_username_password(str(x["account_upn"]), str(x["account_password"]), [EWS])
    assert "access_token" in result and "refresh_token" in result, json.dumps(result.get("error"))
    assert result["id_token_claims"]["preferred_username"] == x["account_upn"]
    assert app.get_accounts()[0]["username"] == x["account_upn"]


def test_an_expired_refresh_token_is_700082(tenant: Simulator) -> None:
    """reference-error-codes.md: ExpiredOrRevokedGrantInactiveToken, not a malformed request."""
    x = tenant.state.extras
    issued = int(time.time()) - 100 * 86400
    expired = jwt.encode({"aud": REFRESH_AUDIENCE, "sub": tenant.state.user(str(x["account_upn"])).id,
                          "cid": str(x["public_client_id"]), "iat": issued, "exp": issued + 90 * 86400},
                         tenant.services.tokens.key.private_key, algorithm="RS256")
    form = {"grant_type": "refresh_token", "client_id": str(x["public_client_id"]), "refresh_token": expired,
            "scope": EWS}
    response = _token(tenant, form)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_grant"
    assert body["error_codes"] == [700082]
    assert response.headers["x-ms-request-id"] == body["trace_id"]
    forged = _token(tenant, {**form, "refresh_token": expired[:-4] + "AAAA"}).json()
    assert forged["error_codes"] == [9002313]
