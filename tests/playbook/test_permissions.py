"""agent permissions: the superset table, token roles, blocked fixes in the engine, the simulated tenant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config.load import load_config
from agent.engine.core import Engine
from agent.journal.store import Journal
from agent.model import Risk, Status
from agent.playbook.permissions import (
    Grants,
    granted_permissions,
    missing_permissions,
    read_grants,
    report_exit_code,
    satisfied_by_grant,
    status,
    tenant_report,
)
from agent.simulator import Simulator
from tests.e2e.harness import World
from tests.fakes import ToyAssignLicence, ToyLicenceMissing, ToyPlaybook, ToyWorld

EXO = "mail-exo"
GRANT = "AppRoleAssignment.ReadWrite.All"


# -- the table -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("granted, needed", [
    ("Application.ReadWrite.All", "Application.Read.All"),
    ("Directory.ReadWrite.All", "User.Read.All"),  # via Directory.Read.All
    ("Directory.Read.All", "Domain.Read.All"),
    ("User.ReadWrite.All", "LicenseAssignment.ReadWrite.All"),
    ("Sites.FullControl.All", "Files.Read.All"),  # via Sites.Read.All
    ("Mail.ReadWrite", "Mail.Read"),
    ("Policy.ReadWrite.ConditionalAccess", "Policy.ReadWrite.SecurityDefaults"),
])
def test_a_grant_satisfies_itself_and_its_subsets(granted: str, needed: str) -> None:
    assert {granted, needed} <= satisfied_by_grant(granted)


@pytest.mark.parametrize("granted, needed", [
    ("Application.Read.All", "Application.ReadWrite.All"),
    ("Policy.ReadWrite.ConditionalAccess", "Policy.Read.All"),  # the docs list both: neither implies it
    ("User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All"),
    ("Directory.Read.All", "Policy.Read.All"),
])
def test_a_grant_does_not_satisfy_more_than_it_is(granted: str, needed: str) -> None:
    assert needed not in satisfied_by_grant(granted)


def test_status_knows_resources_and_unreadable_tokens() -> None:
    granted = {"User.ReadWrite.All", "SharePoint:Sites.FullControl.All", "Graph:Policy.Read.All"}
    assert status("User.Read.All", granted) == "present"
    assert status("Graph:Policy.Read.All", granted) == "present"
    assert status("sharepoint:Sites.Read.All", granted) == "present"
    assert status("Sites.Read.All", granted) == "missing"  # Graph's, not SharePoint's
    assert status("Exchange:full_access_as_app", granted) == "unknown"  # no Exchange token is read
    assert status("Sites.Read.All", granted | {"Graph:*"}) == "unknown"


class _NeedsGrant(ToyAssignLicence):
    name: ClassVar[str] = "toy-needs-grant"
    permissions: ClassVar[tuple[str, ...]] = (GRANT, "Application.Read.All", "SharePoint:Sites.Read.All")


def test_missing_permissions_lists_only_what_is_missing_in_declared_order() -> None:
    short = missing_permissions(_NeedsGrant, {"Application.ReadWrite.All"})
    assert short == [GRANT, "SharePoint:Sites.Read.All"]
    enough = {GRANT, "Directory.Read.All", "SharePoint:Sites.FullControl.All"}
    assert missing_permissions(_NeedsGrant, enough) == []
    assert missing_permissions(ToyAssignLicence, set()) == []  # declares none


# -- reading the tokens --------------------------------------------------------------------------------
@dataclass
class _Token:
    token: str


class _Credential:
    def __init__(self, roles: list[str] | None) -> None:
        self.roles = roles

    def get_token(self, *scopes: str, **kw: Any) -> _Token:
        if self.roles is None:
            raise RuntimeError("AADSTS700027: certificate not registered")
        return _Token(jwt.encode({"aud": scopes[0], "roles": self.roles}, "k" * 32, algorithm="HS256"))


class _Clients:
    """Just what read_grants uses of agent.clients.Clients."""

    def __init__(self, graph: list[str] | None, sharepoint: list[str] | None) -> None:
        self.tenant = load_config_tenant()
        self.graph, self.sharepoint = graph, sharepoint

    def admin_credential(self, *, certificate: bool = False) -> _Credential:
        return _Credential(self.sharepoint if certificate else self.graph)


def load_config_tenant() -> Any:
    from agent.config.model import Tenant

    return Tenant.model_validate({"name": "contoso", "tenant_id": "contoso.onmicrosoft.com",
                                  "admin": {"client_id": "11111111-1111-1111-1111-111111111111",
                                            "client_secret": "env:NOPE"}})


def test_read_grants_takes_the_roles_claims_and_never_guesses_missing() -> None:
    grants = read_grants(_Clients(["User.Read.All", GRANT], None))
    assert grants.roles == {"Graph": ["AppRoleAssignment.ReadWrite.All", "User.Read.All"], "SharePoint": None}
    assert "AADSTS700027" in grants.errors["SharePoint"]
    assert grants.flat() == {"Graph:User.Read.All", f"Graph:{GRANT}", "SharePoint:*"}


async def test_granted_permissions_is_none_for_clients_that_cannot_tell() -> None:
    assert await granted_permissions(object()) is None
    assert await granted_permissions(_Clients(["Mail.Read"], ["Sites.Read.All"])) == {
        "Graph:Mail.Read", "SharePoint:Sites.Read.All"}


def test_tenant_report_and_exit_code() -> None:
    books = [ToyPlaybook("toy-grant", ToyLicenceMissing, _NeedsGrant)]
    ok = tenant_report(Grants("contoso", {"Graph": [GRANT, "Application.Read.All"],
                                          "SharePoint": ["Sites.Read.All"]}), books)
    assert ok["missing"] == {} and report_exit_code({"tenants": [ok]}) == 0
    short = tenant_report(Grants("contoso", {"Graph": ["Application.Read.All"],
                                             "SharePoint": ["Sites.Read.All"]}), books)
    assert short["missing"] == {GRANT: ["toy-grant (fix: toy-needs-grant)"]}
    assert report_exit_code({"tenants": [short]}) == 3


# -- the engine blocks a fix whose permission is missing ----------------------------------------------------
async def test_fix_with_a_missing_permission_is_skipped_before_planning(
        toy_world: ToyWorld, journal: Journal, toy_config_path: Path) -> None:
    toy_world.state["licensed"] = False

    def factory(tenant: Any, connector: Any, guard: Any) -> Any:
        clients: Any = toy_world.factory(tenant, connector, guard)
        clients.tenant = tenant
        clients.admin_credential = _Clients(["Application.Read.All"], ["Sites.Read.All"]).admin_credential
        return clients

    planned: list[str] = []

    class Spy(_NeedsGrant):
        async def plan(self, ctx: Any, finding: Any) -> Any:
            planned.append("plan")
            return await super().plan(ctx, finding)

    book = ToyPlaybook("toy-unlicensed", ToyLicenceMissing, Spy, risk=Risk.LOW)
    engine = Engine(load_config(toy_config_path), [book], journal, factory, lambda plan: True)
    report = await engine.fix("mail1")
    (outcome,) = report.results
    assert outcome.status == Status.SKIPPED
    assert outcome.reason == f"blocked: missing permission {GRANT}"
    assert planned == [] and toy_world.applied == []
    assert report.exit_code == 3


# -- the command ---------------------------------------------------------------------------------------
def test_permissions_without_a_config_lists_what_is_needed(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENT_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["permissions", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tenants"] == []
    exo = next(c for c in data["causes"] if c["id"] == "exo-app-missing-full-access")
    fix = next(s for s in exo["steps"] if s["step"] == "fix")
    assert {"name": GRANT, "status": "unchecked"} in fix["permissions"]


def test_sim_tenant_missing_a_role_names_it_and_fix_skips_its_api(sim: Simulator, tmp_path: Path) -> None:
    world = World(sim, tmp_path).reset(["exo-app-missing-full-access"])
    world.revoke_admin_permissions(GRANT)

    listed = world.run("permissions", "-o", "json")
    assert listed.code == 3, listed.stderr
    (tenant,) = listed.json["tenants"]
    assert tenant["tokens"]["Graph"]["roles"] and GRANT not in tenant["tokens"]["Graph"]["roles"]
    assert list(tenant["missing"]) == [GRANT]
    assert any(u.startswith("exo-app-missing-full-access (fix:") for u in tenant["missing"][GRANT])
    table = world.run("permissions")
    assert f"missing {GRANT}" in table.stdout

    seq = world.log_seq()
    fixed = world.run("fix", "--yes", "--allow-risk", "high", "-o", "json", "--connector", EXO,
                      "--only", "exo-app-missing-full-access")
    row = fixed.result(EXO, "exo-app-missing-full-access")
    assert row["status"] == "skipped" and row["reason"] == f"blocked: missing permission {GRANT}"
    assert fixed.code == 3
    calls = world.requests_since(seq)
    assert calls, "the diagnosis itself talks to the tenant"
    assert not [c for c in calls if "appRoleAssignedTo" in c["path"]]
    assert world.writes_since(seq) == []
