"""Tests for `agent playbooks list|show|validate`, mounted on a small Typer app as the CLI mounts it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent.cli.playbooks import playbooks_app
from tests import playbook_fakes

DATA = Path(__file__).resolve().parents[1] / "data" / "playbooks"
GOOD, BAD = DATA / "good", DATA / "bad"

app = typer.Typer()
app.add_typer(playbooks_app, name="playbooks")


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the test detector/fixer classes and point $AGENT_PLAYBOOKS at the good playbooks."""
    playbook_fakes.register()
    monkeypatch.setenv("AGENT_PLAYBOOKS", str(GOOD))
    yield
    playbook_fakes.unregister()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["playbooks", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_table() -> None:
    code, out, err = run("list")
    assert code == 0 and err == ""
    assert re.search(r"test-unlicensed\s.*mail\s.*exchange-online\s.*test-assign\s.*medium", out)
    assert re.search(r"test-advice-only\s.*files\s.*onedrive, sharepoint\s.*advice only\s.*-", out)


def test_list_json() -> None:
    code, out, _ = run("list", "-o", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["test-advice-only", "test-unlicensed", "test-grant-high"]
    assert rows[2] == {
        "id": "test-grant-high",
        "title": "The app lacks a role it needs",
        "area": "sharepoint",
        "applies_to": ["sharepoint"],
        "detector": "test-user-check",
        "fixer": "test-grant",
        "risk": "high",
    }
    assert rows[0]["fixer"] is None and rows[0]["risk"] is None


def test_show_everything_including_permissions() -> None:
    code, out, _ = run("show", "test-unlicensed")
    assert code == 0
    for expected in [
        "test-unlicensed: The migration account has no Exchange Online licence",
        "- code: ErrorNonExistentMailbox  (weight 1)",
        "- text: mailbox is not licensed  (weight 0.5)",
        "- status: 401  (weight 1, only for ews, mail)",
        "detect:     test-user-check",
        '"account": "connector.account", "min_plans": 2',
        "permissions: User.Read.All",
        "fix:        test-assign  risk: medium",
        "permissions: User.ReadWrite.All, Organization.Read.All",
        "Assign an Exchange Online licence",
        "- https://learn.microsoft.com/",
    ]:
        assert expected in out


def test_show_json_and_advice_only() -> None:
    code, out, _ = run("show", "test-grant-high", "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["fix"] == {
        "use": "test-grant",
        "with": {},
        "permissions": ["AppRoleAssignment.ReadWrite.All"],
        "roles": ["Cloud Application Administrator"],
        "risk": "high",
    }
    assert data["symptoms"] == [{"exception": "ClientRequestException", "weight": 1.0}]
    code, out, _ = run("show", "test-advice-only")
    assert code == 0 and "fix:        none (advice only)" in out


def test_show_unknown_id_suggests_close_matches() -> None:
    code, out, err = run("show", "test-unlicenced")
    assert (code, out) == (2, "")
    assert err == "unknown playbook 'test-unlicenced'; did you mean: test-unlicensed\n"
    code, _, err = run("show", "zzz")
    assert code == 2
    assert err == "unknown playbook 'zzz'; valid: test-advice-only, test-grant-high, test-unlicensed\n"


def test_validate_good_folder() -> None:
    code, out, err = run("validate", str(GOOD))
    assert (code, out, err) == (0, "OK: 3 playbooks\n", "")
    assert run("validate")[1] == "OK: 3 playbooks\n"  # default: $AGENT_PLAYBOOKS


def test_validate_reports_every_problem_on_its_own_line() -> None:
    code, out, err = run("validate", str(BAD))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert all(re.match(r"^\S+\.yaml:\d+: \S", line) for line in lines), lines
    text = "\n".join(lines)
    for expected in [
        r"bad/syntax-error\.yaml:5: YAML syntax error",
        r"bad/unknown-use\.yaml:8: detect\.use: unknown detector 'test-user-chek'; valid: .*test-user-check",
        r"bad/wrong-type\.yaml:11: detect\.with\.min_plans: Input should be a valid integer.*"
        r"\(got a string\)",
        r"bad/missing-field\.yaml:1: title: required field is missing",
        r"bad/two/duplicate-id\.yaml:1: id: duplicate id 'duplicate-id' "
        r"\(also in .*bad/one/duplicate-id\.yaml:1\)",
        r"bad/bad-enum\.yaml:3: area: invalid value 'email'; valid: mail, files, sharepoint",
    ]:
        assert re.search(expected, text), expected


def test_list_with_broken_playbooks_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_PLAYBOOKS", str(BAD / "missing-field.yaml"))
    code, out, err = run("list")
    assert (code, out) == (2, "")
    assert err.endswith("missing-field.yaml:1: title: required field is missing\n")


def test_bad_output_option_is_a_usage_error() -> None:
    code, _, err = run("list", "-o", "xml")
    assert code == 2 and "xml" in err


def test_importing_the_cli_module_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, agent.cli.playbooks, agent.playbook.load, agent.config.model;"
        "heavy = {'msgraph', 'exchangelib', 'office365', 'azure'};"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_listing_the_playbooks_loads_the_catalog_without_any_client_library() -> None:
    """The catalog is imported to check every `use:`; its modules load the client libraries lazily."""
    code = (
        "import sys, agent.playbook.load as p; p.load_playbooks();"
        "heavy = {'msgraph', 'exchangelib', 'office365', 'azure', 'msal', 'kiota_abstractions', 'httpx'};"
        "print(sorted({m.split('.')[0] for m, mod in sys.modules.items() if mod is not None} & heavy))"
    )  # (a None entry is a module kept from loading, not a loaded one)
    env = {k: v for k, v in os.environ.items() if k != "AGENT_PLAYBOOKS"}  # the shipped playbooks
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "[]"


def _list_imports(env: dict[str, str]) -> tuple[list[Any], set[str]]:
    argv = [sys.executable, "-X", "importtime", "-m", "agent", "playbooks", "list", "-o", "json"]
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-500:]
    return json.loads(result.stdout), {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}


def test_list_reads_the_files_without_the_catalog_then_answers_from_its_cache(tmp_path: Path) -> None:
    """`playbooks list` (shipped playbooks, each with its own fix.risk) imports no catalog and no client;
    a second run, nothing having changed, imports neither YAML nor the playbook schema nor pydantic."""
    env = {k: v for k, v in os.environ.items() if k != "AGENT_PLAYBOOKS"} | {"AGENT_CACHE_DIR": str(tmp_path)}
    first, imported = _list_imports(env)
    assert len(first) == 13
    assert "agent.playbook.load" in imported  # the first listing did read the playbooks
    heavy = ("agent.catalog", "agent.clients", "agent.registry")
    assert sorted(m for m in imported if m.startswith(heavy)) == []
    again, imported = _list_imports(env)
    assert again == first
    assert {"yaml", "pydantic", "agent.playbook.load", "agent.playbook.schema"} & imported == set()


def test_a_changed_playbook_is_read_again_and_a_foreign_cache_is_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books = tmp_path / "books"
    shutil.copytree(GOOD, books)
    monkeypatch.setenv("AGENT_PLAYBOOKS", str(books))
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path / "cache"))
    assert run("list", "-o", "json")[0] == 0
    source = books / "mail" / "test-unlicensed.yaml"
    source.write_text(source.read_text().replace("title: ", "title: Renamed ", 1))
    code, out, _ = run("list", "-o", "json")
    assert code == 0 and any(r["title"].startswith("Renamed ") for r in json.loads(out))
    for cache in (tmp_path / "cache").glob("playbooks-*.json"):  # same key, rows of another shape
        document = json.loads(cache.read_text())
        document["files"] = {path: [{"id": 1}] for path in document["files"]}
        cache.write_text(json.dumps(document))
    code, out, err = run("list", "-o", "json")
    assert (code, err) == (0, "") and len(json.loads(out)) == 3


def test_list_shows_a_playbook_whose_use_only_validate_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """list reads files alone, so a misspelt detector is listed; validate names it with file:line."""
    monkeypatch.setenv("AGENT_PLAYBOOKS", str(BAD / "unknown-use.yaml"))
    code, out, _ = run("list", "-o", "json")
    assert code == 0 and json.loads(out)[0]["detector"] == "test-user-chek"
    code, _, err = run("validate")
    assert code == 2
    assert re.search(r"unknown-use\.yaml:8: detect\.use: unknown detector 'test-user-chek'", err)


def test_list_of_a_fix_without_risk_and_an_unknown_fixer_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without its own risk, a fix takes its fixer's declared one: an unknown fixer is then a problem."""
    monkeypatch.setenv("AGENT_PLAYBOOKS", str(BAD / "unknown-fixer.yaml"))
    code, out, err = run("list")
    assert (code, out) == (2, "")
    assert re.search(r"unknown-fixer\.yaml:9: fix\.use: unknown fixer 'test-asign'", err), err
