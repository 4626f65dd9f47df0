"""Graph v1.0 application lifecycle: create, upsert by uniqueName, delete, federated identity credentials."""

from __future__ import annotations

import uuid
from typing import Any

from agent.simulator.graph.apps import (
    APP_GET,
    APP_GET_DELEGATED,
    APP_WRITE,
    NOT_FOUND,
    _key_credential,
    _resource_access,
    application_json,
)
from agent.simulator.graph.odata import (
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    collection,
    entity,
)
from agent.simulator.graph.roles import APP_WRITE_ROLES, require_app_create, require_role
from agent.simulator.state.tenant import Application, new_id

# Properties a create or upsert may set (application resource type); anything else is refused.
SETTABLE = {"displayName", "signInAudience", "tags", "notes", "requiredResourceAccess", "keyCredentials",
            "isFallbackPublicClient", "uniqueName", "description"}
SIGN_IN_AUDIENCES = {"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount",
                     "PersonalMicrosoftAccount"}
# federatedidentitycredential-post.md: name, issuer, subject and audiences are required; the name is unique
# per application, at most 120 characters; an application holds at most 20 of them.
FIC_REQUIRED = ("name", "issuer", "subject", "audiences")
MAX_FIC, MAX_FIC_NAME = 20, 120


def _check_body(body: JSON) -> None:
    if "passwordCredentials" in body:
        # application-post-applications.md: "Adding passwordCredential when creating applications is not
        # supported. Use the addPassword method"; application-upsert.md says the same for PATCH.
        raise GraphError(400, "Request_BadRequest", "Property 'passwordCredentials' is read-only and cannot "
                         "be set.")
    unknown = [k for k in body if not k.startswith("@odata.") and k not in SETTABLE]
    if unknown:
        raise GraphError(400, "Request_BadRequest", f"Invalid property '{unknown[0]}'.")
    audience = body.get("signInAudience")
    if audience is not None and audience not in SIGN_IN_AUDIENCES:
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'signInAudience' "
                         "of resource 'Application'.")


def _apply(req: GraphRequest, app: Application, body: JSON) -> None:
    """Set the body's properties on `app`; collections are replaced wholesale, as Graph does."""
    if "displayName" in body:
        app.display_name = str(body["displayName"])
    if "requiredResourceAccess" in body:
        app.required_resource_access = [_resource_access(r) for r in body["requiredResourceAccess"] or []]
    if "keyCredentials" in body:
        app.key_credentials = [_key_credential(app, item) for item in body["keyCredentials"] or []]
    if "isFallbackPublicClient" in body:
        app.public_client = bool(body["isFallbackPublicClient"])
    for name in ("signInAudience", "tags", "notes", "description"):
        if name in body:
            app.props[name] = body[name]


def _create(req: GraphRequest, body: JSON, unique_name: str | None) -> Application:
    """A new application object; displayName is required (application-post-applications.md)."""
    if not body.get("displayName"):
        raise GraphError(400, "Request_BadRequest", "Property 'displayName' is required.")
    unique_name = unique_name or body.get("uniqueName")
    if unique_name and _by_unique_name(req, str(unique_name)) is not None:
        raise GraphError(400, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same "
                         "value for property uniqueName already exists.")
    app = Application(new_id(), str(uuid.uuid4()), str(body["displayName"]),
                      unique_name=str(unique_name) if unique_name else None)
    _apply(req, app, {k: v for k, v in body.items() if k != "uniqueName"})
    req.tenant.applications[app.id] = app
    req.tenant.touch("create-application")
    return app


def _created(req: GraphRequest, app: Application) -> Reply:
    return Reply(201, entity(req, "applications", application_json(app)),
                 {"Location": f"{req.base_url}/v1.0/directoryObjects/{app.id}/Microsoft.DirectoryServices."
                              "Application"})


def _by_unique_name(req: GraphRequest, name: str) -> Application | None:
    return next((a for a in req.tenant.applications.values()
                 if a.unique_name is not None and a.unique_name.lower() == name.lower()), None)


def create_application(req: GraphRequest) -> Reply:
    """`POST /applications`: 201 with the new object (application-post-applications.md)."""
    require_app_create(req)
    body = req.json_body()
    _check_body(body)
    return _created(req, _create(req, body, None))


def upsert_application(req: GraphRequest) -> Reply:
    """`PATCH /applications(uniqueName='...')` (application-upsert.md).

    Missing: 201 and the object with `Prefer: create-if-missing`, else 404. Existing: updated, 204.
    """
    body, name = req.json_body(), req.params["uniqueName"]
    _check_body(body)
    if "uniqueName" in body and str(body["uniqueName"]) != name:
        raise GraphError(400, "Request_BadRequest", "Property 'uniqueName' cannot be changed.")
    app = _by_unique_name(req, name)
    if app is None:
        raw = next((v for k, v in req.headers.items() if k.lower() == "prefer"), "")  # $batch keeps case
        prefer = {p.strip().lower() for p in raw.split(",")}
        if "create-if-missing" not in prefer:
            raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(name))
        require_app_create(req)
        return _created(req, _create(req, body, name))
    require_role(req, APP_WRITE_ROLES)
    _apply(req, app, body)
    req.tenant.touch("update-application")
    return Reply(204)


def _application(req: GraphRequest) -> Application:
    key = req.params["application_id"]
    app = req.tenant.applications.get(key)
    if app is None:
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(key))
    return app


def get_by_unique_name(req: GraphRequest) -> Reply:
    """`GET /applications(uniqueName='...')` (application-get.md, the alternate key): 404 when absent."""
    name = req.params["uniqueName"]
    app = _by_unique_name(req, name)
    if app is None:
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(name))
    return Reply(200, entity(req, "applications", application_json(app)))


def delete_application(req: GraphRequest) -> Reply:
    """`DELETE /applications/{id}`: 204 (application-delete.md); its service principal stays, as in Entra."""
    require_role(req, APP_WRITE_ROLES)
    app = _application(req)
    del req.tenant.applications[app.id]
    req.tenant.touch("delete-application")
    return Reply(204)


# -- federatedIdentityCredentials -------------------------------------------------------------------
def _fic_json(item: JSON) -> JSON:
    return {"id": item["id"], "name": item["name"], "issuer": item["issuer"], "subject": item["subject"],
            "description": item.get("description"), "audiences": list(item["audiences"])}


def _fic_body(app: Application, body: JSON) -> JSON:
    missing = [p for p in FIC_REQUIRED if not body.get(p)]
    if missing:
        raise GraphError(400, "Request_BadRequest", f"Property '{missing[0]}' is required.")
    name = str(body["name"])
    if len(name) > MAX_FIC_NAME:
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'name'.")
    if any(f["name"].lower() == name.lower() for f in app.federated_credentials):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "FederatedIdentityCredential with "
                         f"name {name} already exists.")
    if len(app.federated_credentials) >= MAX_FIC:
        raise GraphError(400, "Request_BadRequest", f"An application can have at most {MAX_FIC} federated "
                         "identity credentials.")
    audiences: Any = body["audiences"]
    if not isinstance(audiences, list) or len(audiences) != 1:
        # federatedidentitycredential resource: audiences "can only contain a single value".
        raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'audiences'.")
    return {"id": new_id(), "name": name, "issuer": str(body["issuer"]), "subject": str(body["subject"]),
            "description": body.get("description"), "audiences": [str(a) for a in audiences]}


def create_fic(req: GraphRequest) -> Reply:
    """`POST /applications/{id}/federatedIdentityCredentials`: 201 (federatedidentitycredential-post.md)."""
    require_role(req, APP_WRITE_ROLES)
    app = _application(req)
    item = _fic_body(app, req.json_body())
    app.federated_credentials.append(item)
    req.tenant.touch("create-federated-identity-credential")
    return Reply(201, entity(req, f"applications('{app.id}')/federatedIdentityCredentials", _fic_json(item)))


def list_fics(req: GraphRequest) -> Reply:
    app = _application(req)
    return collection(req, [_fic_json(f) for f in app.federated_credentials],
                      f"applications('{app.id}')/federatedIdentityCredentials",
                      filterable=("name", "subject", "issuer", "id"), type_name="FederatedIdentityCredential")


def delete_fic(req: GraphRequest) -> Reply:
    """By id or by name (federatedidentitycredential-delete.md: `{federatedIdentityCredentialId-or-name}`)."""
    require_role(req, APP_WRITE_ROLES)
    app, key = _application(req), req.params["fic_id"]
    kept = [f for f in app.federated_credentials if key not in (f["id"], f["name"])]
    if len(kept) == len(app.federated_credentials):
        raise GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(key))
    app.federated_credentials = kept
    req.tenant.touch("delete-federated-identity-credential")
    return Reply(204)


_APP = "applications/{application-id}"
_FIC = _APP + "/federatedIdentityCredentials"
# Before graph_apps.ROUTES: `applications(uniqueName=...)` is not an object id.
ROUTES = [
    # application-post-applications-permissions.md
    GraphRoute("POST", "applications", create_application, (APP_WRITE,)),
    # application-upsert-permissions.md
    GraphRoute("PATCH", "applications(uniqueName='{uniqueName}')", upsert_application, (APP_WRITE,)),
    # application-get-permissions.md
    GraphRoute("GET", "applications(uniqueName='{uniqueName}')", get_by_unique_name, (APP_GET,),
               delegated=(APP_GET_DELEGATED,)),
    # application-delete-permissions.md
    GraphRoute("DELETE", _APP, delete_application, (APP_WRITE,)),
    # federatedidentitycredential-post, application-list-federatedidentitycredentials, -delete permissions
    GraphRoute("POST", _FIC, create_fic, (APP_WRITE,)),
    GraphRoute("GET", _FIC, list_fics, (APP_GET,)),
    GraphRoute("DELETE", _FIC + "/{fic-id}", delete_fic, (APP_WRITE,)),
]
