"""account-credentials-rejected, restore-account-sign-in and account-domain-federated on the simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent import redact
from agent.catalog.mail.bad_credentials import (
    AccountParams,
    CredentialsRejected,
    RestoreSignIn,
    new_password,
)
from agent.catalog.mail.sso_federated_account import FederatedAccount
from agent.clients.errors import WriteFailed
from agent.config.secrets import SecretRef
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from tests.e2e.harness import World

EXO, ONPREM = "mail-exo", "mail-onprem"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


@pytest.mark.parametrize("variant, code, action", [
    ("disabled", 50057, "set-account-enabled"),
    ("expired", 50055, "set-password-policies"),
    ("wrong-password", 50126, "reset-password"),
    ("locked", 50053, None),
])
async def test_variants_are_told_apart(world: World, variant: str, code: int, action: str | None) -> None:
    world.reset([f"bad-credentials:{variant}"])
    async with world.open_context(EXO, "bad-credentials") as ctx:
        finding = await CredentialsRejected().detect(ctx)
        plan = await RestoreSignIn().plan(ctx, finding)
    assert finding.status == Status.FOUND, finding
    assert finding.evidence["variant"] == variant and finding.evidence["sign_in"]["aadsts"] == code
    assert finding.evidence["account_id"] == world.sim.state.user(ACCOUNT_UPN).id
    assert [s.action for s in plan.steps] == ([action] if action else [])
    if action is None:
        assert "nothing to change" in plan.note and "retry" in plan.note


async def test_healthy_account_and_params(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        finding = await CredentialsRejected().detect(ctx)
    assert finding.status == Status.OK and finding.evidence["sign_in"] == {"ok": True}
    with pytest.raises(ValueError, match="user principal name"):
        AccountParams(account="not-an-account")


async def test_reenable_then_undo_disables_again(world: World) -> None:
    world.reset(["bad-credentials:disabled"])
    fixer = RestoreSignIn()
    async with world.open_context(EXO, "bad-credentials") as ctx:
        [step] = (await fixer.plan(ctx, await CredentialsRejected().detect(ctx))).steps
    assert step.call.body == {"accountEnabled": True} and step.undo["account_enabled"] is False
    async with world.open_context(EXO, write=True) as ctx:
        await fixer.apply_step(ctx, step)
    assert world.sim.state.user(ACCOUNT_UPN).account_enabled is True
    async with world.open_context(EXO) as ctx:
        assert (await CredentialsRejected().detect(ctx)).status == Status.OK
        reverse = await fixer.undo_step(ctx, step)
    async with world.open_context(EXO, write=True) as ctx:
        await fixer.apply_step(ctx, reverse)
    assert world.sim.state.user(ACCOUNT_UPN).account_enabled is False


async def test_expiry_stopped_and_restored(world: World) -> None:
    world.reset(["bad-credentials:expired"])
    fixer = RestoreSignIn()
    async with world.open_context(EXO, "bad-credentials", write=True) as ctx:
        [step] = (await fixer.plan(ctx, await CredentialsRejected().detect(ctx))).steps
        await fixer.apply_step(ctx, step)
        assert world.sim.state.user(ACCOUNT_UPN).password_policies == "DisablePasswordExpiration"
        reverse = await fixer.undo_step(ctx, step)
        assert reverse.call.body == {"passwordPolicies": "None"}
        await fixer.apply_step(ctx, reverse)
    assert world.sim.state.user(ACCOUNT_UPN).password_policies is None


async def test_reset_writes_the_store_and_never_shows_the_password(world: World) -> None:
    world.reset(["bad-credentials:wrong-password"])
    stored = world.folder / "migsvc.password"
    fixer = RestoreSignIn()
    async with world.open_context(EXO, "bad-credentials", write=True) as ctx:
        [step] = (await fixer.plan(ctx, await CredentialsRejected().detect(ctx))).steps
        assert step.irreversible and step.call.body["passwordProfile"]["password"] == "***"
        user_id = world.sim.state.user(ACCOUNT_UPN).id
        assert step.params == {"user_id": user_id, "store": "file:migsvc.password",
                               "store_base": str(world.folder), "shared_key": f"user:{user_id}"}
        await fixer.apply_step(ctx, step)
    new = stored.read_text().strip()
    assert world.sim.state.user(ACCOUNT_UPN).password == new and redact.redact(new) == "***"
    async with world.open_context(EXO) as ctx:
        assert (await CredentialsRejected().detect(ctx)).status == Status.OK
        with pytest.raises(ValueError, match="cannot be undone"):
            await fixer.undo_step(ctx, step)


async def test_failed_reset_puts_the_old_password_back(world: World) -> None:
    world.reset(["bad-credentials:wrong-password"])
    world.revoke_admin_permissions("User-PasswordProfile.ReadWrite.All")
    stored = world.folder / "migsvc.password"
    old = stored.read_text()
    fixer = RestoreSignIn()
    async with world.open_context(EXO, "bad-credentials", write=True) as ctx:
        [step] = (await fixer.plan(ctx, await CredentialsRejected().detect(ctx))).steps
        with pytest.raises(WriteFailed, match="403"):
            await fixer.apply_step(ctx, step)
    assert stored.read_text().strip() == old.strip()


async def test_env_password_cannot_be_reset(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["bad-credentials:wrong-password"])
    monkeypatch.setenv("MIGSVC_PASSWORD", "an-old-password")
    async with world.open_context(EXO, "bad-credentials") as ctx:
        account = ctx.connector.account
        assert account is not None
        account.password = SecretRef("env:MIGSVC_PASSWORD")
        plan = await RestoreSignIn().plan(ctx, await CredentialsRejected().detect(ctx))
    assert plan.empty and "cannot be written" in plan.note


async def test_onprem_basic_refused_by_ews(world: World) -> None:
    world.reset(["bad-credentials:wrong-password"])
    async with world.open_context(ONPREM) as ctx:
        finding = await CredentialsRejected().detect(ctx)
    assert finding.status == Status.FOUND
    assert finding.evidence["ews_rejected"] is True and "Basic" in finding.evidence["ews"]["offered"]


async def test_onprem_scheme_not_offered_is_not_a_password_problem(world: World) -> None:
    world.reset(["legacy-auth-disabled"])
    async with world.open_context(ONPREM) as ctx:
        finding = await CredentialsRejected().detect(ctx)
    assert finding.status == Status.OK and "legacy-auth-disabled" in finding.summary


async def test_federated_account(world: World) -> None:
    world.reset(["sso-federated-account"])
    async with world.open_context(EXO) as ctx:
        credentials = await CredentialsRejected().detect(ctx)
        federated = await FederatedAccount().detect(ctx)
    # the password cannot be judged on a federated domain: unknown, naming the cause that hides it
    assert credentials.status == Status.UNKNOWN and credentials.evidence["federated"] is True
    assert credentials.masked_by == ["sso-federated-account"]
    assert federated.status == Status.FOUND and federated.evidence["domain"] == "contoso.com"
    assert federated.evidence["realm"] == "Federated"


async def test_managed_domain_is_ok(world: World) -> None:
    async with world.open_context(EXO) as ctx:
        finding = await FederatedAccount().detect(ctx)
    assert finding.status == Status.OK and finding.evidence["authentication_type"] == "Managed"


def test_generated_passwords_are_complex_and_masked() -> None:
    values = {new_password() for _ in range(20)}
    assert len(values) == 20
    for value in values:
        classes = ("[a-z]", "[A-Z]", r"\d", "[^A-Za-z0-9]")
        assert len(value) == 24 and all(re.search(p, value) for p in classes)
        assert redact.redact(f"x {value} y") == "x *** y"


async def test_onprem_server_error_is_not_a_verdict_on_the_password(world: World) -> None:
    # HTTP 500 from on-premises EWS (every attempt): the password was never judged, so unknown, not ok
    world.reset(["bad-credentials:wrong-password"])
    world.sim.set_faults({"errors": {"rate": 1.0, "status": 500, "services": ["ews"], "path": "onprem"}})
    try:
        async with world.open_context(ONPREM) as ctx:
            finding = await CredentialsRejected().detect(ctx)
    finally:
        world.sim.set_faults({})
    assert finding.status == Status.UNKNOWN, finding.summary
    assert "ErrorInternalServerError" in finding.summary


async def test_federated_onprem_account_behind_a_refused_scheme_names_both_masks(world: World) -> None:
    world.reset(["legacy-auth-disabled", "sso-federated-account"])
    async with world.open_context(ONPREM) as ctx:
        finding = await CredentialsRejected().detect(ctx)
    assert finding.status == Status.UNKNOWN
    assert finding.masked_by == ["sso-federated-account", "legacy-auth-disabled"]
