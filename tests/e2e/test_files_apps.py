"""End to end, the connector-app causes of a OneDrive connector: secret, certificate, installation."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID, GRAPH_ROLES
from tests.e2e.harness import World, fix_cycle

CONNECTOR = "files-onedrive"
FILE_CAUSES = ("app-credentials-invalid", "app-certificate-missing", "no-onedrive-access",
               "app-not-installed")
HIGH = ("--yes", "--allow-risk", "high")
DAY = 86400.0


def connector_app(world: World):  # type: ignore[no-untyped-def]
    return world.sim.state.application(CONNECTOR_APP_ID)


def store(world: World) -> Path:
    """The connector's secret store in the simulator's config: file:connector.secret next to it."""
    return world.folder / "connector.secret"


@pytest.mark.parametrize("variant, code, problem", [("expired", 7000222, "expired"),
                                                     ("wrong-secret", 7000215, "wrong")])
def test_app_credentials_invalid(world: World, variant: str, code: int, problem: str) -> None:
    world.reset([f"app-credentials-invalid:{variant}"])
    old_secret = store(world).read_text()
    keys_before = {c.key_id for c in connector_app(world).password_credentials}
    runs = fix_cycle(world, CONNECTOR, "app-credentials-invalid", FILE_CAUSES)
    evidence = runs["diagnose"].result(CONNECTOR, "app-credentials-invalid")["evidence"]
    assert evidence["token"]["aadsts"] == code and evidence["problem"] == problem
    change = runs["dry_run"].result(CONNECTOR, "app-credentials-invalid")["changes"][0]
    assert change["call"]["method"] == "POST" and change["call"]["url"].endswith("/addPassword")
    assert set(change["call"]["body"]["passwordCredential"]) == {"displayName", "endDateTime"}
    new_secret = store(world).read_text().strip()
    assert new_secret != old_secret.strip()  # the store keeps the new value after undo, as documented
    assert {c.key_id for c in connector_app(world).password_credentials} == keys_before  # removed again
    undo_row = runs["undo"].json["results"][0]
    assert undo_row["changes"][0]["call"]["url"].endswith("/removePassword")


def test_a_secret_expiring_soon_is_reported_and_rotated(world: World) -> None:
    cred = connector_app(world).password_credentials[0]
    cred.end = time.time() + 10 * DAY
    result = world.run("diagnose", "-o", "json", "--connector", CONNECTOR)
    row = result.result(CONNECTOR, "app-credentials-invalid")
    assert result.code == 3 and row["status"] == "found"
    assert row["evidence"]["problem"] == "expiring" and row["evidence"]["expiring_in_days"] in (9, 10)
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)
    assert fixed.code == 0, fixed.result(CONNECTOR, "app-credentials-invalid")
    assert len(connector_app(world).password_credentials) == 2  # the old one still works meanwhile
    cred.end = time.time() + 200 * DAY
    assert world.run("diagnose", "-o", "json", "--connector", CONNECTOR).code == 0


def test_the_new_secret_appears_nowhere(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.reset(["app-credentials-invalid"])
    caplog.set_level(logging.DEBUG)
    runs = [world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)]
    assert runs[0].code == 0, runs[0].stderr
    runs.append(world.run("fix", "--yes", "--connector", CONNECTOR))  # the table output too
    runs.append(world.run("history", runs[0].run_id, "-o", "json"))
    runs.append(world.run("undo", runs[0].run_id, "-o", "json"))
    secret = store(world).read_text().strip()
    assert len(secret) >= 16
    for run in runs:
        assert secret not in run.stdout and secret not in run.stderr
    for path in world.state_dir.iterdir():  # the journal database, its WAL and anything beside it
        assert secret.encode() not in path.read_bytes(), path
    assert caplog.records
    assert not [r for r in caplog.records if secret in r.getMessage() or secret in (r.exc_text or "")]


@pytest.mark.parametrize("variant", ["missing", "expired"])
def test_app_certificate_missing(world: World, variant: str) -> None:
    world.reset([f"app-certificate-missing:{variant}"])
    thumbprint = world.sim.state.extras["connector_cert"].thumbprint
    before = [(k.key_id, k.thumbprint, int(k.end)) for k in connector_app(world).key_credentials]
    runs = fix_cycle(world, CONNECTOR, "app-certificate-missing", FILE_CAUSES)
    evidence = runs["diagnose"].result(CONNECTOR, "app-certificate-missing")["evidence"]
    assert evidence["thumbprint"] == thumbprint and evidence["problem"] == variant
    assert evidence["token"]["aadsts"] == (700027 if variant == "missing" else 50013)
    body = runs["dry_run"].result(CONNECTOR, "app-certificate-missing")["changes"][0]["call"]["body"]
    assert "PRIVATE KEY" not in str(body)
    others = [k for k in before if k[1] != thumbprint]
    assert len(body["keyCredentials"]) == len(others) + 1  # the app's other keys are kept
    after = [(k.key_id, k.thumbprint, int(k.end)) for k in connector_app(world).key_credentials]
    assert after == before  # undo restored the exact list (Graph dates carry whole seconds)


def test_app_not_installed(world: World) -> None:
    world.reset(["app-not-installed"])
    seq = world.log_seq()
    medium_only = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)
    assert medium_only.code == 3 and world.writes_since(seq) == []
    assert medium_only.result(CONNECTOR, "app-not-installed")["status"] == "planned"
    runs = fix_cycle(world, CONNECTOR, "app-not-installed", FILE_CAUSES, HIGH)
    evidence = runs["diagnose"].result(CONNECTOR, "app-not-installed")["evidence"]
    assert evidence["service_principal"] is None and evidence["token"]["aadsts"] == 700016
    changes = runs["dry_run"].result(CONNECTOR, "app-not-installed")["changes"]
    assert [c["action"] for c in changes] == ["create-service-principal"] + ["grant-app-role"] * 5
    fixed = runs["fix"].result(CONNECTOR, "app-not-installed")
    assert fixed["risk"] == "high"
    assert world.sim.state.sp_by_app_id(CONNECTOR_APP_ID) is None  # undone: uninstalled again


def test_consent_missing_on_an_installed_app(world: World) -> None:
    tenant = world.sim.state
    client = tenant.sp_by_app_id(CONNECTOR_APP_ID)
    assert client is not None
    wanted = {GRAPH_ROLES["User.Read.All"], GRAPH_ROLES["Files.ReadWrite.All"]}
    revoked = [g for g in tenant.app_role_assignments.values()
               if g.principal_id == client.id and g.app_role_id in wanted]
    for grant in revoked:
        tenant.delete_app_role_assignment(grant.id)
    diagnosed = world.run("diagnose", "-o", "json", "--connector", CONNECTOR)
    row = diagnosed.result(CONNECTOR, "app-not-installed")
    assert row["status"] == "found"
    assert row["evidence"]["missing"] == ["Microsoft Graph: User.Read.All",
                                          "Microsoft Graph: Files.ReadWrite.All"]
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", CONNECTOR)
    assert fixed.code == 0
    assert [c["action"] for c in fixed.result(CONNECTOR, "app-not-installed")["changes"]] == \
        ["grant-app-role", "grant-app-role"]
