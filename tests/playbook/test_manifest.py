"""The agent's app registration as data: tiers, requiredResourceAccess, Azure CLI commands, extra grants."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.playbook.load import load_playbooks
from agent.playbook.manifest import RESOURCE_APP_IDS, ROLE_IDS, manifest, needs
from agent.playbook.permissions import GRAPH, SHAREPOINT, Grants, extra_grants, split


@pytest.fixture(scope="module")
def playbooks() -> list[Any]:
    return load_playbooks()


def test_every_declared_permission_has_an_app_role_id(playbooks: list[Any]) -> None:
    for need in needs(playbooks):
        resource, name = split(need.permission)
        assert name in ROLE_IDS[resource], need.permission


def test_tiers_grow_with_risk(playbooks: list[Any]) -> None:
    read, fix, high = (set(manifest(playbooks, t)["permissions"]) for t in ("read", "fix", "fix-high"))
    assert read < fix < high
    assert "User.Read.All" in read and "User.ReadWrite.All" not in read  # detectors only read
    assert "LicenseAssignment.ReadWrite.All" in fix  # a medium-risk fix
    assert "Policy.ReadWrite.ConditionalAccess" in high - fix  # a high-risk one
    assert "Sites.FullControl.All" not in {split(p)[1] for p in high if split(p)[0] == GRAPH}


def test_the_manifest_is_required_resource_access_with_cli_commands(playbooks: list[Any]) -> None:
    app_id = "11111111-2222-3333-4444-555555555555"
    data = manifest(playbooks, "fix", app_id=app_id)
    by_app = {r["resourceAppId"]: r["resourceAccess"] for r in data["requiredResourceAccess"]}
    assert set(by_app) == {RESOURCE_APP_IDS[GRAPH], RESOURCE_APP_IDS[SHAREPOINT]}
    assert {"id": ROLE_IDS[GRAPH]["User.Read.All"], "type": "Role"} in by_app[RESOURCE_APP_IDS[GRAPH]]
    assert data["azure_cli"][-1] == f"az ad app permission admin-consent --id {app_id}"
    assert all(cmd.startswith("az ad app permission") for cmd in data["azure_cli"])
    assert data["conditional"] == {"GroupMember.Read.All": "the connector's scope.users is a group"}


def test_extra_grants_are_unused_or_broader(playbooks: list[Any]) -> None:
    grants = Grants("t", {GRAPH: ["User.Read.All", "Directory.Read.All", "Mail.ReadWrite"], SHAREPOINT: []})
    extra = extra_grants(grants, playbooks)
    assert "Graph:User.Read.All" not in extra
    assert extra["Graph:Mail.ReadWrite"] == []  # needed by nothing
    assert "Graph:User.Read.All" in extra["Graph:Directory.Read.All"]  # broader than needed


def test_the_command_prints_the_manifest_and_refuses_an_unknown_tier() -> None:
    result = CliRunner().invoke(app, ["permissions", "--manifest", "--tier", "read"])
    assert result.exit_code == 0 and json.loads(result.stdout)["tier"] == "read"
    bad = CliRunner().invoke(app, ["permissions", "--manifest", "--tier", "admin"])
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr
