"""End to end over HTTPS: causes that hide or wait on each other are reported honestly, and one fix or heal
run converges, fixing in later rounds what the first round's fixes unmasked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.e2e.harness import Result, World

HIGH = ("--yes", "--allow-risk", "high")
NEEDS_A_PERSON = {"sso-federated-account", "legacy-auth-disabled", "bad-credentials"}
CAUSES = 13


def not_ok(result: Result) -> set[str]:
    return {r["cause"] for r in result.results() if r["status"] != "ok"}


def rows(result: Result, status: str) -> list[dict[str, Any]]:
    return [r for r in result.results() if r["status"] == status]


def causes_of(items: Iterable[dict[str, Any]]) -> set[str]:
    return {r["cause"] for r in items}


def test_all_broken_dry_run_is_honest(world: World) -> None:
    world.reset(["all"])
    seq = world.log_seq()
    dry = world.run("fix", "--dry-run", "-o", "json")
    assert dry.code == 3 and world.writes_since(seq) == []
    by_cause: dict[str, list[dict[str, Any]]] = {}
    for row in dry.results():
        by_cause.setdefault(row["cause"], []).append(row)
    assert len(by_cause) == CAUSES
    for cause, items in by_cause.items():  # found or planned somewhere, or unknown naming its mask
        honest = [r for r in items if r["status"] in ("found", "planned")
                  or (r["status"] == "unknown" and r["masked_by"])]
        assert honest, (cause, items)
    assert len(causes_of(rows(dry, "planned"))) >= 10
    credentials = dry.result("mail-exo", "bad-credentials")
    assert (credentials["status"], credentials["masked_by"]) == ("unknown", ["sso-federated-account"])
    onprem = dry.result("mail-onprem", "bad-credentials")
    assert onprem["masked_by"] == ["sso-federated-account", "legacy-auth-disabled"]
    grant = dry.result("mail-exo", "exo-app-missing-full-access")
    assert (grant["status"], grant["waits_on"]) == ("planned", ["app-not-installed"])
    order = [(r["connector"], r["cause"]) for r in dry.results()]
    assert order.index(("files-onedrive", "app-not-installed")) < \
        order.index(("mail-exo", "exo-app-missing-full-access"))


def test_one_fix_run_leaves_only_what_needs_a_person(world: World) -> None:
    world.reset(["all"])
    fixed = world.run("fix", *HIGH, "-o", "json")
    assert fixed.code == 3, fixed.stderr  # the advice-only causes remain
    assert len(causes_of(rows(fixed, "fixed"))) >= 10
    grant = fixed.result("mail-exo", "exo-app-missing-full-access")
    assert (grant["status"], grant["round"]) == ("fixed", 2)
    assert "fixed in round 2" in grant["reason"]
    after = world.run("diagnose", "-o", "json")
    assert not_ok(after) == NEEDS_A_PERSON, after.statuses("mail-exo")

    undo = world.run("undo", fixed.run_id, "-o", "json")  # every round, newest change first
    assert undo.code == 0, (undo.stderr, undo.json)
    again = world.run("diagnose", "-o", "json")
    assert causes_of(rows(again, "found")) >= causes_of(rows(fixed, "fixed"))


def test_app_not_installed_alone_is_healed_in_one_run(world: World) -> None:
    world.reset(["app-not-installed"])
    before = world.run("diagnose", "-o", "json")
    assert not_ok(before) == {"app-not-installed", "exo-app-missing-full-access"}
    assert before.result("mail-exo", "exo-app-missing-full-access")["status"] == "found"  # implied
    fixed = world.run("fix", *HIGH, "-o", "json")
    assert fixed.code == 0, (fixed.stderr, fixed.statuses("mail-exo"))
    assert fixed.result("files-onedrive", "app-not-installed")["round"] == 1
    assert fixed.result("mail-exo", "exo-app-missing-full-access")["round"] == 2
    assert world.run("diagnose", "-o", "json").code == 0


def test_one_heal_run_converges_under_its_policy(world: World) -> None:
    world.reset(["all"])
    policy = world.folder / "policy.yaml"
    policy.write_text("max_risk: high\ndeny: [bad-credentials]\n")
    healed = world.run("heal", "-o", "json", "--policy", str(policy))
    assert healed.code == 3, healed.stderr
    assert healed.result("mail-exo", "exo-app-missing-full-access")["round"] == 2
    after = world.run("diagnose", "-o", "json")
    assert not_ok(after) == NEEDS_A_PERSON, after.statuses("mail-exo")
