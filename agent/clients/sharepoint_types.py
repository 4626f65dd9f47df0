"""What the SharePoint adapter hands back: plain values, no client library object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FULL_CONTROL = 1073741829  # role definition id of "Full Control" (RoleTypeKind 5)
FULL_MASK = (2147483647, 4294967295)  # BasePermissions High/Low of Full Control


@dataclass
class SiteUser:
    """One entry of a site's user list."""

    id: int
    login_name: str
    title: str = ""
    email: str = ""
    is_site_admin: bool = False


@dataclass
class RoleAssignment:
    """A principal's role bindings on a web."""

    principal_id: int
    login_name: str | None
    role_ids: list[int] = field(default_factory=list)


@dataclass
class SiteStatus:
    """SPSiteManager's answer: 0 not found, 1 provisioning, 2 ready, 3 error."""

    site_id: str | None
    status: int
    url: str | None


def login_name(upn: str) -> str:
    """The claims login SharePoint knows a member user by."""
    return upn if "|" in upn else f"i:0#.f|membership|{upn.lower()}"


def site_user(user: Any) -> SiteUser:
    props = user.properties
    return SiteUser(int(props.get("Id") or 0), str(props.get("LoginName") or ""),
                    str(props.get("Title") or ""), str(props.get("Email") or ""),
                    bool(props.get("IsSiteAdmin")))


def site_status(value: Any) -> SiteStatus:
    status = value.SiteStatus
    return SiteStatus(value.SiteId, int(getattr(status, "value", status)), value.SiteUrl)
