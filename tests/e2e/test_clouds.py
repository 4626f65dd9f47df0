"""Sovereign clouds end to end: a simulated tenant in GCC High issues and checks only its own audiences
(graph.microsoft.us, outlook.office365.us), and the agent, told `cloud: gcchigh`, asks for exactly those."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from agent.simulator import Simulator
from tests.e2e.harness import World


@pytest.fixture(scope="module")
def gcchigh() -> Iterator[Simulator]:
    with Simulator(users=5, cloud="gcchigh") as simulator:
        yield simulator


@pytest.fixture
def world(gcchigh: Simulator, tmp_path: Path) -> World:
    return World(gcchigh, tmp_path).reset()


def _token(sim: Simulator, world: World, scope: str) -> httpx.Response:
    tenant = yaml.safe_load(world.config.read_text())["tenants"][0]
    secret = (world.folder / tenant["admin"]["client_secret"].split(":", 1)[1]).read_text().strip()
    form = {"grant_type": "client_credentials", "client_id": tenant["admin"]["client_id"],
            "client_secret": secret, "scope": scope}
    with httpx.Client(verify=sim.ca_path) as client:
        return client.post(f"{sim.base_url}/{tenant['tenant_id']}/oauth2/v2.0/token", data=form)


def test_the_tenant_refuses_the_public_clouds_audience(gcchigh: Simulator, world: World) -> None:
    public = _token(gcchigh, world, "https://graph.microsoft.com/.default")
    assert public.status_code == 400 and "AADSTS500011" in public.text
    own = _token(gcchigh, world, "https://graph.microsoft.us/.default")
    assert own.status_code == 200, own.text


def test_the_agent_asks_for_the_clouds_audiences(world: World) -> None:
    endpoints = yaml.safe_load(world.config.read_text())["tenants"][0]["endpoints"]
    assert endpoints["cloud"] == "gcchigh"
    world.reset(["account-unlicensed", "exo-app-missing-full-access"])
    result = world.run("diagnose", "-o", "json")
    assert result.code == 3, result.stderr
    statuses = {(r["connector"], r["cause"]): r["status"] for r in result.results()}
    # found through Graph and an EWS token probe: both only work with the GCC High audiences
    assert statuses[("mail-exo", "account-unlicensed")] == "found"
    assert statuses[("mail-exo", "exo-app-missing-full-access")] == "found"
    assert not [key for key, status in statuses.items() if status == "unknown"], statuses


def test_a_config_for_the_wrong_cloud_cannot_read_anything(world: World) -> None:
    data = yaml.safe_load(world.config.read_text())
    data["tenants"][0]["endpoints"]["cloud"] = "public"
    world.config.write_text(yaml.safe_dump(data))
    result = world.run("diagnose", "-o", "json", "--connector", "mail-exo", "--only", "account-unlicensed")
    (row,) = result.results()
    assert row["status"] == "unknown" and "AADSTS500011" in row["reason"], row


async def test_the_onedrive_connectors_first_probe_uses_the_clouds_graph(world: World) -> None:
    """The probe that ranks the causes signs the connector's app in for Graph: the GCC High audience
    works, where the public one would meet AADSTS500011."""
    world.reset([])
    async with world.open_context("files-onedrive") as ctx:
        assert await ctx.clients.connector_probe() is None
