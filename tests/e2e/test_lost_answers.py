"""Writes the tenant made but whose answer was lost: journaled `uncertain`, settled by reading the tenant.

The simulator has no "apply, then drop the connection" fault, so the adapter method is wrapped: the real
request is made (the simulated tenant changes), then the connection error the library would raise is
raised instead of the answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.catalog.files.app_credentials_invalid import RotateClientSecret
from agent.catalog.mail.account_unlicensed import AssignExchangeLicence
from agent.catalog.mail.bad_credentials import RestoreSignIn
from agent.clients.errors import translate
from agent.clients.graph import GraphAdapter
from agent.clients.sharepoint import SharePointAdapter
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, TARGET_SITE
from tests.e2e.harness import World

HIGH = ("--yes", "--allow-risk", "high")


@pytest.fixture(autouse=True)
def short_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that was not made is verified for its fixer's whole propagation time: a second here."""
    for fixer in (AssignExchangeLicence, RotateClientSecret, RestoreSignIn):
        monkeypatch.setattr(fixer, "propagation_s", 1.0)


def drop_after(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, then: Callable[[], None] | None = None
               ) -> None:
    """cls.name makes its request, then the answer is lost (or `then` runs, e.g. to add a fault)."""
    original = getattr(cls, name)

    async def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        await original(self, *args, **kwargs)
        if then is not None:
            then()
            return None
        raise translate(httpx.RemoteProtocolError("Server disconnected without sending a response."),
                        write=True)

    monkeypatch.setattr(cls, name, wrapped)


def restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the adapters back, keeping the short verify."""
    monkeypatch.undo()
    short_verify.__wrapped__(monkeypatch)  # type: ignore[attr-defined]


def states(world: World, run_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(world.state_dir / "journal.sqlite3") as db:
        return list(db.execute("SELECT action, state FROM changes WHERE run=? ORDER BY seq", (run_id,)))


def test_ca_exclusion_whose_read_back_is_throttled_is_undone(world: World,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's H1: six 503s on the GET after the PATCH left the account excluded from MFA for good."""
    world.reset(["mfa-blocks-service-account"])
    tenant = world.sim.state
    policy = tenant.ca_policy(str(tenant.extras["mfa_policy_id"]))
    others, account = list(policy.exclude_users), tenant.user(ACCOUNT_UPN).id
    throttle = {"throttle": {"first": 6, "path": "conditionalAccess/policies/", "status": 503,
                             "retry_after_s": 0}}
    drop_after(monkeypatch, GraphAdapter, "set_ca_excluded_users", lambda: world.sim.set_faults(throttle))
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", "mail-exo",
                      "--only", "mfa-blocks-service-account")
    row = fixed.result("mail-exo", "mfa-blocks-service-account")
    assert row["status"] == "fixed" and "answer to the write was lost" in row["reason"], row
    assert states(world, fixed.run_id) == [("exclude-account", "uncertain")]
    assert account in tenant.ca_policy(policy.id).exclude_users
    restore(monkeypatch)
    world.sim.set_faults({})
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0, undone.json
    assert tenant.ca_policy(policy.id).exclude_users == others  # the MFA exclusion is gone again
    assert states(world, fixed.run_id) == [("exclude-account", "undone")]


def test_undo_whose_own_answer_was_lost_finishes_on_the_next_undo(world: World,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["mfa-blocks-service-account"])
    tenant = world.sim.state
    policy = tenant.ca_policy(str(tenant.extras["mfa_policy_id"]))
    others = list(policy.exclude_users)
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", "mail-exo")
    assert fixed.code == 0
    drop_after(monkeypatch, GraphAdapter, "set_ca_excluded_users")
    first = world.run("undo", fixed.run_id, "-o", "json")
    assert first.code == 4 and tenant.ca_policy(policy.id).exclude_users == others  # made, answer lost
    restore(monkeypatch)
    second = world.run("undo", fixed.run_id, "-o", "json")
    assert second.code == 0, second.json  # not refused as "modified after the fix" by its own undo
    assert "nothing to reverse" in second.json["results"][0]["reason"]
    assert ("exclude-account", "undone") in states(world, fixed.run_id)


def test_added_client_secret_whose_answer_was_lost_is_removed_by_undo(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["app-credentials-invalid:wrong-secret"])
    app = world.sim.state.application(CONNECTOR_APP_ID)
    keys = {c.key_id for c in app.password_credentials}
    drop_after(monkeypatch, GraphAdapter, "add_password")
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", "files-onedrive",
                      "--only", "app-credentials-invalid")
    row = fixed.result("files-onedrive", "app-credentials-invalid")
    assert fixed.code == 4 and row["status"] == "failed" and "fix uncertain" in row["reason"], row
    assert len(app.password_credentials) == len(keys) + 1  # a live secret nobody stored
    restore(monkeypatch)
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0, undone.json
    assert {c.key_id for c in app.password_credentials} == keys


def test_created_site_whose_answer_was_lost_is_deleted_by_undo(world: World,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["target-site-missing"])
    drop_after(monkeypatch, SharePointAdapter, "create_site")
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", "sp-sites",
                      "--only", "target-site-missing")
    assert states(world, fixed.run_id) == [("create-site", "uncertain")]
    assert fixed.result("sp-sites", "target-site-missing")["status"] == "fixed"  # verify saw the site
    restore(monkeypatch)
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0, undone.json
    assert world.sim.state.find_site(TARGET_SITE) is None


def test_licence_whose_answer_was_lost_is_removed_by_undo(world: World,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["account-unlicensed"])
    user = world.sim.state.user(ACCOUNT_UPN)
    drop_after(monkeypatch, GraphAdapter, "assign_license")
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", "mail-exo", "--only", "account-unlicensed")
    assert ("assign-licence", "uncertain") in states(world, fixed.run_id)
    assert user.licenses
    restore(monkeypatch)
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0, undone.json
    assert world.sim.state.user(ACCOUNT_UPN).licenses == []


def test_lost_answer_on_a_write_never_made_is_skipped(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request was lost before the tenant made it: undo reads the tenant and leaves it alone."""
    world.reset(["account-unlicensed"])

    async def lost(self: Any, *args: Any, **kwargs: Any) -> None:
        self.guard.check(self.call("POST", "/users/x/assignLicense"))
        raise translate(httpx.ReadTimeout("timed out"), write=True)

    monkeypatch.setattr(GraphAdapter, "assign_license", lost)
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", "mail-exo", "--only", "account-unlicensed")
    assert fixed.code == 4 and ("assign-licence", "uncertain") in states(world, fixed.run_id)
    restore(monkeypatch)
    seq = world.log_seq()
    undone = world.run("undo", fixed.run_id, "-o", "json")
    assert undone.code == 0 and "never made" in undone.json["results"][0]["reason"]
    assert not [w for w in world.writes_since(seq) if "assignLicense" in w["path"]]


def test_password_reset_whose_answer_was_lost_keeps_the_new_password(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's H2: the store got the old password back while the tenant had the new one."""
    world.reset(["bad-credentials:wrong-password"])
    store = world.folder / "migsvc.password"
    old = store.read_text().strip()
    drop_after(monkeypatch, GraphAdapter, "patch_user")
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", "mail-exo", "--only", "bad-credentials")
    row = fixed.result("mail-exo", "bad-credentials")
    new = store.read_text().strip()
    assert new != old and world.sim.state.user(ACCOUNT_UPN).password == new  # store and tenant agree
    assert (world.folder / "migsvc.password.previous").read_text().strip() == old  # still recoverable
    assert states(world, fixed.run_id) == [("reset-password", "uncertain")]
    assert row["status"] == "fixed" and "answer to the write was lost" in row["reason"], row
    assert old not in fixed.stdout + fixed.stderr and new not in fixed.stdout + fixed.stderr


def test_password_reset_refused_puts_the_old_password_back(world: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    world.reset(["bad-credentials:wrong-password"])
    store = world.folder / "migsvc.password"
    old = store.read_text().strip()

    async def refused(self: Any, user: str, changes: dict[str, Any]) -> None:
        self.guard.check(self.call("PATCH", f"/users/{user}"))
        raise translate(_Status(403), write=True)

    monkeypatch.setattr(GraphAdapter, "patch_user", refused)
    fixed = world.run("fix", *HIGH, "-o", "json", "--connector", "mail-exo", "--only", "bad-credentials")
    assert fixed.code == 4 and states(world, fixed.run_id) == [("reset-password", "failed")]
    assert store.read_text().strip() == old and not (world.folder / "migsvc.password.previous").exists()


class _Status(Exception):
    """An error carrying an HTTP status, as the libraries' errors do."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status} Forbidden")
        self.status_code = status


def test_a_lost_write_the_tenant_does_not_show_fails_at_once(world: World,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A licence write lost before the tenant made it: read back at once, reported failed, not polled for
    the licence's 15 minutes of propagation; still journaled uncertain, so undo reads again."""
    monkeypatch.setattr(AssignExchangeLicence, "propagation_s", 900.0)  # the real figure, not the short one
    world.reset(["account-unlicensed"])

    async def lost(self: Any, *args: Any, **kwargs: Any) -> None:
        self.guard.check(self.call("POST", "/users/x/assignLicense"))
        raise translate(httpx.ReadTimeout("timed out"), write=True)

    monkeypatch.setattr(GraphAdapter, "assign_license", lost)
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", "mail-exo", "--only", "account-unlicensed",
                      "--deadline", "5m")
    row = fixed.result("mail-exo", "account-unlicensed")
    assert fixed.code == 4 and row["status"] == "failed", row
    assert "does not show it made" in row["reason"] and "deadline" not in row["reason"], row
    assert states(world, fixed.run_id) == [("assign-licence", "uncertain")]
