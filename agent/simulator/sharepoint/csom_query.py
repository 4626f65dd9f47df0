"""Parse a CSOM ProcessQuery request body (Tenant.SetSiteAdmin only) into actions to run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "{http://schemas.microsoft.com/sharepoint/clientquery/2009}"
# Microsoft.Online.SharePoint.TenantAdministration.Tenant
TENANT_TYPE_ID = "{268004ae-ef6b-4e9b-8425-127220d84719}"
MAX_ACTIONS = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024  # client.svc refuses messages over 2 MiB
SET_SITE_ADMIN_TYPES = ("String", "String", "Boolean")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # what .NET's XmlConvert accepts


class InvalidQuery(Exception):
    """The request cannot be understood: HTTP 400 InvalidClientQueryException, nothing runs."""


@dataclass(frozen=True)
class SetSiteAdmin:
    """Tenant.SetSiteAdmin(siteUrl, loginName, isSiteAdmin)."""

    site_url: str
    login: str
    value: bool


@dataclass(frozen=True)
class Action:
    """One action, in request order.

    kind `path` (ObjectPath: answers {"IsNull": false}), `method` (a void call: answers nothing) or
    `scope` (ExceptionHandlingScopeSimple around `inner`). `call` is None when the action only
    materialises the Tenant.
    """

    id: int
    kind: str
    call: SetSiteAdmin | None = None
    inner: tuple[Action, ...] = ()


# An object path: the Tenant constructor (None) or SetSiteAdmin invoked on it.
ObjectPath = SetSiteAdmin | None


def parse_request(body: bytes) -> list[Action]:
    """Every action of the request, checked in full before anything runs (as client.svc does)."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidQuery(f"The request message is too big. The server does not allow messages larger than "
                           f"{MAX_BODY_BYTES} bytes.")
    if b"<!DOCTYPE" in body.upper():
        raise InvalidQuery("DTD is prohibited in this XML document.")  # no entity expansion tricks
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise InvalidQuery(f"The request XML is not well formed: {exc}.") from None
    if root.tag != f"{NS}Request":
        raise InvalidQuery(f"Unexpected element {_name(root)}: expected Request in the namespace "
                           f"{NS[1:-1]}.")
    sections = {child.tag: child for child in root}
    unknown = set(sections) - {f"{NS}Actions", f"{NS}ObjectPaths"}
    if unknown:
        raise InvalidQuery(f"Unexpected element {sorted(unknown)[0]} in Request.")
    paths = _object_paths(sections.get(f"{NS}ObjectPaths"))
    counter = [0]
    actions = [_action(el, paths, counter, nested=False) for el in sections.get(f"{NS}Actions", [])]
    if counter[0] > MAX_ACTIONS:
        raise InvalidQuery(f"The request has {counter[0]} actions; at most {MAX_ACTIONS} are allowed.")
    return actions


def _object_paths(section: ET.Element | None) -> dict[int, ObjectPath]:
    """Constructors and methods by Id; a Method may come before the Constructor it is called on."""
    constructors: set[int] = set()
    methods: dict[int, tuple[int, SetSiteAdmin]] = {}
    for el in section if section is not None else ():
        path_id = _int_attr(el, "Id")
        if path_id in constructors or path_id in methods:
            raise InvalidQuery(f"Duplicate object path Id {path_id}.")
        if el.tag == f"{NS}Constructor":
            if el.get("TypeId", "").lower() != TENANT_TYPE_ID:
                raise InvalidQuery(f"Cannot find type {el.get('TypeId')}: only the Tenant type is supported.")
            constructors.add(path_id)
        elif el.tag == f"{NS}Method":
            methods[path_id] = (_int_attr(el, "ParentId"), _set_site_admin(el))
        else:
            raise InvalidQuery(f"Unsupported object path {_name(el)}.")
    paths: dict[int, ObjectPath] = dict.fromkeys(constructors)
    for path_id, (parent, call) in methods.items():
        if parent not in constructors:
            raise InvalidQuery(f"Object path {path_id}: its parent {parent} is not the Tenant.")
        paths[path_id] = call
    return paths


def _action(el: ET.Element, paths: dict[int, ObjectPath], counter: list[int], nested: bool) -> Action:
    action_id = _int_attr(el, "Id")
    if el.tag == f"{NS}ExceptionHandlingScopeSimple" and not nested:
        inner = tuple(_action(child, paths, counter, nested=True) for child in el)
        return Action(action_id, "scope", inner=inner)
    if el.tag not in (f"{NS}ObjectPath", f"{NS}Method"):
        raise InvalidQuery(f"Unsupported action {_name(el)}" + (" inside a scope." if nested else "."))
    counter[0] += 1
    target = _int_attr(el, "ObjectPathId")
    if target not in paths:
        raise InvalidQuery(f"Action {action_id}: object path {target} is not defined.")
    if el.tag == f"{NS}ObjectPath":
        return Action(action_id, "path", paths[target])
    if paths[target] is not None:
        raise InvalidQuery(f"Action {action_id}: methods can only be invoked on the Tenant.")
    return Action(action_id, "method", _set_site_admin(el))


def _set_site_admin(el: ET.Element) -> SetSiteAdmin:
    if el.get("Name") != "SetSiteAdmin":
        raise InvalidQuery(f"Method {el.get('Name')} is not supported on the Tenant (only SetSiteAdmin).")
    if any(section.tag != f"{NS}Parameters" for section in el):
        raise InvalidQuery("SetSiteAdmin: only a Parameters element may appear inside the method.")
    parameters = [child for section in el for child in section]
    if len(parameters) != 3 or any(p.tag != f"{NS}Parameter" for p in parameters):
        raise InvalidQuery("SetSiteAdmin takes three parameters: siteUrl, loginName, isSiteAdmin.")
    types = tuple(p.get("Type") for p in parameters)
    if types != SET_SITE_ADMIN_TYPES:
        raise InvalidQuery(f"SetSiteAdmin parameter types {types} are not (String, String, Boolean).")
    flag = _BOOLEANS.get((parameters[2].text or "").strip())
    if flag is None:
        raise InvalidQuery(f"Invalid Boolean value {parameters[2].text!r}.")
    return SetSiteAdmin(parameters[0].text or "", parameters[1].text or "", flag)


def _int_attr(el: ET.Element, name: str) -> int:
    value = el.get(name)
    if value is None or not (value.isascii() and value.isdigit()):
        raise InvalidQuery(f"{_name(el)}: attribute {name} must be a number, got {value!r}.")
    return int(value)


def _name(el: ET.Element) -> str:
    return el.tag.replace(NS, "")
