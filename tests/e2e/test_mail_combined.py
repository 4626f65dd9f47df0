"""End to end: the healthy baseline, two causes on one account, and reads the agent is not allowed."""

from __future__ import annotations

from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World

EXO, ONPREM = "mail-exo", "mail-onprem"
EXO_CAUSES = ("exo-app-missing-full-access", "bad-credentials", "mfa-blocks-service-account",
              "sso-federated-account", "account-unlicensed", "legacy-auth-disabled")
HIGH = ("--yes", "--allow-risk", "high")


def test_healthy_tenant_is_clean(world: World) -> None:
    for connector, causes in ((EXO, EXO_CAUSES), (ONPREM, ("bad-credentials", "legacy-auth-disabled"))):
        result = world.run("diagnose", "-o", "json", "--connector", connector)
        assert result.code == 0, result.statuses(connector)
        assert all(result.statuses(connector).get(c) == "ok" for c in causes), result.statuses(connector)


def test_unlicensed_and_mfa_blocked_fixed_in_one_run(world: World) -> None:
    world.reset(["account-unlicensed", "mfa-blocks-service-account"])
    found = world.run("diagnose", "-o", "json", "--connector", EXO)
    statuses = found.statuses(EXO)
    assert statuses["account-unlicensed"] == statuses["mfa-blocks-service-account"] == "found"
    assert statuses["bad-credentials"] == "ok"
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", EXO)
    assert fixed.code == 0, fixed.statuses(EXO)
    assert fixed.statuses(EXO)["account-unlicensed"] == fixed.statuses(EXO)["mfa-blocks-service-account"] \
        == "fixed"
    clean = world.run("diagnose", "-o", "json", "--connector", EXO)
    assert clean.code == 0
    undo = world.run("undo", fixed.run_id, "-o", "json")
    assert undo.code == 0
    assert world.sim.state.user(ACCOUNT_UPN).licenses == []


def test_missing_policy_read_is_unknown_and_nothing_is_fixed(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    world.revoke_admin_permissions("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
    seq = world.log_seq()
    result = world.run("fix", *HIGH, "-o", "json", "--connector", EXO)
    assert result.code == 3
    row = result.result(EXO, "mfa-blocks-service-account")
    assert row["status"] == "unknown" and "Policy.Read.All" in row["reason"]
    assert row["changes"] == [] and world.writes_since(seq) == []


def test_missing_user_read_is_unknown_and_nothing_is_fixed(world: World) -> None:
    world.reset(["bad-credentials:disabled"])
    world.revoke_admin_permissions("User.Read.All", "User.ReadWrite.All")
    seq = world.log_seq()
    result = world.run("fix", *HIGH, "-o", "json", "--connector", EXO)
    assert result.code == 3
    for cause in ("bad-credentials", "account-unlicensed"):
        row = result.result(EXO, cause)
        assert row["status"] == "unknown" and "User.Read.All" in row["reason"], row
    assert world.writes_since(seq) == []
    assert world.sim.state.user(ACCOUNT_UPN).account_enabled is False
