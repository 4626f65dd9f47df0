"""Who calls SharePoint REST (app-only certificate token or a user) and what they may do on a site."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.simulator.core import Services, TokenRejected
from agent.simulator.sharepoint.wire import FULL_MASK, ROLE_DEFS_BY_ID, SHAREPOINT_CLIENT_ID, Wire
from agent.simulator.state.tenant import SimError, Site, Tenant, login_name

FULL_CONTROL_ROLE = "Sites.FullControl.All"
READ_ROLES = frozenset({"Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", FULL_CONTROL_ROLE})
UNSUPPORTED_APP_ONLY = '3000003;reason="Unsupported app only token.";category="invalid_client"'
READ_MASK = (ROLE_DEFS_BY_ID[1073741826].high, ROLE_DEFS_BY_ID[1073741826].low)
CONTRIBUTE_MASK = (ROLE_DEFS_BY_ID[1073741827].high, ROLE_DEFS_BY_ID[1073741827].low)


class Unauthorized(Exception):
    """HTTP 401 with SharePoint's Bearer challenge and an x-ms-diagnostics value."""

    def __init__(self, diagnostics: str, description: str) -> None:
        super().__init__(description)
        self.diagnostics, self.description = diagnostics, description


class Denied(Exception):
    """HTTP 403 access denied."""


class BadRequest(Exception):
    """HTTP 400 with a SharePoint error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class SpCaller:
    """An app (certificate app-only token, `roles`) or a user (delegated token, `upn`)."""

    upn: str | None
    roles: frozenset[str] = frozenset()

    @property
    def app_only(self) -> bool:
        return self.upn is None


@dataclass
class SpCall:
    """One SharePoint REST request, authenticated, with everything a handler needs."""

    svc: Services
    tenant: Tenant
    request: Request
    caller: SpCaller
    wire: Wire
    web_path: str  # "" (tenant root), /sites/x or /personal/x, as the client spelled it
    match: re.Match[str]
    raw_body: bytes = b""
    site: Site | None = None
    _json: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def web_url(self) -> str:
        return self.svc.base_url + self.web_path

    def need_site(self) -> Site:
        if self.site is None:
            raise SimError(404, "-2147024894, System.IO.FileNotFoundException", "File Not Found.")
        return self.site

    def body(self) -> dict[str, Any]:
        """The JSON body ({} when empty); a malformed body is a 400 as in SharePoint."""
        if self._json is None:
            try:
                parsed = json.loads(self.raw_body) if self.raw_body.strip() else {}
            except ValueError:
                raise BadRequest("-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                                 "Invalid JSON. A token was not recognized in the JSON content.") from None
            self._json = parsed if isinstance(parsed, dict) else {}
        return self._json


def authenticate(svc: Services, request: Request) -> SpCaller:
    """Validate the bearer token for the SharePoint audience; refuse secret-based app-only tokens."""
    try:
        claims = svc.tokens.validate(request.headers.get("authorization"), svc.sharepoint_audience)
    except TokenRejected as exc:
        raise Unauthorized(exc.diagnostics, exc.reason) from None
    if "upn" in claims:
        user = svc.state.find_user(str(claims["upn"])) or svc.state.find_user(str(claims.get("oid", "")))
        if user is None:
            raise Unauthorized('3000001;reason="The user does not exist.";category="invalid_client"',
                               "The user does not exist.")
        return SpCaller(user.upn)
    # SharePoint only takes app-only tokens obtained with a certificate (appidacr 2), as in Microsoft 365.
    if str(claims.get("appidacr")) != "2":
        raise Unauthorized(UNSUPPORTED_APP_ONLY, "Unsupported app only token.")
    return SpCaller(None, frozenset(str(r) for r in claims.get("roles") or []))


def unauthorized_response(svc: Services, exc: Unauthorized) -> Response:
    challenge = (f'Bearer realm="{svc.state.tenant_id}",client_id="{SHAREPOINT_CLIENT_ID}",'
                 'trusted_issuers="00000001-0000-0000-c000-000000000000@*,https://sts.windows.net/*/,'
                 f'{svc.base_url}/*/v2.0",authorization_uri="{svc.base_url}/common/oauth2/authorize"')
    headers = {"WWW-Authenticate": challenge, "x-ms-diagnostics": exc.diagnostics}
    return JSONResponse({"error_description": exc.description}, status_code=401, headers=headers)


# -- permissions on a site -------------------------------------------------------------------------

def can_read(site: Site, caller: SpCaller) -> bool:
    """App: any Sites.* role. User: the tenant root for everyone, else a site admin or any role."""
    if caller.app_only:
        return bool(caller.roles & READ_ROLES)
    if site.path == "":
        return True  # "Everyone except external users" reads the tenant root site
    entry = site.user_by_login(login_name(caller.upn or ""))
    if entry is None:
        return False
    return entry.is_site_admin or any(r.principal_id == entry.id for r in site.role_assignments)


def can_manage(tenant: Tenant, site: Site, caller: SpCaller) -> bool:
    """App: Sites.FullControl.All. User: site collection admin or Full Control on the web."""
    if caller.app_only:
        return FULL_CONTROL_ROLE in caller.roles
    return tenant.has_full_control(site, caller.upn or "")


def user_mask(site: Site, login: str) -> tuple[int, int]:
    """Effective BasePermissions (High, Low) of a login on the web: admins hold every bit."""
    entry = site.user_by_login(login)
    if entry is None:
        return (0, 0)
    if entry.is_site_admin:
        return FULL_MASK
    high = low = 0
    for binding in site.role_assignments:
        role = ROLE_DEFS_BY_ID.get(binding.role_def_id)
        if binding.principal_id == entry.id and role is not None:
            high, low = high | role.high, low | role.low
    return (high, low)


def caller_mask(site: Site, caller: SpCaller) -> tuple[int, int]:
    if not caller.app_only:
        return user_mask(site, login_name(caller.upn or ""))
    if FULL_CONTROL_ROLE in caller.roles:
        return FULL_MASK
    if caller.roles & {"Sites.ReadWrite.All", "Sites.Manage.All"}:
        return CONTRIBUTE_MASK
    return READ_MASK if caller.roles & READ_ROLES else (0, 0)
