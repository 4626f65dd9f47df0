"""Detectors that another cause keeps from judging say `unknown`, naming that cause, never a false `ok`."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.mail.account_unlicensed import ExchangePlanMissing
from agent.catalog.mail.bad_credentials import CredentialsRejected
from agent.catalog.mail.mfa_blocks_service_account import BlockedByMfa
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World

EXO = "mail-exo"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


async def test_an_account_that_does_not_exist_masks_licence_and_mfa_checks(world: World) -> None:
    # the connector still names the account, which someone renamed away: it no longer exists
    world.sim.state.rename_user(ACCOUNT_UPN, "renamed-away@contoso.onmicrosoft.com")
    async with world.open_context(EXO) as ctx:
        credentials = await CredentialsRejected().detect(ctx)
        licence = await ExchangePlanMissing().detect(ctx)
        mfa = await BlockedByMfa().detect(ctx)
    assert credentials.status == Status.FOUND and credentials.evidence["variant"] == "not-found"
    for finding in (licence, mfa):
        assert finding.status == Status.UNKNOWN, finding.summary
        assert finding.masked_by == ["bad-credentials"]
