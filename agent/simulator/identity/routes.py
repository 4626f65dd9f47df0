"""Entra ID of the simulated tenant: OIDC discovery, JWKS, user realm and the v2.0 token endpoint."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agent.simulator.core import Services, read_form
from agent.simulator.identity.aadsts import AadError, aad, aad_error_body
from agent.simulator.identity.device import start as start_device_flow
from agent.simulator.identity.grants import Grants
from agent.simulator.state.tenant import Tenant, User

__all__ = ["AadError", "aad_error_body", "routes"]


class Identity:
    """The Entra ID endpoints; every handler reads the CURRENT tenant from `svc.state`."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.grants = Grants(svc)

    def _tenant(self, name: str, *, generic_ok: bool = False, consumers_ok: bool = False) -> Tenant:
        t = self.svc.state
        generic = ("common", "organizations", *(("consumers",) if consumers_ok else ()))
        if generic_ok and name.lower() in generic:
            return t
        if name.lower() in {t.name.lower(), t.tenant_id.lower(), *(d.lower() for d in t.domains)}:
            return t
        raise aad(90002, tenant=name)

    def _error(self, err: AadError) -> JSONResponse:
        body = aad_error_body(err)  # Entra sends the trace id as x-ms-request-id too
        return JSONResponse(body, err.status, headers={"Cache-Control": "no-store, no-cache",
                                                       "x-ms-request-id": body["trace_id"]})

    async def openid_configuration(self, request: Request) -> Response:
        name = request.path_params["tenant"]
        try:
            t = self._tenant(name, generic_ok=True)
        except AadError as err:
            return self._error(err)
        b = self.svc.base_url
        tid = name if name.lower() in ("common", "organizations") else t.tenant_id
        issuer_tid = "{tenantid}" if tid == name and name.lower() in ("common", "organizations") else tid
        return JSONResponse({
            "token_endpoint": f"{b}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{b}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{b}/{issuer_tid}/v2.0", "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{b}/oidc/userinfo",
            "authorization_endpoint": f"{b}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{b}/{tid}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{b}/{tid}/oauth2/v2.0/logout",
            **self._cloud_fields(),
        })

    def _cloud_fields(self) -> dict[str, Any]:
        """The discovery document's cloud fields, as the simulator's cloud has them."""
        cloud = self.svc.tokens.cloud
        fields: dict[str, Any] = {"tenant_region_scope": cloud.region_scope,
                                  "cloud_instance_name": cloud.instance,
                                  "cloud_graph_host_name": "graph.windows.net",
                                  "msgraph_host": cloud.graph.removeprefix("https://")}
        if cloud.sub_scope:
            fields["tenant_region_sub_scope"] = cloud.sub_scope
        return fields

    async def keys(self, request: Request) -> Response:
        return JSONResponse(self.svc.tokens.jwks())

    async def instance_discovery(self, request: Request) -> Response:
        """Harmless: MSAL only asks when instance discovery is not disabled."""
        endpoint = request.query_params.get("authorization_endpoint", "")
        parts = endpoint.split("/")
        tenant = parts[3] if len(parts) > 3 else "common"
        b = self.svc.base_url
        discovery = f"{b}/{tenant}/v2.0/.well-known/openid-configuration"
        return JSONResponse({"tenant_discovery_endpoint": discovery, "api-version": "1.1", "metadata": []})

    def _realm_user(self, login: str) -> tuple[User | None, str | None]:
        t = self.svc.state
        domain = login.rsplit("@", 1)[-1].lower() if "@" in login else ""
        found = t.domains.get(domain)
        return t.find_user(login), (found.authentication_type if found else None)

    async def user_realm(self, request: Request) -> Response:
        """`/common/userrealm/{upn}`: api-version 1.0 (MSAL's shape) or 2.0 (NameSpaceType)."""
        login = request.path_params.get("upn") or request.query_params.get("user", "")
        _, kind = self._realm_user(login)
        domain = login.rsplit("@", 1)[-1] if "@" in login else ""
        if request.query_params.get("api-version", "1.0").startswith("2"):
            return JSONResponse(self._realm_v2(login, domain, kind))
        body: dict[str, Any] = {"ver": "1.0", "account_type": kind or "Unknown", "domain_name": domain,
                                "cloud_instance_name": "microsoftonline.com",
                                "cloud_audience_urn": "urn:federation:MicrosoftOnline"}
        if kind == "Federated":
            body.update(federation_protocol="WSTrust",
                        federation_metadata_url=f"https://sts.{domain}/adfs/services/trust/mex",
                        federation_active_auth_url=f"https://sts.{domain}/adfs/services/trust/2005/"
                                                   "usernamemixed")
        return JSONResponse(body)

    def _realm_v2(self, login: str, domain: str, kind: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"NameSpaceType": kind or "Unknown", "Login": login, "DomainName": domain,
                                "FederationBrandName": "Contoso", "TenantBrandingInfo": None,
                                "cloud_instance_name": "microsoftonline.com"}
        if kind == "Federated":
            body.update(AuthURL=f"https://sts.{domain}/adfs/ls/?username={login}&wa=wsignin1.0",
                        federation_protocol="WSTrust")
        return body

    async def get_user_realm_srf(self, request: Request) -> Response:
        """The legacy GetUserRealm.srf shape."""
        login = request.query_params.get("login", "")
        _, kind = self._realm_user(login)
        body: dict[str, Any] = {"State": 4 if kind else 1, "UserState": 1 if kind else 0, "Login": login,
                                "NameSpaceType": kind or "Unknown",
                                "DomainName": login.rsplit("@", 1)[-1] if "@" in login else "",
                                "FederationBrandName": "Contoso", "CloudInstanceName": "microsoftonline.com",
                                "CloudInstanceIssuerUri": "urn:federation:MicrosoftOnline"}
        if kind == "Federated":
            body["AuthURL"] = f"https://sts.{body['DomainName']}/adfs/ls/?username={login}&wa=wsignin1.0"
        return JSONResponse(body)

    async def token(self, request: Request) -> Response:
        name = request.path_params["tenant"]
        try:
            if request.method != "POST":
                # reference-error-codes.md AADSTS900561 (BadResourceRequestInvalidRequest)
                raise aad(900561, valid="POST, OPTIONS", verb=request.method)
            t = self._tenant(name, generic_ok=True, consumers_ok=True)
            form = client_basic_auth(request.headers.get("authorization"), await read_form(request))
            token_url = f"{self.svc.base_url}{request.url.path}"
            return JSONResponse(self.grants.token(t, form, token_url, authority=name),
                                headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
                                         "x-ms-request-id": str(uuid.uuid4())})
        except AadError as err:
            return self._error(err)

    async def devicecode(self, request: Request) -> Response:
        """identity-platform/v2-oauth2-device-code.md, "Device authorization request"."""
        try:
            t = self._tenant(request.path_params["tenant"], generic_ok=True, consumers_ok=True)
            form = await read_form(request)
            client = form.get("client_id", "").split("@")[0]
            if form.get("client_id") and not self.grants.is_known_client(t, client):
                raise aad(700016, app=client, tenant=t.initial_domain)
            return JSONResponse(start_device_flow(t, form), headers={"Cache-Control": "no-store, no-cache"})
        except AadError as err:
            return self._error(err)


def client_basic_auth(header: str | None, form: dict[str, str]) -> dict[str, str]:
    """client_secret_basic: the client id and secret in an HTTP Basic header, each form-url-encoded.

    identity-platform/v2-oauth2-client-creds-grant-flow.md: the Basic pattern of RFC 6749 section 2.3.1
    "is also supported". A form that also carries a secret or assertion uses two client authentication
    methods, which RFC 6749 forbids: answered as a malformed request (the stricter choice; Entra's exact
    answer is not documented).
    """
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return form
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise aad(9002313) from None
    client_id, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
    two_methods = "client_secret" in form or "client_assertion" in form
    if not sep or two_methods or form.get("client_id", client_id) != client_id:
        raise aad(9002313)
    return {**form, "client_id": client_id, "client_secret": secret}


def routes(svc: Services) -> list[BaseRoute]:
    idp = Identity(svc)
    return [
        Route("/common/discovery/instance", idp.instance_discovery, methods=["GET"]),
        Route("/common/userrealm/{upn}", idp.user_realm, methods=["GET"]),
        Route("/common/userrealm/", idp.user_realm, methods=["GET"]),
        Route("/GetUserRealm.srf", idp.get_user_realm_srf, methods=["GET"]),
        Route("/common/discovery/keys", idp.keys, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", idp.openid_configuration, methods=["GET"]),
        Route("/{tenant}/.well-known/openid-configuration", idp.openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", idp.keys, methods=["GET"]),
        Route("/{tenant}/discovery/keys", idp.keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", idp.token, methods=["POST", "GET"]),
        Route("/{tenant}/oauth2/v2.0/devicecode", idp.devicecode, methods=["POST"]),
    ]
