"""Reject regular expressions prone to catastrophic backtracking before they ever run on an error text.

Python's `re` backtracks; a pattern such as `(a+)+$` takes exponential time on `aaaa...!`, so a playbook
could hang `explain`. The classic shapes are a repeat inside a repeat (star height above one) and a
repeat over alternatives that can match the same text; both are refused here, as are very long
patterns. The check reads the parsed pattern (`re._parser`, the parser `re.compile` itself uses).
"""

from __future__ import annotations

import re
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

MAX_PATTERN_CHARS = 500
# a repeat bounded this low around another repeat costs a small polynomial, not an exponential
MAX_INNER_BOUND = 3
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)}


def backtracking_problem(pattern: str) -> str | None:
    """Why `pattern` could backtrack catastrophically, or None when it is safe to run."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"longer than {MAX_PATTERN_CHARS} characters"
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None  # compile() reports the syntax error itself
    return _scan(list(parsed), inside_repeat=False)


def _scan(items: list[tuple[Any, Any]], inside_repeat: bool) -> str | None:
    for op, arg in items:
        if op in _REPEATS:
            _low, high, body = arg
            unbounded = high == sre_parse.MAXREPEAT
            if inside_repeat and (unbounded or high > MAX_INNER_BOUND):
                return "a repeated group inside a repeated group (e.g. `(a+)+`) can backtrack without end"
            if unbounded and _overlapping_branches(list(body)):
                return "a repeated choice whose branches can match the same text (e.g. `(a|a)+`) can " \
                       "backtrack without end"
            problem = _scan(list(body), inside_repeat or unbounded or high > MAX_INNER_BOUND)
        else:
            problem = _scan_children(op, arg, inside_repeat)
        if problem:
            return problem
    return None


def _scan_children(op: Any, arg: Any, inside_repeat: bool) -> str | None:
    if op == sre_parse.SUBPATTERN:
        return _scan(list(arg[-1]), inside_repeat)
    if op == sre_parse.BRANCH:
        for branch in arg[1]:
            problem = _scan(list(branch), inside_repeat)
            if problem:
                return problem
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return _scan(list(arg[1]), inside_repeat)
    return None


def _overlapping_branches(body: list[tuple[Any, Any]]) -> bool:
    """A choice in a repeated body whose branches may match the same text: an empty branch, two branches
    that start with the same character, or one that starts with a class or a repeat (cannot tell)."""
    for op, arg in body:
        if op == sre_parse.SUBPATTERN and _overlapping_branches(list(arg[-1])):
            return True
        if op != sre_parse.BRANCH:
            continue
        firsts = [_first_literal(list(branch)) for branch in arg[1]]
        if any(first is None for first in firsts) or len(set(firsts)) < len(firsts):
            return True
    return False


def _first_literal(branch: list[tuple[Any, Any]]) -> int | None:
    if branch and branch[0][0] == sre_parse.LITERAL:
        return int(branch[0][1])
    return None
