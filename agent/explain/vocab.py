"""Knowledge from vocabularies: `agent/knowledge/<vocabulary>.yaml`, each entry one clue with its source.

A clue is one signal (a code, phrase, exception, header, pattern, status, or a context such as "EWS with
Basic on Exchange Online"), the cause or unrelated kind it points at, how specific it is (weight), the
services or schemes it needs to count, and the causes it speaks against. Entries come from Microsoft's and
the libraries' own vocabularies (error-code references, ResponseCode lists, exception texts), never from
one example.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import PlaybookError, Problem
from agent.explain.clue import CLUE_KINDS, Cloud, Clue, Context, Scheme, Service, in_context, vocabulary_files
from agent.playbook.schema import check_pattern

__all__ = ["Clue", "ContextSpec", "VocabularySpec", "in_context", "load_clues", "vocabulary_files"]

_SOURCE = re.compile(r"(https?://\S+|[\w.-]+/[\w.-]+:\S+)")  # a URL, or owner/repo:path[@version]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContextSpec(_Strict):
    """What the text must show, all of it: a service it talks to, a scheme, a status, the cloud."""

    services: list[Service] = Field(default_factory=list)
    schemes: list[Scheme] = Field(default_factory=list)
    statuses: list[int] = Field(default_factory=list)
    cloud: Cloud | None = None
    offers: list[Scheme] = Field(default_factory=list)  # a challenge in the text names one of these
    lacks: list[Scheme] = Field(default_factory=list)  # a challenge in the text names none of these
    placeholder: bool = False  # the text quotes a sample's placeholder where a real value belongs


class ClueSpec(_Strict):
    """One entry of a vocabulary file."""

    code: str | None = None
    text: str | None = None
    pattern: str | None = None
    status: int | None = None
    header: str | None = None
    exception: str | None = None
    context: ContextSpec | None = None
    cause: str | None = None
    unrelated: str | None = None
    weight: Annotated[float, Field(gt=0, le=3)] = 1.0
    source: str | None = None
    note: str | None = None
    services: list[Service] = Field(default_factory=list)
    schemes: list[Scheme] = Field(default_factory=list)
    against: list[str] = Field(default_factory=list)
    # The causes the entry's source names as the other reading of the same signal (a federated account's
    # password sign-in also ends in AADSTS50126): listed after the candidates, to be told apart on the tenant.
    # An unrelated kind here (AADSTS700016's wrong tenant) is shown beside the cause this signal decides.
    also: list[str] = Field(default_factory=list)
    prior: bool = False  # orders candidates other signals found; never makes one
    # The signal is the reason itself (a placeholder instead of the client id, a clock outside the token's
    # validity): the unrelated kind it points at wins over causes that the same text's codes point at.
    decides: bool = False
    # A word or two that names what the text is about ("password", "multifactor"), not a message: it points
    # only when no code, message, status or context points anywhere, and always as a weak candidate.
    topic: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return check_pattern(value)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        if value is not None and not _SOURCE.fullmatch(value.strip()):
            raise ValueError("must be a URL or owner/repo:path")
        return value

    @model_validator(mode="after")
    def _one_each(self) -> ClueSpec:
        given = [k for k in CLUE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"needs exactly one of {', '.join(CLUE_KINDS)} (got {len(given)})")
        if (self.cause is None) == (self.unrelated is None):
            raise ValueError("needs exactly one of cause or unrelated")
        if self.decides and self.unrelated is None:
            raise ValueError("decides: only for an unrelated kind (a cause is decided by the tenant)")
        if self.topic and (given[0] not in ("text", "pattern") or self.prior or self.decides):
            raise ValueError("topic: only for a text or a pattern, and neither a prior nor deciding")
        return self


class VocabularySpec(_Strict):
    vocabulary: str
    title: str
    source: str | None = None
    entries: list[ClueSpec]


def load_clues(paths: list[Path], read: Any) -> tuple[Clue, ...]:
    """Every clue of the vocabulary files; PlaybookError lists each bad entry with its file."""
    clues: list[Clue] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            spec = VocabularySpec.model_validate(read(path))
        except ValidationError as exc:
            problems += [Problem(str(path), None, f"{_loc(e['loc'])}: {e['msg']}") for e in exc.errors()]
            continue
        clues += [_clue(spec, entry) for entry in spec.entries]
        problems += [Problem(str(path), None, f"entries[{i}]: no source, and the file has none")
                     for i, entry in enumerate(spec.entries) if not (entry.source or spec.source)]
    if problems:
        raise PlaybookError(problems)
    return tuple(clues)


def _clue(spec: VocabularySpec, entry: ClueSpec) -> Clue:
    kind = next(k for k in CLUE_KINDS if getattr(entry, k) is not None)
    target = entry.cause if entry.cause is not None else entry.unrelated
    assert target is not None
    value = getattr(entry, kind)
    if isinstance(value, ContextSpec):
        value = Context(tuple(value.services), tuple(value.schemes), tuple(value.statuses), value.cloud,
                        tuple(value.offers), tuple(value.lacks), value.placeholder)
    return Clue(kind, value, target, entry.unrelated is not None, entry.weight,
                entry.source or spec.source or "", spec.vocabulary, frozenset(entry.services),
                frozenset(entry.schemes), tuple(entry.against), entry.prior, entry.decides,
                entry.topic, tuple(entry.also))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
