"""The Microsoft 365 clouds and their endpoints: the public cloud, US Government (GCC, GCC High, DoD), China.

Sources: https://learn.microsoft.com/en-us/graph/deployments (token service and Graph roots per national
cloud), https://learn.microsoft.com/en-us/graph/sdks/national-clouds (a scope names the cloud's own Graph
host), https://learn.microsoft.com/en-us/microsoft-365/enterprise/microsoft-365-u-s-government-gcc-high-endpoints
and ...-u-s-government-dod-endpoints (Exchange Online hosts), and
https://learn.microsoft.com/en-us/previous-versions/office/office-365-api/api/o365-china-endpoints (21Vianet).
GCC (moderate) runs on the public cloud's endpoints:
https://learn.microsoft.com/en-us/office365/servicedescriptions/office-365-platform-service-description/office-365-us-government/gcc
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

CloudName = Literal["public", "gcc", "gcchigh", "dod", "china"]
CLOUD_NAMES: tuple[str, ...] = get_args(CloudName)


@dataclass(frozen=True)
class Cloud:
    """One cloud's token service, Graph root and Exchange Online host (each also the token audience)."""

    authority_host: str
    graph: str
    exchange: str

    @property
    def graph_url(self) -> str:
        return f"{self.graph}/v1.0"

    @property
    def ews_url(self) -> str:
        return f"{self.exchange}/EWS/Exchange.asmx"


CLOUDS: dict[str, Cloud] = {
    "public": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com",
                    "https://outlook.office365.com"),
    "gcc": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com",
                 "https://outlook.office365.com"),
    "gcchigh": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us",
                     "https://outlook.office365.us"),
    "dod": Cloud("https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "https://webmail.apps.mil"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
                   "https://partner.outlook.cn"),
}
GRAPH_HOSTS = frozenset(urlsplit(c.graph).hostname for c in CLOUDS.values())
EXCHANGE_HOSTS = frozenset(urlsplit(c.exchange).hostname for c in CLOUDS.values()) | {"outlook.office.com"}


def resource_of(url: str, known_hosts: frozenset[str | None], fallback: str) -> str:
    """The token audience for a service at `url`: its own origin when it is a Microsoft host of some cloud,
    else (a proxy, a private endpoint, a simulated tenant) the configured cloud's audience."""
    host = urlsplit(url).hostname
    return f"https://{host}" if host in known_hosts else fallback
