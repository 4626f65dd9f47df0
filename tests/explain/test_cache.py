"""explain's cache of the parsed knowledge: used when the files are unchanged, renewed when one changes,
ignored when others may write it, off on request, and never a way around validation."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.errors import PlaybookError
from agent.explain import cache as explain_cache
from agent.explain.cache import cached_read
from agent.explain.vocab import load_clues


class Parser:
    """Counts how often the YAML is really parsed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, paths: Sequence[Path]) -> tuple[dict[Path, Any], bool]:
        self.calls += 1
        return {p: yaml.safe_load(p.read_text()) for p in paths}, True


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("vocabulary: one\ntitle: One\nsource: https://x.test/\nentries:\n"
                   "  - {code: AADSTS50126, cause: bad-credentials, weight: 3}\n")
    two.write_text("- kind: throttling\n  title: Throttled\n")
    return [one, two]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(explain_cache.ENV_VAR, str(folder))
    return folder


def test_the_second_read_comes_from_the_cache_with_the_same_data(files: list[Path], cache: Path) -> None:
    parse = Parser()
    first = cached_read(files, parse)
    second = cached_read(files, parse)
    assert parse.calls == 1 and first == second
    (written,) = cache.glob("explain-*.json")
    assert written.stat().st_mode & 0o077 == 0 and cache.stat().st_mode & 0o077 == 0


def test_a_changed_file_is_parsed_again(files: list[Path], cache: Path) -> None:
    parse = Parser()
    cached_read(files, parse)
    files[1].write_text("- kind: proxy\n  title: Proxy\n")
    assert cached_read(files, parse)[files[1]] == [{"kind": "proxy", "title": "Proxy"}]
    assert parse.calls == 2 and len(list(cache.glob("explain-*.json"))) == 1


def test_a_cache_others_may_write_is_ignored(files: list[Path], cache: Path) -> None:
    parse = Parser()
    cached_read(files, parse)
    (written,) = cache.glob("explain-*.json")
    os.chmod(written, 0o666)
    cached_read(files, parse)
    assert parse.calls == 2


def test_off_writes_nothing(files: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(explain_cache.ENV_VAR, "off")
    parse = Parser()
    cached_read(files, parse), cached_read(files, parse)
    assert parse.calls == 2 and not cache.exists()


def test_a_failed_parse_is_not_cached(files: list[Path], cache: Path) -> None:
    calls = []

    def failing(paths: Sequence[Path]) -> tuple[dict[Path, Any], bool]:
        calls.append(1)
        return {p: None for p in paths}, False

    cached_read(files, failing), cached_read(files, failing)
    assert len(calls) == 2 and not list(cache.glob("explain-*.json"))


def test_a_tampered_cache_is_validated_like_the_yaml(files: list[Path], cache: Path) -> None:
    cached_read(files, Parser())
    (written,) = cache.glob("explain-*.json")
    document = json.loads(written.read_text())
    document["files"][str(files[0])]["entries"][0]["weight"] = 99  # the key still matches the files
    written.write_text(json.dumps(document))
    data = cached_read(files, Parser())
    assert data[files[0]]["entries"][0]["weight"] == 99  # it is read ...
    with pytest.raises(PlaybookError):  # ... and refused exactly as the same YAML would be
        load_clues([files[0]], lambda p: data[p])


def test_garbage_in_the_cache_falls_back_to_the_yaml(files: list[Path], cache: Path) -> None:
    cached_read(files, Parser())
    (written,) = cache.glob("explain-*.json")
    written.write_text("{not json")
    parse = Parser()
    assert cached_read(files, parse)[files[1]] == [{"kind": "throttling", "title": "Throttled"}]
    assert parse.calls == 1


def test_the_shipped_knowledge_is_the_same_from_the_cache(cache: Path) -> None:
    from agent.explain import knowledge as explain_knowledge
    from agent.explain.knowledge import load_knowledge
    from agent.playbook.paths import shipped_paths

    def fresh() -> Any:
        explain_knowledge._cached.cache_clear()
        explain_knowledge.vocabulary_clues.cache_clear()
        explain_knowledge.unrelated_entries.cache_clear()
        explain_knowledge._cached.cache_clear()
        return load_knowledge(shipped_paths())

    parsed, cached = fresh(), fresh()
    assert list(cache.glob("explain-*.json")) and parsed == cached


# -- the knowledge's cached form: validated once by the schemas, read back by plain shape checks ------------
def _fresh_knowledge() -> Any:
    from agent.explain import knowledge as explain_knowledge
    from agent.playbook.paths import shipped_paths

    explain_knowledge._cached.cache_clear()
    return explain_knowledge.load_knowledge(shipped_paths())


def _edit_cache(cache: Path, edit: Any) -> None:
    (written,) = cache.glob("explain-*.json")
    document = json.loads(written.read_text())
    edit(document["files"])
    written.write_text(json.dumps(document))


def _a_playbook(files: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in files.items() if k.endswith("/no-full-control.yaml"))


def _a_vocabulary(files: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in files.items() if k.endswith("/knowledge/ews.yaml"))


@pytest.mark.parametrize("edit", [
    pytest.param(lambda files: _a_vocabulary(files)["clues"][0].update(weight="heavy"), id="weight-a-word"),
    pytest.param(lambda files: _a_vocabulary(files)["clues"][0].update(kind="smell"), id="unknown-kind"),
    pytest.param(lambda files: _a_vocabulary(files)["clues"][0].update(kind="pattern", value="(a+)+$"),
                 id="backtracking-pattern"),
    pytest.param(lambda files: _a_vocabulary(files)["clues"][0].pop("target"), id="missing-key"),
    pytest.param(lambda files: files.update({k: {"entry": 7} for k in files if k.endswith(".yaml")}),
                 id="entry-not-a-mapping"),
    pytest.param(lambda files: _a_playbook(files)["entry"]["symptoms"][0].__setitem__(3, ["nowhere"]),
                 id="symptom-of-an-unknown-service"),
    pytest.param(lambda files: _a_playbook(files)["entry"]["symptoms"][0].pop(),
                 id="symptom-without-services"),
])
def test_a_cached_form_of_another_shape_is_refused_and_the_yaml_read(cache: Path, edit: Any) -> None:
    truth = _fresh_knowledge()
    _edit_cache(cache, edit)
    assert _fresh_knowledge() == truth  # the YAML was read again: the same knowledge, not the edited one


def test_a_cached_form_of_the_right_shape_is_what_explain_knows(cache: Path) -> None:
    """As editing the YAML would (the cache is the user's own, and nobody else may write it)."""
    _fresh_knowledge()
    _edit_cache(cache, lambda files: _a_vocabulary(files)["clues"][0].update(weight=0.25))
    first = next(c for c in _fresh_knowledge().clues if c.vocabulary == "ews")
    assert first.weight == 0.25


def test_changed_code_rebuilds_the_cached_form(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    from agent.explain import knowledge as explain_knowledge

    _fresh_knowledge()
    _edit_cache(cache, lambda files: _a_vocabulary(files)["clues"][0].update(weight=0.25))
    # the key covers the text of the code that builds the cached form: other code, another key
    code = tmp_path / "agent"
    for name in explain_knowledge._BUILDERS:
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text((explain_knowledge.AGENT_DIR / name).read_text() + "\n# changed\n")
    monkeypatch.setattr(explain_knowledge, "AGENT_DIR", code)
    first = next(c for c in _fresh_knowledge().clues if c.vocabulary == "ews")
    assert first.weight != 0.25


def test_a_warm_explain_builds_no_schema_and_parses_no_yaml(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, explain_cache.ENV_VAR: str(tmp_path / "cache")}
    argv = [sys.executable, "-X", "importtime", "-m", "agent", "explain", "AADSTS50076 (401) Unauthorized"]
    cold, warm = (subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60) for _ in range(2))
    assert cold.returncode == warm.returncode == 0 and cold.stdout == warm.stdout

    def loaded(proc: subprocess.CompletedProcess[str]) -> set[str]:
        lines = proc.stderr.splitlines()
        return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}

    specs = {"yaml", "pydantic", "agent.explain.vocab", "agent.playbook.schema"}
    assert specs <= loaded(cold) and not specs & loaded(warm), specs & loaded(warm)
