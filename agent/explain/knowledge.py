"""What explain knows, as data: each playbook's symptoms, and the shipped list of errors that are no cause.

Playbook files are read here directly (YAML plus the Symptom schema), not through load_playbooks():
that would import the catalog and with it every client library, and explain must answer at once. What the
schemas yield is cached (agent.explain.cache) in the plain JSON form of agent.explain.clue, keyed on the
files' text and on this code's: a warm run parses no YAML and builds no schema class.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.errors import PlaybookError, Problem
from agent.explain.cache import cached_read
from agent.explain.clue import (
    Clue,
    ShapeError,
    Sign,
    clue_data,
    clue_from,
    sign_data,
    sign_from,
    vocabulary_files,
)
from agent.playbook.paths import yaml_files

AGENT_DIR = Path(__file__).resolve().parents[1]
UNRELATED = AGENT_DIR / "knowledge" / "unrelated.yaml"
# The code that turns the files into knowledge: a change to any of it rebuilds the cached form.
_BUILDERS = ("explain/knowledge.py", "explain/vocab.py", "explain/clue.py", "playbook/schema.py", "kinds.py",
             "regex_safety.py", "yamlsrc.py")


@dataclass(frozen=True)
class Entry:
    """One thing an error text can point at: a cause (playbook) or a known unrelated error."""

    id: str
    title: str
    advice: str
    symptoms: tuple[Sign, ...]


@dataclass(frozen=True)
class Knowledge:
    """The causes and unrelated kinds explain can name, and the vocabulary clues that point at them."""

    causes: tuple[Entry, ...]
    unrelated: tuple[Entry, ...] = ()
    clues: tuple[Clue, ...] = ()


def load_knowledge(paths: Sequence[str | Path] | None = None) -> Knowledge:
    """The playbooks under `paths` (default: agent.playbook.load.default_paths()) plus the unrelated list."""
    from agent.playbook.paths import default_paths

    chosen = tuple(str(p) for p in (paths if paths else default_paths()))
    return _cached(chosen)


@lru_cache(maxsize=8)
def _cached(paths: tuple[str, ...]) -> Knowledge:
    files = _files(Path(p) for p in paths)
    vocabularies = vocabulary_files()
    built = _built((*files, UNRELATED, *vocabularies))
    _raise_problems(built.values())
    causes = tuple(sorted((built[f] for f in files), key=lambda e: e.id))
    return Knowledge(causes, built[UNRELATED], tuple(c for v in vocabularies for c in built[v]))


def knowledge_from_playbooks(playbooks: Iterable[Any]) -> Knowledge:
    """Knowledge from already loaded Playbook objects (the engine has them) and the shipped vocabularies."""
    causes = tuple(Entry(pb.id, getattr(pb, "title", pb.id), getattr(pb, "advice", ""),
                         tuple(_sign(s) for s in getattr(pb, "symptoms", ())))
                   for pb in playbooks)
    return Knowledge(causes, (), vocabulary_clues())


@lru_cache(maxsize=1)
def vocabulary_clues() -> tuple[Clue, ...]:
    """The clues of the shipped vocabularies (agent/knowledge/*.yaml but unrelated.yaml)."""
    files = vocabulary_files()
    built = _built(tuple(files))
    _raise_problems(built.values())
    return tuple(c for f in files for c in built[f])


@lru_cache(maxsize=1)
def unrelated_entries() -> tuple[Entry, ...]:
    """The shipped list of errors that no playbook fixes (agent/knowledge/unrelated.yaml)."""
    built = _built((UNRELATED,))
    _raise_problems(built.values())
    entries: tuple[Entry, ...] = built[UNRELATED]
    return entries


def _raise_problems(values: Iterable[Any]) -> None:
    problems = [p for v in values if isinstance(v, PlaybookError) for p in v.problems]
    if problems:
        raise PlaybookError(problems)


def _files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += yaml_files(path)
        elif path.is_file():
            files.append(path)
        else:
            raise PlaybookError([Problem(str(path), None, "no such playbook file or folder")])
    return files


# -- the cached form -----------------------------------------------------------------------------------
def _built(paths: Sequence[Path]) -> dict[Path, Any]:
    """Per file: an Entry (a playbook), a tuple of Entry (the unrelated list), a tuple of Clue (a vocabulary),
    or the PlaybookError that says why it cannot be read. From the cache when nothing changed."""
    salt = "\0".join((AGENT_DIR / code).read_text(encoding="utf-8") for code in _BUILDERS)
    data = cached_read(paths, _build_all, name="explain", salt=salt)
    try:
        return {path: _light(data[path]) for path in paths}
    except ShapeError:  # a cache edited by hand: the YAML is the truth
        return {path: _light(value) for path, value in _build_all(paths)[0].items()}


def _light(value: Any) -> Any:
    if isinstance(value, PlaybookError):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ShapeError("one of entry, unrelated, clues")
    ((form, body),) = value.items()
    if form == "entry":
        return _entry_from(body)
    if form in ("unrelated", "clues") and isinstance(body, list):
        return tuple(_entry_from(item) if form == "unrelated" else clue_from(item) for item in body)
    raise ShapeError("one of entry, unrelated, clues")


def _entry_from(data: Any) -> Entry:
    if not isinstance(data, dict) or set(data) != {"id", "title", "advice", "symptoms"}:
        raise ShapeError("an entry has id, title, advice, symptoms")
    if not all(isinstance(data[k], str) for k in ("id", "title", "advice")) or not isinstance(
            data["symptoms"], list):
        raise ShapeError("an entry's id, title and advice are strings, its symptoms a list")
    return Entry(data["id"], data["title"], data["advice"], tuple(sign_from(s) for s in data["symptoms"]))


def _entry_data(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "title": entry.title, "advice": entry.advice,
            "symptoms": [sign_data(s) for s in entry.symptoms]}


def _build_all(files: Sequence[Path]) -> tuple[dict[Path, Any], bool]:
    """Each file read and validated by its schema, in the cached form; complete when all of them were."""
    vocabularies = set(vocabulary_files())
    built: dict[Path, Any] = {}
    for path in files:
        try:
            if path == UNRELATED:
                built[path] = {"unrelated": [_entry_data(e) for e in _unrelated_list(_read(path))]}
            elif path in vocabularies:
                built[path] = {"clues": [clue_data(c) for c in _vocabulary(path)]}
            else:
                built[path] = {"entry": _entry_data(_playbook_entry(path))}
        except PlaybookError as exc:
            built[path] = exc
    return built, not any(isinstance(v, PlaybookError) for v in built.values())


def _vocabulary(path: Path) -> tuple[Clue, ...]:
    from agent.explain.vocab import load_clues

    return load_clues([path], _read)


def _unrelated_list(data: Any) -> list[Entry]:
    if not isinstance(data, list):
        raise PlaybookError([Problem(str(UNRELATED), 1, "must be a list of {kind, title, explanation}")])
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
            raise PlaybookError([Problem(str(UNRELATED), None, f"item {i}: needs kind, title, explanation")])
        entries.append(Entry(item["kind"], str(item.get("title", item["kind"])),
                             str(item.get("explanation", "")), _symptoms(UNRELATED, item.get("symptoms"))))
    return entries


def _playbook_entry(path: Path) -> Entry:
    data = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise PlaybookError([Problem(str(path), 1, "a playbook must be a mapping with an id")])
    return Entry(data["id"], str(data.get("title") or data["id"]), str(data.get("advice") or ""),
                 _symptoms(path, data.get("symptoms")))


def _read(path: Path) -> Any:
    # YAML is imported only here: with the cache warm, explain never parses a knowledge file
    import yaml

    from agent.yamlsrc import YamlSyntaxError, check_expansion

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    try:
        text = path.read_text(encoding="utf-8")
        if "&" in text:  # anchors: bound what their aliases expand to before building anything
            root = yaml.compose(text, Loader=loader)
            if root is not None:
                check_expansion(root, str(path))
        return yaml.load(text, Loader=loader)
    except YamlSyntaxError as exc:
        raise PlaybookError([exc.problem]) from None
    except RecursionError:
        raise PlaybookError([Problem(str(path), None, "invalid YAML: nested too deeply")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise PlaybookError([Problem(str(path), None, f"cannot read: {why}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        why = getattr(exc, "problem", exc)
        raise PlaybookError([Problem(str(path), line, f"invalid YAML: {why}")]) from None


def _symptoms(path: Path, raw: Any) -> tuple[Sign, ...]:
    from pydantic import ValidationError

    from agent.playbook.schema import Symptom

    if not isinstance(raw, list):
        raise PlaybookError([Problem(str(path), None, "symptoms: must be a list")])
    try:
        return tuple(_sign(s) for s in (Symptom.model_validate(item) for item in raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PlaybookError([Problem(str(path), None, f"symptoms: {first['msg']}")]) from None


def _sign(symptom: Any) -> Sign:
    """A validated playbook symptom as explain's light value."""
    services = getattr(symptom, "services", None) or ()
    return Sign(symptom.kind, symptom.value, symptom.weight, frozenset(services))
