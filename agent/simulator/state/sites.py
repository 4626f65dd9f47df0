"""The simulated tenant's SharePoint: site collections, their users and role assignments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.simulator.state.base import SimError, new_id

if TYPE_CHECKING:
    from agent.simulator.state.base import User

FULL_CONTROL_ROLE_DEF = 1073741829


@dataclass
class SiteUser:
    id: int
    login_name: str  # i:0#.f|membership|upn
    title: str
    email: str
    is_site_admin: bool = False
    principal_type: int = 1


@dataclass
class RoleAssignment:
    principal_id: int
    role_def_id: int


@dataclass
class Site:
    id: str  # site collection GUID
    web_id: str
    path: str  # server-relative: /sites/x, /personal/x, or "" for the root site
    title: str
    owner: str  # upn of the primary admin
    template: str = "STS#3"
    lcid: int = 1033
    status: int = 2  # SPSiteManager: 0 not found, 1 provisioning, 2 ready, 3 error
    users: dict[int, SiteUser] = field(default_factory=dict)
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    next_user_id: int = 7

    def user_by_login(self, login: str) -> SiteUser | None:
        low = login.lower()
        return next((u for u in self.users.values() if u.login_name.lower() == low), None)


def login_name(upn: str) -> str:
    return f"i:0#.f|membership|{upn.lower()}"


def _claims_upn(login: str) -> str:
    """The UPN of a user login, claims-encoded (i:0#.f|membership|upn) or bare; "" for other claims
    (groups such as c:0o.c|federateddirectoryclaimprovider|id), which are no directory user."""
    if "|" not in login:
        return login.strip()
    prefix, _, upn = login.strip().rpartition("|")
    return upn if prefix.lower() == "i:0#.f|membership" else ""


def personal_path(upn: str) -> str:
    """OneDrive URL path of a user: dots and @ become underscores."""
    return "/personal/" + upn.lower().replace(".", "_").replace("@", "_")


class SiteStore:
    """The Tenant's SharePoint operations (Tenant inherits them; its dataclass holds `sites`)."""

    sites: dict[str, Site]  # by lower-case path

    if TYPE_CHECKING:
        def touch(self, op: str) -> None: ...

        def find_user(self, key: str) -> User | None: ...

    def site(self, path: str) -> Site:
        site = self.sites.get(path.rstrip("/").lower())
        if site is None or site.status == 0:
            raise SimError(404, "-2147024894, System.IO.FileNotFoundException",
                           "File Not Found.")
        return site

    def find_site(self, path: str) -> Site | None:
        return self.sites.get(path.rstrip("/").lower())

    def add_site(self, site: Site) -> Site:
        self.sites[site.path.rstrip("/").lower()] = site
        return site

    def create_site(self, path: str, title: str, owner: str, template: str, lcid: int) -> Site:
        if self.find_site(path) is not None:
            raise SimError(409, "-2147024713, Microsoft.SharePoint.SPException",
                           f"A site already exists at url {path}.")
        site = Site(new_id(), new_id(), path, title, owner, template, lcid)
        self.add_site(site)
        self.ensure_site_user(site, owner, is_admin=True, record=False)
        self.touch("create-site")
        return site

    def delete_site(self, site_id: str) -> None:
        path = next((p for p, s in self.sites.items() if s.id == site_id), None)
        if path is None:
            raise SimError(404, "-2147024894, System.IO.FileNotFoundException", "File Not Found.")
        del self.sites[path]
        self.touch("delete-site")

    def ensure_site_user(self, site: Site, upn_or_login: str, is_admin: bool = False,
                         record: bool = True) -> SiteUser:
        """ensureuser: add the principal to the site's user list if absent (a write in SharePoint)."""
        upn = upn_or_login.split("|")[-1]
        existing = site.user_by_login(login_name(upn))
        if existing is not None:
            return existing
        user = self.find_user(upn)
        if user is None:
            raise SimError(500, "-2146232832, Microsoft.SharePoint.SPException",
                           f"The specified user {upn_or_login} could not be found.")
        entry = SiteUser(site.next_user_id, login_name(user.upn), user.display_name,
                         user.mail or user.upn, is_admin)
        site.users[entry.id] = entry
        site.next_user_id += 1
        if record:
            self.touch("ensure-user")
        return entry

    def set_site_admin(self, site: Site, user_id: int, value: bool) -> SiteUser:
        entry = site.users.get(user_id)
        if entry is None:
            raise SimError(404, "-2146232832, Microsoft.SharePoint.SPException",
                           "User cannot be found.")
        if not value and entry.login_name == login_name(site.owner):
            raise SimError(400, "-2146232832, Microsoft.SharePoint.SPException",
                           "The primary site collection administrator cannot be removed.")
        entry.is_site_admin = value
        self.touch("set-site-admin")
        return entry

    def set_site_admin_by_login(self, site: Site, login: str, value: bool) -> bool:
        """Tenant.SetSiteAdmin (CSOM): grant ensures the user on the site first; revoking someone not on
        the site is a no-op. Returns whether anything changed; only a change is recorded as a write."""
        user = self.find_user(_claims_upn(login))
        if user is None:
            raise SimError(500, "-2146232832, Microsoft.SharePoint.SPException",
                           f"The specified user {login} could not be found.")
        entry = site.user_by_login(login_name(user.upn))
        if value and entry is None:
            self.ensure_site_user(site, user.upn, is_admin=True, record=False)
        elif entry is None or entry.is_site_admin == value:
            return False
        elif not value and entry.login_name == login_name(site.owner):
            raise SimError(400, "-2146232832, Microsoft.SharePoint.SPException",
                           "The primary site collection administrator cannot be removed.")
        else:
            entry.is_site_admin = value
        self.touch(f"tenant-set-site-admin {site.path}")
        return True

    def add_role_assignment(self, site: Site, principal_id: int, role_def_id: int) -> None:
        if principal_id not in site.users:
            raise SimError(400, "-2146232832, Microsoft.SharePoint.SPException", "Invalid principal.")
        if not any(r.principal_id == principal_id and r.role_def_id == role_def_id
                   for r in site.role_assignments):
            site.role_assignments.append(RoleAssignment(principal_id, role_def_id))
        self.touch("add-role-assignment")

    def remove_role_assignment(self, site: Site, principal_id: int, role_def_id: int | None) -> None:
        """With a role id removes that binding only; without one, every binding of the principal."""
        site.role_assignments = [r for r in site.role_assignments if not (
            r.principal_id == principal_id and (role_def_id is None or r.role_def_id == role_def_id))]
        self.touch("remove-role-assignment")

    def has_full_control(self, site: Site, upn: str) -> bool:
        entry = site.user_by_login(login_name(upn))
        if entry is None:
            return False
        return entry.is_site_admin or any(
            r.principal_id == entry.id and r.role_def_id == FULL_CONTROL_ROLE_DEF
            for r in site.role_assignments)
