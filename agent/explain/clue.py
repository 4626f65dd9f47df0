"""explain's knowledge as light values: clues, symptoms and contexts, and their JSON form for the cache.

The YAML is validated by the pydantic specs (agent.explain.vocab, agent.playbook.schema) once, when it
changes; what that yields is cached as JSON and read back here with plain checks of its shape, so that a
warm `agent explain` builds no schema class at all. A cached value of any other shape is refused
(ShapeError), and the caller then reads the YAML again: the YAML stays the truth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from agent.explain.signals import Signals, quote
from agent.kinds import MATCH_KINDS, ServiceName
from agent.regex_safety import backtracking_problem

KNOWLEDGE_DIR = Path(__file__).resolve().parents[1] / "knowledge"
NOT_VOCABULARIES = ("unrelated.yaml",)  # the unrelated kinds themselves (agent.explain.knowledge)
CLUE_KINDS = (*MATCH_KINDS, "context")
Service = ServiceName
Scheme = Literal["basic", "ntlm", "negotiate", "bearer"]
# unnamed: the text names neither a Microsoft 365 host nor an on-premises EWS host of its own
Cloud = Literal["online", "onprem", "unnamed"]
_CLOUD_WORDS = {"online": "Exchange Online", "onprem": "on-premises", "unnamed": "no host named"}
SERVICES, SCHEMES, CLOUDS = (frozenset(get_args(t)) for t in (Service, Scheme, Cloud))


class ShapeError(ValueError):
    """A cached value that is not what the validated YAML yields."""


@dataclass(frozen=True)
class Context:
    """What the text must show, all of it: a service it talks to, a scheme, a status, the cloud."""

    services: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    cloud: str | None = None
    offers: tuple[str, ...] = ()  # a challenge in the text names one of these
    lacks: tuple[str, ...] = ()  # a challenge in the text names none of these
    placeholder: bool = False  # the text quotes a sample's placeholder where a real value belongs


@dataclass(frozen=True)
class Sign:
    """One symptom of a playbook or an unrelated kind: a match kind, its value, its weight."""

    kind: str
    value: str | int
    weight: float = 1.0
    # a sign of one surface (a site's 403): it holds where the text names one of these, or no service at all
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Clue:
    """One vocabulary signal and what it points at (see agent.explain.vocab for the file format)."""

    kind: str
    value: Any  # str, int (status) or Context
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
    topic: bool = False  # a word naming what the text is about: counts only where nothing else points
    also: tuple[str, ...] = ()  # causes or unrelated kinds: the source's other reading of the signal


def vocabulary_files(folder: Path = KNOWLEDGE_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name not in NOT_VOCABULARIES)


def in_context(context: Context, signals: Signals) -> str | None:
    """Evidence when the text shows everything `context` asks, else None."""
    if context.services and not set(context.services) <= signals.services:
        return None
    if context.schemes and not set(context.schemes) & signals.schemes:
        return None
    statuses = signals.statuses | signals.worded  # a status said in words counts with its service
    if context.statuses and not set(context.statuses) & statuses:
        return None
    if context.cloud is not None and signals.cloud != (None if context.cloud == "unnamed" else context.cloud):
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
        parts.append(_CLOUD_WORDS[context.cloud])
    if context.offers or context.lacks:
        parts.append(f"challenge offers {', '.join(sorted(signals.offered))}")
    if context.placeholder:
        parts.append("placeholder " + ", ".join(f"'{quote(v)}'" for v in signals.placeholders))
    return "context " + " + ".join(parts)


# -- the JSON form ---------------------------------------------------------------------------------------
def sign_data(sign: Sign) -> list[Any]:
    return [sign.kind, sign.value, sign.weight, sorted(sign.services)]


def sign_from(data: Any) -> Sign:
    if not (isinstance(data, list) and len(data) == 4):
        raise ShapeError("a symptom is [kind, value, weight, services]")
    kind, value, weight, services = data
    return Sign(_kind(kind, MATCH_KINDS), _value(kind, value), _weight(weight, None),  # no cap on a symptom's
                frozenset(_strs(services, SERVICES)))


def clue_data(clue: Clue) -> dict[str, Any]:
    value = clue.value
    if isinstance(value, Context):  # lists, as JSON gives them back
        value = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(value).items()}
    return {"kind": clue.kind, "value": value, "target": clue.target, "unrelated": clue.unrelated,
            "weight": clue.weight, "source": clue.source, "vocabulary": clue.vocabulary,
            "services": sorted(clue.services), "schemes": sorted(clue.schemes), "against": list(clue.against),
            "prior": clue.prior, "decides": clue.decides, "topic": clue.topic, "also": list(clue.also)}


def clue_from(data: Any) -> Clue:
    if not isinstance(data, dict) or set(data) != _CLUE_KEYS:
        raise ShapeError("a clue has exactly the keys " + ", ".join(sorted(_CLUE_KEYS)))
    kind = _kind(data["kind"], CLUE_KINDS)
    value = _context(data["value"]) if kind == "context" else _value(kind, data["value"])
    return Clue(kind, value, _str(data["target"]), _bool(data["unrelated"]), _weight(data["weight"]),
                _str(data["source"]), _str(data["vocabulary"]), frozenset(_strs(data["services"], SERVICES)),
                frozenset(_strs(data["schemes"], SCHEMES)), tuple(_strs(data["against"])),
                _bool(data["prior"]), _bool(data["decides"]), _bool(data["topic"]),
                tuple(_strs(data["also"])))


_CLUE_KEYS = frozenset({"kind", "value", "target", "unrelated", "weight", "source", "vocabulary", "services",
                        "schemes", "against", "prior", "decides", "topic", "also"})
_CONTEXT_KEYS = frozenset(vars(Context()))


def _context(data: Any) -> Context:
    if not isinstance(data, dict) or set(data) != _CONTEXT_KEYS:
        raise ShapeError("a context has exactly the keys " + ", ".join(sorted(_CONTEXT_KEYS)))
    cloud = data["cloud"]
    if cloud is not None and cloud not in CLOUDS:
        raise ShapeError(f"unknown cloud {cloud!r}")
    statuses = _list(data["statuses"], lambda s: isinstance(s, int) and not isinstance(s, bool))
    return Context(tuple(_strs(data["services"], SERVICES)), tuple(_strs(data["schemes"], SCHEMES)),
                   tuple(statuses), cloud, tuple(_strs(data["offers"], SCHEMES)),
                   tuple(_strs(data["lacks"], SCHEMES)), _bool(data["placeholder"]))


def _kind(kind: Any, allowed: tuple[str, ...]) -> str:
    if kind not in allowed:
        raise ShapeError(f"unknown kind {kind!r}")
    return str(kind)


def _value(kind: str, value: Any) -> str | int:
    if kind == "status":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ShapeError("a status is an integer")
        return value
    text = _str(value)
    if kind == "pattern":  # the same checks as the schema's: it compiles, and it cannot backtrack badly
        try:
            re.compile(text)
        except re.error as exc:
            raise ShapeError(f"invalid regular expression: {exc}") from None
        if backtracking_problem(text):
            raise ShapeError("unsafe regular expression")
    return text


def _weight(value: Any, most: float | None = 3.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= (most or value):
        raise ShapeError("a weight is a positive number" + (f" of at most {most:g}" if most else ""))
    return float(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ShapeError("expected a string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ShapeError("expected true or false")
    return value


def _strs(value: Any, allowed: Iterable[str] | None = None) -> list[str]:
    chosen = frozenset(allowed) if allowed is not None else None
    return _list(value, lambda s: isinstance(s, str) and (chosen is None or s in chosen))


def _list(value: Any, ok: Callable[[Any], bool]) -> list[Any]:
    if not isinstance(value, list) or not all(ok(item) for item in value):
        raise ShapeError("expected a list of known values")
    return value
