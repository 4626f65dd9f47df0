"""The tenant's cloud and id from its OpenID configuration; the SharePoint hosts from its root site."""

from __future__ import annotations

import pytest

from agent.errors import BadInput
from agent.init.discovery import cloud_of, discover, tenant_id_of
from agent.init.hosts import guessed_root, sharepoint_hosts, tenant_hosts
from agent.simulator import Simulator

TID = "4b1e8c3a-6d2f-4e7b-9a15-3c8d7f2e1a60"


@pytest.mark.parametrize(("doc", "cloud"), [
    ({"msgraph_host": "graph.microsoft.com", "cloud_instance_name": "microsoftonline.com"}, "public"),
    ({"msgraph_host": "graph.microsoft.com", "tenant_region_sub_scope": "GCC"}, "gcc"),
    ({"msgraph_host": "graph.microsoft.us", "cloud_instance_name": "microsoftonline.us",
      "tenant_region_scope": "USGov", "tenant_region_sub_scope": "DODCON"}, "gcchigh"),
    ({"msgraph_host": "dod-graph.microsoft.us", "cloud_instance_name": "microsoftonline.us"}, "dod"),
    ({"cloud_instance_name": "microsoftonline.us", "tenant_region_sub_scope": "DOD"}, "dod"),
    ({"msgraph_host": "microsoftgraph.chinacloudapi.cn", "cloud_instance_name": "partner.microsoftonline.cn"},
     "china"),
])
def test_cloud_of_each_cloud(doc: dict[str, str], cloud: str) -> None:
    assert cloud_of(doc) == cloud


def test_unknown_cloud_and_missing_tenant_id_are_bad_input() -> None:
    with pytest.raises(BadInput, match="--cloud"):
        cloud_of({"cloud_instance_name": "example.org"})
    with pytest.raises(BadInput):
        tenant_id_of({"issuer": "https://login.microsoftonline.com/common/v2.0"})
    assert tenant_id_of({"issuer": f"https://login.microsoftonline.us/{TID.upper()}/v2.0"}) == TID


def test_discover_reads_the_simulated_tenant(tenant: Simulator) -> None:
    info = discover("contoso.onmicrosoft.com", tenant.base_url, tenant.ca_path)
    assert info.tenant_id == TID and info.cloud == "public" and info.region_scope == "NA"
    with pytest.raises(BadInput, match="not known"):
        discover("nobody.onmicrosoft.com", tenant.base_url, tenant.ca_path)


def test_sharepoint_hosts_as_the_admin_centre_names_them() -> None:
    assert sharepoint_hosts("https://contoso.sharepoint.com/") == (
        "https://contoso.sharepoint.com", "https://contoso-admin.sharepoint.com", "https://contoso-my.sharepoint.com")
    assert sharepoint_hosts("https://fab.sharepoint.us")[2] == "https://fab-my.sharepoint.us"
    assert sharepoint_hosts("https://127.0.0.1:8443") == ("https://127.0.0.1:8443",) * 3
    assert guessed_root("fab.onmicrosoft.us", "gcchigh") == "https://fab.sharepoint.us"
    assert guessed_root("contoso.com", "public") is None


def test_tenant_hosts_come_from_the_cloud_unless_given() -> None:
    hosts = tenant_hosts("gcchigh", "https://fab.sharepoint.us")
    assert hosts.authority_host == "https://login.microsoftonline.us"
    assert hosts.graph_url == "https://graph.microsoft.us/v1.0"
    assert hosts.ews_url == "https://outlook.office365.us/EWS/Exchange.asmx"
    assert tenant_hosts("china", None).graph_url.startswith("https://microsoftgraph.chinacloudapi.cn")
    assert tenant_hosts("public", None, graph_url="https://gw.example.com/v1.0").graph_url == \
        "https://gw.example.com/v1.0"
