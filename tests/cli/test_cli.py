"""The command line end to end on the toy tenant: exit codes, JSON shape, history, undo, error boundary."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from agent import redact
from agent.cli import main as cli
from agent.cli import session
from agent.cli.boundary import State
from tests.conftest import playbook_yaml
from tests.fakes import ToyWorld

Invoke = Callable[..., Result]
HEAVY = ("msgraph", "azure", "exchangelib", "office365", "uvicorn", "starlette", "agent.simulator",
         "agent.engine.core")


@pytest.fixture
def agent_cli(toy_world: ToyWorld, toy_config_path: Path, toy_playbooks_dir: Path, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `agent ...` with the toy config, playbooks, tenant and a private state dir."""
    monkeypatch.setattr(session, "default_clients_factory", lambda: toy_world.factory)
    for name in ("AGENT_CONFIG", "AGENT_PLAYBOOKS", "AGENT_STATE_DIR", "AGENT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"

    def invoke(*args: str, common: bool = True, input: str | None = None) -> Result:
        extra = ["--config", str(toy_config_path), "--playbooks", str(toy_playbooks_dir)] if common else []
        if args and args[0] != "history" and common:
            args = (args[0], *extra, *args[1:])
        if common:
            args = (*args, "--state-dir", str(state))
        return CliRunner().invoke(cli.app, list(args), input=input)

    return invoke


def as_json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_diagnose_healthy_exits_0_with_json_shape(agent_cli: Invoke) -> None:
    result = agent_cli("diagnose", "-o", "json", "--only", "toy-unlicensed", "--only", "toy-not-admin")
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["mode"] == "diagnose" and data["run_id"]
    assert [(r["connector"], r["cause"], r["status"]) for r in data["results"]] == [
        ("mail1", "toy-not-admin", "ok"), ("mail1", "toy-unlicensed", "ok")]
    for row in data["results"]:
        assert {"connector", "cause", "status", "evidence", "changes", "advice"} <= set(row)


def test_diagnose_only_healthy_cause_exits_0(agent_cli: Invoke) -> None:
    result = agent_cli("diagnose", "--only", "toy-unlicensed")
    assert result.exit_code == 0, result.output
    assert "toy-unlicensed" in result.stdout and "ok" in result.stdout


def test_diagnose_found_exits_3_and_table_shows_it(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    result = agent_cli("diagnose", "--only", "toy-unlicensed", "--connector", "mail1")
    assert result.exit_code == 3, result.output
    assert "found" in result.stdout and "svc has no licence" in result.stdout


def test_dry_run_plans_writes_plan_file_and_changes_nothing(agent_cli: Invoke, toy_world: ToyWorld,
                                                           tmp_path: Path) -> None:
    toy_world.state["licensed"] = False
    plan_file = tmp_path / "plan.json"
    result = agent_cli("fix", "--dry-run", "--only", "toy-unlicensed", "--plan-out", str(plan_file),
                       "-o", "json")
    assert result.exit_code == 3, result.output
    assert as_json(result)["results"][0]["status"] == "planned"
    plans = json.loads(plan_file.read_text())["plans"]
    assert plans[0]["steps"][0]["call"]["url"] == "https://toy/users/svc/assignLicense"
    assert toy_world.applied == [] and toy_world.state["licensed"] is False


def test_fix_without_approval_stays_pending(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state["licensed"] = False
    result = agent_cli("fix", "--only", "toy-unlicensed")  # not a terminal: nobody to ask
    assert result.exit_code == 3, result.output
    assert "not approved" in result.stdout and toy_world.applied == []


@pytest.mark.parametrize("answer, applied", [("y\n", ["assign-licence"]), ("n\n", [])])
def test_fix_asks_at_a_terminal(agent_cli: Invoke, toy_world: ToyWorld, monkeypatch: pytest.MonkeyPatch,
                                answer: str, applied: list[str]) -> None:
    toy_world.state["licensed"] = False
    monkeypatch.setattr(session, "stdin_is_terminal", lambda: True)
    result = agent_cli("fix", "--only", "toy-unlicensed", input=answer)
    assert "[planned] assign-licence: POST https://toy/users/svc/assignLicense" in result.stderr
    assert "apply these changes?" in result.stderr
    assert toy_world.applied == applied
    assert result.exit_code == (0 if applied else 3), result.output


def test_fix_yes_approves_up_to_medium_then_allow_risk_high(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state.update(licensed=False, admins=[])
    only = ("--only", "toy-unlicensed", "--only", "toy-not-admin")
    first = agent_cli("fix", "--yes", *only, "-o", "json")
    assert first.exit_code == 3, first.output
    statuses = {r["cause"]: r["status"] for r in as_json(first)["results"]}
    assert statuses == {"toy-unlicensed": "fixed", "toy-not-admin": "planned"}
    second = agent_cli("fix", "--yes", "--allow-risk", "high", *only)
    assert second.exit_code == 0, second.output
    assert toy_world.state["admins"] == ["svc"]


def test_failed_fix_exits_4_then_history_and_undo(agent_cli: Invoke, toy_world: ToyWorld) -> None:
    toy_world.state["admins"] = []
    toy_world.state["flags"]["audit"] = False
    toy_world.fail_on = {"enable-audit"}
    fixed = agent_cli("fix", "--yes", "--allow-risk", "high", "--only", "toy-not-admin", "-o", "json")
    assert fixed.exit_code == 4, fixed.output
    run_id = as_json(fixed)["run_id"]

    listed = agent_cli("history", "-o", "json")
    assert listed.exit_code == 0 and [r["id"] for r in as_json(listed)["runs"]] == [run_id]
    shown = agent_cli("history", run_id, "-o", "json")
    detail = as_json(shown)
    assert detail["run_id"] == run_id and detail["exit_code"] == 4
    assert [(c["action"], c["state"]) for c in detail["changes"]] == [("add-admin", "applied"),
                                                                      ("enable-audit", "failed")]
    table = agent_cli("history", run_id)
    assert table.exit_code == 0 and "enable-audit" in table.stdout

    preview = agent_cli("undo", run_id, "--dry-run")
    assert preview.exit_code == 3 and "remove-admin" in preview.stdout
    assert toy_world.state["admins"] == ["svc"]
    undone = agent_cli("undo", run_id, "-o", "json")
    assert undone.exit_code == 0, undone.output
    assert as_json(undone)["mode"] == "undo" and toy_world.state["admins"] == []


def test_history_without_journal_and_unknown_run(agent_cli: Invoke) -> None:
    empty = agent_cli("history", "-o", "json")
    assert empty.exit_code == 0 and as_json(empty) == {"runs": []}
    agent_cli("diagnose")
    missing = agent_cli("history", "20200101-000000-dead")
    assert missing.exit_code == 2 and "unknown run id" in one_error_line(missing)


@pytest.mark.parametrize("args, message", [
    (("diagnose", "--config", "nope.yaml"), "config file not found: nope.yaml"),
    (("diagnose", "--bogus"), "No such option: --bogus"),
    (("diagnose", "-o", "xml"), "xml"),
    (("fix", "--allow-risk", "extreme"), "extreme"),
    (("undo",), "Missing argument"),
])
def test_bad_usage_is_one_line_and_exit_2(agent_cli: Invoke, args: tuple[str, ...], message: str) -> None:
    result = agent_cli(*args, common=False)
    assert result.exit_code == 2
    assert message in one_error_line(result)


def test_default_config_comes_from_env_then_cwd(agent_cli: Invoke, toy_config_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    missing = agent_cli("diagnose", common=False)
    assert missing.exit_code == 2 and "agent.yaml" in one_error_line(missing)
    monkeypatch.setenv("AGENT_CONFIG", str(tmp_path / "other.yaml"))
    from_env = agent_cli("diagnose", common=False)
    assert "other.yaml ($AGENT_CONFIG" in one_error_line(from_env)
    monkeypatch.chdir(tmp_path)  # ./agent.yaml is the toy config
    monkeypatch.delenv("AGENT_CONFIG")
    found = agent_cli("diagnose", "--playbooks", str(tmp_path / "playbooks"), "--only", "toy-unlicensed",
                      "--state-dir", str(tmp_path / "s"), common=False)
    assert found.exit_code == 0, found.output


def test_bad_config_and_bad_playbook_exit_2(agent_cli: Invoke, tmp_path: Path,
                                            toy_playbooks_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants: []\nconnectors: []\n")
    result = CliRunner().invoke(cli.app, ["diagnose", "--config", str(bad)])
    assert result.exit_code == 2 and one_error_line(result).startswith("error: ")
    (toy_playbooks_dir / "mail" / "toy-broken.yaml").write_text(
        playbook_yaml("toy-broken", "mail", "no-such-detector", None, None))
    result = agent_cli("diagnose")
    assert result.exit_code == 2 and "unknown detector 'no-such-detector'" in one_error_line(result)
    result = agent_cli("diagnose", "--only", "nope")
    assert result.exit_code == 2


def test_unexpected_error_is_one_redacted_line_exit_1(agent_cli: Invoke, monkeypatch: pytest.MonkeyPatch,
                                                      toy_world: ToyWorld) -> None:
    redact.register("Pa55-word-xyz")

    def broken(tenant: Any, connector: Any, guard: Any) -> Any:
        raise RuntimeError("could not sign in with Pa55-word-xyz")

    monkeypatch.setattr(session, "default_clients_factory", lambda: broken)
    result = agent_cli("diagnose")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: RuntimeError: could not sign in with ***"
    debug = CliRunner().invoke(cli.app, ["--debug", *result_args(agent_cli)])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr and "Pa55-word-xyz" not in debug.stderr


def test_library_logs_only_with_debug_and_redacted(agent_cli: Invoke, monkeypatch: pytest.MonkeyPatch,
                                                  toy_world: ToyWorld) -> None:
    def noisy(tenant: Any, connector: Any, guard: Any) -> Any:
        logging.getLogger("azure.identity").warning("get_token failed: client_secret=Zz-secret-77")
        return toy_world.factory(tenant, connector, guard)

    monkeypatch.setattr(session, "default_clients_factory", lambda: noisy)
    monkeypatch.setattr(logging.getLogger(), "level", logging.getLogger().level)  # --debug lowers it
    quiet = agent_cli("diagnose", "--only", "toy-unlicensed")
    assert quiet.exit_code == 0 and "get_token failed" not in quiet.stderr
    loud = CliRunner().invoke(cli.app, ["--debug", *State.argv])
    assert loud.exit_code == 0, loud.output
    assert "WARNING azure.identity: get_token failed: client_secret=***" in loud.stderr
    assert "Zz-secret-77" not in loud.stderr


def result_args(agent_cli: Invoke) -> list[str]:
    """The argv agent_cli last built (the boundary keeps it for the journal)."""
    return list(State.argv)


def test_dry_run_write_is_a_loud_bug_exit_1(agent_cli: Invoke, toy_world: ToyWorld,
                                             toy_playbooks_dir: Path) -> None:
    (toy_playbooks_dir / "mail" / "toy-writing.yaml").write_text(
        playbook_yaml("toy-writing", "mail", "toy-always-found", "toy-writing-plan", None))
    result = agent_cli("fix", "--dry-run", "--only", "toy-writing")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: bug: DryRunWrite: write attempted during dry run: POST https://toy/oops"


def test_sim_uses_the_embedded_config(agent_cli: Invoke, monkeypatch: pytest.MonkeyPatch,
                                      toy_config_path: Path, toy_playbooks_dir: Path) -> None:
    started: list[bool] = []

    @contextlib.contextmanager
    def embedded_sim() -> Iterator[Path]:
        started.append(True)
        yield toy_config_path

    monkeypatch.setitem(sys.modules, "agent.cli.sim", types.SimpleNamespace(embedded_sim=embedded_sim))
    result = agent_cli("diagnose", "--sim", "--playbooks", str(toy_playbooks_dir), "-o", "json",
                       "--only", "toy-unlicensed", "--state-dir", str(toy_config_path.parent / "s"),
                       common=False)
    assert result.exit_code == 0, result.output
    assert started == [True] and as_json(result)["mode"] == "diagnose"


def test_out_writes_the_report_to_a_file(agent_cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = agent_cli("diagnose", "-o", "json", "--out", str(out), "--only", "toy-unlicensed")
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["mode"] == "diagnose"


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys, runpy\n"
            "sys.argv = ['agent', '--help']\n"
            "try:\n    runpy.run_module('agent', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            f"heavy = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
            "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout.splitlines()[-1]
    assert "diagnose" in proc.stdout


@pytest.mark.parametrize(("fmt", "marker"), [("md", "| toy-unlicensed |"), ("junit", "<testsuites"),
                                              ("html", "<!DOCTYPE html>")])
def test_diagnose_renders_md_html_junit_with_the_same_exit_code(agent_cli: Invoke, toy_world: ToyWorld,
                                                                 fmt: str, marker: str) -> None:
    toy_world.state["licensed"] = False
    result = agent_cli("diagnose", "--only", "toy-unlicensed", "-o", fmt)
    assert result.exit_code == 3, result.output
    assert marker.lower() in result.stdout.lower() and "toy-unlicensed" in result.stdout


def test_a_first_run_without_any_config_says_how_to_begin(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("AGENT_CONFIG", raising=False)
    result = CliRunner().invoke(cli.app, ["diagnose"])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "config file not found: agent.yaml" in line
    assert "--sim" in line and "configs/example.yaml" in line and "AGENT_CONFIG" in line
