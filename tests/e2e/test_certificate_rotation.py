"""End to end: a connector certificate that expires soon is reported, and rotated when the policy says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.catalog.files.app_certificate_missing import CertificateNotRegistered, RegisterCertificate
from agent.catalog.shared.app_keys import connector_certificate
from agent.clients.tokens import probe_app_certificate
from agent.config.load import load_config
from agent.config.secrets import SecretRef
from agent.model import Status
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID, AppCertificate, make_certificate
from tests.e2e.harness import World
from tests.resilience import MAIL_PLAYBOOKS

GRAPH_SCOPE = "https://graph.microsoft.com/.default"  # the simulated tenant is in the public cloud

CONNECTOR, CAUSE = "files-onedrive", "app-certificate-missing"
ONLY = ("--connector", CONNECTOR, "--only", CAUSE)


@pytest.fixture
def files_world(sim: Simulator, tmp_path: Path) -> World:
    """A healthy tenant with the files playbooks only (heal runs touch no other connector's causes)."""
    return World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS.parent / "files"]).reset(users=4)


def expire_soon(world: World, days: int = 10) -> AppCertificate:
    """Give the connector a valid certificate that ends in days-1 days, registered on its app."""
    cert = make_certificate("contoso-migration-connector", days=days)  # valid from yesterday
    (world.folder / "connector.pem").write_text(cert.pem)
    tenant = world.sim.state
    app = tenant.application(CONNECTOR_APP_ID)
    tenant.set_key_credentials(app.id, [*app.key_credentials, cert.key_credential("short-lived")])
    return cert


def thumbprints(world: World) -> set[str]:
    return {k.thumbprint for k in world.sim.state.application(CONNECTOR_APP_ID).key_credentials}


def test_an_expiring_certificate_is_reported(files_world: World) -> None:
    cert = expire_soon(files_world)
    result = files_world.run("diagnose", "-o", "json", *ONLY)
    row = result.result(CONNECTOR, CAUSE)
    assert result.code == 3 and row["status"] == "found", row
    evidence = row["evidence"]
    assert evidence["problem"] == "expiring" and evidence["thumbprint"] == cert.thumbprint
    assert isinstance(evidence["expiring_in_days"], float) and 8.5 < evidence["expiring_in_days"] <= 9.0
    assert evidence["token"]["ok"] is True and "still works" in row["summary"]


def test_rotation_waits_for_the_policy_then_rotates(files_world: World,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old = expire_soon(files_world)
    before = thumbprints(files_world)
    seq = files_world.log_seq()
    warned = files_world.run("heal", "-o", "json", *ONLY)
    row = warned.result(CONNECTOR, CAUSE)
    assert warned.code == 3 and row["status"] == "planned", (warned.stderr, row)
    assert "rotate_expiring_days is off" in row["reason"]
    assert files_world.writes_since(seq) == [] and thumbprints(files_world) == before
    [entry] = files_world.run("approvals", "-o", "json").json["pending"]
    assert entry["steps"][0]["action"] == "rotate-certificate"

    policy = files_world.folder / "policy.yaml"
    policy.write_text("rotate_expiring_days: 25\n")
    rotated = files_world.run("heal", "-o", "json", "--policy", str(policy), *ONLY)
    assert rotated.code == 0, (rotated.stderr, rotated.json)
    assert rotated.result(CONNECTOR, CAUSE)["status"] == "fixed"
    pem = (files_world.folder / "connector.pem").read_text()
    assert pem.strip() != old.pem.strip() and "PRIVATE KEY" in pem
    new = load_config(files_world.config).connector(CONNECTOR)
    assert new.app is not None and new.app.certificate is not None
    added = thumbprints(files_world) - before
    assert len(added) == 1 and old.thumbprint in thumbprints(files_world)  # the old key works meanwhile
    public = connector_certificate(new)  # read as the detector reads it: PEM first, then the public file
    assert public is not None and public.thumbprint in added
    assert new.app.certificate_public is not None
    public_text = Path(new.app.certificate_public).read_text()
    assert "PRIVATE KEY" not in public_text and public_text.strip() in pem  # the same, new certificate
    tenant = load_config(files_world.config).tenant_of(new)
    assert probe_app_certificate(tenant, CONNECTOR_APP_ID, pem, GRAPH_SCOPE).ok
    clean = files_world.run("diagnose", "-o", "json", *ONLY)
    assert clean.code == 0 and clean.result(CONNECTOR, CAUSE)["evidence"]["thumbprint"] in added

    key = pem[:pem.index("-----END PRIVATE KEY-----")].split("-----BEGIN PRIVATE KEY-----")[1].strip()
    lines = [line for line in key.splitlines() if len(line) >= 32]
    assert lines
    outputs = [rotated, files_world.run("history", rotated.run_id, "-o", "json"),
               files_world.run("undo", rotated.run_id, "-o", "json")]
    for run in outputs:
        assert not [line for line in lines if line in run.stdout + run.stderr]
    for path in files_world.state_dir.iterdir():  # the journal database, its WAL and anything beside it
        data = path.read_bytes()
        assert not [line for line in lines if line.encode() in data], path
    assert not [r for r in caplog.records if any(line in r.getMessage() for line in lines)]
    assert outputs[2].code == 0 and thumbprints(files_world) == before  # undo: the new key is gone again
    assert (files_world.folder / "connector.pem").read_text() == pem  # the file keeps the new certificate


async def test_only_a_file_certificate_can_be_rotated(files_world: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cert = expire_soon(files_world)
    monkeypatch.setenv("CONNECTOR_PEM", cert.pem)
    async with files_world.open_context(CONNECTOR, CAUSE) as ctx:
        assert ctx.connector.app is not None
        ctx.connector.app.certificate = SecretRef("env:CONNECTOR_PEM")
        finding = await CertificateNotRegistered().detect(ctx)
        plan = await RegisterCertificate().plan(ctx, finding)
    assert finding.status == Status.FOUND and finding.evidence["problem"] == "expiring"
    assert plan.empty and "env:" in plan.note and "does not write" in plan.note


def test_a_pending_rotation_can_be_approved(files_world: World) -> None:
    old = expire_soon(files_world)
    warned = files_world.run("heal", "-o", "json", *ONLY)
    assert warned.result(CONNECTOR, CAUSE)["status"] == "planned"
    approved = files_world.run("approve", warned.run_id, "-o", "json")
    # the plan is stable (no key pair exists until the step is applied), so the approval holds
    assert approved.code == 0, (approved.stderr, approved.json)
    assert approved.result(CONNECTOR, CAUSE)["status"] == "fixed"
    assert old.pem.strip() != (files_world.folder / "connector.pem").read_text().strip()
