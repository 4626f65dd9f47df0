"""Tests for agent.yamlsrc: line numbers of keys and items, syntax errors, pydantic errors as problems."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import Problem
from agent.yamlsrc import YamlSyntaxError, format_loc, parse_yaml, validation_problems

TEXT = """\
top: 1
items:
  - name: a
  - name: b
    deep:
      key: [x, y]
"""


def test_lines_of_keys_items_and_nearest_ancestor() -> None:
    doc = parse_yaml(TEXT, "f.yaml")
    assert doc.data["items"][1]["deep"]["key"] == ["x", "y"]
    assert doc.line_of(("top",)) == 1
    assert doc.line_of(("items", 1)) == 4
    assert doc.line_of(("items", 1, "deep", "key")) == 6
    assert doc.line_of(("items", 1, "deep", "missing")) == 5  # a missing key: its parent's line
    assert doc.line_of(("nothing",)) == 1  # the document itself
    assert doc.duplicate_keys == []


def test_duplicate_keys_are_recorded() -> None:
    doc = parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert doc.duplicate_keys == [Problem("d.yaml", 3, "duplicate key 'a' (first on line 1)")]


def test_recursive_alias_does_not_loop() -> None:
    doc = parse_yaml("a: &x\n  b: *x\n", "r.yaml")
    assert doc.line_of(("a", "b")) == 2


@pytest.mark.parametrize(
    ("text", "line", "start"),
    [
        ("a: [1, 2\nb: 3\n", 2, "YAML syntax error: expected ',' or ']'"),
        ("a: 1\n  b: 2\n", 2, "YAML syntax error: mapping values are not allowed here"),
        ("a: 1\n---\nb: 2\n", 2, "YAML syntax error: expected a single document"),
        ("a: !!python/object:os.system x\n", 1, "YAML syntax error: could not determine a constructor"),
    ],
)
def test_syntax_errors_carry_their_line(text: str, line: int, start: str) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml(text, "s.yaml")
    assert info.value.problem.line == line
    assert info.value.problem.message.startswith(start)


def test_format_loc() -> None:
    assert format_loc(("connectors", 1, "kind")) == "connectors[1].kind"
    assert format_loc((0, "a")) == "[0].a"
    assert format_loc(()) == ""


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["on", "off"]
    count: int = 0


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: list[Inner]


def test_validation_problems_are_plain_and_placed() -> None:
    doc = parse_yaml("inner:\n  - mode: maybe\n    count: many\n    colour: red\n  - {}\n", "v.yaml")
    with pytest.raises(ValidationError) as info:
        Outer.model_validate(doc.data)
    assert [str(p) for p in validation_problems(info.value, doc, Outer)] == [
        "v.yaml:2: inner[0].mode: invalid value 'maybe'; valid: on, off",
        "v.yaml:3: inner[0].count: Input should be a valid integer, unable to parse string as an integer "
        "(got a string)",
        "v.yaml:4: inner[0].colour: unknown field 'colour'; valid: count, mode",
        "v.yaml:5: inner[1].mode: required field is missing",
    ]


def _bomb(levels: int) -> str:
    text, previous = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n', "a"
    for name in "bcdefghijk"[:levels]:
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


def test_an_alias_bomb_is_refused_at_once() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml(_bomb(8), "bomb.yaml")  # 369 bytes that expand to 9^9 values
    assert "expands to more than" in str(info.value) and str(info.value).startswith("bomb.yaml:")


def test_shared_aliases_within_the_bound_still_load_and_keep_their_lines() -> None:
    doc = parse_yaml(_bomb(2), "ok.yaml")  # 9 + 81 + 729 values
    assert len(doc.data["c"]) == 9 and doc.line_of(("c", 0)) == 2  # an alias points at its anchor's line


def test_deep_nesting_and_nul_bytes_are_syntax_errors() -> None:
    with pytest.raises(YamlSyntaxError, match="nested more than 64 levels"):
        parse_yaml("a: " + "[" * 80 + "]" * 80 + "\n", "deep.yaml")
    with pytest.raises(YamlSyntaxError, match="nested too deeply"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "deeper.yaml")
    with pytest.raises(YamlSyntaxError, match="NUL bytes"):
        parse_yaml("a: 1\x00\n", "nul.yaml")


class _Auth(BaseModel):
    auth: Literal["oauth", "basic", "ntlm"]


@pytest.mark.parametrize("value, shown", [("basik", True), ("kerberos", True),
                                          ("Hunter2-Summer!", False), ("P@ssw0rd2024", False)])
def test_an_invalid_choice_is_echoed_only_when_it_reads_like_one(value: str, shown: bool) -> None:
    doc = parse_yaml(f"auth: '{value}'\n", "c.yaml")
    with pytest.raises(ValidationError) as info:
        _Auth.model_validate(doc.data)
    (problem,) = validation_problems(info.value, doc, _Auth)
    assert (value in str(problem)) is shown and "valid: oauth, basic, ntlm" in str(problem)


def test_libyaml_and_the_python_parser_read_the_shipped_files_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    import agent.yamlsrc as yamlsrc

    assert yamlsrc._FAST_LOADER is getattr(yaml, "CSafeLoader", None)
    root = Path(__file__).resolve().parents[1]
    files = sorted([*root.glob("playbooks/**/*.yaml"), *root.glob("configs/**/*.yaml")])
    assert len(files) >= 13
    fast = {f: parse_yaml(f.read_text(encoding="utf-8"), f.name) for f in files}
    monkeypatch.setattr(yamlsrc, "_FAST_LOADER", None)
    for f in files:
        slow = parse_yaml(f.read_text(encoding="utf-8"), f.name)
        assert (fast[f].data, fast[f].lines, fast[f].duplicate_keys) == \
            (slow.data, slow.lines, slow.duplicate_keys), f
