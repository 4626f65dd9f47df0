"""SharePoint REST wire format: odata=verbose vs nometadata JSON, error bodies and entity shapes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from agent.simulator.state.tenant import FULL_CONTROL_ROLE_DEF, RoleAssignment, Site, SiteUser

SHAREPOINT_CLIENT_ID = "00000003-0000-0ff1-ce00-000000000000"
ACCESS_DENIED = ("-2147024891, System.UnauthorizedAccessException",
                 "Access denied. You do not have permission to perform this action or access this resource.")
NOT_FOUND_CODE = "-2147024894, System.IO.FileNotFoundException"
BAD_QUERY_CODE = "-1, Microsoft.SharePoint.Client.InvalidClientQueryException"
ARGUMENT_CODE = "-2147024809, System.ArgumentException"
FULL_MASK = (2147483647, 4294967295)


@dataclass(frozen=True)
class RoleDef:
    """A built-in role definition (Id, RoleTypeKind, BasePermissions High/Low)."""

    id: int
    name: str
    kind: int
    high: int
    low: int
    order: int
    description: str


ROLE_DEFS: tuple[RoleDef, ...] = (
    RoleDef(FULL_CONTROL_ROLE_DEF, "Full Control", 5, *FULL_MASK, 1, "Has full control."),
    RoleDef(1073741828, "Design", 4, 432, 1012866047, 32, "Can view, add, update, delete, approve, "
            "and customize."),
    RoleDef(1073741830, "Edit", 6, 432, 1011030015, 48, "Can add, edit and delete lists; can view, add, "
            "update and delete list items and documents."),
    RoleDef(1073741827, "Contribute", 3, 432, 1011028719, 64, "Can view, add, update, and delete list "
            "items and documents."),
    RoleDef(1073741826, "Read", 2, 176, 138612833, 128, "Can view pages and list items and download "
            "documents."),
)
ROLE_DEFS_BY_ID = {r.id: r for r in ROLE_DEFS}


@dataclass(frozen=True)
class Wire:
    """How one request wants its answer: verbose (office365-rest-python-client) or nometadata."""

    verbose: bool
    api_url: str  # absolute {web}/_api, for __metadata uris

    @classmethod
    def from_accept(cls, accept: str, api_url: str) -> Wire:
        return cls("odata=verbose" in accept.lower(), api_url)

    @property
    def media_type(self) -> str:
        level = "verbose" if self.verbose else "nometadata"
        return f"application/json;odata={level};streaming=true;charset=utf-8"

    def meta(self, type_name: str, rel: str) -> dict[str, Any]:
        uri = f"{self.api_url}/{rel}"
        return {"__metadata": {"id": uri, "uri": uri, "type": type_name}} if self.verbose else {}

    def entity(self, obj: dict[str, Any], status: int = 200) -> Response:
        return self._json({"d": obj} if self.verbose else _strip(obj), status)

    def collection(self, items: list[dict[str, Any]]) -> Response:
        body = {"d": {"results": items}} if self.verbose else {"value": [_strip(i) for i in items]}
        return self._json(body, 200)

    def result(self, name: str, value: Any) -> Response:
        """A service-operation result: verbose wraps it as {"d": {Name: value}}."""
        if self.verbose:
            return self._json({"d": {name: value}}, 200)
        return self._json(_strip(value) if value is not None else {"odata.null": True}, 200)

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        key = "error" if self.verbose else "odata.error"
        body = {key: {"code": code, "message": {"lang": "en-US", "value": message}}}
        return JSONResponse(body, status_code=status, headers=headers, media_type=self.media_type)

    def _json(self, body: Any, status: int) -> Response:
        return JSONResponse(body, status_code=status, media_type=self.media_type)


def _strip(obj: Any) -> Any:
    """nometadata: no __metadata / __deferred, collections as plain lists."""
    if isinstance(obj, dict):
        if set(obj) == {"results"}:
            return [_strip(x) for x in obj["results"]]
        return {k: _strip(v) for k, v in obj.items() if k != "__metadata" and not _deferred(v)}
    if isinstance(obj, list):
        return [_strip(x) for x in obj]
    return obj


def _deferred(value: Any) -> bool:
    return isinstance(value, dict) and "__deferred" in value


def deferred(wire: Wire, rel: str) -> dict[str, Any]:
    return {"__deferred": {"uri": f"{wire.api_url}/{rel}"}}


# -- entities ------------------------------------------------------------------------------------

def user_json(wire: Wire, user: SiteUser) -> dict[str, Any]:
    upn = user.login_name.split("|")[-1]
    name_id = hashlib.sha1(upn.encode()).hexdigest()[:16]
    return {**wire.meta("SP.User", f"Web/GetUserById({user.id})"),
            "Id": user.id, "IsHiddenInUI": False, "LoginName": user.login_name, "Title": user.title,
            "PrincipalType": user.principal_type, "Email": user.email, "Expiration": "",
            "IsEmailAuthenticationGuestUser": False, "IsShareByEmailGuestUser": False,
            "IsSiteAdmin": user.is_site_admin,
            "UserId": {**({"__metadata": {"type": "SP.UserIdInfo"}} if wire.verbose else {}),
                       "NameId": name_id, "NameIdIssuer": "urn:federation:microsoftonline"},
            "UserPrincipalName": upn}


def permissions_json(wire: Wire, high: int, low: int) -> dict[str, Any]:
    meta = {"__metadata": {"type": "SP.BasePermissions"}} if wire.verbose else {}
    return {**meta, "High": str(high), "Low": str(low)}


def role_def_json(wire: Wire, role: RoleDef) -> dict[str, Any]:
    return {**wire.meta("SP.RoleDefinition", f"Web/RoleDefinitions({role.id})"),
            "BasePermissions": permissions_json(wire, role.high, role.low), "Description": role.description,
            "Hidden": False, "Id": role.id, "Name": role.name, "Order": role.order,
            "RoleTypeKind": role.kind}


def role_assignment_json(wire: Wire, site: Site, principal_id: int, bindings: list[RoleAssignment],
                         expand: set[str]) -> dict[str, Any]:
    rel = f"Web/RoleAssignments/GetByPrincipalId({principal_id})"
    out: dict[str, Any] = {**wire.meta("SP.RoleAssignment", rel), "PrincipalId": principal_id}
    member = site.users.get(principal_id)
    if "member" in expand and member is not None:
        out["Member"] = user_json(wire, member)
    elif wire.verbose:
        out["Member"] = deferred(wire, f"{rel}/Member")
    if "roledefinitionbindings" in expand:
        roles = [ROLE_DEFS_BY_ID[b.role_def_id] for b in bindings if b.role_def_id in ROLE_DEFS_BY_ID]
        out["RoleDefinitionBindings"] = {"results": [role_def_json(wire, r) for r in roles]}
    elif wire.verbose:
        out["RoleDefinitionBindings"] = deferred(wire, f"{rel}/RoleDefinitionBindings")
    return out


WEB_TEMPLATES = {"STS#3": ("STS", 3), "STS#0": ("STS", 0), "SITEPAGEPUBLISHING#0": ("SITEPAGEPUBLISHING", 0),
                 "SPSPERS#10": ("SPSPERS", 10), "GROUP#0": ("GROUP", 0)}


def web_json(wire: Wire, site: Site, web_url: str) -> dict[str, Any]:
    template, config = WEB_TEMPLATES.get(site.template.upper(), (site.template.split("#")[0], 0))
    return {**wire.meta("SP.Web", "Web"), "Id": site.web_id, "Title": site.title, "Description": "",
            "Url": web_url, "ServerRelativeUrl": site.path or "/", "WebTemplate": template,
            "Configuration": config, "Language": site.lcid}


def site_json(wire: Wire, site: Site, web_url: str) -> dict[str, Any]:
    out = {**wire.meta("SP.Site", "Site"), "Id": site.id, "Url": web_url,
           "ServerRelativeUrl": site.path or "/", "ReadOnly": False}
    if wire.verbose:
        out["Owner"] = deferred(wire, "Site/Owner")
    return out


def creation_json(wire: Wire, site_id: str, status: int, url: str) -> dict[str, Any]:
    kind = "Microsoft.SharePoint.Portal.SPSiteCreationResponse"
    meta = {"__metadata": {"type": kind}} if wire.verbose else {}
    return {**meta, "SiteId": site_id, "SiteStatus": status, "SiteUrl": url}
