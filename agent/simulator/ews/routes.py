"""Simulated EWS: Exchange Online (OAuth only) and an on-premises Exchange (its own auth schemes)."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.simulator.core import Services, TokenRejected
from agent.simulator.ews import soap
from agent.simulator.ews.ops import Caller, Operation
from agent.simulator.ews.rules import anchor_error, token_type_error
from agent.simulator.state.tenant import Tenant, User

FULL_ACCESS_AS_APP = "full_access_as_app"
EWS_SCOPE = "EWS.AccessAsUser.All"
NO_PERMISSIONS = ('2000008;reason="The token contains no permissions, or permissions can not be '
                  'understood.";error_category="invalid_grant"')


class Unauthorized(Exception):
    """An HTTP 401, with the extra headers (x-ms-diagnostics) that explain it."""

    def __init__(self, diagnostics: str | None = None) -> None:
        super().__init__(diagnostics or "401")
        self.diagnostics = diagnostics


def routes(svc: Services) -> list[BaseRoute]:
    """EWS endpoints; exchangelib posts to the URL it is given, other clients lower-case it."""
    online = _ExchangeOnline(svc)
    onprem = _ExchangeOnPrem(svc)
    return [_ci_route("/EWS/Exchange.asmx", online.handle),
            _ci_route("/onprem/EWS/Exchange.asmx", onprem.handle)]


def _ci_route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    route = Route(path, endpoint, methods=["POST"])
    route.path_regex = re.compile(route.path_regex.pattern, re.IGNORECASE)
    return route


class _Endpoint:
    """What both EWS endpoints share: authenticate, parse, apply mailbox rules, answer."""

    version: soap.ServerVersion

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def challenge_headers(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def authenticate(self, request: Request, tenant: Tenant) -> Caller:
        raise NotImplementedError

    def can_impersonate(self, caller: Caller) -> bool:
        raise NotImplementedError

    def caller_has_mailbox(self, tenant: Tenant, user: User) -> bool:
        raise NotImplementedError

    def request_error(self, caller: Caller, parsed: soap.SoapRequest,
                      request: Request) -> tuple[str, str] | None:
        """A refusal that depends on the token kind and HTTP headers, before any operation runs."""
        return None

    async def handle(self, request: Request) -> Response:
        tenant = self.svc.state
        try:
            caller = self.authenticate(request, tenant)
        except Unauthorized as exc:
            return self.unauthorized(exc.diagnostics)
        try:
            parsed = soap.parse_request(await request.body())
        except soap.SoapParseError as exc:
            return soap.fault("ErrorSchemaValidation", str(exc), self.version)
        refused = self.request_error(caller, parsed, request)
        if refused is not None:
            return soap.fault(*refused, self.version)
        return Operation(self, tenant, caller, parsed).run()

    def unauthorized(self, diagnostics: str | None = None) -> Response:
        response = Response(b"", status_code=401)
        for name, value in self.challenge_headers():  # one header per scheme, as IIS sends them
            response.raw_headers.append((name.lower().encode(), value.encode()))
        if diagnostics:
            response.raw_headers.append((b"x-ms-diagnostics", diagnostics.encode()))
        return response


class _ExchangeOnline(_Endpoint):
    """outlook.office365.com: Basic is retired, only OAuth bearer tokens are accepted."""

    version = soap.EXO_VERSION

    def challenge_headers(self) -> list[tuple[str, str]]:
        base = self.svc.base_url
        tenant_id = self.svc.state.tenant_id
        bearer = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                  f'trusted_issuers="00000001-0000-0000-c000-000000000000@{tenant_id}", '
                  'token_types="app_asserted_user_v1 service_asserted_app_v1", '
                  f'authorization_uri="{base}/common/oauth2/authorize"')
        return [("WWW-Authenticate", bearer)]

    def authenticate(self, request: Request, tenant: Tenant) -> Caller:
        header = request.headers.get("authorization")
        if not header or not header.lower().startswith("bearer "):
            raise Unauthorized()  # no credentials, Basic (retired) or any other scheme
        try:
            claims = self.svc.tokens.validate(header, self.svc.tokens.exchange_audience)
        except TokenRejected as exc:
            raise Unauthorized(exc.diagnostics) from None
        if "upn" not in claims:
            if FULL_ACCESS_AS_APP not in (claims.get("roles") or []):
                raise Unauthorized(NO_PERMISSIONS)
            return Caller(None, full_access=True)
        return self._delegated(claims, tenant)

    def _delegated(self, claims: dict[str, object], tenant: Tenant) -> Caller:
        if EWS_SCOPE not in str(claims.get("scp", "")).split():
            raise Unauthorized(NO_PERMISSIONS)
        user = tenant.find_user(str(claims.get("upn", ""))) or tenant.find_user(str(claims.get("oid", "")))
        # An account without a mailbox (unlicensed) is refused at the door with a bare 401 (api-facts §5).
        if user is None or not tenant.has_mailbox(user):
            raise Unauthorized()
        return Caller(user.upn)

    def request_error(self, caller: Caller, parsed: soap.SoapRequest,
                      request: Request) -> tuple[str, str] | None:
        refused = token_type_error(caller.upn is None, parsed)
        if refused is None and caller.upn is None:
            refused = anchor_error(self.svc.state, parsed, request.headers.get("x-anchormailbox"))
        return refused

    def can_impersonate(self, caller: Caller) -> bool:
        # The ApplicationImpersonation RBAC role is gone from Exchange Online: only full_access_as_app.
        return caller.full_access

    def caller_has_mailbox(self, tenant: Tenant, user: User) -> bool:
        return tenant.has_mailbox(user)


class _ExchangeOnPrem(_Endpoint):
    """The on-premises Exchange: challenges with the schemes its EWS virtual directory allows."""

    version = soap.ONPREM_VERSION

    def challenge_headers(self) -> list[tuple[str, str]]:
        onprem = self.svc.state.onprem
        values = {"basic": f'Basic realm="{onprem.realm}"', "ntlm": "NTLM", "negotiate": "Negotiate"}
        return [("WWW-Authenticate", values.get(s.lower(), s)) for s in onprem.auth_schemes]

    def authenticate(self, request: Request, tenant: Tenant) -> Caller:
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        enabled = {s.lower() for s in tenant.onprem.auth_schemes}
        # Only Basic is implemented; NTLM/Negotiate handshakes and disabled schemes all end in a 401.
        if scheme.lower() != "basic" or "basic" not in enabled:
            raise Unauthorized()
        login, password = _basic_pair(value)
        user = _onprem_user(tenant, login)
        if user is None or user.password != password or not _may_sign_in(user):
            raise Unauthorized()
        return Caller(user.upn)

    def can_impersonate(self, caller: Caller) -> bool:
        # On-premises the migration account is given ApplicationImpersonation (the documented prerequisite).
        return True

    def caller_has_mailbox(self, tenant: Tenant, user: User) -> bool:
        return True  # on-premises mailboxes do not depend on cloud licences


def _basic_pair(value: str) -> tuple[str, str]:
    try:
        login, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized() from None
    return login, password


def _onprem_user(tenant: Tenant, login: str) -> User | None:
    """A UPN, or DOMAIN\\name as Windows clients send it (name = the UPN's local part)."""
    if "\\" not in login:
        return tenant.find_user(login)
    name = login.rsplit("\\", 1)[1].lower()
    return next((u for u in tenant.users.values() if u.upn.lower().split("@")[0] == name), None)


def _may_sign_in(user: User) -> bool:
    locked = user.locked_until is not None and user.locked_until > time.time()
    return user.account_enabled and not user.password_expired and not locked
