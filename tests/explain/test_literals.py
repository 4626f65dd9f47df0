"""The literals a pattern cannot match without, and that testing them first never loses a match."""

from __future__ import annotations

import re

import pytest
import yaml

from agent.explain import literals
from agent.explain.knowledge import load_knowledge
from agent.explain.literals import SMALL_TEXT, may_match, needs
from tests.explain.corpus_measure import CORPUS


@pytest.mark.parametrize(("pattern", "expected"), [
    ("soap client returned status of 401", {"soap client returned status of 401"}),
    (r"\b(0x)?80072f0d\b", {"80072f0d"}),  # the optional group is not needed, the digits are
    (r"basic auth(?:entication)?\b|legacy auth\b", {"basic auth", "legacy auth"}),  # one per alternative
    (r"(?:is not|isn't) provisioned", {" provisioned"}),
    (r"(?:access token){1,2}", {"access token"}),  # a repeat of at least one needs its content
    (r"AADSTS400(0[89]|1[0-5])", {"aadsts400"}),  # lower-case: the text it is tested on is
    (r"a\tb  c", None),  # a tab or a second space could never be in the flattened text
    (r"\bad ?fs\b|\bokta\b", None),  # one alternative needs nothing of three characters
    (r"(?:x){0,3}", None),
    ("[", None),  # unreadable: searched in full
])
def test_needs(pattern: str, expected: set[str] | None) -> None:
    found = needs(pattern)
    assert (None if found is None else set(found)) == expected


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def test_a_large_text_without_the_literals_is_not_searched() -> None:
    padding = "lorem ipsum dolor " * (SMALL_TEXT // 10)
    assert not may_match("soap client returned status of 401", padding)
    assert may_match("soap client returned status of 401", padding + "soap client returned status of 401")
    assert may_match("soap client returned status of 401", "short text")  # small: searched at once
    assert may_match("s client", padding + "\u017f client")  # a long s that the regex matches as an s


def test_testing_the_literals_first_never_loses_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pattern of the shipped knowledge, on every development text (the size threshold set to 0, so
    every text counts as large): wherever the regex matches, the literals say it may."""
    monkeypatch.setattr(literals, "SMALL_TEXT", 0)
    knowledge = load_knowledge()
    patterns = [c.value for c in knowledge.clues if c.kind == "pattern"]
    patterns += [s.value for e in (*knowledge.causes, *knowledge.unrelated) for s in e.symptoms
                 if s.kind == "pattern"]
    texts = [item["text"] for item in yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
             if item.get("split") == "dev"]
    checked = 0
    for text in texts:
        flat = _flat(text)
        for pattern in patterns:
            if re.search(pattern, flat, re.I):
                checked += 1
                assert may_match(pattern, flat), (pattern, text[:80])
    assert checked > 50  # the check saw real matches, not only absences


def test_the_structural_patterns_lose_no_match_either(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statuses, codes and challenges read_signals looks for, on every development text as given
    (they run on the text, the literals are tested on its flattened form)."""
    from agent.explain import signals

    monkeypatch.setattr(literals, "SMALL_TEXT", 0)
    structural = [*signals._STATUS_PATTERNS, *signals._CODE_PATTERNS, signals._AADSTS, signals._ERROR_CODES,
                  signals._CHALLENGE]
    texts = [signals.normalise(item["text"]) for item in yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
             if item.get("split") == "dev"]
    checked = 0
    for text in texts:
        flat = _flat(text)
        for pattern in structural:
            if pattern.search(text):
                checked += 1
                assert may_match(pattern.pattern, flat), (pattern.pattern, text[:80])
    assert checked > 100
