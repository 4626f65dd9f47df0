"""One tenant's heal job on the shared PostgreSQL journal, with metrics and JSON logs; journal migrate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import app
from tests.e2e.harness import Result, World
from tests.pg import fresh_database

BROKEN = ["account-unlicensed", "no-full-control"]


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as target:
        yield target


def run(world: World, *argv: str, **env: str) -> Result:
    outcome = world.runner.invoke(app, list(argv), env={**world.env(), **env}, catch_exceptions=False)
    try:
        parsed: Any = json.loads(outcome.stdout) if outcome.stdout.strip() else None
    except ValueError:
        parsed = None
    return Result(outcome.exit_code, outcome.stdout, outcome.stderr, parsed)


def secrets_of(world: World) -> list[str]:
    """The simulated tenant's secrets as its config's files hold them (PEM keys: their longest line)."""
    found = []
    for name in ("admin.secret", "connector.secret", "migsvc.password", "admin.pem", "connector.pem"):
        text = (world.folder / name).read_text().strip()
        found.append(max(text.splitlines(), key=len) if name.endswith(".pem") else text)
    return found


def test_a_tenant_s_heal_job_on_postgresql_with_metrics_and_json_logs(world: World, url: str,
                                                                      tmp_path: Path) -> None:
    world.reset(BROKEN)
    prom = tmp_path / "agent.prom"
    healed = run(world, "heal", "--journal", url, "--tenant", "contoso", "--only", BROKEN[0], "--only",
                 BROKEN[1], "--metrics-file", str(prom), "--log-format", "json", "-o", "json")
    assert healed.code == 0, healed.stderr
    assert {r["cause"]: r["status"] for r in healed.results()} == dict.fromkeys(BROKEN, "fixed")
    text = prom.read_text()
    assert 'agent_causes{cause="account-unlicensed",status="fixed",tenant="contoso"} 1.0' in text
    assert 'agent_run_exit_code{mode="heal",tenant="contoso"} 0.0' in text
    lines = [json.loads(line) for line in healed.stderr.splitlines() if line.startswith("{")]
    ours = [line for line in lines if line["logger"] == "agent.run"]  # (the in-process simulator logs too)
    assert sorted(line["cause"] for line in ours[:-1]) == sorted(BROKEN)  # one line per result ...
    assert ours[-1]["message"] == "heal run finished: exit 0"  # ... then the run's
    assert all(line["run_id"] == healed.run_id and line["tenant"] == "contoso" for line in ours)
    for secret in secrets_of(world):
        assert secret not in text and secret not in healed.stderr and secret not in healed.stdout
    # the shared journal has the run; `history` and `undo` find it there through $AGENT_JOURNAL_URL
    listed = run(world, "history", "-o", "json", AGENT_JOURNAL_URL=url)
    assert [r["id"] for r in listed.json["runs"]] == [healed.run_id]
    seq = world.log_seq()
    undone = run(world, "undo", healed.run_id, "-o", "json", AGENT_JOURNAL_URL=url)
    assert undone.code == 0, undone.stderr
    assert world.writes_since(seq)  # the sealed undo data was trusted and replayed


def test_an_unknown_tenant_and_a_bad_journal_url_are_bad_input(world: World) -> None:
    unknown = run(world, "heal", "--tenant", "nope")
    assert unknown.code == 2 and "unknown tenant 'nope'; valid: contoso" in unknown.stderr
    bad = run(world, "heal", "--journal", "mysql://root:hunter2secret@db/agent")
    assert bad.code == 2 and "must be a postgresql:// URL" in bad.stderr
    refused = run(world, "heal", "--journal", "postgresql://agent:hunter2secret@127.0.0.1:9/agent")
    assert refused.code == 2 and "cannot open the journal database" in refused.stderr
    for result in (bad, refused):
        assert "hunter2secret" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_journal_migrate_copies_the_sqlite_journal_and_its_undo_stays_sealed(world: World, url: str) -> None:
    world.reset(BROKEN[:1])
    fixed = world.run("fix", "--yes", "--only", BROKEN[0], "-o", "json")
    assert fixed.code == 0, fixed.stderr
    moved = run(world, "journal", "migrate", "--to", url)
    assert moved.code == 0, moved.stderr
    assert "runs: 1 row(s), 1 new" in moved.stdout and "changes:" in moved.stdout
    again = run(world, "journal", "migrate", "--to", url)
    assert "runs: 1 row(s), 0 new" in again.stdout  # run twice: nothing doubled
    shown = run(world, "history", fixed.run_id, "-o", "json", AGENT_JOURNAL_URL=url)
    assert shown.code == 0 and shown.json["changes"], shown.stderr
    seq = world.log_seq()
    undone = run(world, "undo", fixed.run_id, "-o", "json", AGENT_JOURNAL_URL=url)
    assert undone.code == 0, undone.stderr
    assert world.writes_since(seq)
