"""`agent init` end to end against a simulated tenant the agent was never set up in: device code sign-in
(auto-approved), app + certificate + service principal + grants, config written (no hand-written YAML),
`agent diagnose` finds the broken cause, and `agent undo <init run>` removes everything init made."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config.load import load_config
from agent.simulator import Simulator
from agent.simulator.graph.roles import APPLICATION_ADMIN, GLOBAL_ADMIN
from agent.simulator.identity.device import INTERVAL_KEY
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
APP_NAME = "m365-401-agent"


class Setup:
    """A fresh tenant without the agent's app, and `agent init` pointed at it."""

    def __init__(self, sim: Simulator, folder: Path, switches: tuple[str, ...] = (),
                 breaks: tuple[str, ...] = ()) -> None:
        self.sim, self.folder = sim, folder
        sim.apply_scenario({"users": 4, "break": list(breaks), "switch": ["agent-app-missing", *switches]})
        sim.state.extras[INTERVAL_KEY] = 0  # the simulated admin approves at once: poll without waiting
        self.out = folder / "agent.yaml"
        self.runner = CliRunner()
        self.env = {"AGENT_STATE_DIR": str(folder / "state"), "AGENT_CONFIG": str(self.out)}

    def args(self, *extra: str, checks: bool = False) -> list[str]:
        return ["init", "--tenant", "contoso.onmicrosoft.com", "--authority-host", self.sim.base_url,
                "--graph-url", f"{self.sim.base_url}/v1.0",
                "--ews-url", f"{self.sim.base_url}/EWS/Exchange.asmx",
                "--ca-bundle", self.sim.ca_path, "--out", str(self.out), "--wait", "30",
                "--checks" if checks else "--no-checks", *extra]

    def run(self, *argv: str) -> Any:
        return self.runner.invoke(app, list(argv), env=self.env, catch_exceptions=False)

    def init(self, *extra: str, checks: bool = False) -> Any:
        return self.run(*self.args(*extra, checks=checks))

    def agent_apps(self) -> list[Any]:
        return [a for a in self.sim.state.applications.values() if a.unique_name == APP_NAME]

    def writes(self, since: int) -> list[dict[str, Any]]:
        return [e for e in self.sim.request_log.entries(since=since) if e.get("wrote")]


def _run_id(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("run "))


def test_init_diagnose_undo_round_trip(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path, breaks=("exo-app-missing-full-access",))
    assert not s.agent_apps() and not s.out.exists()

    done = s.init(checks=True)  # then `agent permissions` and a read-only `agent diagnose`
    assert done.exit_code == 0, done.stdout + done.stderr
    assert "agent permissions exited" in done.stdout and "agent diagnose exited 3" in done.stdout
    run_id = _run_id(done.stdout)
    [made] = s.agent_apps()
    key = tmp_path / "agent-admin.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and "PRIVATE KEY" in key.read_text()
    assert [k.thumbprint for k in made.key_credentials]  # only the certificate went to the tenant
    assert "PRIVATE KEY" not in json.dumps([e.get("body") for e in sim.request_log.entries()], default=str)
    sp = sim.state.sp_by_app_id(made.app_id)
    assert sp is not None
    grants = [g for g in sim.state.app_role_assignments.values() if g.principal_id == sp.id]
    assert len(grants) >= 5  # the read tier's Graph roles and SharePoint Sites.FullControl.All
    assert "init:" in done.stderr  # progress on stderr

    config = load_config(s.out)  # written by init, validated by the agent's own loader
    tenant = config.tenants[0]
    assert tenant.admin.client_id == made.app_id and tenant.admin.method == "certificate"
    assert tenant.endpoints.sharepoint_root and tenant.endpoints.cloud == "public"
    connector_app = sim.state.extras["connector_app_id"]
    connector = next(c for c in config.connectors if c.app and c.app.client_id == connector_app)
    assert connector.kind == "exchange-online"

    diagnosed = s.run("diagnose", "-o", "json")
    assert diagnosed.exit_code == 3, diagnosed.stdout + diagnosed.stderr
    rows = json.loads(diagnosed.stdout)["results"]
    assert any(r["cause"] == "exo-app-missing-full-access" and r["status"] == "found" for r in rows)

    seq = sim.request_log.last_seq
    undone = s.run("undo", run_id)
    assert undone.exit_code == 0, undone.stdout + undone.stderr
    assert not s.agent_apps() and sim.state.sp_by_app_id(made.app_id) is None
    assert not [g for g in sim.state.app_role_assignments.values() if g.principal_id == sp.id]
    methods = [e["method"] for e in s.writes(seq)]
    assert methods.count("DELETE") == len(grants) + 2  # each grant, the service principal, the app
    assert not s.out.exists() and not key.exists()  # unchanged since init wrote them


def test_dry_run_changes_nothing_and_prints_every_call(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path)
    seq = sim.request_log.last_seq
    done = s.init("--dry-run")
    assert done.exit_code == 3, done.stdout + done.stderr
    assert s.writes(seq) == [] and not s.agent_apps() and not s.out.exists()
    assert "would create-app: PATCH" in done.stdout and "would grant-app-role: POST" in done.stdout
    assert "<certificate, " in done.stdout and "PRIVATE KEY" not in done.stdout
    assert not (tmp_path / "agent-admin.pem").exists()


def test_rerun_refuses_to_overwrite_and_update_resyncs(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path)
    assert s.init().exit_code == 0
    again = s.init()
    assert again.exit_code == 2 and "exists" in again.stderr and "--force" in again.stderr
    refused = s.init("--force", "--no-connectors")  # the app exists: refused before any run is journaled
    assert refused.exit_code == 2 and "--update" in refused.stderr
    from agent.journal.store import Journal

    with Journal.in_dir(tmp_path / "state") as journal:
        assert [r.mode for r in journal.runs()] == ["init"]
    [made] = s.agent_apps()
    sp = sim.state.sp_by_app_id(made.app_id)
    assert sp is not None
    lost = next(g for g in sim.state.app_role_assignments.values() if g.principal_id == sp.id)
    sim.state.delete_app_role_assignment(lost.id)  # a grant removed by hand since
    updated = s.init("--update")
    assert updated.exit_code == 0, updated.stdout + updated.stderr
    assert "granted: " in updated.stdout and "already held" in updated.stdout
    assert len(s.agent_apps()) == 1
    assert any(g.app_role_id == lost.app_role_id and g.principal_id == sp.id
               for g in sim.state.app_role_assignments.values())


def test_device_code_blocked_one_line_nothing_made(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path, switches=("device-code-blocked",))
    seq = sim.request_log.last_seq
    done = s.init()
    assert done.exit_code == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "AADSTS53003" in lines[0] and "--browser" in lines[0]
    assert s.writes(seq) == [] and not s.agent_apps()


def test_admin_without_role_one_line_nothing_made(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path, switches=("admin-without-role",))
    seq = sim.request_log.last_seq
    done = s.init()
    assert done.exit_code == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Application Administrator" in lines[0] and "nothing was changed" in lines[0]
    assert s.writes(seq) == [] and not s.agent_apps()


def test_refused_grant_names_role_and_consent_url_and_is_journaled(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path)
    admin = sim.state.find_user(str(sim.state.extras["admin_upn"]))
    assert admin is not None
    sim.state.directory_roles[GLOBAL_ADMIN].remove(admin.id)  # an Application Administrator only:
    sim.state.directory_roles.setdefault(APPLICATION_ADMIN, []).append(admin.id)  # Graph grants refused
    done = s.init()
    assert done.exit_code == 4, done.stdout + done.stderr
    refused = [line for line in done.stderr.splitlines() if line.startswith("refused: Microsoft Graph")]
    assert refused and "User.Read.All" in done.stderr
    assert "adminconsent?client_id=" in done.stderr and "agent init --update" in done.stderr
    [made] = s.agent_apps()
    sp = sim.state.sp_by_app_id(made.app_id)
    assert sp is not None
    undone = s.run("undo", _run_id(done.stdout))  # what was made is journaled: undo removes it all
    assert undone.exit_code == 0, undone.stdout + undone.stderr
    assert not s.agent_apps() and sim.state.sp_by_app_id(made.app_id) is None


def test_connectors_discover_lists_the_connector_app(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path)
    done = s.run("connectors", "discover", "--tenant", "contoso.onmicrosoft.com", "--authority-host",
                 sim.base_url, "--graph-url", f"{sim.base_url}/v1.0", "--ca-bundle", sim.ca_path)
    assert done.exit_code == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if sim.state.extras["connector_app_id"] in x)
    assert "owner: tenant" in line and "Exchange full_access_as_app" in line
    exo = sim.state.sp_by_app_id(EXCHANGE_APP_ID)
    assert exo is not None and exo.role_by_value("full_access_as_app") is not None
    assert FULL_ACCESS_AS_APP


def test_vendor_owned_app_is_marked_and_judged_by_its_grants(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path, switches=("vendor-connector",))
    done = s.init()
    assert done.exit_code == 0, done.stdout + done.stderr
    vendor = next(x for x in done.stdout.splitlines() if "Fabrikam Migration Service" in x)
    assert "owner: vendor" in vendor and "vendor-held credential" in vendor
    config = load_config(s.out)
    connector = next(c for c in config.connectors if c.app and c.app.owner == "vendor")
    diagnosed = s.run("diagnose", "--connector", connector.name, "-o", "json")
    rows = {r["cause"]: r for r in json.loads(diagnosed.stdout)["results"]}
    assert rows["exo-app-missing-full-access"]["status"] == "ok"  # judged from its grant, not its token
    assert "skipped" in json.dumps(rows["exo-app-missing-full-access"]["evidence"])


def test_connectors_add_asks_only_for_the_secrets_and_takes_a_pfx(sim: Simulator, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from agent.cli.connectors import add_connector
    from agent.simulator.scenarios.contoso import make_certificate

    s = Setup(sim, tmp_path)
    assert s.init("--no-connectors").exit_code == 0
    cert = make_certificate("vendor-pfx")
    key = serialization.load_pem_private_key(cert.pem.encode(), None)
    pfx = tmp_path / "connector.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"c", key, x509.load_pem_x509_certificate(cert.public_pem.encode()), None,  # type: ignore[arg-type]
        BestAvailableEncryption(b"pfx-pass")))
    asked: list[str] = []
    answers = {"password of connector.pfx: ": "pfx-pass", "password of migsvc@contoso.onmicrosoft.com: "
                                                          "": "pw"}

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return answers[prompt]

    line = add_connector(s.out, sim.state.extras["connector_app_id"], "onedrive", "files", secret=False,
                         pfx=pfx, account="migsvc@contoso.onmicrosoft.com", vendor=False, ask=ask)
    assert "added connector files" in line and len(asked) == 2
    config = load_config(s.out)
    files = config.connector("files")
    assert files.app is not None and files.app.certificate is not None
    assert "PRIVATE KEY" in files.app.certificate.resolve() and "pw" not in s.out.read_text()
    assert stat.S_IMODE((tmp_path / "files.pem").stat().st_mode) == 0o600
    with pytest.raises(Exception, match="wrong password"):
        add_connector(s.out, "11111111-1111-1111-1111-111111111111", "onedrive", "bad", secret=False,
                      pfx=pfx, account=None, vendor=False, ask=lambda prompt: "nope")


def test_adopt_uses_an_existing_app_and_undo_restores_it(sim: Simulator, tmp_path: Path) -> None:
    from agent.simulator.scenarios.contoso import ADMIN_APP_ID

    s = Setup(sim, tmp_path)
    sim.apply_scenario({"users": 4})  # the agent's app exists, registered by hand
    sim.state.extras[INTERVAL_KEY] = 0
    app = sim.state.application_by_app_id(ADMIN_APP_ID)
    assert app is not None
    keys_before, access_before = list(app.key_credentials), list(app.required_resource_access)
    done = s.init("--adopt", ADMIN_APP_ID, "--no-connectors")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert len(app.key_credentials) == len(keys_before) + 1  # ours added next to the existing key
    assert "held beyond what the tier needs" in done.stdout  # over-privilege reported, not removed
    assert load_config(s.out).tenants[0].admin.client_id == ADMIN_APP_ID
    undone = s.run("undo", _run_id(done.stdout))
    assert undone.exit_code == 0, undone.stdout + undone.stderr
    assert [k.thumbprint for k in app.key_credentials] == [k.thumbprint for k in keys_before]
    assert app.required_resource_access == access_before and ADMIN_APP_ID in {
        a.app_id for a in sim.state.applications.values()}


def test_init_in_gcc_high_finds_the_cloud_and_asks_for_its_audiences(tmp_path: Path) -> None:
    with Simulator(users=2, cloud="gcchigh") as gov:
        s = Setup(gov, tmp_path)
        done = s.init("--no-connectors")
        assert done.exit_code == 0, done.stdout + done.stderr
        assert "in the gcchigh cloud" in done.stderr
        tenant = load_config(s.out).tenants[0]
        assert tenant.endpoints.cloud == "gcchigh"
        assert tenant.endpoints.graph_resource == "https://graph.microsoft.us"
        assert tenant.endpoints.ews_resource == "https://outlook.office365.us"
        # the tenant refuses tokens for the public cloud's Graph: the grants reaching the app's own token
        # (init waits for them) prove every token was asked for graph.microsoft.us
        assert "granted: " in done.stdout
