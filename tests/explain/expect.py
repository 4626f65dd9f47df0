"""What a vocabulary test expects of an answer: its cause first, or its unrelated kind and no cause."""

from __future__ import annotations

from agent.explain.rank import Explanation


def cause_first(result: Explanation, cause: str) -> None:
    assert result.causes and result.causes[0].id == cause, [(m.id, m.evidence) for m in result.causes]


def unrelated_kind(result: Explanation, kind: str) -> None:
    assert result.causes == [] and result.other is not None and result.other.id == kind, \
        [(m.id, m.evidence) for m in result.causes]
