"""Graph v1.0 applications and servicePrincipals: credentials, app roles and their assignments."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cryptography import x509

from agent.simulator.graph.odata import (
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    collection,
    count_reply,
    entity,
    iso,
    parse_iso,
    shape,
)
from agent.simulator.graph.roles import APP_WRITE_ROLES, require_role
from agent.simulator.state.tenant import (
    Application,
    AppRole,
    AppRoleAssignment,
    KeyCredential,
    PasswordCredential,
    ServicePrincipal,
    Tenant,
    new_id,
    now,
)

T = TypeVar("T")
# Permission rows from the docs' tables (api-reference/v1.0/includes/permissions/*-permissions.md in
# microsoftgraph/microsoft-graph-docs-contrib); the name of each table is next to its route below.
# Application.ReadWrite.OwnedBy is left out everywhere: it only reaches apps the caller owns, and the
# tenant model keeps no owners (the stricter choice).
APP_READ = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
            "Directory.ReadWrite.All")
APP_GET = ("Application.Read.All", "Application.ReadWrite.All")  # application-get: no Directory.* for apps
APP_GET_DELEGATED = (*APP_GET, "Directory.Read.All")
APP_WRITE = ("Application.ReadWrite.All",)
SP_CREATE = ("Application.ReadWrite.All", "Directory.ReadWrite.All")
GRANT_WRITE = ("AppRoleAssignment.ReadWrite.All",)
TWO_YEARS = 2 * 365 * 86400
SECRET_ALPHABET = string.ascii_letters + string.digits + "~.-_"
BAD_CERT = "Invalid certificate: Key value is invalid certificate"
NOT_FOUND = "Resource '{}' does not exist or one of its queried reference-property objects are not present."


# -- rendering ----------------------------------------------------------------------------
def password_json(cred: PasswordCredential, secret_text: str | None = None) -> JSON:
    return {"customKeyIdentifier": None, "displayName": cred.display_name, "endDateTime": iso(cred.end),
            "hint": cred.hint, "keyId": cred.key_id, "secretText": secret_text,
            "startDateTime": iso(cred.start)}


def key_json(cred: KeyCredential, with_key: bool) -> JSON:
    # Graph returns customKeyIdentifier as Edm.Binary: base64 of the thumbprint bytes.
    ident = base64.b64encode(bytes.fromhex(cred.thumbprint)).decode()
    return {"customKeyIdentifier": ident, "displayName": cred.display_name, "endDateTime": iso(cred.end),
            "key": cred.key if with_key else None, "keyId": cred.key_id, "startDateTime": iso(cred.start),
            "type": cred.type, "usage": cred.usage}


def application_json(app: Application, with_keys: bool = False) -> JSON:
    return {"id": app.id, "appId": app.app_id, "displayName": app.display_name,
            "signInAudience": "AzureADMyOrg", "isFallbackPublicClient": app.public_client,
            "uniqueName": app.unique_name, "tags": [], "notes": None, **app.props,
            "passwordCredentials": [password_json(c) for c in app.password_credentials],
            "keyCredentials": [key_json(c, with_keys) for c in app.key_credentials],
            "requiredResourceAccess": [dict(r) for r in app.required_resource_access]}


def app_role_json(role: AppRole) -> JSON:
    return {"id": role.id, "value": role.value, "displayName": role.display_name or role.value,
            "description": role.display_name or role.value,
            "allowedMemberTypes": list(role.allowed_member_types),
            "isEnabled": True, "origin": "Application"}


def sp_json(sp: ServicePrincipal) -> JSON:
    return {"id": sp.id, "appId": sp.app_id, "displayName": sp.display_name,
            "appDisplayName": sp.display_name, "accountEnabled": sp.account_enabled,
            "appRoleAssignmentRequired": sp.app_role_assignment_required,
            "servicePrincipalType": "Application", "servicePrincipalNames": [sp.app_id],
            "appOwnerOrganizationId": sp.app_owner_organization_id,
            "appRoles": [app_role_json(r) for r in sp.app_roles]}


def assignment_json(tenant: Tenant, grant: AppRoleAssignment) -> JSON:
    principal = tenant.service_principals.get(grant.principal_id)
    resource = tenant.service_principals.get(grant.resource_id)
    return {"id": grant.id, "appRoleId": grant.app_role_id, "createdDateTime": iso(grant.created),
            "deletedDateTime": None, "principalId": grant.principal_id,
            "principalType": grant.principal_type,
            "principalDisplayName": principal.display_name if principal else None,
            "resourceId": grant.resource_id,
            "resourceDisplayName": resource.display_name if resource else None}


# -- lookups --------------------------------------------------------------------------------
def lookup(req: GraphRequest, by_id: Mapping[str, T], by_app_id: Callable[[str], T | None], param: str) -> T:
    """An object addressed as `/{id}` or as `(appId='...')`."""
    key = req.params.get("appId") or req.params[param]
    found = by_app_id(key) if "appId" in req.params else by_id.get(key)
    if found is None:
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(key))
    return found


def _application(req: GraphRequest) -> Application:
    tenant = req.tenant
    return lookup(req, tenant.applications, tenant.application_by_app_id, "application_id")


# -- applications -------------------------------------------------------------------------
def list_applications(req: GraphRequest) -> Reply:
    items = [application_json(a) for a in req.tenant.applications.values()]
    return collection(req, items, "applications", filterable=("appId", "displayName", "id"),
                      type_name="Application")


def get_application(req: GraphRequest) -> Reply:
    # `key` is only returned when the single object is asked for with $select=keyCredentials.
    with_keys = any(s.lower() == "keycredentials" for s in req.select or [])
    return Reply(200, entity(req, "applications", shape(req, application_json(_application(req), with_keys))))


def patch_application(req: GraphRequest) -> Reply:
    require_role(req, APP_WRITE_ROLES)  # rbac-application-apis-write.md (delegated callers)
    app, body = _application(req), req.json_body()
    known = {"keyCredentials", "requiredResourceAccess", "displayName", "isFallbackPublicClient"}
    unknown = [k for k in body if not k.startswith("@odata.") and k not in known]
    if unknown:
        raise GraphError(400, "Request_BadRequest", f"Invalid property '{unknown[0]}'.")
    if "keyCredentials" in body:
        creds = [_key_credential(app, item) for item in body["keyCredentials"] or []]
        req.tenant.set_key_credentials(app.id, creds)
    if any(k in body for k in ("requiredResourceAccess", "displayName", "isFallbackPublicClient")):
        _patch_app_fields(req.tenant, app, body)
    return Reply(204)


def _patch_app_fields(tenant: Tenant, app: Application, body: JSON) -> None:
    if "requiredResourceAccess" in body:
        # Collections are replaced wholesale, as Graph does.
        app.required_resource_access = [_resource_access(r) for r in body["requiredResourceAccess"] or []]
    if "displayName" in body:
        app.display_name = str(body["displayName"])
    if "isFallbackPublicClient" in body:
        app.public_client = bool(body["isFallbackPublicClient"])
    tenant.touch("update-application")


def _resource_access(item: Any) -> JSON:
    if not isinstance(item, dict) or "resourceAppId" not in item:
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property "
                         "'requiredResourceAccess' of resource 'Application'.")
    access = [{"id": str(a.get("id")), "type": str(a.get("type"))} for a in item.get("resourceAccess") or []]
    return {"resourceAppId": str(item["resourceAppId"]), "resourceAccess": access}


def _key_credential(app: Application, item: Any) -> KeyCredential:
    """One keyCredentials entry of a PATCH; an existing keyId may omit `key` (the stored one is kept)."""
    if not isinstance(item, dict):
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'keyCredentials'.")
    key_id = str(item.get("keyId") or new_id())
    existing = next((k for k in app.key_credentials if k.key_id == key_id), None)
    if not item.get("key"):
        if existing is None:
            raise GraphError(400, "Request_BadRequest", BAD_CERT)
        return existing
    der, cert = _certificate(str(item["key"]))
    start = parse_iso(item["startDateTime"], "startDateTime") if item.get("startDateTime") \
        else cert.not_valid_before_utc.timestamp()
    end = parse_iso(item["endDateTime"], "endDateTime") if item.get("endDateTime") \
        else cert.not_valid_after_utc.timestamp()
    name = str(item.get("displayName") or cert.subject.rfc4514_string())
    # The thumbprint is the certificate's own (SHA-1 of the DER), whatever customKeyIdentifier says.
    return KeyCredential(key_id=key_id, display_name=name, thumbprint=hashlib.sha1(der).hexdigest().upper(),
                         key=base64.b64encode(der).decode(), start=start, end=end,
                         type=str(item.get("type") or "AsymmetricX509Cert"),
                         usage=str(item.get("usage") or "Verify"))


def _certificate(b64: str) -> tuple[bytes, x509.Certificate]:
    try:
        der = base64.b64decode(b64, validate=True)
        return der, x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise GraphError(400, "Request_BadRequest", BAD_CERT) from exc


def add_password(req: GraphRequest) -> Reply:
    app, body = _application(req), req.json_body()
    spec = body.get("passwordCredential") or {}
    start = now()
    end = parse_iso(spec["endDateTime"], "endDateTime") if spec.get("endDateTime") else start + TWO_YEARS
    if end <= start:
        raise GraphError(400, "Request_BadRequest", "Key credential end date is invalid.")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(40))
    cred = req.tenant.add_password(app.id, str(spec.get("displayName") or ""), secret, end)
    return Reply(200, password_json(cred, secret_text=secret))


def remove_password(req: GraphRequest) -> Reply:
    app, body = _application(req), req.json_body()
    if not body.get("keyId"):
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'keyId'.")
    req.tenant.remove_password(app.id, str(body["keyId"]))
    return Reply(204)


def count_applications(req: GraphRequest) -> Reply:
    return count_reply(req, [application_json(a) for a in req.tenant.applications.values()], same_item,
                       ("appId", "displayName", "id"), "Application")


def same_item(item: JSON) -> JSON:
    return item


_APP = "applications/{application-id}"
_APP_BY_APPID = "applications(appId='{appId}')"
_APP_E = "application"


# `$count` comes first: `applications/{application-id}` would otherwise take it as an id.
ROUTES = [
    GraphRoute("GET", "applications/$count", count_applications, (APP_READ,)),
    # application-list-permissions.md
    GraphRoute("GET", "applications", list_applications, (APP_READ,), _APP_E),
    # application-get-permissions.md
    GraphRoute("GET", _APP, get_application, (APP_GET,), _APP_E, (APP_GET_DELEGATED,)),
    GraphRoute("GET", _APP_BY_APPID, get_application, (APP_GET,), _APP_E, (APP_GET_DELEGATED,)),
    # application-update.md
    GraphRoute("PATCH", _APP, patch_application, (APP_WRITE,)),
    GraphRoute("PATCH", _APP_BY_APPID, patch_application, (APP_WRITE,)),
    # application-addpassword.md (both addressing forms), application-removepassword.md
    GraphRoute("POST", _APP + "/addPassword", add_password, (APP_WRITE,)),
    GraphRoute("POST", _APP_BY_APPID + "/addPassword", add_password, (APP_WRITE,)),
    GraphRoute("POST", _APP + "/removePassword", remove_password, (APP_WRITE,)),
]
