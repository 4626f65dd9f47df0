"""End to end, per fixable mail cause: diagnose, dry-run, fix, verify, undo, over HTTPS with the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, EXCHANGE_STANDARD
from agent.simulator.state.tenant import EXCHANGE_APP_ID
from tests.e2e.harness import World, fix_cycle

EXO = "mail-exo"
ONPREM = "mail-onprem"
EXO_CAUSES = ("exo-app-missing-full-access", "bad-credentials", "mfa-blocks-service-account",
              "sso-federated-account", "account-unlicensed", "legacy-auth-disabled")
HIGH = ("--yes", "--allow-risk", "high")


def full_access_granted(world: World) -> bool:
    tenant = world.sim.state
    return "full_access_as_app" in tenant.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


def test_exo_app_missing_full_access(world: World) -> None:
    world.reset(["exo-app-missing-full-access"])
    runs = fix_cycle(world, EXO, "exo-app-missing-full-access", EXO_CAUSES, HIGH)
    evidence = runs["diagnose"].result(EXO, "exo-app-missing-full-access")["evidence"]
    assert "full_access_as_app" not in evidence["token"]["roles"]
    assert evidence["assignment_id"] is None and evidence["client_sp_id"]
    assert "2000008" in (evidence["ews"]["x_ms_diagnostics"] or "")
    change = runs["dry_run"].result(EXO, "exo-app-missing-full-access")["changes"][0]
    assert change["call"]["method"] == "POST"
    exchange_sp = evidence["exchange_sp_id"]
    assert change["call"]["url"].endswith(f"/servicePrincipals/{exchange_sp}/appRoleAssignedTo")
    assert change["call"]["body"]["appRoleId"] == "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
    assert not full_access_granted(world)  # undone


def test_high_risk_grant_needs_explicit_approval(world: World) -> None:
    world.reset(["exo-app-missing-full-access"])
    seq = world.log_seq()
    result = world.run("fix", "--yes", "-o", "json", "--connector", EXO)
    assert result.code == 3
    row = result.result(EXO, "exo-app-missing-full-access")
    assert row["status"] == "planned" and row["risk"] == "high"
    assert "--allow-risk high" in row["reason"]
    assert world.writes_since(seq) == [] and not full_access_granted(world)


def test_mfa_blocks_service_account(world: World) -> None:
    world.reset(["mfa-blocks-service-account"])
    policy = world.sim.state.ca_policy(str(world.sim.state.extras["mfa_policy_id"]))
    others = list(policy.exclude_users)  # the break-glass admin stays excluded throughout
    runs = fix_cycle(world, EXO, "mfa-blocks-service-account", EXO_CAUSES, HIGH)
    row = runs["diagnose"].result(EXO, "mfa-blocks-service-account")
    assert row["evidence"]["sign_in"]["aadsts"] == 50076
    assert [p["id"] for p in row["evidence"]["policies"]] == [policy.id]
    body = runs["dry_run"].result(EXO, "mfa-blocks-service-account")["changes"][0]["call"]["body"]
    account_id = world.sim.state.user(ACCOUNT_UPN).id
    assert body == {"conditions": {"users": {"excludeUsers": [*others, account_id]}}}
    assert world.sim.state.ca_policy(policy.id).exclude_users == others  # undo restored the saved list


def test_mfa_through_a_nested_group(world: World) -> None:
    """The account joined Sales, nested in the group a policy targets: found through transitiveMemberOf,
    fixed by excluding the user (an exclusion overrides the group's inclusion), undone back to broken."""
    world.reset(["mfa-blocks-service-account:group"])
    tenant = world.sim.state
    pid, account_id = str(tenant.extras["group_policy_id"]), tenant.user(ACCOUNT_UPN).id
    runs = fix_cycle(world, EXO, "mfa-blocks-service-account", EXO_CAUSES, HIGH)
    row = runs["diagnose"].result(EXO, "mfa-blocks-service-account")
    assert [p["id"] for p in row["evidence"]["policies"]] == [pid]
    body = runs["dry_run"].result(EXO, "mfa-blocks-service-account")["changes"][0]["call"]["body"]
    assert body == {"conditions": {"users": {"excludeUsers": [account_id]}}}
    assert runs["again"].result(EXO, "mfa-blocks-service-account")["status"] == "found"
    assert tenant.ca_policy(pid).exclude_users == []  # undo restored the saved (empty) list
    assert account_id in tenant.groups[str(tenant.extras["mfa_group_id"])]  # the membership was never touched


def test_account_unlicensed_without_usage_location(world: World) -> None:
    world.reset(["account-unlicensed:no-usage-location"])
    runs = fix_cycle(world, EXO, "account-unlicensed", EXO_CAUSES)
    changes = runs["dry_run"].result(EXO, "account-unlicensed")["changes"]
    assert [c["action"] for c in changes] == ["set-usage-location", "assign-licence"]
    assert changes[1]["call"]["body"]["addLicenses"][0]["skuId"] == EXCHANGE_STANDARD  # preferred SKU
    user = world.sim.state.user(ACCOUNT_UPN)
    assert user.licenses == [] and user.usage_location is None  # both steps undone, newest first


@pytest.mark.parametrize("variant, action", [("disabled", "set-account-enabled"),
                                             ("expired", "set-password-policies")])
def test_bad_credentials(world: World, variant: str, action: str) -> None:
    world.reset([f"bad-credentials:{variant}"])
    runs = fix_cycle(world, EXO, "bad-credentials", EXO_CAUSES, HIGH)
    row = runs["diagnose"].result(EXO, "bad-credentials")
    assert row["evidence"]["variant"] == variant
    assert [c["action"] for c in runs["fix"].result(EXO, "bad-credentials")["changes"]] == [action]
    onprem = world.run("diagnose", "-o", "json", "--connector", ONPREM)  # Basic on-premises sees it too
    assert onprem.result(ONPREM, "bad-credentials")["evidence"]["variant"] == variant


def test_wrong_password_reset_is_irreversible_and_never_shown(world: World) -> None:
    world.reset(["bad-credentials:wrong-password"])
    stored = Path(world.folder / "migsvc.password")
    old = stored.read_text()
    dry = world.run("fix", "--dry-run", "-o", "json", "--connector", EXO)
    change = dry.result(EXO, "bad-credentials")["changes"][0]
    assert change["irreversible"] is True and "IRREVERSIBLE" in change["description"]
    assert change["call"]["body"]["passwordProfile"]["password"] == "***"
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", EXO)
    assert fixed.code == 0 and fixed.result(EXO, "bad-credentials")["status"] == "fixed"
    new = stored.read_text().strip()
    assert new != old.strip() and world.sim.state.user(ACCOUNT_UPN).password == new
    assert new not in fixed.stdout + fixed.stderr
    journal = b"".join(f.read_bytes() for f in world.state_dir.iterdir() if f.is_file())
    assert journal and new.encode() not in journal and old.strip().encode() not in journal
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 3  # nothing reversed: the reset is reported as irreversible
    assert "irreversible" in str(undone.json)
    assert world.sim.state.user(ACCOUNT_UPN).password == new
