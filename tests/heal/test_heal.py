"""`agent heal`, `approvals`, `approve`, `report`: policy, lock, pending plans, webhooks, output formats."""

from __future__ import annotations

import json
import os
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner, Result

from agent import progress, registry
from agent.cli import main as cli
from agent.cli import session
from agent.config.load import load_config
from agent.context import Context
from agent.engine.approval import AutoApprover
from agent.engine.core import Engine
from agent.engine.job import RunHooks
from agent.heal.policy import Policy
from agent.heal.run import first_detections, heal, widen_warnings
from agent.journal.lock import LOCK_NAME, HealLock
from agent.journal.pending import PendingStore
from agent.journal.store import Journal
from agent.model import Finding, Risk, Status
from agent.registry import Detector
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID
from agent.simulator.state.tenant import EXCHANGE_APP_ID, now
from tests.e2e.harness import World
from tests.fakes import FakeClock, ToyAssignLicence, ToyPlaybook, ToyWorld
from tests.heal.test_notify import HookServer
from tests.resilience import MAIL_PLAYBOOKS, agent_process, wait_for

Invoke = Callable[..., Result]
EXO = "mail-exo"


# -- the toy tenant through the CLI -------------------------------------------------------------------
@pytest.fixture
def agent_cli(toy_world: ToyWorld, toy_config_path: Path, toy_playbooks_dir: Path, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`agent COMMAND ...` on the toy tenant with a private state dir (config and playbooks added)."""
    monkeypatch.setattr(session, "default_clients_factory", lambda: toy_world.factory)
    for name in ("AGENT_CONFIG", "AGENT_PLAYBOOKS", "AGENT_STATE_DIR", "AGENT_HEAL_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(command: str, *args: str, engine: bool = True) -> Result:
        common = ["--config", str(toy_config_path)]
        if engine:
            common += ["--playbooks", str(toy_playbooks_dir)]
        return CliRunner().invoke(cli.app, [command, *common, *args, "--state-dir", str(tmp_path / "state")])

    return invoke


def as_json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_default_policy_fixes_medium_and_keeps_high_pending(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state.update(licensed=False, admins=[])
    healed = agent_cli("heal", "-o", "json")
    assert healed.exit_code == 3, healed.output
    data = as_json(healed)
    assert data["mode"] == "heal" and data["summary"] == {"found": 1, "planned": 1, "fixed": 1}
    rows = {r["cause"]: r for r in data["results"]}
    assert rows["toy-unlicensed"]["status"] == "fixed"
    assert rows["toy-not-admin"]["status"] == "planned" and rows["toy-not-admin"]["risk"] == "high"
    assert rows["toy-not-admin"]["reason"] == (
        "pending approval: high risk is above the heal policy's max_risk medium; apply it with "
        f"`agent approve {data['run_id']} --cause toy-not-admin`")
    assert toy_world.applied == ["assign-licence"]
    assert data["pending"] == [{"connector": "mail1", "cause": "toy-not-admin", "risk": "high", "steps": 1,
                                "reason": rows["toy-not-admin"]["reason"]}]

    listed = agent_cli("approvals", "-o", "json", engine=False)
    assert listed.exit_code == 0, listed.output
    [entry] = as_json(listed)["pending"]
    assert (entry["run_id"], entry["cause"], entry["steps"][0]["action"]) == \
        (data["run_id"], "toy-not-admin", "add-admin")
    table = agent_cli("approvals", engine=False)
    assert "toy-not-admin" in table.stdout and "agent approve RUN_ID" in table.stdout

    approved = agent_cli("approve", data["run_id"], "-o", "json")
    assert approved.exit_code == 0, approved.output
    assert [(r["cause"], r["status"]) for r in as_json(approved)["results"]] == [("toy-not-admin", "fixed")]
    assert "svc" in toy_world.state["admins"]
    assert as_json(agent_cli("approvals", "-o", "json", engine=False))["pending"] == []


def test_approve_bad_run_or_cause_is_bad_input(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state["admins"] = []
    run_id = as_json(agent_cli("heal", "-o", "json"))["run_id"]
    for args, expected in ((("nope",), "unknown run id 'nope'"),
                           ((run_id, "--cause", "toy-unlicensed"), "no pending plan for toy-unlicensed")):
        result = agent_cli("approve", *args)
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert expected in result.stderr and "Traceback" not in result.output


def test_bad_policy_is_one_line_and_exit_2(agent_cli: Invoke, tmp_path: Path, toy_world: ToyWorld) -> None:
    (tmp_path / "p.yaml").write_text("max_risk: medium\nallow: [toy-unlicensed]\ndeny: [nope-cause]\n")
    result = agent_cli("heal", "--policy", str(tmp_path / "p.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: heal policy deny: unknown cause id nope-cause; valid: " \
                                    "toy-federated, toy-not-admin, toy-unlicensed"
    (tmp_path / "p.yaml").write_text("max_risk: reckless\n")
    result = agent_cli("heal", "--policy", str(tmp_path / "p.yaml"))
    assert result.exit_code == 2 and "p.yaml:1: max_risk: invalid value 'reckless'" in result.stderr
    assert toy_world.applied == [] and not (tmp_path / "state" / "journal.sqlite3").exists()


def test_a_held_lock_refuses_the_run(agent_cli: Invoke, tmp_path: Path, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    state = tmp_path / "state"
    state.mkdir()
    with HealLock(state) as held:
        result = agent_cli("heal")
        started = json.loads((state / LOCK_NAME).read_text())["started"]
    assert held.held is False and result.exit_code == 1
    assert result.stderr.strip() == f"error: another heal run (pid {os.getpid()}, started {started}) " \
                                    "holds the lock; nothing was done"
    assert toy_world.applied == [] and not (state / "journal.sqlite3").exists()


def test_every_writing_command_takes_the_lock(agent_cli: Invoke, tmp_path: Path, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    fixed = agent_cli("fix", "--yes", "-o", "json", "--only", "toy-unlicensed")  # a run to undo later
    assert fixed.exit_code == 0, fixed.stderr
    run_id = json.loads(fixed.stdout)["run_id"]
    toy_world.state["licensed"] = False
    applied = list(toy_world.applied)
    with HealLock(tmp_path / "state"):  # a heal run is under way
        refused = [agent_cli("fix", "--yes", "--only", "toy-unlicensed"), agent_cli("undo", run_id)]
        dry = agent_cli("fix", "--dry-run", "--only", "toy-unlicensed")  # reads only: beside heal too
    for result in refused:
        assert result.exit_code == 1 and result.stderr.strip().endswith("holds the lock; nothing was done")
    assert dry.exit_code == 3 and toy_world.applied == applied  # nothing written while the lock was held


def test_a_dead_holder_is_taken_over_with_a_warning(agent_cli: Invoke, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    dead = {"pid": 999_999_999, "started": "2026-11-24T01:00:00+00:00", "host": socket.gethostname(),
            "command": "heal"}
    (state / LOCK_NAME).write_text(json.dumps(dead))
    result = agent_cli("heal")
    assert result.exit_code == 3, result.output  # toy-federated is always found (advice only)
    assert "warning: took over the lock of a heal run that died (pid 999999999" in result.stderr
    assert (state / LOCK_NAME).read_text() == ""


def test_outputs_and_report_of_a_past_run(agent_cli: Invoke, toy_world: ToyWorld, tmp_path: Path) -> None:
    toy_world.state["licensed"] = False
    html = tmp_path / "heal.html"
    healed = agent_cli("heal", "-o", "html", "--out", str(html))
    assert healed.exit_code == 3 and "toy-unlicensed" in html.read_text()
    run_id = Journal.in_dir(tmp_path / "state").runs(1)[0].id
    junit = agent_cli("report", run_id, "-o", "junit", engine=False)
    assert junit.exit_code == 0
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"  # toy-federated: found, advice only
    markdown = agent_cli("report", run_id, "-o", "md", engine=False)
    assert f"# heal run {run_id}" in markdown.stdout and "| fixed | 1 |" in markdown.stdout
    table = agent_cli("report", run_id, engine=False)
    assert "toy-unlicensed" in table.stdout and "fixed" in table.stdout
    missing = agent_cli("report", "nope", "-o", "html", engine=False)
    assert missing.exit_code == 2 and "unknown run id 'nope'" in missing.stderr


# -- engine level: rotation of expiring secrets, progress -------------------------------------------------
class WarnDays(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warn_days: int = 30


class ToyExpiringSecret(Detector):
    """A secret that works for 40 more days: a warning once `warn_days` reaches that far."""

    name: ClassVar[str] = "toy-expiring-secret"
    params_model: ClassVar[type[BaseModel]] = WarnDays
    params: WarnDays

    async def detect(self, ctx: Context) -> Finding:
        world = ctx.clients.world
        days = 400 if world.state["licensed"] else 40
        if days <= self.params.warn_days:
            return Finding.found("the secret expires soon", expiring_in_days=days)
        return Finding.ok("the secret is valid for a while", expiring_in_days=days)


@pytest.fixture
def expiring(toy_catalog: None) -> Iterator[ToyPlaybook]:
    registry.register_detector(ToyExpiringSecret)
    # the toy "rotation" is the licence fix: it flips the world so the detector sees a fresh secret
    yield ToyPlaybook("toy-expiring", ToyExpiringSecret, ToyAssignLicence)
    registry.unregister(ToyExpiringSecret.name)


@pytest.mark.parametrize(("rotate", "status"), [(0, Status.OK), (30, Status.OK), (45, Status.FIXED)])
async def test_secrets_expiring_within_the_window_are_rotated(
        expiring: ToyPlaybook, toy_world: ToyWorld, journal: Journal, fake_clock: FakeClock,
        toy_config_path: Path, rotate: int, status: Status) -> None:
    toy_world.state["licensed"] = False
    engine = Engine(load_config(toy_config_path), [expiring], journal, toy_world.factory,
                    sleep=fake_clock.sleep, clock=fake_clock)
    with PendingStore(journal.path) as store:
        result = await heal(engine, Policy(rotate_expiring_days=rotate), store)
    assert [o.status for o in result.report.results] == [status]
    assert toy_world.applied == (["assign-licence"] if status == Status.FIXED else [])


class WarnEarly(ToyPlaybook):
    """The playbook's `with: {warn_days: 50}`: the detector warns 50 days ahead."""

    def make_detector(self) -> Detector:
        return ToyExpiringSecret(WarnDays(warn_days=50))


async def test_a_warning_outside_the_window_stays_pending(
        expiring: ToyPlaybook, toy_world: ToyWorld, journal: Journal, toy_config_path: Path) -> None:
    toy_world.state["licensed"] = False
    playbook = WarnEarly("toy-expiring", ToyExpiringSecret, ToyAssignLicence)
    engine = Engine(load_config(toy_config_path), [playbook], journal, toy_world.factory)
    with PendingStore(journal.path) as store:
        result = await heal(engine, Policy(rotate_expiring_days=30), store)
    [outcome] = result.report.results
    assert outcome.status == Status.PLANNED and toy_world.applied == []
    assert outcome.reason is not None
    assert outcome.reason.startswith("pending approval: expires in 40 day(s), not broken yet; "
                                     "rotate_expiring_days is 30")
    jobs = engine.jobs(None, ())
    widen_warnings(jobs, 10)
    assert jobs[0].detector.params == WarnDays(warn_days=50)  # never narrowed
    widen_warnings(jobs, 60)
    assert jobs[0].detector.params == WarnDays(warn_days=60)


async def test_progress_counts_each_job_once(toy_world: ToyWorld, journal: Journal, toy_catalog: None,
                                             toy_config_path: Path) -> None:
    from tests.fakes import ToyLicenceMissing

    engine = Engine(load_config(toy_config_path), [ToyPlaybook("toy-unlicensed", ToyLicenceMissing,
                                                               ToyAssignLicence)], journal, toy_world.factory,
                    AutoApprover(Risk.MEDIUM))
    toy_world.state["licensed"] = False
    jobs = engine.jobs(None, ())
    ticks: list[int] = []
    approver = AutoApprover(Risk.LOW)  # the run's own approver wins over the engine's (medium)
    hooks = RunHooks(approver, None, first_detections(jobs, ticks.append))
    report = await engine.run_jobs("heal", jobs, hooks)
    assert report.results[0].status == Status.PLANNED  # the toy fix is medium risk: this run's low refuses
    assert ticks == [1]
    report = await engine.run_jobs("heal", jobs, RunHooks(None, None, first_detections(jobs, ticks.append)))
    assert report.results[0].status == Status.FIXED  # detected, then probed again by verify
    assert ticks == [1, 1]  # once per job per run: the verify probe does not count


def test_progress_is_quiet_off_a_terminal_and_when_asked() -> None:
    try:
        progress.configure(None)
        assert progress.active() is False  # pytest's stderr is not a terminal
        progress.configure(True)
        with progress.progress("working", 3) as advance:
            advance(1)
            advance(2)
        progress.configure(False)
        with progress.progress("working", 3) as advance:
            assert advance(1) is None
    finally:
        progress.configure(None)


# -- against the simulated tenant ---------------------------------------------------------------------
@pytest.fixture
def mail_world(sim: Simulator, tmp_path: Path) -> World:
    """The simulated tenant (healthy), its config, and the mail playbooks only."""
    return World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS]).reset()


def full_access_granted(world: World) -> bool:
    return "full_access_as_app" in world.sim.state.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


def test_high_risk_stays_pending_until_approved(mail_world: World) -> None:
    mail_world.reset(["exo-app-missing-full-access", "account-unlicensed"])
    seq = mail_world.log_seq()
    healed = mail_world.run("heal", "-o", "json", "--connector", EXO)
    assert healed.code == 3, healed.stderr
    assert healed.result(EXO, "account-unlicensed")["status"] == "fixed"
    row = healed.result(EXO, "exo-app-missing-full-access")
    assert row["status"] == "planned" and row["risk"] == "high"
    assert not full_access_granted(mail_world)
    assert [e["path"].rsplit("/", 1)[-1] for e in mail_world.writes_since(seq)] == ["assignLicense"]
    listed = mail_world.run("approvals", "-o", "json")
    [entry] = listed.json["pending"]
    assert (entry["run_id"], entry["cause"]) == (healed.run_id, "exo-app-missing-full-access")

    seq = mail_world.log_seq()
    approved = mail_world.run("approve", healed.run_id, "-o", "json")
    assert approved.code == 0, (approved.stderr, approved.json)
    assert approved.result(EXO, "exo-app-missing-full-access")["status"] == "fixed"
    assert full_access_granted(mail_world)
    stored_call = entry["steps"][0]
    [write] = mail_world.writes_since(seq)
    assert (write["method"], stored_call["url"].endswith(write["path"])) == (stored_call["method"], True)
    assert mail_world.run("undo", approved.run_id).code == 0  # an approval is undoable like any run
    assert not full_access_granted(mail_world)


def test_approve_refuses_a_stale_plan(mail_world: World) -> None:
    mail_world.reset(["mfa-blocks-service-account"])
    healed = mail_world.run("heal", "-o", "json", "--connector", EXO)
    assert healed.result(EXO, "mfa-blocks-service-account")["status"] == "planned"
    tenant = mail_world.sim.state
    policy = tenant.ca_policy(str(tenant.extras["mfa_policy_id"]))
    someone = tenant.user("user0001@contoso.onmicrosoft.com").id
    tenant.set_ca_exclusions(policy.id, [*policy.exclude_users, someone])  # edited since the plan
    seq = mail_world.log_seq()
    approved = mail_world.run("approve", healed.run_id, "--cause", "mfa-blocks-service-account", "-o", "json")
    assert approved.code == 3
    row = approved.result(EXO, "mfa-blocks-service-account")
    assert row["status"] == "planned" and row["reason"].startswith("stale plan: step 1 ")
    assert "before was" in row["reason"]
    assert "stale plan:" in approved.stderr and mail_world.writes_since(seq) == []
    assert mail_world.run("approvals", "-o", "json").json["pending"] == []


def test_webhook_gets_the_summary_and_no_secret(mail_world: World) -> None:
    mail_world.reset(["account-unlicensed"])
    with HookServer() as hook:
        (mail_world.folder / "policy.yaml").write_text(
            f"notify:\n  - name: ops\n    url: {hook.url}\n    format: json\n"
            "  - name: teams\n    url: file:teams.url\n    format: teams\n")
        (mail_world.folder / "teams.url").write_text(hook.url + "?sig=abc\n")
        healed = mail_world.run("heal", "--policy", str(mail_world.folder / "policy.yaml"), "-o", "json",
                                "--connector", EXO)
    assert healed.code == 0, healed.stderr
    assert [n["sent"] for n in healed.json["notifications"]] == [True, True]
    generic, teams = hook.bodies
    assert generic["run_id"] == healed.run_id and generic["summary"] == {"fixed": 1, "ok": 5}
    assert [(r["cause"], r["status"]) for r in generic["results"]] == [("account-unlicensed", "fixed")]
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    extras = mail_world.sim.state.extras
    secrets = [str(extras[k]) for k in ("admin_secret", "connector_secret", "account_password")]
    secrets += [p.read_text().strip() for p in mail_world.folder.glob("*.secret")]
    raw = json.dumps(hook.bodies) + healed.stdout + healed.stderr
    assert all(secret not in raw for secret in secrets)


def test_two_concurrent_heal_runs_exactly_one_acts(sim: Simulator, tmp_path: Path) -> None:
    sim.reset(users=4, breaks=["account-unlicensed"])
    config = sim.write_config(tmp_path / "agent.yaml")
    # the write is throttled twice (Retry-After 1): the first run is still busy when the second starts
    sim.set_faults({"throttle": {"path": "assignLicense$", "first": 2, "retry_after_s": 1}})
    state = tmp_path / "state"
    args = ("heal", "--config", str(config), "--state-dir", str(state), "--connector", EXO)
    first = agent_process(*args)
    try:
        wait_for(lambda: (state / LOCK_NAME).is_file() and str(first.pid) in (state / LOCK_NAME).read_text(),
                 what="the first run to take the lock")
        second = agent_process(*args, "-o", "json")
        out, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second tried the lock"
        _, first_err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.communicate()
        sim.set_faults(None)
    assert second.returncode == 1 and out == ""
    assert err.strip().startswith(f"error: another heal run (pid {first.pid}, started ")
    assert err.strip().endswith("holds the lock; nothing was done")
    assert first.returncode == 0, first_err
    writes = [e for e in sim.log if e.get("wrote")]
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in writes] == [("POST", "assignLicense")]
    assert [r.mode for r in Journal.in_dir(state).runs()] == ["heal"]
    assert sim.state.has_mailbox(sim.state.user("migsvc@contoso.onmicrosoft.com"))


def test_expiring_client_secret_is_rotated_when_the_policy_says_so(sim: Simulator, tmp_path: Path) -> None:
    world = World(sim, tmp_path, playbooks=[MAIL_PLAYBOOKS.parent / "files"]).reset(users=4)
    tenant = sim.state
    app = tenant.application(CONNECTOR_APP_ID)
    for credential in app.password_credentials:
        credential.end = now() + 20 * 86400  # still works, for 20 more days
    old_secret = (world.folder / "connector.secret").read_text().strip()
    args = ("heal", "-o", "json", "--connector", "files-onedrive", "--only", "app-credentials-invalid")
    warned = world.run(*args)
    row = warned.result("files-onedrive", "app-credentials-invalid")
    assert warned.code == 3 and row["status"] == "planned", (warned.stderr, row)
    assert "rotate_expiring_days is off" in row["reason"] and row["evidence"]["expiring_in_days"] == 19
    (tmp_path / "policy.yaml").write_text("rotate_expiring_days: 25\n")
    rotated = world.run(*args, "--policy", str(tmp_path / "policy.yaml"))
    assert rotated.code == 0, (rotated.stderr, rotated.json)
    assert rotated.result("files-onedrive", "app-credentials-invalid")["status"] == "fixed"
    new_secret = (world.folder / "connector.secret").read_text().strip()
    assert new_secret != old_secret and len(app.password_credentials) == 2
    assert new_secret not in rotated.stdout + rotated.stderr
    assert world.run("approvals", "-o", "json").json["pending"] == []  # the warning's plan was superseded
