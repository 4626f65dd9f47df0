"""SPSiteManager: create a site collection (provisioning takes status polls), read its status, delete it."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from starlette.responses import Response

from agent.simulator.sharepoint import wire as w
from agent.simulator.sharepoint.auth import FULL_CONTROL_ROLE, READ_ROLES, BadRequest, Denied, SpCall
from agent.simulator.state.tenant import SimError, Site, Tenant, login_name

NO_SITE_ID = "00000000-0000-0000-0000-000000000000"
# tenant.extras keys: how many status polls a new site needs before it is Ready (the N-th poll answers 2;
# 0 makes create answer Ready at once), and the polls each provisioning site still needs.
PROVISION_POLLS_KEY = "sp_provision_polls"
PENDING_KEY = "sp_provisioning"
DEFAULT_PROVISION_POLLS = 1
_SITE_PATH = re.compile(r"^/(sites|teams)/[^/]+$", re.IGNORECASE)


def create(call: SpCall) -> Response:
    """POST /_api/SPSiteManager/create {"request": {Title, Url, Owner, Lcid, WebTemplate, ...}}."""
    request = call.body().get("request")
    if not isinstance(request, dict) or not request.get("Url") or not request.get("Title"):
        raise BadRequest(w.ARGUMENT_CODE, "The parameters Title and Url are required.")
    if call.caller.app_only and FULL_CONTROL_ROLE not in call.caller.roles:
        raise Denied()
    path = _site_path(call, str(request["Url"]))
    owner = _owner(call, request)
    site = call.tenant.create_site(path, str(request["Title"]), owner,
                                   str(request.get("WebTemplate") or "SITEPAGEPUBLISHING#0"),
                                   int(request.get("Lcid") or 1033))
    polls = int(call.tenant.extras.get(PROVISION_POLLS_KEY, DEFAULT_PROVISION_POLLS))
    if polls > 0:
        # Provisioning is the service's own background work, not a client write: no tenant.touch().
        site.status = 1
        _pending(call.tenant)[site.id] = polls
    created = w.creation_json(call.wire, site.id, site.status, call.svc.base_url + path)
    return call.wire.result("Create", created)


def status(call: SpCall) -> Response:
    """GET /_api/SPSiteManager/status?url='...': 0 not found, 1 provisioning, 2 ready, 3 error."""
    if call.caller.app_only and not call.caller.roles & READ_ROLES:
        raise Denied()
    raw = call.request.query_params.get("url", "").strip()
    url = raw[1:-1].replace("''", "'") if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw
    path = urllib.parse.urlparse(url).path.rstrip("/")
    site = call.tenant.find_site(path)
    if site is None or site.status == 0:
        return call.wire.result("Status", w.creation_json(call.wire, NO_SITE_ID, 0, ""))
    _advance(call.tenant, site)
    return call.wire.result("Status", w.creation_json(call.wire, site.id, site.status,
                                                      call.svc.base_url + site.path))


def delete(call: SpCall) -> Response:
    """POST /_api/SPSiteManager/delete {"siteId": "..."}: the site goes (to the recycle bin in SharePoint)."""
    site_id = str(call.body().get("siteId") or "")
    site = next((s for s in call.tenant.sites.values() if s.id.lower() == site_id.lower()), None)
    if site is None:
        raise SimError(404, w.NOT_FOUND_CODE, "File Not Found.")
    if site.path == "":
        raise BadRequest(w.ARGUMENT_CODE, "The root site collection cannot be deleted.")
    if not _may_delete(call, site):
        raise Denied()
    call.tenant.delete_site(site.id)
    _pending(call.tenant).pop(site.id, None)
    return call.wire.result("Delete", None)


def _may_delete(call: SpCall, site: Site) -> bool:
    if call.caller.app_only:
        return FULL_CONTROL_ROLE in call.caller.roles
    entry = site.user_by_login(login_name(call.caller.upn or ""))
    return entry is not None and entry.is_site_admin


def _site_path(call: SpCall, url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    path = parsed.path.rstrip("/")
    if not _SITE_PATH.match(path):
        raise BadRequest(w.ARGUMENT_CODE, f"The URL '{url}' is not a valid site collection URL.")
    return path


def _owner(call: SpCall, request: dict[str, Any]) -> str:
    """App-only creation must name an Owner; a user creating a site owns it by default."""
    owner = str(request.get("Owner") or "").split("|")[-1]
    if not owner:
        if call.caller.app_only:
            raise BadRequest(w.ARGUMENT_CODE, "Owner is required when creating a site with app-only "
                             "permissions.")
        owner = call.caller.upn or ""
    user = call.tenant.find_user(owner)
    if user is None:
        raise SimError(500, "-2146232832, Microsoft.SharePoint.SPException",
                       f"The specified user {owner} could not be found.")
    return user.upn


def _pending(tenant: Tenant) -> dict[str, int]:
    pending: dict[str, int] = tenant.extras.setdefault(PENDING_KEY, {})
    return pending


def _advance(tenant: Tenant, site: Site) -> None:
    """A status poll: a provisioning site is Ready on its N-th poll."""
    pending = _pending(tenant)
    if site.status != 1 or site.id not in pending:
        return
    pending[site.id] -= 1
    if pending[site.id] <= 0:
        del pending[site.id]
        site.status = 2

