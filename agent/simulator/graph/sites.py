"""Graph v1.0 SharePoint sites by path or id, and users' OneDrives."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import urlsplit

from agent.simulator.graph.odata import (
    EPOCH_CREATED,
    JSON,
    GraphError,
    GraphRequest,
    GraphRoute,
    Reply,
    entity,
    shape,
)
from agent.simulator.state.tenant import Site, Tenant, User, login_name, personal_path

SITES_READ = ("Sites.Read.All", "Sites.ReadWrite.All", "Sites.FullControl.All")
FILES_READ = ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All",
              "Sites.FullControl.All")
SITE_NOT_FOUND = "Requested site could not be found"
LIBRARY = "Documents"  # the OneDrive document library's URL segment


def site_host(base_url: str) -> str:
    """The hostname part of Graph site ids ("{host},{site guid},{web guid}"): no port, so no colon."""
    return urlsplit(base_url).hostname or "localhost"


def site_json(req: GraphRequest, site: Site) -> JSON:
    host = site_host(req.base_url)
    name = site.path.rstrip("/").rsplit("/", 1)[-1] or site.title
    return {"id": f"{host},{site.id},{site.web_id}", "name": name, "displayName": site.title,
            "webUrl": req.base_url + site.path, "createdDateTime": EPOCH_CREATED,
            "siteCollection": {"hostname": host}}


def _ready(tenant: Tenant, path: str) -> Site:
    site = tenant.find_site(path)
    if site is None or site.status != 2:
        raise GraphError(404, "itemNotFound", SITE_NOT_FOUND)
    return site


def resolve_site(tenant: Tenant, key: str) -> Site:
    """`root`, `{host}`, `{host}:/{path}[:]` or the composite id `{host},{site guid},{web guid}`."""
    if key.lower() == "root":
        return _ready(tenant, "")
    if ":/" in key:
        path = "/" + key.split(":/", 1)[1].rstrip(":").strip("/")
        return _ready(tenant, "" if path == "/" else path)
    if "," in key:
        parts = key.split(",")
        site = next((s for s in tenant.sites.values() if len(parts) == 3 and s.id == parts[1]), None)
        if site is None or site.status != 2:
            raise GraphError(404, "itemNotFound", SITE_NOT_FOUND)
        return site
    return _ready(tenant, "")  # a bare hostname addresses the tenant's root site


def get_site(req: GraphRequest) -> Reply:
    site = resolve_site(req.tenant, req.params["site_id"])
    return Reply(200, entity(req, "sites", shape(req, site_json(req, site))))


def drive_json(req: GraphRequest, user: User, site: Site) -> JSON:
    # Graph drive ids start with "b!" followed by an opaque base64 string.
    raw = (uuid.UUID(site.id).bytes + uuid.UUID(site.web_id).bytes) if _guids(site) else site.id.encode()
    owner = {"user": {"id": user.id, "displayName": user.display_name}}
    # webUrl is the document library, not the site: https://learn.microsoft.com/en-us/graph/api/resources/drive
    # ("URL that can be used to view the resource in a browser"); observed as `.../personal/{x}/Documents`.
    return {"id": "b!" + base64.urlsafe_b64encode(raw).decode().rstrip("="), "driveType": "business",
            "name": "OneDrive", "description": "", "webUrl": f"{req.base_url}{site.path}/{LIBRARY}",
            "createdDateTime": EPOCH_CREATED, "owner": owner}


def _guids(site: Site) -> bool:
    try:
        uuid.UUID(site.id), uuid.UUID(site.web_id)
    except ValueError:
        return False
    return True


def get_drive(req: GraphRequest) -> Reply:
    user = req.tenant.user(req.params["user_id"])
    site = req.tenant.find_site(personal_path(user.upn))
    if not user.licenses:
        # No licence, so no OneDrive service: observed as 400 (qkqpttgf/OneManager-php#264, #118; the
        # same text also comes as a 500 UnknownError, microsoftgraph/microsoft-graph-docs#11344).
        raise GraphError(400, "BadRequest", "Unable to retrieve user's mysite URL.")
    if site is None or site.status != 2:
        # Licensed, OneDrive not provisioned yet: microsoftgraph/msgraph-sdk-dotnet#579, alcionai/corso#966.
        raise GraphError(404, "ResourceNotFound", "User's mysite not found.")
    _check_delegated_access(req, user, site)
    return Reply(200, entity(req, f"users('{user.id}')/drive", shape(req, drive_json(req, user, site))))


def _check_delegated_access(req: GraphRequest, owner: User, site: Site) -> None:
    """A user token reaches another user's OneDrive only as a site collection admin of it."""
    if "scp" not in req.claims:
        return
    caller = str(req.claims.get("upn") or req.claims.get("preferred_username") or "").lower()
    if caller == owner.upn.lower():
        return
    entry = site.user_by_login(login_name(caller)) if caller else None
    if entry is None or not entry.is_site_admin:
        raise GraphError(403, "accessDenied", "Access denied")


# site-get.md and drive-get-permissions.md list Sites.Read.All/ReadWrite.All and Files.*;
# Sites.FullControl.All is kept: it is a superset of both, and the tenant's apps hold it.
ROUTES = [
    GraphRoute("GET", "sites/{site-id}", get_site, (SITES_READ,), "site"),
    GraphRoute("GET", "users/{user-id}/drive", get_drive, (FILES_READ,), "drive"),
]
