"""Error text -> ranked causes with evidence, or what else the error most likely is."""

from __future__ import annotations

import codecs
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agent.errors import BadInput
from agent.explain_knowledge import Entry, Knowledge, knowledge_from_playbooks, load_knowledge
from agent.explain_signals import (
    Signals,
    match_code,
    match_exception,
    match_header,
    match_pattern,
    match_status,
    match_text,
    read_signals,
)

__all__ = ["Explanation", "Match", "explain", "explanation_data", "knowledge_from_playbooks",
           "load_knowledge", "rank_causes", "read_input", "render_text"]

# Exact codes weigh most, then structure (headers, exception classes), then phrases and patterns,
# and a bare HTTP status least; the playbook's own weight multiplies in.
KIND_FACTOR = {"code": 3.0, "header": 2.0, "exception": 2.0, "pattern": 1.5, "text": 1.5, "status": 0.5}
STRONG = 1.0  # a match contributing less is a weak signal (a bare 401, a generic 401 phrase)
SATURATION = 4.0  # score at which the evidence alone gives ~63% confidence

_MATCHERS: dict[str, Callable[[Any, Signals], str | None]] = {
    "code": match_code, "text": match_text, "pattern": match_pattern, "status": match_status,
    "header": match_header, "exception": match_exception,
}


@dataclass
class Match:
    """How well one cause (or one unrelated error) explains the text, and why."""

    entry: Entry
    score: float = 0.0
    strongest: float = 0.0  # the largest single contribution: ties go to the more specific cause
    evidence: list[str] = field(default_factory=list)
    confidence: float = 0.0

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def strong(self) -> bool:
        return self.strongest >= STRONG


@dataclass
class Explanation:
    causes: list[Match]
    other: Match | None = None  # an unrelated error that explains the text better than any cause


def explain(text: str, knowledge: Knowledge | None = None) -> Explanation:
    """Rank the causes the text points at; an unrelated error that fits better replaces them."""
    knowledge = knowledge if knowledge is not None else load_knowledge()
    signals = read_signals(text)
    causes = [m for m in (_score(e, signals) for e in knowledge.causes) if m.score > 0]
    others = [m for m in (_score(e, signals) for e in knowledge.unrelated) if m.strong]
    best_cause = max((m.score for m in causes if m.strong), default=0.0)
    other = max(others, key=lambda m: m.score, default=None)
    if other is not None and other.score > best_cause:
        return Explanation([], other)
    if best_cause > 0:
        causes = [m for m in causes if m.strong]  # weak-only causes are noise next to a strong one
    causes.sort(key=lambda m: (-m.score, -m.strongest, -len(m.evidence), m.id))
    _confidences(causes)
    return Explanation(causes)


def rank_causes(text: str, candidate_ids: Sequence[str], knowledge: Knowledge | None = None) -> list[str]:
    """`candidate_ids` reordered: the causes the text points at first, best first; the rest in order."""
    knowledge = knowledge if knowledge is not None else load_knowledge()
    signals = read_signals(text)
    scores = {e.id: _score(e, signals).score for e in knowledge.causes if e.id in set(candidate_ids)}
    return sorted(candidate_ids, key=lambda cid: -scores.get(cid, 0.0))  # stable: ties keep their order


def explanation_data(explanation: Explanation) -> dict[str, Any]:
    """`{"causes": [{"id", "confidence", "evidence", ...}]}` best first, plus `other` when set."""
    data: dict[str, Any] = {"causes": [
        {"id": m.id, "confidence": m.confidence, "evidence": m.evidence, "title": m.entry.title,
         "advice": m.entry.advice, "next": f"agent diagnose --only {m.id}"} for m in explanation.causes]}
    if explanation.other is not None:
        entry = explanation.other.entry
        data["other"] = {"kind": entry.id, "title": entry.title, "explanation": entry.advice,
                         "evidence": explanation.other.evidence}
    return data


def render_text(explanation: Explanation) -> str:
    """For people: the causes with evidence and what to run, the best one's advice in full."""
    if explanation.other is not None:
        other = explanation.other
        return (f"Not a connector cause: {other.entry.title}.\n"
                f"  evidence: {'; '.join(other.evidence)}\n\n{other.entry.advice.rstrip()}\n")
    if not explanation.causes:
        return ("No known cause matches this text.\n"
                "Run `agent diagnose` to probe every cause against the connectors.\n")
    lines = []
    weak = not any(m.strong for m in explanation.causes)
    if weak:
        lines += ["Only generic signals (a bare 401): any of these causes fits; `agent diagnose` tells.", ""]
    for rank, m in enumerate(explanation.causes, 1):
        lines += [f"{rank}. {m.id} (confidence {m.confidence:.2f}): {m.entry.title}",
                  f"   evidence: {'; '.join(m.evidence)}",
                  f"   next: agent diagnose --only {m.id}"]
    best = explanation.causes[0]
    if not weak:
        advice = ["  " + line for line in best.entry.advice.rstrip().splitlines()]
        lines += ["", f"Advice for {best.id}:", *advice]
    return "\n".join(lines) + "\n"


def _score(entry: Entry, signals: Signals) -> Match:
    match = Match(entry)
    for symptom in entry.symptoms:
        evidence = _MATCHERS[symptom.kind](symptom.value, signals)
        if evidence is None:
            continue
        points = symptom.weight * KIND_FACTOR[symptom.kind]
        match.score += points
        match.strongest = max(match.strongest, points)
        match.evidence.append(evidence)
    return match


def _confidences(matches: list[Match]) -> None:
    """Evidence strength (saturating in the score) times the cause's share of all the evidence."""
    total = sum(m.score for m in matches)
    for m in matches:
        strength = 1.0 - math.exp(-m.score / SATURATION)
        m.confidence = round(strength * math.sqrt(m.score / total), 2)



def read_input(text: str | None, file: Path | None, stdin: IO[Any], stdin_is_tty: bool) -> str:
    """The error text: the argument, --file, or standard input (`-`, or no argument when piped)."""
    if text is not None and file is not None:
        raise BadInput("give the error text or --file LOG, not both")
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
    elif text == "-" or (text is None and not stdin_is_tty):
        data = stdin.read()
        data = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    elif text is None:
        raise BadInput("no error text: pass it as an argument, with --file LOG, or on standard input")
    else:
        data = text.encode("utf-8", "surrogateescape")
    result = decode(data)
    if not result.strip():
        raise BadInput("the error text is empty")
    return result


def decode(data: bytes) -> str:
    """Logs come as UTF-8, or as UTF-16 with a byte-order mark (Windows PowerShell's `>` redirection)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")
