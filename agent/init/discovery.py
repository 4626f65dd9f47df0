"""Before any sign-in: the tenant's id and cloud from its public OpenID configuration.

`GET {authority}/{tenant}/v2.0/.well-known/openid-configuration` answers for any tenant of any cloud on
the public authority, with `tenant_region_scope`, `cloud_instance_name` and `msgraph_host`
(https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri,
and https://learn.microsoft.com/en-us/graph/deployments for the hosts). `tenant_region_sub_scope` (GCC,
DOD, DODCON) is what public projects read to tell the US Government clouds apart; its values are not on a
Microsoft page, so the Graph host decides first and the sub-scope only refines it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from agent.config.clouds import CLOUDS
from agent.errors import BadInput
from agent.trust.ca import bundle_path

PUBLIC_AUTHORITY = CLOUDS["public"].authority_host
_BY_GRAPH_HOST = {"graph.microsoft.com": "public", "graph.microsoft.us": "gcchigh",
                  "dod-graph.microsoft.us": "dod", "microsoftgraph.chinacloudapi.cn": "china"}
_BY_INSTANCE = {"microsoftonline.com": "public", "microsoftonline.us": "gcchigh",
                "partner.microsoftonline.cn": "china"}


@dataclass(frozen=True)
class TenantInfo:
    """What the tenant's OpenID configuration says about it."""

    tenant_id: str  # the GUID
    cloud: str
    region_scope: str | None
    sub_scope: str | None
    issuer: str


def cloud_of(doc: dict[str, Any]) -> str:
    """The agent's cloud name for a tenant's OpenID configuration."""
    cloud = _BY_GRAPH_HOST.get(str(doc.get("msgraph_host") or "").lower()) or \
        _BY_INSTANCE.get(str(doc.get("cloud_instance_name") or "").lower())
    if cloud is None:
        raise BadInput(f"the tenant's OpenID configuration names an unknown cloud (cloud_instance_name "
                       f"{doc.get('cloud_instance_name')!r}, msgraph_host {doc.get('msgraph_host')!r}); pass "
                       "--cloud")
    sub = str(doc.get("tenant_region_sub_scope") or "").upper()
    if cloud == "public" and sub == "GCC":
        return "gcc"
    if cloud == "gcchigh" and sub == "DOD":
        return "dod"
    return cloud


def tenant_id_of(doc: dict[str, Any]) -> str:
    """The tenant GUID: the issuer's first path segment (https://login.../{tid}/v2.0)."""
    for key in ("issuer", "token_endpoint"):
        parts = [p for p in urlsplit(str(doc.get(key) or "")).path.split("/") if p]
        if parts and len(parts[0]) == 36:
            return parts[0].lower()
    raise BadInput("the tenant's OpenID configuration names no tenant id")


def openid_url(authority_host: str, tenant: str) -> str:
    return f"{authority_host.rstrip('/')}/{quote(tenant, safe='')}/v2.0/.well-known/openid-configuration"


def discover(tenant: str, authority_host: str = PUBLIC_AUTHORITY, ca_bundle: str | None = None,
             timeout_s: float = 30.0) -> TenantInfo:
    """Ask the authority about `tenant` (a domain or GUID); BadInput names an unknown tenant."""
    import requests

    url = openid_url(authority_host, tenant)
    try:
        response = requests.get(url, timeout=(10.0, timeout_s), verify=bundle_path(ca_bundle) or True)
    except requests.RequestException as exc:
        raise BadInput(f"cannot reach {authority_host} to look up tenant {tenant}: {type(exc).__name__}; "
                       "check the network or proxy (HTTPS_PROXY), or --ca-bundle for an inspecting proxy") \
            from None
    if response.status_code in (400, 404):
        raise BadInput(f"tenant {tenant!r} is not known to {authority_host} (AADSTS90002): check the domain, "
                       "e.g. contoso.onmicrosoft.com")
    if response.status_code != 200:
        raise BadInput(f"{authority_host} answered {response.status_code} for tenant {tenant}'s OpenID "
                       "configuration; try again later")
    try:
        doc = response.json()
    except ValueError:
        raise BadInput(f"{authority_host} sent no JSON for tenant {tenant}'s OpenID configuration") from None
    return TenantInfo(tenant_id_of(doc), cloud_of(doc), doc.get("tenant_region_scope"),
                      doc.get("tenant_region_sub_scope"), str(doc.get("issuer") or ""))
