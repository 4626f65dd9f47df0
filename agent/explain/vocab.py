"""Knowledge from vocabularies: `agent/knowledge/<vocabulary>.yaml`, each entry one clue with its source.

A clue is one signal (a code, phrase, exception, header, pattern, status, or a context such as "EWS with
Basic on Exchange Online"), the cause or unrelated kind it points at, how specific it is (weight), the
services or schemes it needs to count, and the causes it speaks against. Entries come from Microsoft's and
the libraries' own vocabularies (error-code references, ResponseCode lists, exception texts), never from
one example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.errors import PlaybookError, Problem
from agent.explain.signals import Signals, quote
from agent.playbook.schema import MATCH_KINDS, check_pattern

KNOWLEDGE_DIR = Path(__file__).resolve().parents[1] / "knowledge"
NOT_VOCABULARIES = ("unrelated.yaml",)  # the unrelated kinds themselves (agent.explain.knowledge)
Service = Literal["identity", "graph", "ews", "mail", "sharepoint", "onedrive", "adfs"]
Scheme = Literal["basic", "ntlm", "negotiate", "bearer"]
_SOURCE = re.compile(r"(https?://\S+|[\w.-]+/[\w.-]+:\S+)")  # a URL, or owner/repo:path[@version]
CLUE_KINDS = (*MATCH_KINDS, "context")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContextSpec(_Strict):
    """What the text must show, all of it: a service it talks to, a scheme, a status, the cloud."""

    services: list[Service] = Field(default_factory=list)
    schemes: list[Scheme] = Field(default_factory=list)
    statuses: list[int] = Field(default_factory=list)
    cloud: Literal["online", "onprem"] | None = None
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
    prior: bool = False  # orders candidates other signals found; never makes one
    # The signal is the reason itself (a placeholder instead of the client id, a clock outside the token's
    # validity): the unrelated kind it points at wins over causes that the same text's codes point at.
    decides: bool = False

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
        return self


class VocabularySpec(_Strict):
    vocabulary: str
    title: str
    source: str | None = None
    entries: list[ClueSpec]


@dataclass(frozen=True)
class Clue:
    """One signal and what it points at; `matches` says why it holds for a text, or None."""

    kind: str
    value: Any
    target: str  # a cause id, or an unrelated kind when `unrelated`
    unrelated: bool
    weight: float
    source: str
    vocabulary: str
    services: frozenset[str] = frozenset()
    schemes: frozenset[str] = frozenset()
    against: tuple[str, ...] = ()
    prior: bool = False
    decides: bool = False


def in_context(context: ContextSpec, signals: Signals) -> str | None:
    """Evidence when the text shows everything `context` asks, else None."""
    if context.services and not set(context.services) <= signals.services:
        return None
    if context.schemes and not set(context.schemes) & signals.schemes:
        return None
    statuses = signals.statuses | signals.worded  # a status said in words counts with its service
    if context.statuses and not set(context.statuses) & statuses:
        return None
    if context.cloud is not None and signals.cloud != context.cloud:
        return None
    if context.offers and not set(context.offers) & signals.offered:
        return None
    if context.lacks and (not signals.offered or set(context.lacks) & signals.offered):
        return None
    if context.placeholder and not signals.placeholders:
        return None
    parts = [*context.services, *(s for s in context.schemes if s in signals.schemes),
             *(f"status {s}" for s in context.statuses if s in statuses)]
    if context.cloud:
        parts.append("Exchange Online" if context.cloud == "online" else "on-premises")
    if context.offers or context.lacks:
        parts.append(f"challenge offers {', '.join(sorted(signals.offered))}")
    if context.placeholder:
        parts.append("placeholder " + ", ".join(f"'{quote(v)}'" for v in signals.placeholders))
    return "context " + " + ".join(parts)


def vocabulary_files(folder: Path = KNOWLEDGE_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name not in NOT_VOCABULARIES)


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
    return Clue(kind, getattr(entry, kind), target, entry.unrelated is not None, entry.weight,
                entry.source or spec.source or "", spec.vocabulary, frozenset(entry.services),
                frozenset(entry.schemes), tuple(entry.against), entry.prior, entry.decides)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
