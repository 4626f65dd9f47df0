"""Patterns that can backtrack without end are refused; the shapes real playbooks use are not."""

from __future__ import annotations

import pytest

from agent.regex_safety import MAX_PATTERN_CHARS, backtracking_problem


@pytest.mark.parametrize("pattern", [
    "(a+)+$", "(a*)*b", "(x+x+)+y", r"(\w+\s?)+$", "(.*a){12}", "(a|a)+", "(a|aa)+", "(?:ab|a.)*c",
    "x" * (MAX_PATTERN_CHARS + 1),
])
def test_unsafe_patterns_are_refused(pattern: str) -> None:
    assert backtracking_problem(pattern) is not None


@pytest.mark.parametrize("pattern", [
    r"2000008;\s*reason=", "ms-diagnostics-public:.*Modern Auth", "adfs/services/trust", "(?:foo|bar)+",
    r"AADSTS(50126|50034)", r"site (\S+ ){0,2}(is not found|could not be found)", r"\d{3,}-\d+", r"(\s|,)+x",
])
def test_safe_patterns_pass(pattern: str) -> None:
    assert backtracking_problem(pattern) is None


def test_the_shipped_playbooks_load_with_the_check() -> None:
    from agent.playbook.load import load_playbooks

    assert len(load_playbooks()) == 13
