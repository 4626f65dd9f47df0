"""Two connectors that share one migration account get one password reset, and both their stores the new
password (reliability review M4: two irreversible resets, and the first connector broken again)."""

from __future__ import annotations

import pytest
import yaml

from agent.catalog.mail.bad_credentials import RestoreSignIn
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World

HIGH = ("--yes", "--allow-risk", "high")


@pytest.fixture(autouse=True)
def short_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RestoreSignIn, "propagation_s", 1.0)


def separate_password_files(world: World) -> None:
    """mail-onprem reads the same account's password from a file of its own (a copy)."""
    (world.folder / "onprem.password").write_text((world.folder / "migsvc.password").read_text())
    (world.folder / "onprem.password").chmod(0o600)
    data = yaml.safe_load(world.config.read_text())
    onprem = next(c for c in data["connectors"] if c["name"] == "mail-onprem")
    onprem["account"]["password"] = "file:onprem.password"
    world.config.write_text(yaml.safe_dump(data))


def resets(world: World, seq: int) -> list[str]:
    return [w["path"] for w in world.writes_since(seq) if w["method"] == "PATCH" and "/users/" in w["path"]]


@pytest.mark.parametrize("separate", [False, True], ids=["one-file", "two-files"])
def test_one_reset_for_a_shared_account(world: World, separate: bool) -> None:
    world.reset(["bad-credentials:wrong-password"])
    if separate:
        separate_password_files(world)
    dry = world.run("fix", "--dry-run", "-o", "json", "--only", "bad-credentials")
    assert dry.result("mail-exo", "bad-credentials")["status"] == "planned"
    onprem_plan = dry.result("mail-onprem", "bad-credentials")
    assert onprem_plan["status"] == "planned" and "shares one reset-password" in onprem_plan["reason"]

    seq = world.log_seq()
    fixed = world.run("fix", *HIGH, "-o", "json", "--only", "bad-credentials")
    assert len(resets(world, seq)) == 1, resets(world, seq)  # one irreversible write, not two
    password = world.sim.state.user(ACCOUNT_UPN).password
    stores = ["migsvc.password", "onprem.password"] if separate else ["migsvc.password"]
    assert all((world.folder / s).read_text().strip() == password for s in stores)
    for connector in ("mail-exo", "mail-onprem"):
        row = fixed.result(connector, "bad-credentials")
        assert row["status"] == "fixed", row
    assert "shares one reset-password" in fixed.result("mail-onprem", "bad-credentials")["reason"]
    assert password not in fixed.stdout + fixed.stderr
    again = world.run("diagnose", "-o", "json", "--only", "bad-credentials")
    assert {row["status"] for row in again.results()} == {"ok"}, again.json
