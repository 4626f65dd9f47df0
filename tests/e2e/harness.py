"""End-to-end harness: the real CLI, in-process, against the simulated tenant over HTTPS."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli.main import app
from agent.clients import Clients
from agent.config.load import load_config
from agent.context import Context
from agent.guard import WriteGuard
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ADMIN_APP_ID
from agent.simulator.state.tenant import GRAPH_APP_ID

E2E_USERS = 8  # small tenants keep every e2e test fast


@dataclass
class Result:
    """One CLI run: exit code, stdout, stderr, and stdout parsed as JSON when it is JSON."""

    code: int
    stdout: str
    stderr: str
    json: Any = None

    def results(self, connector: str | None = None) -> list[dict[str, Any]]:
        """The `results` rows of a JSON report, optionally for one connector."""
        rows = (self.json or {}).get("results", [])
        return [r for r in rows if connector is None or r["connector"] == connector]

    def statuses(self, connector: str) -> dict[str, str]:
        """cause -> status for one connector."""
        return {r["cause"]: r["status"] for r in self.results(connector)}

    def result(self, connector: str, cause: str) -> dict[str, Any]:
        """The one row for (connector, cause); AssertionError names what was there instead."""
        rows = [r for r in self.results(connector) if r["cause"] == cause]
        assert len(rows) == 1, f"no single result for {connector}/{cause}: {self.statuses(connector)}"
        return rows[0]

    @property
    def run_id(self) -> str:
        return str((self.json or {}).get("run_id"))


class World:
    """The simulated tenant, a connector config pointing at it and a private state directory."""

    def __init__(self, sim: Simulator, folder: Path, playbooks: Iterable[Path] | None = None) -> None:
        self.sim, self.folder = sim, folder
        self.config = folder / "agent.yaml"
        self.state_dir = folder / "state"
        self.playbooks = list(playbooks) if playbooks is not None else None
        self.runner = CliRunner()

    def reset(self, breaks: Iterable[str] = (), users: int = E2E_USERS) -> World:
        """A fresh tenant with `breaks` broken, and the config rewritten (a break may rename the account)."""
        self.sim.reset(users=users, breaks=list(breaks))
        self.sim.write_config(self.config)
        return self

    def env(self) -> dict[str, str]:
        env = {"AGENT_CONFIG": str(self.config), "AGENT_STATE_DIR": str(self.state_dir)}
        if self.playbooks is not None:
            env["AGENT_PLAYBOOKS"] = os.pathsep.join(str(p) for p in self.playbooks)
        return env

    def run(self, *argv: str) -> Result:
        """`agent ARGV...` with the world's config and state dir (via the environment).

        The CLI runs its own event loop: call this from plain (not async) tests.
        """
        outcome = self.runner.invoke(app, list(argv), env=self.env(), catch_exceptions=False)
        stdout, stderr = outcome.stdout, outcome.stderr
        try:
            parsed = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            parsed = None
        return Result(outcome.exit_code, stdout, stderr, parsed)

    def log_seq(self) -> int:
        """The simulator request log's cursor: pass it to writes_since after the next command."""
        return self.sim.request_log.last_seq

    def writes_since(self, seq: int) -> list[dict[str, Any]]:
        """Requests after `seq` that changed the tenant."""
        return [e for e in self.sim.request_log.entries(since=seq) if e.get("wrote")]

    def requests_since(self, seq: int) -> list[dict[str, Any]]:
        return self.sim.request_log.entries(since=seq)

    # -- below the CLI: the catalog's own tests drive detectors and fixers with real clients -----------
    def context(self, connector: str, cause: str = "", *, write: bool = False) -> Context:
        """A Context for one configured connector with real client adapters; writes only if `write`."""
        config = load_config(self.config)
        conn = config.connector(connector)
        tenant = config.tenant_of(conn)
        guard = WriteGuard(dry_run=not write)
        return Context(tenant, conn, guard, Clients(tenant, conn, guard), cause=cause)

    @contextlib.asynccontextmanager
    async def open_context(self, connector: str, cause: str = "", *,
                           write: bool = False) -> AsyncIterator[Context]:
        """`context()` whose client pools are closed afterwards."""
        ctx = self.context(connector, cause, write=write)
        try:
            yield ctx
        finally:
            await ctx.clients.aclose()

    def revoke_admin_permissions(self, *names: str) -> None:
        """Take Graph application permissions (e.g. Policy.Read.All) away from the agent's own app."""
        tenant = self.sim.state
        admin, graph = tenant.sp_by_app_id(ADMIN_APP_ID), tenant.sp_by_app_id(GRAPH_APP_ID)
        assert admin is not None and graph is not None
        role_ids = {r.id for r in graph.app_roles if r.value in names}
        for grant in list(tenant.app_role_assignments.values()):
            ours = (grant.principal_id, grant.resource_id) == (admin.id, graph.id)
            if ours and grant.app_role_id in role_ids:
                tenant.delete_app_role_assignment(grant.id)


def assert_only(result: Result, connector: str, found: str, causes: Iterable[str],
                status: str = "found") -> None:
    """`found` has `status` for the connector and every other cause of `causes` is ok."""
    statuses = result.statuses(connector)
    expected = {cause: status if cause == found else "ok" for cause in causes}
    assert {c: statuses.get(c) for c in expected} == expected, statuses


def assert_planned_calls(result: Result, connector: str, cause: str) -> list[dict[str, Any]]:
    """The dry-run row is `planned` and each change shows its exact call; returns the changes."""
    row = result.result(connector, cause)
    assert row["status"] == "planned", row
    assert row["changes"], row
    for change in row["changes"]:
        call = change["call"]
        assert call["method"] in ("POST", "PATCH", "DELETE", "MERGE"), call  # MERGE: SharePoint's update
        assert call["url"].startswith("https://"), call
        assert "body" in call
    return list(row["changes"])


def fix_cycle(world: World, connector: str, cause: str, causes: Iterable[str],
              approve: tuple[str, ...] = ("--yes",)) -> dict[str, Result]:
    """diagnose (found, the rest ok) -> dry-run (plan, exit 3, no write) -> fix (fixed, exit 0)
    -> diagnose (clean) -> undo (exit 0) -> diagnose (found again). Returns each step's result."""
    causes = list(causes)
    runs: dict[str, Result] = {}
    runs["diagnose"] = world.run("diagnose", "-o", "json", "--connector", connector)
    assert runs["diagnose"].code == 3, runs["diagnose"].stderr
    assert_only(runs["diagnose"], connector, cause, causes)
    seq = world.log_seq()
    runs["dry_run"] = world.run("fix", "--dry-run", "-o", "json", "--connector", connector)
    assert runs["dry_run"].code == 3, runs["dry_run"].stderr
    assert_planned_calls(runs["dry_run"], connector, cause)
    assert world.writes_since(seq) == []
    runs["fix"] = world.run("fix", *approve, "-o", "json", "--connector", connector)
    assert runs["fix"].code == 0, (runs["fix"].stderr, runs["fix"].result(connector, cause))
    assert runs["fix"].result(connector, cause)["status"] == "fixed"
    runs["clean"] = world.run("diagnose", "-o", "json", "--connector", connector)
    assert runs["clean"].code == 0, runs["clean"].statuses(connector)
    runs["undo"] = world.run("undo", runs["fix"].run_id, "-o", "json")
    assert runs["undo"].code == 0, (runs["undo"].stderr, runs["undo"].json)
    runs["again"] = world.run("diagnose", "-o", "json", "--connector", connector)
    assert runs["again"].code == 3
    assert runs["again"].result(connector, cause)["status"] == "found"
    return runs
