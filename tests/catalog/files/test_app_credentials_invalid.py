"""The app-credential detectors and fixers driven directly, with real clients, against the simulator."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from agent.catalog.files.app_certificate_missing import CertificateNotRegistered, RegisterCertificate
from agent.catalog.files.app_credentials_invalid import ClientSecretInvalid, RotateClientSecret
from agent.catalog.files.app_not_installed import InstallServicePrincipal, ServicePrincipalMissing
from agent.catalog.shared.app_keys import KeyView
from agent.config.secrets import SecretStore
from agent.errors import SecretError
from agent.guard import DryRunWrite
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID, make_certificate
from tests.e2e.harness import World

FILES = "files-onedrive"


@pytest.fixture
def world(sim: Simulator, tmp_path: Path) -> World:
    return World(sim, tmp_path).reset()


def secrets_of_app(world: World) -> list[str]:
    return [c.key_id for c in world.sim.state.application(CONNECTOR_APP_ID).password_credentials]


async def test_a_failed_store_write_takes_the_new_secret_away_again(world: World, tmp_path: Path) -> None:
    world.reset(["app-credentials-invalid"])
    before = secrets_of_app(world)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    async with world.open_context(FILES, "app-credentials-invalid") as ctx:
        finding = await ClientSecretInvalid().detect(ctx)
        plan = await RotateClientSecret().plan(ctx, finding)
    async with world.open_context(FILES, write=True) as ctx:
        assert ctx.connector.app is not None
        ctx.connector.app.secret_store = SecretStore(f"file:{blocker}/connector.secret")
        with pytest.raises(SecretError):
            await RotateClientSecret().apply_step(ctx, plan.steps[0])
    assert secrets_of_app(world) == before  # added, then removed: nobody could have used it


async def test_apply_in_a_dry_run_context_raises_before_any_write(world: World) -> None:
    world.reset(["app-credentials-invalid"])
    async with world.open_context(FILES, "app-credentials-invalid") as ctx:
        plan = await RotateClientSecret().plan(ctx, await ClientSecretInvalid().detect(ctx))
        seq = world.log_seq()
        with pytest.raises(DryRunWrite):
            await RotateClientSecret().apply_step(ctx, plan.steps[0])
    assert world.requests_since(seq) == []


async def test_no_secret_store_means_nothing_to_plan(world: World) -> None:
    world.reset(["app-credentials-invalid"])
    async with world.open_context(FILES, "app-credentials-invalid") as ctx:
        assert ctx.connector.app is not None
        ctx.connector.app.secret_store = None
        finding = await ClientSecretInvalid().detect(ctx)
        plan = await RotateClientSecret().plan(ctx, finding)
    assert finding.status == Status.FOUND and plan.empty and "secret_store" in plan.note


async def test_a_refusal_that_does_not_test_the_secret_needs_the_registration(world: World) -> None:
    world.reset(["app-not-installed"])
    world.revoke_admin_permissions("Application.ReadWrite.All")
    async with world.open_context(FILES) as ctx:
        secret = await ClientSecretInvalid().detect(ctx)
        installed = await ServicePrincipalMissing().detect(ctx)
    assert secret.status == Status.UNKNOWN and "Application.Read.All" in (secret.reason or "")
    assert installed.status == Status.UNKNOWN  # a failed read is never an absent service principal


async def test_the_probe_alone_decides_a_wrong_secret(world: World) -> None:
    world.reset(["app-credentials-invalid:wrong-secret"])
    world.revoke_admin_permissions("Application.ReadWrite.All")
    async with world.open_context(FILES) as ctx:
        finding = await ClientSecretInvalid().detect(ctx)
    assert finding.status == Status.FOUND and finding.evidence["problem"] == "wrong"
    assert "not checked" not in str(finding.evidence) and "secrets" not in finding.evidence


async def test_an_expired_certificate_cannot_be_registered(world: World, tmp_path: Path) -> None:
    expired = make_certificate("expired-connector", days=0)
    public = tmp_path / "expired.pem"
    public.write_text(expired.public_pem)
    async with world.open_context(FILES, "app-certificate-missing") as ctx:
        assert ctx.connector.app is not None
        ctx.connector.app.certificate, ctx.connector.app.certificate_public = None, public
        finding = await CertificateNotRegistered().detect(ctx)
        plan = await RegisterCertificate().plan(ctx, finding)
    assert finding.status == Status.FOUND and finding.evidence["token"].startswith("not probed")
    assert finding.evidence["thumbprint"] == expired.thumbprint
    assert plan.empty and "expired" in plan.note


def test_key_view_reads_the_thumbprint_from_the_key_or_the_identifier() -> None:
    der = b"certificate bytes"
    thumb = hashlib.sha1(der).hexdigest().upper()
    with_key = KeyView({"key": base64.b64encode(der).decode(), "endDateTime": "2000-01-01T00:00:00Z"})
    by_identifier = KeyView({"customKeyIdentifier": base64.b64encode(bytes.fromhex(thumb)).decode()})
    assert with_key.thumbprint == by_identifier.thumbprint == thumb
    assert with_key.expired and not by_identifier.expired
    assert "key" not in with_key.summary()  # certificate bytes stay out of reports


async def test_install_grants_each_role_on_the_new_service_principal(world: World) -> None:
    world.reset(["app-not-installed"])
    fixer = InstallServicePrincipal()
    async with world.open_context(FILES, "app-not-installed") as ctx:
        plan = await fixer.plan(ctx, await ServicePrincipalMissing().detect(ctx))
    assert plan.steps[1].call.body["principalId"].startswith("<")  # created by the step before it
    done = []
    async with world.open_context(FILES, write=True) as ctx:
        for step in plan.steps:
            step.undo = {**(step.undo or {}), **await fixer.apply_step(ctx, step)}
            done.append(step)
    sp = world.sim.state.sp_by_app_id(CONNECTOR_APP_ID)
    assert sp is not None and {s.undo["principal_sp_id"] for s in done[1:]} == {sp.id}
    async with world.open_context(FILES) as ctx:
        assert (await ServicePrincipalMissing().detect(ctx)).status == Status.OK
        reverse = [await fixer.undo_step(ctx, s) for s in reversed(done)]
    assert [r.action for r in reverse] == ["revoke-app-role"] * 5 + ["delete-service-principal"]
    assert reverse[-1].call.url.endswith(f"/servicePrincipals/{sp.id}")
