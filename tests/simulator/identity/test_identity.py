"""Entra ID over HTTPS with the real azure-identity: flows that work, and each cause failing as in M365."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential, UsernamePasswordCredential

from agent.simulator import Simulator
from agent.simulator.identity.tokens import EXCHANGE_AUDIENCE, GRAPH_AUDIENCE, TokenRejected
from agent.simulator.state.tenant import ConditionalAccessPolicy
from tests.simulator.conftest import TENANT

GRAPH = "https://graph.microsoft.com/.default"
EXO = "https://outlook.office365.com/.default"

Flow = Callable[[Simulator, dict[str, Any]], AccessToken]


def secret_flow(sim: Simulator, kw: dict[str, Any], scope: str = EXO) -> AccessToken:
    x = sim.state.extras
    return ClientSecretCredential(TENANT, x["connector_app_id"], x["connector_secret"], **kw).get_token(scope)


def cert_flow(sim: Simulator, kw: dict[str, Any], scope: str | None = None) -> AccessToken:
    x = sim.state.extras
    pem = x["connector_cert"].pem.encode()
    cred = CertificateCredential(TENANT, x["connector_app_id"], certificate_data=pem, **kw)
    return cred.get_token(scope or f"{sim.base_url}/.default")


def password_flow(sim: Simulator, kw: dict[str, Any], scope: str = EXO) -> AccessToken:
    x = sim.state.extras
    with warnings.catch_warnings():  # azure-identity and MSAL warn that ROPC cannot do MFA: the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        cred = UsernamePasswordCredential(x["public_client_id"], x["account_upn"], x["account_password"],
                                          tenant_id=TENANT, **kw)
        return cred.get_token(scope)


def verified_claims(sim: Simulator, token: str, audience: str) -> dict[str, Any]:
    """Verify a token against the JWKS the simulator serves, as a resource server would."""
    keys = requests.get(f"{sim.base_url}/{TENANT}/discovery/v2.0/keys", verify=sim.ca_path, timeout=10).json()
    key = jwt.PyJWKSet.from_dict(keys).keys[0].key
    issuer = f"{sim.base_url}/{sim.state.tenant_id}/v2.0"
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)


def test_client_secret_flow_gets_exchange_roles(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    claims = verified_claims(trust, secret_flow(trust, cred_kw).token, EXCHANGE_AUDIENCE)
    assert claims["roles"] == ["full_access_as_app"]
    assert claims["appidacr"] == "1" and claims["appid"] == trust.state.extras["connector_app_id"]


def test_certificate_flow_gets_a_certificate_token_for_sharepoint(trust: Simulator,
                                                                   cred_kw: dict[str, Any]) -> None:
    claims = verified_claims(trust, cert_flow(trust, cred_kw).token, trust.base_url)
    assert claims["appidacr"] == "2"
    assert claims["roles"] == ["Sites.FullControl.All"]


def test_admin_app_graph_token_carries_the_roles_fixes_need(trust: Simulator,
                                                            cred_kw: dict[str, Any]) -> None:
    x = trust.state.extras
    token = ClientSecretCredential(TENANT, x["admin_app_id"], x["admin_secret"], **cred_kw).get_token(GRAPH)
    roles = set(verified_claims(trust, token.token, GRAPH_AUDIENCE)["roles"])
    assert {"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
            "User-PasswordProfile.ReadWrite.All", "Policy.ReadWrite.ConditionalAccess",
            "Sites.FullControl.All"} <= roles


def test_password_flow_gets_a_delegated_token(trust: Simulator, cred_kw: dict[str, Any], ropc: None) -> None:
    claims = verified_claims(trust, password_flow(trust, cred_kw).token, EXCHANGE_AUDIENCE)
    assert claims["upn"] == trust.state.extras["account_upn"]
    assert claims["scp"] == "EWS.AccessAsUser.All" and claims["appidacr"] == "0"
    assert "roles" not in claims


def test_password_flow_refreshes_for_another_resource(trust: Simulator, cred_kw: dict[str, Any],
                                                      ropc: None) -> None:
    x = trust.state.extras
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cred = UsernamePasswordCredential(x["public_client_id"], x["account_upn"], x["account_password"],
                                          tenant_id=TENANT, **cred_kw)
        cred.get_token(EXO)
        graph = cred.get_token(GRAPH)  # MSAL redeems the refresh token
    assert verified_claims(trust, graph.token, GRAPH_AUDIENCE)["upn"] == x["account_upn"]


# cause, flow, AADSTS code, HTTP status of the token response
IDENTITY_CAUSES = [
    ("app-credentials-invalid", secret_flow, 7000222, 401),
    ("app-credentials-invalid:wrong-secret", secret_flow, 7000215, 401),
    ("app-certificate-missing", cert_flow, 700027, 401),
    ("app-certificate-missing:expired", cert_flow, 50013, 401),
    ("app-not-installed", secret_flow, 700016, 400),
    ("bad-credentials", password_flow, 50126, 400),
    ("bad-credentials:expired", password_flow, 50055, 400),
    ("bad-credentials:locked", password_flow, 50053, 400),
    ("bad-credentials:disabled", password_flow, 50057, 400),
    ("mfa-blocks-service-account", password_flow, 50076, 400),
    ("sso-federated-account", password_flow, 50126, 400),
]


@pytest.mark.parametrize(("cause", "flow", "code", "status"), IDENTITY_CAUSES,
                         ids=[c[0] for c in IDENTITY_CAUSES])
def test_each_identity_cause_fails_as_in_microsoft_365(trust: Simulator, cred_kw: dict[str, Any],
                                                       ropc: None, cause: str, flow: Flow, code: int,
                                                       status: int) -> None:
    flow(trust, cred_kw)  # healthy first
    trust.reset(breaks=[cause])
    with pytest.raises(ClientAuthenticationError) as info:
        flow(trust, cred_kw)
    assert f"AADSTS{code}:" in str(info.value)
    assert [e["status"] for e in trust.log if e["path"].endswith("/token")] == [status]


def test_mfa_error_names_the_policy_in_its_claims_challenge(trust: Simulator) -> None:
    trust.reset(breaks=["mfa-blocks-service-account"])
    x = trust.state.extras
    form = {"grant_type": "password", "client_id": x["public_client_id"], "username": x["account_upn"],
            "password": x["account_password"], "scope": EXO}
    body = requests.post(f"{trust.base_url}/{TENANT}/oauth2/v2.0/token", data=form, verify=trust.ca_path,
                         timeout=10).json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [50076]
    assert body["suberror"] == "basic_action" and x["mfa_policy_id"] in body["claims"]
    assert body["error_description"].startswith("AADSTS50076: Due to a configuration change")


def test_a_block_policy_gives_53003(trust: Simulator, cred_kw: dict[str, Any], ropc: None) -> None:
    block = ConditionalAccessPolicy("block", "Block everything", "enabled", include_users=["All"],
                                    built_in_controls=["block"])
    trust.state.ca_policies[block.id] = block
    with pytest.raises(ClientAuthenticationError, match="AADSTS53003"):
        password_flow(trust, cred_kw)


def test_disabled_service_principal_gives_7000112(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    sp = trust.state.sp_by_app_id(trust.state.extras["connector_app_id"])
    assert sp is not None
    sp.account_enabled = False
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000112"):
        secret_flow(trust, cred_kw)


def test_unknown_resource_gives_500011(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        secret_flow(trust, cred_kw, "https://nothing.example.com/.default")


def test_unknown_user_gives_50034(trust: Simulator, cred_kw: dict[str, Any], ropc: None) -> None:
    trust.state.extras["account_upn"] = "nobody@contoso.onmicrosoft.com"
    with pytest.raises(ClientAuthenticationError, match="AADSTS50034"):
        password_flow(trust, cred_kw)


def test_roles_are_computed_at_issue_time(trust: Simulator, cred_kw: dict[str, Any]) -> None:
    before = secret_flow(trust, cred_kw).token
    trust.reset(breaks=["exo-app-missing-full-access"])
    after = secret_flow(trust, cred_kw).token
    assert verified_claims(trust, before, EXCHANGE_AUDIENCE)["roles"] == ["full_access_as_app"]
    assert verified_claims(trust, after, EXCHANGE_AUDIENCE)["roles"] == []


def test_discovery_and_user_realm(tenant: Simulator) -> None:
    base, ca = tenant.base_url, tenant.ca_path
    oidc_url = f"{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    oidc = requests.get(oidc_url, verify=ca, timeout=10).json()
    assert oidc["token_endpoint"] == f"{base}/{tenant.state.tenant_id}/oauth2/v2.0/token"
    assert {"authorization_endpoint", "issuer", "jwks_uri"} <= set(oidc)
    federated = requests.get(f"{base}/common/userrealm/alice@contoso.com?api-version=1.0", verify=ca,
                             timeout=10).json()
    managed = requests.get(f"{base}/common/userrealm/{tenant.state.extras['account_upn']}?api-version=2.0",
                           verify=ca, timeout=10).json()
    assert federated["account_type"] == "Federated" and "federation_active_auth_url" in federated
    assert managed["NameSpaceType"] == "Managed"
    unknown = requests.get(f"{base}/nosuchtenant.example/v2.0/.well-known/openid-configuration", verify=ca,
                           timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


class TestTokenService:
    """validate(): signature, issuer, audience and lifetime, with per-service diagnostics."""

    def issue(self, sim: Simulator, audience: str, **extra: Any) -> str:
        return sim.services.tokens.issue(tenant_id=sim.state.tenant_id, audience=audience, app_id="app",
                                         appidacr="1", roles=["full_access_as_app"], **extra)

    def test_good_token_returns_claims(self, tenant: Simulator) -> None:
        claims = tenant.services.tokens.validate("Bearer " + self.issue(tenant, EXCHANGE_AUDIENCE),
                                                 EXCHANGE_AUDIENCE)
        assert claims["roles"] == ["full_access_as_app"]

    def test_app_id_audience_alias_is_accepted(self, tenant: Simulator) -> None:
        token = self.issue(tenant, "00000003-0000-0000-c000-000000000000")
        claims = tenant.services.tokens.validate(f"Bearer {token}", GRAPH_AUDIENCE)
        assert claims["aud"] == "00000003-0000-0000-c000-000000000000"

    def test_wrong_audience_is_rejected(self, tenant: Simulator) -> None:
        with pytest.raises(TokenRejected) as info:
            tenant.services.tokens.validate("Bearer " + self.issue(tenant, GRAPH_AUDIENCE), EXCHANGE_AUDIENCE)
        assert info.value.kind == "audience" and info.value.diagnostics.startswith("2000003;")

    def test_sharepoint_audience_diagnostics(self, tenant: Simulator) -> None:
        with pytest.raises(TokenRejected) as info:
            tenant.services.tokens.validate("Bearer " + self.issue(tenant, GRAPH_AUDIENCE), tenant.base_url)
        assert info.value.diagnostics.startswith("3000003;reason=\"Invalid audience Uri")

    def test_expired_token_is_rejected(self, tenant: Simulator) -> None:
        token = self.issue(tenant, GRAPH_AUDIENCE, now=time.time() - 7200)
        with pytest.raises(TokenRejected) as info:
            tenant.services.tokens.validate(f"Bearer {token}", GRAPH_AUDIENCE)
        assert info.value.kind == "expired" and "expired" in info.value.reason

    @pytest.mark.parametrize(("header", "kind"), [(None, "missing"), ("Basic abc", "missing"),
                                                  ("Bearer not-a-jwt", "malformed")])
    def test_missing_or_malformed(self, tenant: Simulator, header: str | None, kind: str) -> None:
        with pytest.raises(TokenRejected) as info:
            tenant.services.tokens.validate(header, GRAPH_AUDIENCE)
        assert info.value.kind == kind

    def test_token_signed_by_another_key_is_rejected(self, tenant: Simulator) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from agent.simulator.scenarios.contoso import make_certificate

        other = load_pem_private_key(make_certificate("intruder").pem.encode(), None)
        claims = jwt.decode(self.issue(tenant, GRAPH_AUDIENCE), options={"verify_signature": False})
        forged = jwt.encode(claims, other, algorithm="RS256")  # type: ignore[arg-type]
        with pytest.raises(TokenRejected) as info:
            tenant.services.tokens.validate(f"Bearer {forged}", GRAPH_AUDIENCE)
        assert info.value.kind == "signature"
