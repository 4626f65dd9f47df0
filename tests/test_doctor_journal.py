"""`agent doctor` on a shared PostgreSQL journal: connection, schema version, tenant advisory locks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.journal.db import open_postgres
from agent.journal.schema import MIGRATIONS
from agent.journal.store import Journal
from agent.journal.tenant_lock import TenantLocks
from tests.pg import fresh_database

TENANT_ID = "contoso.onmicrosoft.com"  # the toy config's
PASSWORD = "hunter2pw"
LATEST = MIGRATIONS[-1].version


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("AGENT_JOURNAL_URL", raising=False)
    with fresh_database() as target:
        yield target


def with_password(url: str) -> str:
    """The URL with a password (the test server trusts local connections, so it is not checked)."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user or 'agent'}:{PASSWORD}@{host}"))


def doctor(config: Path, tmp_path: Path, *argv: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor", "--offline", "--config", str(config), "--state-dir",
                                      str(tmp_path / "state"), *argv], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout


def journal_checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"] if c["area"] == "journal"}


def test_schema_versions_from_none_to_current_to_newer_than_the_agent(url: str, toy_config_path: Path,
                                                                      tmp_path: Path) -> None:
    code, table = doctor(toy_config_path, tmp_path, "--journal", with_password(url))
    lines = [line for line in table.splitlines() if "  journal " in line]
    assert PASSWORD not in table
    assert lines[0].startswith("ok    journal    connection: postgresql://") and ":***@" in lines[0]
    assert lines[0].endswith("; --journal)") and "PostgreSQL " in lines[0]
    assert lines[1].startswith("WARN  journal    schema: no journal tables yet")
    assert lines[2] == "ok    journal    locks: took and released the advisory lock of 1 tenant(s)"
    assert len(lines) == 3 and code == 3

    with Journal(None, database=open_postgres(url), key_dir=tmp_path):
        pass  # what the first run does: the schema, every migration applied
    code, out = doctor(toy_config_path, tmp_path, "-o", "json", AGENT_JOURNAL_URL=url)
    checks = journal_checks(out)
    assert checks["schema"] == {"area": "journal", "name": "schema", "status": "ok",
                                "detail": f"version {LATEST}, as this agent expects"}
    assert checks["connection"]["detail"].endswith("; $AGENT_JOURNAL_URL)")

    admin = open_postgres(url)
    try:
        admin.execute("DELETE FROM schema_version WHERE version=?", (LATEST,))
        older = journal_checks(doctor(toy_config_path, tmp_path, "-o", "json", "--journal", url)[1])
        assert older["schema"]["status"] == "warn"
        assert older["schema"]["detail"].startswith(f"version {LATEST - 1}, older than this agent's {LATEST} "
                                                    f"(missing {LATEST})")
        admin.execute("INSERT INTO schema_version (version, what, applied) VALUES (?,?,?)",
                      (LATEST + 1, "from a newer agent", "2026-12-07T00:00:00+00:00"))
        code, out = doctor(toy_config_path, tmp_path, "-o", "json", "--journal", url)
    finally:
        admin.close()
    newer = journal_checks(out)["schema"]
    assert (code, newer["status"]) == (4, "fail")
    assert newer["detail"].startswith(f"version {LATEST + 1}, newer than this agent knows ({LATEST})")


def test_a_tenant_another_agent_holds_is_named_and_a_free_one_is_released(url: str, toy_config_path: Path,
                                                                          tmp_path: Path) -> None:
    with TenantLocks(url, [TENANT_ID], "heal"):
        held = journal_checks(doctor(toy_config_path, tmp_path, "-o", "json", "--journal", url)[1])
    assert "locks" not in held
    assert held["lock contoso"]["status"] == "warn"
    detail = held["lock contoso"]["detail"]
    assert detail.startswith(f"held by another agent: a heal run (pid {os.getpid()} on ")
    free = journal_checks(doctor(toy_config_path, tmp_path, "-o", "json", "--journal", url)[1])
    assert free["locks"]["status"] == "ok" and "lock contoso" not in free
    with TenantLocks(url, [TENANT_ID], "heal") as after:  # doctor left the lock free
        assert after.held == [TENANT_ID]


def test_an_unreachable_journal_is_one_fail_line_with_the_password_masked(
        toy_config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_JOURNAL_URL", raising=False)
    code, table = doctor(toy_config_path, tmp_path, "--journal", f"postgresql://agent:{PASSWORD}@127.0.0.1:9/x")
    [line] = [line for line in table.splitlines() if "  journal " in line]
    assert line.startswith("FAIL  journal    connection: cannot open the journal database "
                           "postgresql://agent:***@127.0.0.1:9/x")
    assert PASSWORD not in table and code == 4


def test_the_sqlite_default_adds_no_journal_line(toy_config_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_JOURNAL_URL", raising=False)
    _, out = doctor(toy_config_path, tmp_path, "-o", "json")
    assert journal_checks(out) == {}
