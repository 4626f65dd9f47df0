"""Error text -> ranked causes with evidence, or what else the error most likely is."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.explain.clue import Clue, in_context
from agent.explain.knowledge import Entry, Knowledge, knowledge_from_playbooks, load_knowledge
from agent.explain.signals import (
    Signals,
    match_code,
    match_exception,
    match_header,
    match_pattern,
    match_status,
    match_text,
    match_topic,
    read_signals,
)

__all__ = ["Explanation", "Match", "explain", "knowledge_from_playbooks", "load_knowledge", "rank_causes"]

# Exact codes weigh most, then structure (headers, exception classes), then phrases and patterns, then a
# context (service + scheme + status), and a bare HTTP status least; the entry's own weight multiplies in.
KIND_FACTOR = {"code": 3.0, "header": 2.0, "exception": 2.0, "pattern": 1.5, "text": 1.5, "context": 1.0,
               "status": 0.5}
STRONG = 1.0  # a match contributing less is a weak signal (a bare 401, a generic 401 phrase)
SATURATION = 4.0  # score at which the evidence alone gives ~63% confidence
AGAINST = 0.5  # a signal that speaks against a cause takes back this share of its points
CLOSE = 0.5  # candidates within this share of the best score are worth telling apart on the tenant
WEAK_FLOOR = 0.5  # a weak-only cause this close to a strong one (a context, not a bare status) stays listed
MAX_NEXT = 3
MAX_LISTED = 3  # candidates plus alternatives from the service's list, at most
READING = 0.2  # an other reading the source names takes this share of its evidence's points: a weak candidate
TOPIC_POINTS = 0.9  # the most a topic word gives: below STRONG, so it lists a cause and never names it
# An identifier (an error code, an exception class, a header) that needs a service still counts, at this
# share, when the text names no service at all: a pasted message often lacks the URL, the identifier belongs
# to its service's own vocabulary, and silence is no evidence of another service (a text that names another
# service does rule the clue out). A phrase ("Access denied") or a context needs its service named.
UNNAMED_SERVICE = 0.6
IDENTIFIERS = frozenset({"code", "exception", "header"})
NAMES_CAUSE_TOO = "its source names this cause too"  # evidence of a cause a signal's source names as well

_MATCHERS: dict[str, Callable[[Any, Signals], str | None]] = {
    "code": match_code, "text": match_text, "pattern": match_pattern, "status": match_status,
    "header": match_header, "exception": match_exception,
}


@dataclass
class Match:
    """How well one cause (or one unrelated error) explains the text, why, and what speaks against it."""

    entry: Entry
    score: float = 0.0
    strongest: float = 0.0  # the largest single contribution: ties go to the more specific cause
    evidence: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    confidence: float = 0.0
    decided: bool = False  # a signal that is the reason itself holds for it (unrelated kinds only)
    _points: dict[str, float] = field(default_factory=dict)
    _taken: float = 0.0  # points taken back by signals against it

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def specific(self) -> float:
        """The score its strong signals alone give (each at least STRONG), less what speaks against it."""
        return sum(p for p in self._points.values() if p >= STRONG) - self._taken

    @property
    def strong(self) -> bool:
        return self.strongest >= STRONG and self.score > 0

    def add(self, points: float, evidence: str, source: str = "") -> None:
        """One signal for it; the same signal from two sources counts once, at its higher weight."""
        before = self._points.get(evidence)
        if before is None:
            self.evidence.append(evidence)
        if source and source not in self.sources:
            self.sources.append(source)
        gain = points if before is None else max(0.0, points - before)
        self._points[evidence] = max(points, before or 0.0)
        self.score += gain
        self.strongest = max(self.strongest, points)

    def counter(self, points: float, evidence: str) -> None:
        """A signal that speaks against it."""
        if evidence not in self.against:
            self.against.append(evidence)
            self.score -= points * AGAINST
            self._taken += points * AGAINST


@dataclass
class Explanation:
    causes: list[Match]
    other: Match | None = None  # an unrelated error that explains the text better than any cause
    more: int = 0  # causes left off a list of generic signals only, which fit as weakly as the ones shown
    # a specific unrelated signal the causes outweighed: still in the text, and it may be the real failure;
    # or, failing one, the unrelated reading the deciding evidence's own source names (`reading`)
    also: Match | None = None
    reading: bool = False
    # beside an unrelated answer: the causes its deciding signal's source names as the same signal's other
    # reading (AADSTS16000's account may simply be mistyped), to rule out on the tenant; never a named cause
    rule_out: list[Match] = field(default_factory=list)

    @property
    def next(self) -> list[str]:
        """The command that tells the closest candidates apart on the tenant (or rules the causes out)."""
        if not self.causes:
            return [f"agent diagnose --only {','.join(m.id for m in self.rule_out)}"] if self.rule_out else []
        if self.more:  # the cut of an all-weak list is arbitrary: every cause is still a candidate
            return ["agent diagnose"]
        best = self.causes[0].score
        if best < SATURATION:  # undecided: everything listed is worth telling apart, alternatives too
            close = [m.id for m in self.causes][:MAX_NEXT]
        else:
            close = [m.id for m in self.causes if m.score >= best * CLOSE][:MAX_NEXT]
        return [f"agent diagnose --only {','.join(close)}"]


def explain(text: str, knowledge: Knowledge | None = None) -> Explanation:
    """Rank the causes the text points at; an unrelated error that fits better replaces them."""
    knowledge = knowledge if knowledge is not None else load_knowledge()
    signals = read_signals(text)
    causes = {e.id: _score(e, signals) for e in knowledge.causes}
    unrelated = {e.id: _score(e, signals) for e in knowledge.unrelated}
    named: list[tuple[float, str, Clue, str]] = []
    listed = _apply_clues(knowledge.clues, signals, causes, unrelated, named)
    matched = [m for m in causes.values() if m.score > 0]
    others = [m for m in unrelated.values() if m.strong]
    best_cause = max((m.score for m in matched if m.strong), default=0.0)
    # An unrelated kind is weighed against the causes on strong signals alone: a bare status, a generic phrase
    # and the service contexts are shared by every reading of the text, so however many of them add up for a
    # cause they do not outweigh a specific unrelated signal (a proxy's 407, a resolver's failure).
    best_specific = max((m.specific for m in matched if m.strong), default=0.0)
    # Among unrelated kinds the most specific signal names the kind: transport errors nest (a retry error
    # around a connection error around the resolver's reason), and the wrappers that several kinds share may
    # add up to more than the one reason that tells them apart.
    other = max(others, key=lambda m: (m.decided, m.strongest, m.score), default=None)
    if other is not None and (other.decided or other.specific > best_specific):
        return Explanation([], other, rule_out=_rule_out(named, causes, other))
    matched.sort(key=lambda m: (-m.score, -m.strongest, -len(m.evidence), m.id))
    more = 0
    if best_cause > 0:  # weak-only causes are noise next to a strong one, unless they come close to it
        matched = [m for m in matched if m.strong or m.score >= max(WEAK_FLOOR, best_cause * CLOSE)]
    elif len(matched) > MAX_LISTED:  # a bare "(401) Unauthorized" fits every cause: show the likeliest
        more = len(matched) - MAX_LISTED
    reading = None
    if matched and matched[0].strong:  # what the evidence's own sources name as its other reading
        matched += _readings(named, causes, MAX_LISTED - len(matched), {m.id for m in matched},
                             below=min(m.score for m in matched))
        reading = _unrelated_reading(named, unrelated, matched[0]) if other is None else None
    if matched:
        if matched[0].score < SATURATION:  # a decided text needs no vendors' list of what else it could be
            matched += _alternatives(listed, causes, MAX_LISTED - len(matched), {m.id for m in matched},
                                     below=min(m.score for m in matched))
    elif not any(m.evidence or m.against for m in (*causes.values(), *unrelated.values())):
        # the text names a service and nothing else: that service's list is what a person would name
        matched = _alternatives(listed, causes, MAX_LISTED, set(), below=math.inf)
    _confidences(matched)  # over all that fit, so the ones shown keep their share of the evidence
    if not matched:
        return Explanation([], more=more)
    return Explanation(matched[:len(matched) - more], more=more, also=reading or other,
                       reading=reading is not None)


def _apply_clues(clues: Sequence[Clue], signals: Signals, causes: dict[str, Match],
                 unrelated: dict[str, Match], named: list[tuple[float, str, Clue, str]] | None = None,
                 ) -> list[tuple[float, str, Clue]]:
    """Each vocabulary clue that holds adds to what it points at and counts against what it excludes;
    priors come last and only to candidates something else already points at. Returns the priors that
    held for a cause nothing else points at: the vendors' list for the service, for the alternatives.
    `named` gathers the other readings the holding clues' sources name (`also:`), in their order."""
    listed: list[tuple[float, str, Clue]] = []
    for clue in sorted(clues, key=lambda c: c.prior):
        if clue.topic:
            continue
        evidence = _clue_evidence(clue, signals)
        if evidence is None:
            continue
        target = (unrelated if clue.unrelated else causes).get(clue.target)
        if clue.prior and (target is None or target.score <= 0):
            if target is not None and not clue.unrelated:
                listed.append((clue.weight * KIND_FACTOR[clue.kind], evidence, clue))
            continue
        points = clue.weight * KIND_FACTOR[clue.kind]
        if clue.services and not signals.services:  # only identifiers get here (see _clue_evidence)
            points *= UNNAMED_SERVICE
            evidence += f" (if from {'/'.join(sorted(clue.services))}: the text names no service)"
        if target is not None:
            target.add(points, evidence, clue.source)
            target.decided = target.decided or clue.decides
        if named is not None:
            named += [(points, evidence, clue, other) for other in clue.also
                      if other in causes or other in unrelated]
        for cause in clue.against:
            if cause in causes:
                causes[cause].counter(points, evidence)
    if not any(m.evidence or m.against for m in (*causes.values(), *unrelated.values())):
        _apply_topics(clues, signals, causes)  # a signal for or against anything is a pointer
    return listed


def _readings(named: list[tuple[float, str, Clue, str]], causes: dict[str, Match], room: int,
              shown: set[str], below: float) -> list[Match]:
    """Up to `room` causes that the sources of the evidence name as the same signal's other reading (a
    federated account's password sign-in ends in AADSTS50126 too), strongest evidence first: listed after
    the candidates, weakly (a candidate to probe, never a named cause), so that `agent diagnose` tells
    them apart. A cause the text speaks against is not listed."""
    return _weak_candidates([n for n in named if n[3] in causes], causes, room, shown,
                            NAMES_CAUSE_TOO,
                            lambda points: min(points * READING, below * 0.9, STRONG * 0.9))


def _unrelated_reading(named: list[tuple[float, str, Clue, str]], unrelated: dict[str, Match],
                       best: Match) -> Match | None:
    """The unrelated kind that the source of the signal deciding the best cause names as that signal's other
    reading (AADSTS700016's own message: "You may have sent your authentication request to the wrong
    tenant"), to show beside the causes: a person reading that source would check it too. A lesser signal's
    reading is not shown (invalid_grant beside AADSTS50126 says nothing of an expired token)."""
    for points, evidence, clue, kind in sorted(named, key=lambda item: -item[0]):
        if kind in unrelated and clue.target == best.id and points >= best.strongest:
            match = Match(unrelated[kind].entry)
            match.add(points * READING, f"{evidence}: its source names this reading too", clue.source)
            return match
    return None


def _rule_out(named: list[tuple[float, str, Clue, str]], causes: dict[str, Match],
              other: Match) -> list[Match]:
    """The causes that the sources of the signals naming the unrelated answer give as their other reading,
    strongest signal first, at most MAX_NEXT: what a person would still check on the tenant. A cause the
    text speaks against is left out."""
    found = [n for n in named if n[2].unrelated and n[2].target == other.id and n[3] in causes]
    return _weak_candidates(found, causes, MAX_NEXT, set(), NAMES_CAUSE_TOO,
                            lambda points: min(points * READING, STRONG * 0.9))


def _alternatives(listed: list[tuple[float, str, Clue]], causes: dict[str, Match], room: int,
                  shown: set[str], below: float) -> list[Match]:
    """Up to `room` more causes after the candidates, from the vendors' list for the service the text
    talks to (the priors), in that list's order: what else answers this service's refusal, to be told
    apart on the tenant. They follow the candidates and never outrank one."""
    return _weak_candidates([(p, e, clue, clue.target) for p, e, clue in listed], causes, room, shown,
                            "on the vendors' list for this service", lambda points: min(points, below * 0.9))


def _weak_candidates(found: list[tuple[float, str, Clue, str]], causes: dict[str, Match], room: int,
                     shown: set[str], note: str, weigh: Callable[[float], float]) -> list[Match]:
    """Up to `room` causes not yet `shown` (which it extends) and not spoken against, strongest signal first,
    each with `weigh(points)` and the signal's evidence followed by `note`."""
    extra: list[Match] = []
    for points, evidence, clue, cid in sorted(found, key=lambda item: -item[0]):
        if len(extra) >= room:
            break
        if cid in shown or causes[cid].against:
            continue
        match = Match(causes[cid].entry)
        match.add(weigh(points), f"{evidence}: {note}", clue.source)
        extra.append(match)
        shown.add(cid)
    return extra


def _apply_topics(clues: Sequence[Clue], signals: Signals, causes: dict[str, Match]) -> None:
    """Where nothing else points anywhere, the words that name what the text is about ("check your
    credentials", "multi-factor") list the causes they belong to, weakly: a person would name those."""
    for clue in clues:
        target = causes.get(clue.target) if clue.topic and not clue.unrelated else None
        if target is None:
            continue
        if clue.services and not clue.services & signals.services:
            continue
        evidence = match_topic(clue.kind, clue.value, signals)
        if evidence is not None:
            target.add(min(clue.weight * KIND_FACTOR[clue.kind], TOPIC_POINTS), evidence, clue.source)


def _clue_evidence(clue: Clue, signals: Signals) -> str | None:
    named = signals.services or clue.kind not in IDENTIFIERS
    if clue.services and named and not clue.services & signals.services:
        return None
    if clue.schemes and not clue.schemes & signals.schemes:
        return None
    if clue.kind == "context":
        return in_context(clue.value, signals)
    return _MATCHERS[clue.kind](clue.value, signals)


def rank_causes(text: str, candidate_ids: Sequence[str], knowledge: Knowledge | None = None) -> list[str]:
    """`candidate_ids` reordered: the causes the text points at first, best first; the rest in order."""
    knowledge = knowledge if knowledge is not None else load_knowledge()
    signals = read_signals(text)
    wanted = set(candidate_ids)
    matches = {e.id: _score(e, signals) for e in knowledge.causes if e.id in wanted}
    _apply_clues(knowledge.clues, signals, matches, {})
    scores = {cid: m.score for cid, m in matches.items()}
    return sorted(candidate_ids, key=lambda cid: -scores.get(cid, 0.0))  # stable: ties keep their order


def _score(entry: Entry, signals: Signals) -> Match:
    match = Match(entry)
    for symptom in entry.symptoms:
        if symptom.services and signals.services and not symptom.services & signals.services:
            continue  # a sign of another surface than the one the text talks to
        evidence = _MATCHERS[symptom.kind](symptom.value, signals)
        if evidence is not None:
            match.add(symptom.weight * KIND_FACTOR[symptom.kind], evidence)
    return match


def _confidences(matches: list[Match]) -> None:
    """Evidence strength (saturating in the score) times the cause's share of all the evidence."""
    total = sum(max(m.score, 0.0) for m in matches) or 1.0
    for m in matches:
        strength = 1.0 - math.exp(-m.score / SATURATION)
        m.confidence = round(strength * math.sqrt(m.score / total), 2)
