"""Contract tests, one per Entra ID endpoint the simulator serves: the documented request replayed.

Each test names the page it follows (MicrosoftDocs/entra-docs, docs/identity-platform/) or, where
Microsoft documents nothing, what the shape was compared with. Requests go through MSAL where the
agent's libraries (MSAL, azure-identity) make them, and through httpx with the simulator's CA otherwise.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import jwt
import msal
import pytest

from agent.simulator import Simulator
from tests.simulator.conftest import TENANT

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
JSON = "application/json"
# reference-error-codes.md, "Handling error codes in your application": the error body's fields
ERROR_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}


@pytest.fixture(autouse=True)
def msal_trusts_the_tenant(trust: Simulator) -> None:
    """MSAL sends its requests with `requests`, which reads the CA bundle from the environment."""


def _http(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, verify=ssl.create_default_context(cafile=sim.ca_path),
                        timeout=30)


def _is_json(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(JSON)
    body: dict[str, Any] = response.json()
    return body


def _aad_error(response: httpx.Response, status: int, error: str, code: int) -> dict[str, Any]:
    """The documented error body: AADSTS text with trace, correlation id and timestamp lines."""
    body = _is_json(response)
    assert response.status_code == status and set(body) >= ERROR_KEYS
    assert body["error"] == error and body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert all(f"\r\n{line}: " in description for line in ("Trace ID", "Correlation ID", "Timestamp"))
    return body


# -- discovery -------------------------------------------------------------------------------------

def test_instance_discovery_points_at_the_tenant_metadata(tenant: Simulator) -> None:
    """No Microsoft page (MSAL-internal endpoint, review row I1). Compared with what MSAL reads:
    msal/authority.py takes `tenant_discovery_endpoint` and the `metadata` list."""
    with _http(tenant) as http:
        endpoint = f"{tenant.base_url}/{TENANT}/oauth2/v2.0/authorize"
        response = http.get("/common/discovery/instance",
                            params={"api-version": "1.1", "authorization_endpoint": endpoint})
        body = _is_json(response)
        assert response.status_code == 200 and isinstance(body["metadata"], list)
        metadata = http.get(body["tenant_discovery_endpoint"])
    assert metadata.status_code == 200 and "token_endpoint" in metadata.json()


@pytest.mark.parametrize("authority", [TENANT, "tenant-id", "common", "organizations"])
def test_openid_configuration_has_the_documented_keys(tenant: Simulator, authority: str) -> None:
    """v2-protocols-oidc.md, "Fetch the OpenID configuration document": `GET
    /{tenant}/v2.0/.well-known/openid-configuration` answers JSON with the sample's keys."""
    name = tenant.state.tenant_id if authority == "tenant-id" else authority
    with _http(tenant) as http:
        response = http.get(f"/{name}/v2.0/.well-known/openid-configuration")
    body = _is_json(response)
    assert response.status_code == 200
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "issuer"):
        assert isinstance(body[key], str) and body[key].startswith("https://")
    assert {"client_secret_post", "private_key_jwt"} <= set(body["token_endpoint_auth_methods_supported"])
    assert body["subject_types_supported"] == ["pairwise"]
    assert body["token_endpoint"].endswith("/oauth2/v2.0/token")


def test_msal_discovers_the_token_endpoint_from_the_document(tenant: Simulator) -> None:
    """v2-protocols-oidc.md: libraries read the document; MSAL takes its token endpoint from it."""
    x = tenant.state.extras
    app = msal.ConfidentialClientApplication(str(x["admin_app_id"]), client_credential=str(x["admin_secret"]),
                                             authority=f"{tenant.base_url}/{TENANT}",
                                             instance_discovery=False, verify=tenant.ca_path)
    assert app.authority.token_endpoint == f"{tenant.base_url}/{tenant.state.tenant_id}/oauth2/v2.0/token"


def test_openid_configuration_of_an_unknown_tenant_is_90002(tenant: Simulator) -> None:
    """reference-error-codes.md AADSTS90002 (InvalidTenantName), in the documented error body."""
    with _http(tenant) as http:
        response = http.get("/nosuchtenant.example/v2.0/.well-known/openid-configuration")
    _aad_error(response, 400, "invalid_request", 90002)


@pytest.mark.parametrize("path", ["/{tenant}/discovery/v2.0/keys", "/{tenant}/discovery/keys",
                                  "/common/discovery/keys"])
def test_signing_keys_verify_the_tokens_issued(tenant: Simulator, path: str) -> None:
    """access-tokens.md, "Validate the signature": the `kid` of the token header names a key of the
    `jwks_uri` set (RSA, `use: sig`, with `x5t`, `n` and `e`), and that key verifies the token."""
    x = tenant.state.extras
    with _http(tenant) as http:
        response = http.get(path.format(tenant=TENANT))
        form = {"grant_type": "client_credentials", "client_id": str(x["admin_app_id"]),
                "client_secret": str(x["admin_secret"]), "scope": GRAPH_DEFAULT}
        token = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form).json()["access_token"]
    keys = _is_json(response)["keys"]
    assert response.status_code == 200 and keys
    for key in keys:
        assert key["kty"] == "RSA" and key["use"] == "sig"
        assert all(isinstance(key[k], str) and key[k] for k in ("kid", "x5t", "n", "e"))
    kid = jwt.get_unverified_header(token)["kid"]
    signer = next(k for k in keys if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(signer).key, algorithms=["RS256"],
                        options={"verify_aud": False, "verify_iss": False})
    assert claims["tid"] == tenant.state.tenant_id


# -- user realm ------------------------------------------------------------------------------------

def _realm(tenant: Simulator, path: str, **params: str) -> dict[str, Any]:
    with _http(tenant) as http:
        response = http.get(path, params=params)
    assert response.status_code == 200
    return _is_json(response)


def test_user_realm_v1_tells_managed_federated_and_unknown(tenant: Simulator) -> None:
    """No Microsoft page (review row I2). Compared with MSAL (msal/authority.py reads `account_type`
    and the federation fields) and the api-facts §4 capture."""
    upn = str(tenant.state.extras["account_upn"])
    managed = _realm(tenant, f"/common/userrealm/{upn}", **{"api-version": "1.0"})
    assert managed["ver"] == "1.0" and managed["account_type"] == "Managed"
    assert managed["domain_name"] == upn.split("@")[1] and managed["cloud_instance_name"]
    assert "federation_protocol" not in managed
    federated = _realm(tenant, "/common/userrealm/alice@contoso.com", **{"api-version": "1.0"})
    assert federated["account_type"] == "Federated" and federated["federation_protocol"] == "WSTrust"
    assert federated["federation_active_auth_url"].startswith("https://")
    assert federated["federation_metadata_url"].startswith("https://")
    unknown = _realm(tenant, "/common/userrealm/bob@unknown.example", **{"api-version": "1.0"})
    assert unknown["account_type"] == "Unknown"


def test_user_realm_v2_names_the_namespace_type(tenant: Simulator) -> None:
    """No Microsoft page (review row I2). Compared with api-facts §4 (PingCastle's UserRealmV2 shape):
    NameSpaceType, Login, DomainName, FederationBrandName, and AuthURL when federated."""
    upn = str(tenant.state.extras["account_upn"])
    managed = _realm(tenant, f"/common/userrealm/{upn}", **{"api-version": "2.0"})
    assert managed["NameSpaceType"] == "Managed" and managed["Login"] == upn
    assert managed["DomainName"] == upn.split("@")[1] and "AuthURL" not in managed
    federated = _realm(tenant, "/common/userrealm/alice@contoso.com", **{"api-version": "2.0"})
    assert federated["NameSpaceType"] == "Federated" and federated["AuthURL"].startswith("https://")
    assert isinstance(federated["FederationBrandName"], str)


def test_get_user_realm_srf_has_the_legacy_fields(tenant: Simulator) -> None:
    """No Microsoft page (review row I3). Compared with api-facts §4: State, UserState, Login,
    NameSpaceType, DomainName, CloudInstanceName, and AuthURL for a federated domain."""
    upn = str(tenant.state.extras["account_upn"])
    managed = _realm(tenant, "/GetUserRealm.srf", login=upn)
    assert isinstance(managed["State"], int) and isinstance(managed["UserState"], int)
    assert managed["NameSpaceType"] == "Managed" and managed["Login"] == upn
    assert managed["CloudInstanceName"] == "microsoftonline.com" and "AuthURL" not in managed
    federated = _realm(tenant, "/GetUserRealm.srf", login="alice@contoso.com")
    assert federated["NameSpaceType"] == "Federated" and federated["AuthURL"].startswith("https://")


# -- the token endpoint, one grant at a time -------------------------------------------------------

def _client(tenant: Simulator, credential: Any) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(str(tenant.state.extras["admin_app_id"]),
                                              client_credential=credential,
                                              authority=f"{tenant.base_url}/{TENANT}",
                                              instance_discovery=False, verify=tenant.ca_path)


def test_client_credentials_with_a_secret_as_the_docs_send_it(tenant: Simulator) -> None:
    """v2-oauth2-client-creds-grant-flow.md, "First case: Access token request with a shared secret":
    the documented form in, `token_type`/`expires_in`/`ext_expires_in`/`access_token` out, not cached."""
    x = tenant.state.extras
    form = {"client_id": str(x["admin_app_id"]), "scope": GRAPH_DEFAULT,
            "client_secret": str(x["admin_secret"]), "grant_type": "client_credentials"}
    with _http(tenant) as http:
        response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    body = _is_json(response)
    assert response.status_code == 200 and body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and isinstance(body["ext_expires_in"], int)
    assert isinstance(body["access_token"], str) and "refresh_token" not in body
    assert "no-store" in response.headers["cache-control"] and response.headers["pragma"] == "no-cache"
    result = _client(tenant, str(x["admin_secret"])).acquire_token_for_client([GRAPH_DEFAULT])
    assert result["token_type"] == "Bearer" and jwt.decode(
        result["access_token"], options={"verify_signature": False})["appidacr"] == "1"


def test_client_credentials_with_a_wrong_secret_is_the_documented_error(tenant: Simulator) -> None:
    """v2-oauth2-client-creds-grant-flow.md, "Error response"; reference-error-codes.md AADSTS7000215."""
    x = tenant.state.extras
    form = {"client_id": str(x["admin_app_id"]), "scope": GRAPH_DEFAULT, "client_secret": "wrong",
            "grant_type": "client_credentials"}
    with _http(tenant) as http:
        response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    _aad_error(response, 401, "invalid_client", 7000215)
    result = _client(tenant, "wrong").acquire_token_for_client([GRAPH_DEFAULT])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]


def test_client_credentials_with_a_certificate_assertion(tenant: Simulator) -> None:
    """v2-oauth2-client-creds-grant-flow.md, "Second case: Access token request with a certificate":
    MSAL signs the assertion; the token says certificate authentication (appidacr 2)."""
    cert = tenant.state.extras["admin_cert"]
    result = _client(tenant, {"private_key": cert.pem, "thumbprint": cert.thumbprint}
                     ).acquire_token_for_client([GRAPH_DEFAULT])
    assert result.get("token_type") == "Bearer", result.get("error_description")
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appidacr"] == "2"


def test_a_wrong_client_assertion_type_is_7000219(tenant: Simulator) -> None:
    """v2-oauth2-client-creds-grant-flow.md: `client_assertion_type` must be the jwt-bearer URN;
    reference-error-codes.md AADSTS7000219."""
    form = {"client_id": str(tenant.state.extras["admin_app_id"]), "scope": GRAPH_DEFAULT,
            "client_assertion_type": "urn:example:other", "client_assertion": "e30.e30.sig",
            "grant_type": "client_credentials"}
    with _http(tenant) as http:
        response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    _aad_error(response, 400, "invalid_request", 7000219)


def _ropc(tenant: Simulator, password: str | None = None) -> dict[str, Any]:
    x = tenant.state.extras
    form = {"client_id": str(x["public_client_id"]), "scope": "user.read openid profile offline_access",
            "username": str(x["account_upn"]), "password": password or str(x["account_password"]),
            "grant_type": "password"}
    with _http(tenant) as http:
        response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    if password is not None:
        return _aad_error(response, 400, "invalid_grant", 50126)
    assert response.status_code == 200
    return _is_json(response)


def test_password_grant_as_the_ropc_page_sends_it(tenant: Simulator) -> None:
    """v2-oauth-ropc.md, "Authorization request" and "Successful authentication response"; a bad
    password is AADSTS50126 (reference-error-codes.md) in the documented error body."""
    body = _ropc(tenant)
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    assert all(isinstance(body[k], str) for k in ("scope", "access_token", "refresh_token", "id_token"))
    _ropc(tenant, password="not-the-password")


def test_refresh_token_grant_as_the_auth_code_page_sends_it(tenant: Simulator) -> None:
    """v2-oauth2-auth-code-flow.md, "Refresh the access token": client_id, scope, refresh_token and
    grant_type in; a new access and refresh token out. MSAL makes the same request."""
    refresh = _ropc(tenant)["refresh_token"]
    x = tenant.state.extras
    form = {"client_id": str(x["public_client_id"]), "scope": "https://graph.microsoft.com/User.Read",
            "refresh_token": refresh, "grant_type": "refresh_token"}
    with _http(tenant) as http:
        response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    body = _is_json(response)
    assert response.status_code == 200 and body["token_type"] == "Bearer"
    # The page's sample answers a refresh token to a scope without offline_access; the simulator answers
    # one only when offline_access is asked again (stricter, as MSAL always asks for it).
    assert isinstance(body["access_token"], str) and "refresh_token" not in body
    app = msal.PublicClientApplication(str(x["public_client_id"]), authority=f"{tenant.base_url}/{TENANT}",
                                       instance_discovery=False, verify=tenant.ca_path)
    result = app.acquire_token_by_refresh_token(refresh, ["https://graph.microsoft.com/User.Read"])
    assert "access_token" in result and "refresh_token" in result, result.get("error_description")
