"""The token audiences of each Microsoft 365 cloud, as a tenant in that cloud issues and checks them.

A GCC High tenant's Graph and Exchange Online are graph.microsoft.us and outlook.office365.us; it refuses a
token for the public cloud's hosts (https://learn.microsoft.com/en-us/graph/deployments,
https://learn.microsoft.com/en-us/graph/sdks/national-clouds, and the Microsoft 365 GCC High, DoD and
21Vianet endpoint pages). The simulator keeps its own table: it imports nothing from the agent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloudAudiences:
    graph: str
    exchange: str
    aliases: tuple[str, ...] = ()  # other Exchange resource URIs the cloud accepts
    # What the tenant's OpenID configuration says of its cloud: cloud_instance_name, tenant_region_scope and
    # tenant_region_sub_scope. Only the public cloud's values are on a Microsoft page (a tenant's discovery
    # document); the government and China values are the ones public projects read them as.
    instance: str = "microsoftonline.com"
    region_scope: str = "NA"
    sub_scope: str | None = None


CLOUDS = {
    "public": CloudAudiences("https://graph.microsoft.com", "https://outlook.office365.com",
                             ("https://outlook.office.com",)),
    "gcc": CloudAudiences("https://graph.microsoft.com", "https://outlook.office365.com",
                          ("https://outlook.office.com",), sub_scope="GCC"),
    "gcchigh": CloudAudiences("https://graph.microsoft.us", "https://outlook.office365.us",
                              instance="microsoftonline.us", region_scope="USGov", sub_scope="DODCON"),
    "dod": CloudAudiences("https://dod-graph.microsoft.us", "https://webmail.apps.mil",
                          instance="microsoftonline.us", region_scope="USGov", sub_scope="DOD"),
    "china": CloudAudiences("https://microsoftgraph.chinacloudapi.cn", "https://partner.outlook.cn",
                            instance="partner.microsoftonline.cn", region_scope="AS"),
}


def audiences_of(cloud: str) -> CloudAudiences:
    if cloud not in CLOUDS:
        raise ValueError(f"unknown cloud {cloud!r} (valid: {', '.join(CLOUDS)})")
    return CLOUDS[cloud]
