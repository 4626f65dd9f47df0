"""SharePoint REST handlers for one web: context info, web/site, site users, roles and permissions."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import JSONResponse, Response

from . import sharepoint_wire as w
from .sharepoint_auth import BadRequest, SpCall, caller_mask, user_mask
from .state import SimError, Site, SiteUser, login_name

_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+(true|false|-?\d+|'(?:[^']|'')*')\s*$", re.IGNORECASE)
_FILTER_FIELDS = {"issiteadmin": "is_site_admin", "loginname": "login_name", "email": "email", "id": "id",
                  "title": "title", "principaltype": "principal_type", "userprincipalname": "upn"}


def context_info(call: SpCall) -> Response:
    """Always verbose: office365-rest-python-client parses it with a fixed verbose reader."""
    digest = call.svc.form_digests.issue()  # ProcessQuery checks a digest it is sent against these
    info = {"__metadata": {"type": "SP.ContextWebInformation"}, "FormDigestTimeoutSeconds": 1800,
            "FormDigestValue": digest, "LibraryVersion": "16.0.25012.12006",
            "SiteFullUrl": call.web_url, "WebFullUrl": call.web_url,
            "SupportedSchemaVersions": {"__metadata": {"type": "Collection(Edm.String)"},
                                        "results": ["14.0.0.0", "15.0.0.0"]}}
    return JSONResponse({"d": {"GetContextWebInformation": info}},
                        media_type="application/json;odata=verbose;charset=utf-8")


def web(call: SpCall) -> Response:
    site = call.need_site()
    body = w.web_json(call.wire, site, call.web_url)
    body["EffectiveBasePermissions"] = w.permissions_json(call.wire, *caller_mask(site, call.caller))
    select = _csv(call.request.query_params.get("$select"))
    if select:
        body = {k: v for k, v in body.items() if k == "__metadata" or k.lower() in select}
    return call.wire.entity(body)


def site(call: SpCall) -> Response:
    return call.wire.entity(w.site_json(call.wire, call.need_site(), call.web_url))


def site_owner(call: SpCall) -> Response:
    current = call.need_site()
    owner = current.user_by_login(login_name(current.owner))
    if owner is None:
        owner = SiteUser(0, login_name(current.owner), current.owner, current.owner, True)
    return call.wire.entity(w.user_json(call.wire, owner))


def effective_base_permissions(call: SpCall) -> Response:
    high, low = caller_mask(call.need_site(), call.caller)
    return call.wire.result("EffectiveBasePermissions", w.permissions_json(call.wire, high, low))


def user_effective_permissions(call: SpCall) -> Response:
    login = str(_arg(call, call.match.group("arg")))
    if re.search(r"%[0-9a-f]{2}", login, re.IGNORECASE):
        # '#' encoded twice reaches SharePoint as a literal %23: not a claims login.
        raise BadRequest(w.ARGUMENT_CODE, "Value does not fall within the expected range.")
    high, low = user_mask(call.need_site(), login)
    return call.wire.result("GetUserEffectivePermissions", w.permissions_json(call.wire, high, low))


# -- site users ----------------------------------------------------------------------------------

def site_users(call: SpCall) -> Response:
    users = list(call.need_site().users.values())
    clauses = _parse_filter(call.request.query_params.get("$filter", ""))
    users = [u for u in users if all(_field_equals(u, f, v) for f, v in clauses)]
    top = call.request.query_params.get("$top")
    if top is not None and top.isdigit():
        users = users[: int(top)]
    return call.wire.collection([w.user_json(call.wire, u) for u in users])


def site_user(call: SpCall) -> Response:
    """GET one user (by id, login or e-mail) or, with X-HTTP-Method MERGE, update IsSiteAdmin."""
    current = call.need_site()
    user = _find_site_user(call, current)
    if call.request.method == "GET":
        return call.wire.entity(w.user_json(call.wire, user))
    changes = call.body()
    if "IsSiteAdmin" in changes:
        call.tenant.set_site_admin(current, user.id, bool(changes["IsSiteAdmin"]))
    return Response(status_code=204)


def ensure_user(call: SpCall) -> Response:
    raw = call.match.group("arg")
    login = _arg(call, raw) if raw else call.body().get("logonName")
    if not isinstance(login, str) or not login.strip():
        raise BadRequest(w.ARGUMENT_CODE, "The parameter logonName must not be empty.")
    user = call.tenant.ensure_site_user(call.need_site(), login.strip())
    return call.wire.entity(w.user_json(call.wire, user))


def _find_site_user(call: SpCall, current: Site) -> SiteUser:
    groups = call.match.groupdict()
    raw = groups.get("arg") or groups.get("arg2") or ""
    key: Any = int(groups["id"]) if groups.get("id") else _arg(call, raw)
    by = (groups.get("by") or "").lower()
    if isinstance(key, int):
        found = current.users.get(key)
    elif by == "getbyemail":
        found = next((u for u in current.users.values() if u.email.lower() == key.lower()), None)
    else:
        found = current.user_by_login(key) or current.user_by_login(login_name(key))
    if found is None:
        raise SimError(404, "-2146232832, Microsoft.SharePoint.SPException", "User cannot be found.")
    return found


# -- roles -----------------------------------------------------------------------------------------

def role_assignments(call: SpCall) -> Response:
    current = call.need_site()
    expand = _csv(call.request.query_params.get("$expand"))
    grouped: dict[int, list[Any]] = {}
    for binding in current.role_assignments:
        grouped.setdefault(binding.principal_id, []).append(binding)
    wanted = call.match.groupdict().get("pid")
    if wanted is not None:
        pid = int(wanted)
        if pid not in grouped:
            raise SimError(404, "-2146232832, Microsoft.SharePoint.SPException",
                           f"Can not find the principal with id: {pid}.")
        return call.wire.entity(w.role_assignment_json(call.wire, current, pid, grouped[pid], expand))
    items = [w.role_assignment_json(call.wire, current, pid, b, expand) for pid, b in grouped.items()]
    return call.wire.collection(items)


def add_role_assignment(call: SpCall) -> Response:
    role_id = int(call.match.group("rid"))
    if role_id not in w.ROLE_DEFS_BY_ID:
        raise BadRequest(w.ARGUMENT_CODE, "Value does not fall within the expected range.")
    call.tenant.add_role_assignment(call.need_site(), int(call.match.group("pid")), role_id)
    return call.wire.result("AddRoleAssignment", None)


def remove_role_assignment(call: SpCall) -> Response:
    """With roledefid only that binding goes; without it every binding of the principal."""
    rid = call.match.group("rid")
    call.tenant.remove_role_assignment(call.need_site(), int(call.match.group("pid")),
                                       int(rid) if rid else None)
    return call.wire.result("RemoveRoleAssignment", None)


def role_definitions(call: SpCall) -> Response:
    return call.wire.collection([w.role_def_json(call.wire, r) for r in w.ROLE_DEFS])


def role_definition(call: SpCall) -> Response:
    by = (call.match.group("by") or "getbyid").lower()
    value = _arg(call, call.match.group("arg"))
    found = next((r for r in w.ROLE_DEFS if _role_matches(r, by, value)), None)
    if found is None:
        raise SimError(404, "-2146232832, Microsoft.SharePoint.SPException",
                       "Cannot find the role definition.")
    return call.wire.entity(w.role_def_json(call.wire, found))


def _role_matches(role: w.RoleDef, by: str, value: Any) -> bool:
    if by == "getbytype":
        return role.kind == value
    if by == "getbyname":
        return role.name.lower() == str(value).lower()
    return role.id == value


# -- OData parsing ------------------------------------------------------------------------------------

def _csv(value: str | None) -> set[str]:
    return {p.strip().lower() for p in (value or "").split(",") if p.strip()}


def _arg(call: SpCall, raw: str) -> Any:
    """A function argument: 'quoted' string, integer, or @alias taken from the query string."""
    raw = raw.strip()
    if raw.startswith("@"):
        raw = call.request.query_params.get(raw, "").strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def _parse_filter(text: str) -> list[tuple[str, Any]]:
    """`Field eq value [and ...]`: all the site-user filters the agent and its libraries send."""
    if not text.strip():
        return []
    clauses: list[tuple[str, Any]] = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        if found is None or found.group(1).lower() not in _FILTER_FIELDS:
            raise BadRequest(w.BAD_QUERY_CODE, f'The expression "{part.strip()}" is not valid.')
        raw = found.group(2)
        value: Any = raw.lower() == "true" if raw.lower() in ("true", "false") else raw
        if isinstance(value, str) and raw.startswith("'"):
            value = raw[1:-1].replace("''", "'")
        elif isinstance(value, str):
            value = int(raw)
        clauses.append((_FILTER_FIELDS[found.group(1).lower()], value))
    return clauses


def _field_equals(user: SiteUser, field: str, value: Any) -> bool:
    actual = user.login_name.split("|")[-1] if field == "upn" else getattr(user, field)
    if isinstance(actual, str) and isinstance(value, str):
        return actual.lower() == value.lower()
    return bool(actual == value)
