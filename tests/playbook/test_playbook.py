"""Tests for agent.playbook.load: staged validation with file:line problems, and the Playbook objects."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import agent
from agent.errors import PlaybookError
from agent.model import Risk
from agent.playbook.load import default_paths, ensure_catalog_loaded, load_playbooks
from tests import playbook_fakes

DATA = Path(__file__).resolve().parents[1] / "data" / "playbooks"
GOOD, BAD = DATA / "good", DATA / "bad"


@pytest.fixture(autouse=True)
def _outside_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # files outside the working folder are shown with their full path


@pytest.fixture
def fakes() -> Iterator[ModuleType]:
    playbook_fakes.register()
    yield playbook_fakes
    playbook_fakes.unregister()


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        load_playbooks(paths)
    return info.value.lines()


def test_good_playbooks_load(fakes: ModuleType) -> None:
    playbooks = {pb.id: pb for pb in load_playbooks([GOOD])}
    assert list(playbooks) == ["test-advice-only", "test-unlicensed", "test-grant-high"]  # by area, then id
    pb = playbooks["test-unlicensed"]
    assert (pb.title, pb.area, pb.applies_to) == (
        "The migration account has no Exchange Online licence",
        "mail",
        ("exchange-online",),
    )
    assert [(s.kind, s.value, s.weight) for s in pb.symptoms] == [
        ("code", "ErrorNonExistentMailbox", 1.0),
        ("text", "mailbox is not licensed", 0.5),
        ("pattern", r"AADSTS\d+: .*licen[cs]e", 1.0),
        ("status", 401, 1.0),
    ]
    assert [s.services for s in pb.symptoms] == [None, None, None, ["ews", "mail"]]  # a sign of one surface
    assert pb.source == GOOD / "mail" / "test-unlicensed.yaml"
    assert pb.advice.startswith("Assign an Exchange Online licence")
    assert pb.references == (
        "https://learn.microsoft.com/en-us/microsoft-365/admin/manage/assign-licenses-to-users",
    )
    assert (pb.detector_name, pb.fixer_name, pb.risk) == ("test-user-check", "test-assign", Risk.MEDIUM)


def test_make_detector_and_fixer_give_fresh_configured_instances(fakes: ModuleType) -> None:
    pb = next(p for p in load_playbooks([GOOD]) if p.id == "test-unlicensed")
    first, second = pb.make_detector(), pb.make_detector()
    assert isinstance(first, fakes.UserCheck) and first is not second
    assert first.params.model_dump() == {"account": "connector.account", "min_plans": 2}
    assert first.params is not second.params  # a detector cannot change another's parameters
    fixer = pb.make_fixer()
    assert isinstance(fixer, fakes.Assign)
    assert fixer.params.model_dump() == {"prefer_skus": ["ENTERPRISEPACK"]}


def test_advice_only_and_inherited_risk(fakes: ModuleType) -> None:
    playbooks = {pb.id: pb for pb in load_playbooks([GOOD])}
    advice = playbooks["test-advice-only"]
    assert advice.make_fixer() is None and advice.risk is None and advice.fixer_name is None
    assert advice.symptoms[0].kind == "header"
    assert playbooks["test-grant-high"].risk is Risk.HIGH  # no fix.risk: the fixer's declared risk


BAD_FILES = [
    (
        "syntax-error.yaml",
        [
            (
                5,
                "YAML syntax error: expected ',' or ']', but got ':' "
                "(while parsing a flow sequence started on line 4)",
            )
        ],
    ),
    ("unknown-use.yaml", [(8, "detect.use: unknown detector 'test-user-chek'; valid: ")]),
    (
        "wrong-type.yaml",
        [
            (
                11,
                "detect.with.min_plans: Input should be a valid integer, unable to parse string "
                "as an integer (got a string)",
            )
        ],
    ),
    ("missing-field.yaml", [(1, "title: required field is missing")]),
    ("mail/area-mismatch.yaml", [(3, "area: 'files' does not match its folder 'mail'")]),
    (
        "risk-too-low.yaml",
        [(10, "fix.risk: 'low' is lower than fixer 'test-grant' declares (high); valid: high")],
    ),
    ("unknown-fixer.yaml", [(9, "fix.use: unknown fixer 'test-asign'; valid: ")]),
    (
        "bad-enum.yaml",
        [
            (3, "area: invalid value 'email'; valid: mail, files, sharepoint"),
            (
                4,
                "applies_to[1]: invalid value 'one-drive'; valid: exchange-online, exchange-onprem, "
                "onedrive, sharepoint",
            ),
        ],
    ),
    (
        "unknown-key.yaml",
        [
            (1, "advice: required field is missing"),
            (
                8,
                "advise: unknown field 'advise'; valid: advice, after, applies_to, area, detect, fix, "
                "id, implied_by, masked_by, references, symptoms, title",
            ),
        ],
    ),
    (
        "bad-symptoms.yaml",
        [
            (
                7,
                "symptoms[1]: a symptom needs exactly one of code, text, pattern, status, header, "
                "exception (got 2)",
            ),
            (9, "symptoms[2].pattern: invalid regular expression: missing ), unterminated subpattern"),
        ],
    ),
]


@pytest.mark.parametrize(("name", "expected"), BAD_FILES, ids=[name for name, _ in BAD_FILES])
def test_each_bad_playbook_gives_one_line_per_problem(
    fakes: ModuleType, name: str, expected: list[tuple[int, str]]
) -> None:
    lines = problems_of(BAD / name)
    assert len(lines) == len(expected), lines
    for line, (number, message) in zip(lines, expected, strict=True):
        assert line.startswith(f"{BAD / name}:{number}: {message}")
        assert "\n" not in line


def test_unknown_name_lists_the_valid_choices(fakes: ModuleType) -> None:
    [detect] = problems_of(BAD / "unknown-use.yaml")
    assert "test-user-check" in detect.partition("valid: ")[2].split(", ")
    [fix] = problems_of(BAD / "unknown-fixer.yaml")
    assert {"test-assign", "test-grant"} <= set(fix.partition("valid: ")[2].split(", "))


def test_a_folder_reports_every_problem_of_every_file(fakes: ModuleType) -> None:
    lines = problems_of(BAD)
    expected = sum(len(problems) for _, problems in BAD_FILES) + 1  # + the duplicate id
    assert len(lines) == expected, "\n".join(lines)
    assert lines == sorted(lines, key=lambda line: line.split(":")[0])  # file by file


def test_duplicate_id_names_both_files(fakes: ModuleType) -> None:
    [line] = problems_of(BAD / "one", BAD / "two")
    assert line == (
        f"{BAD / 'two' / 'duplicate-id.yaml'}:1: id: duplicate id 'duplicate-id' "
        f"(also in {BAD / 'one' / 'duplicate-id.yaml'}:1)"
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


PLAYBOOK = """\
id: {id}
title: T
area: mail
applies_to: [exchange-online]
symptoms: [{{code: X}}]
detect: {{use: test-user-check, with: {{account: a}}}}
advice: A
"""


def test_id_must_equal_the_file_name(fakes: ModuleType, tmp_path: Path) -> None:
    path = write(tmp_path, "right-name.yml", PLAYBOOK.format(id="other-name"))
    assert problems_of(path) == [f"{path}:1: id: 'other-name' must equal the file name 'right-name'"]


def test_id_must_be_kebab_case(fakes: ModuleType, tmp_path: Path) -> None:
    path = write(tmp_path, "Bad_Id.yaml", PLAYBOOK.format(id="Bad_Id"))
    assert problems_of(path) == [
        f"{path}:1: id: must be kebab-case: lower-case letters, digits and single dashes"
    ]


def test_yml_files_and_relative_display(
    fakes: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "pb/mail/one-two.yml", PLAYBOOK.format(id="one-two"))
    monkeypatch.chdir(tmp_path)
    [pb] = load_playbooks(["pb"])
    assert pb.id == "one-two"
    write(tmp_path, "pb/mail/dup.yaml", PLAYBOOK.format(id="dup") + "advice: again\n")
    assert problems_of(Path("pb")) == [
        os.path.join("pb", "mail", "dup.yaml") + ":8: duplicate key 'advice' (first on line 7)"
    ]


@pytest.mark.parametrize("text", ["- a\n- b\n", "", "plain\n"])
def test_a_playbook_must_be_a_mapping(fakes: ModuleType, tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "x.yaml", text)
    assert problems_of(path) == [f"{path}:1: a playbook must be a mapping (id:, title:, area: ...)"]


def test_with_may_be_omitted_when_the_schema_has_defaults(fakes: ModuleType, tmp_path: Path) -> None:
    text = PLAYBOOK.format(id="no-with") + "fix: {use: test-assign, with: null}\n"
    [pb] = load_playbooks([write(tmp_path, "no-with.yaml", text)])
    fixer = pb.make_fixer()
    assert fixer is not None and fixer.params.model_dump() == {"prefer_skus": []}


def test_missing_required_param_points_at_the_section(fakes: ModuleType, tmp_path: Path) -> None:
    text = PLAYBOOK.format(id="no-account").replace("with: {account: a}", "with: {}")
    path = write(tmp_path, "no-account.yaml", text)
    assert problems_of(path) == [f"{path}:6: detect.with.account: required field is missing"]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: no such playbook file or folder"]


def test_agent_playbooks_env_lists_folders_and_files(
    fakes: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AGENT_PLAYBOOKS", f"{GOOD / 'mail'}{os.pathsep}{GOOD / 'files' / 'test-advice-only.yaml'}"
    )
    assert default_paths() == [GOOD / "mail", GOOD / "files" / "test-advice-only.yaml"]
    assert [pb.id for pb in load_playbooks()] == ["test-advice-only", "test-unlicensed"]


def test_default_location_is_the_repository_playbooks_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_PLAYBOOKS", raising=False)
    assert default_paths() == [Path(agent.__file__).resolve().parent.parent / "playbooks"]


def test_the_catalog_imports_every_cause_module_it_holds() -> None:
    """The catalog lists its modules by name (no import by discovery): one left out would register
    nothing and its playbook would fail to load, so the list is checked against the folders."""
    ensure_catalog_loaded()
    root = Path(agent.__file__).resolve().parent / "catalog"
    areas = [d for d in root.iterdir() if (d / "__init__.py").is_file() and d.name != "shared"]
    modules = {f"agent.catalog.{d.name}.{f.stem}" for d in areas for f in d.glob("*.py")
               if not f.name.startswith("_")}
    assert len(modules) >= 13
    assert sorted(m for m in modules if m not in sys.modules) == []


def _related(pid: str, kind: str, cause: str) -> str:
    return PLAYBOOK.format(id=pid) + f"{kind}:\n  - cause: {cause}\n    why: because\n"


def test_relations_load_with_their_reasons(fakes: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "mail/one-a.yaml", _related("one-a", "masked_by", "one-b"))
    write(tmp_path, "mail/one-b.yaml", PLAYBOOK.format(id="one-b"))
    playbooks = {pb.id: pb for pb in load_playbooks([tmp_path / "mail"])}
    rel = playbooks["one-a"].relations
    assert rel.masked_by == ("one-b",) and rel.first == () and rel.items[0].why == "because"
    assert playbooks["one-b"].relations.items == ()


def test_relation_to_an_unknown_cause_names_file_line_and_choices(fakes: ModuleType, tmp_path: Path) -> None:
    path = write(tmp_path, "mail/one-a.yaml", _related("one-a", "after", "no-such-cause"))
    [line] = problems_of(path)
    assert line.startswith(f"{path}:9: after[0].cause: unknown cause id 'no-such-cause'; valid: ")
    assert "app-not-installed" in line  # a file checked alone may relate to the shipped causes


def test_relation_to_itself_is_refused(fakes: ModuleType, tmp_path: Path) -> None:
    path = write(tmp_path, "mail/one-a.yaml", _related("one-a", "implied_by", "one-a"))
    assert problems_of(path) == [f"{path}:9: implied_by[0].cause: 'one-a' is this playbook's own id"]


def test_relation_cycle_is_refused_with_its_path(fakes: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "mail/one-a.yaml", _related("one-a", "after", "one-b"))
    write(tmp_path, "mail/one-b.yaml", _related("one-b", "masked_by", "one-c"))
    write(tmp_path, "mail/one-c.yaml", _related("one-c", "implied_by", "one-a"))
    [line] = problems_of(tmp_path / "mail")
    assert line == f"{tmp_path / 'mail' / 'one-a.yaml'}:9: after[0].cause: relations form a cycle: " \
                   "one-a -> one-b -> one-c -> one-a"


def test_relation_needs_a_reason(fakes: ModuleType, tmp_path: Path) -> None:
    text = PLAYBOOK.format(id="one-a") + "after:\n  - cause: app-not-installed\n"
    path = write(tmp_path, "mail/one-a.yaml", text)
    assert problems_of(path) == [f"{path}:9: after[0].why: required field is missing"]
