"""The tenant's endpoints for the config `agent init` writes: its cloud's hosts, and the SharePoint hosts
derived from its root site as the admin centre names them ({label}-admin, {label}-my:
https://learn.microsoft.com/en-us/sharepoint/dev/general-development/urls-and-tokens-in-sharepoint)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from agent.config.clouds import CLOUDS

_SHAREPOINT_HOST = re.compile(r"([a-z0-9-]+)\.(sharepoint(?:-mil)?\.(?:com|us|cn|de))", re.I)
_ONMICROSOFT = re.compile(r"([a-z0-9-]+)\.onmicrosoft\.(?:com|us)$|([a-z0-9-]+)\.partner\.onmschina\.cn$",
                          re.I)
_SUFFIX = {"public": "sharepoint.com", "gcc": "sharepoint.com", "gcchigh": "sharepoint.us",
           "dod": "sharepoint-mil.us", "china": "sharepoint.cn"}


@dataclass(frozen=True)
class Hosts:
    """Every endpoint of one tenant."""

    cloud: str
    authority_host: str
    graph_url: str
    ews_url: str
    sharepoint_root: str | None
    sharepoint_admin: str | None
    onedrive_host: str | None


def sharepoint_hosts(root: str) -> tuple[str, str, str]:
    """(root, admin, OneDrive) from the root site URL; a host that is not X.sharepoint.* (a gateway, a
    simulated tenant on one origin) serves all three."""
    origin = f"https://{urlsplit(root).netloc}"
    match = _SHAREPOINT_HOST.fullmatch(urlsplit(root).hostname or "")
    if match is None:
        return origin, origin, origin
    label, suffix = match.group(1), match.group(2)
    return origin, f"https://{label}-admin.{suffix}", f"https://{label}-my.{suffix}"


def guessed_root(initial_domain: str, cloud: str) -> str | None:
    """The root site from the initial domain, when /sites/root cannot be read."""
    match = _ONMICROSOFT.fullmatch(initial_domain)
    if match is None:
        return None
    return f"https://{match.group(1) or match.group(2)}.{_SUFFIX[cloud]}"


def tenant_hosts(cloud: str, root: str | None, *, authority_host: str | None = None,
                 graph_url: str | None = None, ews_url: str | None = None) -> Hosts:
    c = CLOUDS[cloud]
    sp = sharepoint_hosts(root) if root else (None, None, None)
    return Hosts(cloud, (authority_host or c.authority_host).rstrip("/"),
                 (graph_url or c.graph_url).rstrip("/"),
                 (ews_url or c.ews_url).rstrip("/"), *sp)
