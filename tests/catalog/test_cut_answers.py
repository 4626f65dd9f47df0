"""An answer missing the fields a verdict rests on is `unknown`, never a verdict (reliability review L8):
a user object without `assignedLicenses` is not an unlicensed user, and a site answer without an id is
not an existing site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.catalog.mail.account_unlicensed import ExchangePlanMissing
from agent.catalog.sharepoint.target_site_missing import TargetSiteMissing
from agent.clients.graph import GraphAdapter
from agent.clients.graph_view import GraphObject
from agent.model import Status
from agent.simulator import Simulator
from tests.e2e.harness import World


def without(found: Any, *fields: str) -> Any:
    """The same Graph object as read, missing `fields` (as a cut or changed answer would be)."""
    if found is None:
        return None
    assert isinstance(found, GraphObject), type(found)
    return GraphObject({k: v for k, v in found.json.items() if k not in fields})


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset([], users=4)


async def test_a_user_without_its_licence_fields_is_unknown(world: World,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    original = GraphAdapter.get_user

    async def cut(self: GraphAdapter, user: str, select: list[str] | None = None) -> Any:
        return without(await original(self, user, select), "assignedLicenses", "assignedPlans")

    async with world.open_context("mail-exo", "account-unlicensed") as ctx:
        healthy = await ExchangePlanMissing().detect(ctx)
        monkeypatch.setattr(GraphAdapter, "get_user", cut)
        finding = await ExchangePlanMissing().detect(ctx)
    assert healthy.status == Status.OK
    assert finding.status == Status.UNKNOWN and "lacks assignedLicenses" in finding.summary


async def test_a_site_answer_without_an_id_is_unknown(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    original = GraphAdapter.get_site_by_path

    async def cut(self: GraphAdapter, hostname: str, path: str) -> Any:
        return without(await original(self, hostname, path), "id")

    async with world.open_context("sp-sites", "target-site-missing") as ctx:
        healthy = await TargetSiteMissing().detect(ctx)
        monkeypatch.setattr(GraphAdapter, "get_site_by_path", cut)
        finding = await TargetSiteMissing().detect(ctx)
    assert healthy.status == Status.OK
    assert finding.status == Status.UNKNOWN and "without the site's id" in finding.summary
