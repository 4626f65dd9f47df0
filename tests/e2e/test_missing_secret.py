"""One connector's missing secret makes only the checks that need it `unknown`, naming the reference;
every other connector is still checked and healed (configs/example.yaml promises as much)."""

from __future__ import annotations

from tests.e2e.harness import World

MISSING = "file:no-such-password.txt"


def _break_reference(world: World) -> None:
    text = world.config.read_text()
    first = text.index("password: file:")
    end = text.index("\n", first)
    world.config.write_text(text[:first] + f"password: {MISSING}" + text[end:])


def test_a_missing_secret_is_unknown_for_its_checks_only(world: World) -> None:
    _break_reference(world)
    for command in (["diagnose"], ["heal"]):
        result = world.run(*command, "-o", "json")
        assert result.code == 3, result.stderr
        unknown = [r for r in result.results() if r["status"] == "unknown"]
        assert unknown and all(MISSING in r["reason"] for r in unknown), unknown
        assert {r["connector"] for r in unknown} == {"mail-exo"}
        others = [r for r in result.results() if r["connector"] != "mail-exo"]
        assert others and all(r["status"] == "ok" for r in others), others
        assert "no-such-password" in result.stdout and "Traceback" not in result.stderr
