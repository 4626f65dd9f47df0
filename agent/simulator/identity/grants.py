"""The token endpoint's grants: client credentials (secret or certificate), password (ROPC), refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography import x509

from agent.simulator.core import Services
from agent.simulator.identity.aadsts import AadError, aad
from agent.simulator.identity.consent import OIDC_SCOPES, granted, oidc_requested, response_scope
from agent.simulator.identity.device import DEVICE_GRANT, redeem
from agent.simulator.identity.signin import account_state, conditional_access, sign_in
from agent.simulator.identity.tokens import TOKEN_LIFETIME_S
from agent.simulator.state.tenant import (
    EXCHANGE_APP_ID,
    GRAPH_APP_ID,
    SHAREPOINT_APP_ID,
    Application,
    KeyCredential,
    Tenant,
    User,
    now,
)

__all__ = ["AadError", "Grants"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REFRESH_AUDIENCE = "urn:sim:refresh-token"
# Tenant-independent authorities; which grants each refuses is in Grants.check_authority.
GENERIC_TENANTS = ("common", "organizations", "consumers")
# First-party public clients present in every tenant (scripts often use them for ROPC).
FIRST_PARTY_CLIENTS = {"04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
                       "1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell"}


def _when(ts: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(ts))


def _b64u(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Grants:
    """Issues tokens from the current tenant state, or raises AadError exactly as Entra ID words it."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def token(self, t: Tenant, form: dict[str, str], token_url: str, authority: str = "") -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise aad(900144, param="grant_type")
        handler = {"client_credentials": self.client_credentials, "password": self.password,
                   "refresh_token": self.refresh, DEVICE_GRANT: self.device_code}.get(grant)
        if handler is None:
            raise aad(70003, grant=grant)
        check_authority(authority, grant)
        return handler(t, form, token_url)

    # -- resources -----------------------------------------------------------------------------
    def resource(self, t: Tenant, scope: str, app_only: bool) -> tuple[str, str]:
        """(audience, resource appId) of the requested scope; AADSTS500011 for an unknown resource."""
        items = [s for s in scope.split() if s not in OIDC_SCOPES]
        if not items:
            if app_only:
                raise aad(900144, param="scope")
            return self.svc.tokens.graph_audience, GRAPH_APP_ID
        graph = self.svc.tokens.graph_audience  # short scopes (User.Read) are Graph's, in every cloud
        resources = {item.rsplit("/", 1)[0] if "/" in item else graph for item in items}
        if len(resources) > 1:
            raise aad(28000, scope=scope)
        resource = resources.pop()
        if app_only and any(not item.endswith("/.default") for item in items):
            raise aad(1002012, scope=scope)
        found = self._resource_app(resource)
        if found is None or t.sp_by_app_id(found[1]) is None:
            raise aad(500011, resource=resource, tenant=t.name.title())
        return found

    def _resource_app(self, resource: str) -> tuple[str, str] | None:
        low, base, tokens = resource.rstrip("/").lower(), self.svc.base_url.lower(), self.svc.tokens
        graph, exchange = tokens.graph_audience, tokens.exchange_audience
        if low in (graph, GRAPH_APP_ID, f"{graph}/v1.0"):
            return graph, GRAPH_APP_ID
        if low in (exchange, *tokens.cloud.aliases, EXCHANGE_APP_ID):
            return exchange, EXCHANGE_APP_ID
        if low in (base, SHAREPOINT_APP_ID):
            return self.svc.base_url, SHAREPOINT_APP_ID
        if low.startswith("https://") and low.split("/")[2].endswith(".sharepoint.com"):
            return resource.rstrip("/"), SHAREPOINT_APP_ID  # a real tenant host: the wrong audience here
        return None

    # -- client authentication ---------------------------------------------------------------------
    def is_known_client(self, t: Tenant, cid: str) -> bool:
        """A first-party client, or an application with its service principal in this tenant."""
        return cid in FIRST_PARTY_CLIENTS or (t.application_by_app_id(cid) is not None
                                              and t.sp_by_app_id(cid) is not None)

    def client(self, t: Tenant, form: dict[str, str], token_url: str, public_ok: bool) -> tuple[str, str]:
        """(client appId, appidacr): '1' secret, '2' certificate, '0' public client."""
        cid = form.get("client_id", "").split("@")[0]
        app, sp = t.application_by_app_id(cid), t.sp_by_app_id(cid)
        public = public_ok and (cid in FIRST_PARTY_CLIENTS or (app is not None and app.public_client))
        if public and ("client_secret" in form or "client_assertion" in form):
            # entra-docs identity-platform/reference-error-codes.md: InvalidClientPublicClientWithCredential
            raise aad(700025)
        if public_ok and cid in FIRST_PARTY_CLIENTS:
            return cid, "0"
        if app is None or sp is None:
            raise aad(700016, app=cid, tenant=t.initial_domain)
        if not sp.account_enabled:
            raise aad(7000112, app=cid, name=app.display_name)
        if "client_assertion" in form:
            self._check_assertion(app, form, token_url)
            return cid, "2"
        if "client_secret" in form:
            _check_secret(app, form["client_secret"])
            return cid, "1"
        if public_ok and app.public_client:
            return cid, "0"
        # entra-docs identity-platform/reference-error-codes.md: the client_credentials grant without a
        # credential is MissingRequiredParameter (7000216); the user grants on a confidential app, 7000218
        raise aad(7000218 if public_ok else 7000216)

    def _check_assertion(self, app: Application, form: dict[str, str], token_url: str) -> None:
        assertion = form["client_assertion"]
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise aad(7000219)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise aad(50027) from None
        key, thumb = _find_key(app, header)
        if key is None:
            raise aad(700027, thumb=thumb, app=app.app_id)
        start, end = _when(key.start), _when(key.end)
        if not key.start <= now() <= key.end:
            raise aad(50013, reason="The key used is expired.", thumb=thumb, start=start, end=end)
        public_key = x509.load_der_x509_certificate(base64.b64decode(key.key)).public_key()
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
                                options={"verify_aud": False, "require": ["exp"]})
        except jwt.ExpiredSignatureError:
            raise aad(700024) from None
        except jwt.PyJWTError:
            raise aad(50013, reason="Key was found, but use of the key to verify the signature failed.",
                      thumb=thumb, start=start, end=end) from None
        if claims.get("iss") != app.app_id or claims.get("sub") != app.app_id:
            raise aad(700021)
        if not str(claims.get("aud", "")).rstrip("/").endswith(("/oauth2/v2.0/token", "/oauth2/token")):
            raise aad(700212, url=token_url)

    # -- grants ----------------------------------------------------------------------------------
    def client_credentials(self, t: Tenant, form: dict[str, str], token_url: str) -> dict[str, Any]:
        cid, acr = self.client(t, form, token_url, public_ok=False)
        audience, resource_app = self.resource(t, form.get("scope", ""), app_only=True)
        app, sp = t.application_by_app_id(cid), t.sp_by_app_id(cid)
        token = self.svc.tokens.issue(tenant_id=t.tenant_id, audience=audience, app_id=cid, appidacr=acr,
                                      roles=t.roles_of(cid, resource_app), oid=sp.id if sp else cid,
                                      app_name=app.display_name if app else None)
        return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S,
                "access_token": token}

    def device_code(self, t: Tenant, form: dict[str, str], token_url: str) -> dict[str, Any]:
        """The device code grant (identity-platform/v2-oauth2-device-code.md), polled by a public client."""
        cid, acr = self.client(t, form, token_url, public_ok=True)
        flow = redeem(t, form)
        audience, resource_app = self.resource(t, flow.scope, app_only=False)
        user = t.user(flow.user_id)
        account_state(user)
        conditional_access(t, user, resource_app, acr)
        wids = sorted(t.membership(user.id).roles)
        return self._user_tokens(t, user, cid, acr, (audience, resource_app), {**form, "scope": flow.scope},
                                 wids)

    def password(self, t: Tenant, form: dict[str, str], token_url: str) -> dict[str, Any]:
        cid, acr = self.client(t, form, token_url, public_ok=True)
        audience, resource_app = self.resource(t, form.get("scope", ""), app_only=False)
        user = sign_in(t, form.get("username", ""), form.get("password", ""))
        conditional_access(t, user, resource_app, acr)
        return self._user_tokens(t, user, cid, acr, (audience, resource_app), form)

    def refresh(self, t: Tenant, form: dict[str, str], token_url: str) -> dict[str, Any]:
        cid, acr = self.client(t, form, token_url, public_ok=True)
        token, key = form.get("refresh_token", ""), self.svc.tokens.public_key()
        try:
            rt = jwt.decode(token, key, algorithms=["RS256"], audience=REFRESH_AUDIENCE)
        except jwt.ExpiredSignatureError:
            raise _expired_refresh_token(token, key) from None
        except jwt.PyJWTError:
            raise aad(9002313) from None
        user = t.find_user(str(rt.get("sub", "")))
        if user is None or rt.get("cid") != cid:
            raise aad(9002313)
        if user.last_password_change > float(rt["iat"]):  # a password change revokes refresh tokens
            raise aad(50173, issued=_when(rt["iat"]), valid_from=_when(user.last_password_change))
        account_state(user)
        audience, resource_app = self.resource(t, form.get("scope", ""), app_only=False)
        conditional_access(t, user, resource_app, acr)
        return self._user_tokens(t, user, cid, acr, (audience, resource_app), form)

    def _user_tokens(self, t: Tenant, user: User, cid: str, acr: str, resource: tuple[str, str],
                     form: dict[str, str], wids: list[str] | None = None) -> dict[str, Any]:
        """The access token with the granted scopes, plus what the request's OIDC scopes ask for.

        identity-platform/v2-oauth-ropc.md: `id_token` only with `openid`, `refresh_token` only with
        `offline_access`; `client_info` is MSAL's extension, sent when it asks with client_info=1.
        """
        scope, issued, tokens = form.get("scope", ""), int(time.time()), self.svc.tokens
        scopes = granted(t, cid, _client_name(t, cid), resource[1], scope)
        access = tokens.issue(tenant_id=t.tenant_id, audience=resource[0], app_id=cid, appidacr=acr,
                              scp=" ".join(scopes), upn=user.upn, oid=user.id, name=user.display_name,
                              now=issued, wids=wids)
        oidc = oidc_requested(scope)
        body: dict[str, Any] = {"token_type": "Bearer", "scope": response_scope(scopes, resource[0], oidc,
                                                                 self.svc.tokens.graph_audience),
                                "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S,
                                "access_token": access}
        if "offline_access" in oidc:
            body["refresh_token"] = jwt.encode({"aud": REFRESH_AUDIENCE, "sub": user.id, "cid": cid,
                                                "iat": issued, "exp": issued + 90 * 86400},
                                               tokens.key.private_key, algorithm="RS256")
        if "openid" in oidc:
            body["id_token"] = self._id_token(t, user, cid, issued)
            if form.get("client_info") == "1":
                body["client_info"] = _b64u({"uid": user.id, "utid": t.tenant_id})
        return body

    def _id_token(self, t: Tenant, user: User, cid: str, issued: int) -> str:
        """An unsigned id_token: MSAL reads preferred_username and oid from it."""
        claims = {"aud": cid, "iss": self.svc.tokens.issuer(t.tenant_id), "iat": issued, "nbf": issued,
                  "exp": issued + 3600, "name": user.display_name, "oid": user.id,
                  "preferred_username": user.upn, "sub": user.id, "tid": t.tenant_id, "ver": "2.0"}
        return f"{_b64u({'typ': 'JWT', 'alg': 'none'})}.{_b64u(claims)}."


def check_authority(authority: str, grant: str) -> None:
    """Grants that need a tenant are refused on the tenant-independent authorities.

    Client credentials: identity-platform/v2-oauth2-client-creds-grant-flow.md requires the tenant "in
    GUID or domain-name format"; with none, Entra has no tenant to issue for: AADSTS50059
    (reference-error-codes.md, MissingTenantRealmAndNoUserInformationProvided; seen for this case
    in MicrosoftDocs/azure-docs#24064).
    ROPC: v2-oauth-ropc.md allows only a tenant or `organizations`: AADSTS9001023 on common/consumers.
    """
    low = authority.lower()
    if low not in GENERIC_TENANTS:
        return
    if grant == "client_credentials":
        raise aad(50059)
    if grant == "password" and low in ("common", "consumers"):
        raise aad(9001023)


def _client_name(t: Tenant, cid: str) -> str:
    app = t.application_by_app_id(cid)
    return app.display_name if app is not None else FIRST_PARTY_CLIENTS.get(cid, cid)


def _check_secret(app: Application, secret: str) -> None:
    matches = [c for c in app.password_credentials if hmac.compare_digest(c.secret.encode(), secret.encode())]
    if not matches:
        raise aad(7000215, app=app.app_id)
    if all(c.end < now() for c in matches):
        raise aad(7000222, app=app.app_id)


def _expired_refresh_token(token: str, key: Any) -> AadError:
    """A genuine refresh token past its lifetime: AADSTS700082 (reference-error-codes.md,
    ExpiredOrRevokedGrantInactiveToken) with its dates; a forged one stays 9002313."""
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=REFRESH_AUDIENCE,
                            options={"verify_exp": False})
    except jwt.PyJWTError:
        return aad(9002313)
    issued = float(claims.get("iat", 0))
    return aad(700082, issued=_when(issued), time=f"{int((now() - issued) // 86400)}.00:00:00")


def _find_key(app: Application, header: dict[str, Any]) -> tuple[KeyCredential | None, str]:
    """The keyCredential the assertion names by x5t (SHA-1) or x5t#S256, and the thumbprint as hex."""
    if header.get("x5t#S256"):
        digest = base64.urlsafe_b64decode(str(header["x5t#S256"]) + "==").hex().upper()
        match = [k for k in app.key_credentials
                 if hashlib.sha256(base64.b64decode(k.key)).hexdigest().upper() == digest]
        return (match[0] if match else None), digest
    raw = str(header.get("x5t", ""))
    try:
        thumb = base64.urlsafe_b64decode(raw + "==").hex().upper() if raw else ""
    except ValueError:
        thumb = raw
    return next((k for k in app.key_credentials if k.thumbprint.upper() == thumb), None), thumb
