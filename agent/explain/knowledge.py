"""What explain knows, as data: each playbook's symptoms, and the shipped list of errors that are no cause.

Playbook files are read here directly (YAML plus the Symptom schema), not through load_playbooks():
that would import the catalog and with it every client library, and explain must answer at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.errors import PlaybookError, Problem
from agent.explain.cache import cached_read
from agent.explain.vocab import Clue, load_clues, vocabulary_files
from agent.playbook.paths import yaml_files
from agent.playbook.schema import Symptom

UNRELATED = Path(__file__).resolve().parents[1] / "knowledge" / "unrelated.yaml"


@dataclass(frozen=True)
class Entry:
    """One thing an error text can point at: a cause (playbook) or a known unrelated error."""

    id: str
    title: str
    advice: str
    symptoms: tuple[Symptom, ...]


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
    _PARSED.update(cached_read((*files, UNRELATED, *vocabulary_files()), _parse_all))
    causes, problems = [], []
    for path in files:
        try:
            causes.append(_playbook_entry(path))
        except PlaybookError as exc:
            problems += exc.problems
    if problems:
        raise PlaybookError(problems)
    return Knowledge(tuple(sorted(causes, key=lambda e: e.id)), unrelated_entries(), vocabulary_clues())


def knowledge_from_playbooks(playbooks: Iterable[Any]) -> Knowledge:
    """Knowledge from already loaded Playbook objects (the engine has them) and the shipped vocabularies."""
    causes = tuple(Entry(pb.id, getattr(pb, "title", pb.id), getattr(pb, "advice", ""),
                         tuple(getattr(pb, "symptoms", ()))) for pb in playbooks)
    return Knowledge(causes, (), vocabulary_clues())


@lru_cache(maxsize=1)
def vocabulary_clues() -> tuple[Clue, ...]:
    """The clues of the shipped vocabularies (agent/knowledge/*.yaml but unrelated.yaml)."""
    return load_clues(vocabulary_files(), _data)


@lru_cache(maxsize=1)
def unrelated_entries() -> tuple[Entry, ...]:
    """The shipped list of errors that no playbook fixes (agent/knowledge/unrelated.yaml)."""
    data = _data(UNRELATED)
    if not isinstance(data, list):
        raise PlaybookError([Problem(str(UNRELATED), 1, "must be a list of {kind, title, explanation}")])
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
            raise PlaybookError([Problem(str(UNRELATED), None, f"item {i}: needs kind, title, explanation")])
        entries.append(Entry(item["kind"], str(item.get("title", item["kind"])),
                             str(item.get("explanation", "")), _symptoms(UNRELATED, item.get("symptoms"))))
    return tuple(entries)


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


def _playbook_entry(path: Path) -> Entry:
    data = _data(path)
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise PlaybookError([Problem(str(path), 1, "a playbook must be a mapping with an id")])
    return Entry(data["id"], str(data.get("title") or data["id"]), str(data.get("advice") or ""),
                 _symptoms(path, data.get("symptoms")))


# The parsed data of every knowledge file, read at once (through the cache) by load_knowledge(); a file not
# in it is read on demand. A file that failed to parse holds its PlaybookError.
_PARSED: dict[Path, Any] = {}


def _parse_all(files: Sequence[Path]) -> tuple[dict[Path, Any], bool]:
    parsed: dict[Path, Any] = {}
    for path in files:
        try:
            parsed[path] = _read(path)
        except PlaybookError as exc:
            parsed[path] = exc
    return parsed, not any(isinstance(v, PlaybookError) for v in parsed.values())


def _data(path: Path) -> Any:
    """A knowledge file's parsed data: the one read at once, else read now."""
    if path not in _PARSED:
        return _read(path)
    value = _PARSED[path]
    if isinstance(value, PlaybookError):
        raise value
    return value


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


def _symptoms(path: Path, raw: Any) -> tuple[Symptom, ...]:
    if not isinstance(raw, list):
        raise PlaybookError([Problem(str(path), None, "symptoms: must be a list")])
    try:
        return tuple(Symptom.model_validate(item) for item in raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PlaybookError([Problem(str(path), None, f"symptoms: {first['msg']}")]) from None
