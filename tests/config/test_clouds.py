"""`cloud:` fills a tenant's endpoints, and every token scope comes from the configured hosts and cloud."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.clients.tokens import ews_scope, graph_scope
from agent.config.clouds import CLOUD_NAMES
from agent.config.load import load_config
from agent.errors import ConfigError
from tests.config.test_config import MINIMAL

EXPECTED = {  # cloud -> (authority, Graph scope, EWS URL, EWS scope)
    "public": ("https://login.microsoftonline.com", "https://graph.microsoft.com/.default",
               "https://outlook.office365.com/EWS/Exchange.asmx", "https://outlook.office365.com/.default"),
    "gcc": ("https://login.microsoftonline.com", "https://graph.microsoft.com/.default",
            "https://outlook.office365.com/EWS/Exchange.asmx", "https://outlook.office365.com/.default"),
    "gcchigh": ("https://login.microsoftonline.us", "https://graph.microsoft.us/.default",
                "https://outlook.office365.us/EWS/Exchange.asmx", "https://outlook.office365.us/.default"),
    "dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us/.default",
            "https://webmail.apps.mil/EWS/Exchange.asmx", "https://webmail.apps.mil/.default"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default",
              "https://partner.outlook.cn/EWS/Exchange.asmx", "https://partner.outlook.cn/.default"),
}


def _tenant(tmp_path: Path, endpoints: dict[str, Any]) -> Any:
    data = copy.deepcopy(MINIMAL)
    data["tenants"][0]["endpoints"] = endpoints
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path).tenants[0]


def test_every_cloud_has_a_test() -> None:
    assert set(EXPECTED) == set(CLOUD_NAMES)


@pytest.mark.parametrize("cloud", sorted(EXPECTED))
def test_a_cloud_fills_the_endpoints_and_scopes(tmp_path: Path, cloud: str) -> None:
    tenant = _tenant(tmp_path, {"cloud": cloud})
    authority, graph, ews_url, ews = EXPECTED[cloud]
    assert tenant.endpoints.authority_host == authority and tenant.endpoints.ews_url == ews_url
    assert graph_scope(tenant) == graph and ews_scope(tenant) == ews


def test_given_endpoints_win_over_the_cloud_and_name_their_own_audience(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, {"cloud": "public", "graph_url": "https://graph.microsoft.us/v1.0"})
    assert graph_scope(tenant) == "https://graph.microsoft.us/.default"  # a Microsoft host: its own audience


def test_a_proxy_or_private_endpoint_keeps_the_clouds_audience(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, {"cloud": "gcchigh", "graph_url": "https://graph-proxy.corp.example/v1.0",
                                "ews_url": "https://mail-gw.corp.example/EWS/Exchange.asmx"})
    assert graph_scope(tenant) == "https://graph.microsoft.us/.default"
    assert ews_scope(tenant) == "https://outlook.office365.us/.default"


def test_audiences_can_be_set_explicitly(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, {"graph_resource": "https://graph.microsoft.us"})
    assert graph_scope(tenant) == "https://graph.microsoft.us/.default"


def test_the_journal_location_leaves_out_what_the_endpoints_already_say(tmp_path: Path) -> None:
    location = _tenant(tmp_path, {"cloud": "gcchigh"}).location()
    assert "cloud" not in location and "graph_resource" not in location
    assert location["graph_url"] == "https://graph.microsoft.us/v1.0"


def test_an_unknown_cloud_is_one_line_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _tenant(tmp_path, {"cloud": "azure-germany"})
    message = str(info.value)
    assert "\n" not in message and "endpoints.cloud" in message
    assert "valid: public, gcc, gcchigh, dod, china" in message
