"""The literal text a regular expression cannot match without: a substring check before the regex search.

A pattern is searched through the whole of a text that may be megabytes of log; a substring test runs
many times faster than a case-insensitive regex with alternations. `needs(pattern)` reads the pattern with
the standard library's own parser and returns substrings of which every match contains at least one, or
None when no such literal of three characters or more can be told.
"""

from __future__ import annotations

from functools import lru_cache
from re import _constants as c  # type: ignore[attr-defined]  # the parser's own opcodes
from re import _parser  # type: ignore[attr-defined]
from typing import Any

MIN_LITERAL = 3  # shorter literals are in almost any text: no filter at all
SMALL_TEXT = 20_000  # characters: a pasted message is searched at once; parsing the patterns costs more
# Characters that a lower-cased text may hold and that a case-insensitive pattern matches to an ASCII
# letter (dotless i, long s): where the text has one, a substring test could miss what the regex finds.
FOLDS_TO_ASCII = ("\u0131", "\u017f")


@lru_cache(maxsize=2048)
def needs(pattern: str) -> frozenset[str] | None:
    """Lower-case substrings, one of which every match of `pattern` (case-insensitive) contains."""
    try:
        return _needs(list(_parser.parse(pattern)))
    except Exception:  # an unreadable pattern is simply searched in full
        return None


def may_match(pattern: str, flat: str) -> bool:
    """False only when `pattern` cannot match the lower-case text `flat`."""
    if len(flat) < SMALL_TEXT:
        return True
    literals = needs(pattern)
    if literals is None or any(ch in flat for ch in FOLDS_TO_ASCII):
        return True
    return any(literal in flat for literal in literals)


def _needs(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """For one sequence: its longest run of literal characters, else what one of its required parts
    (an alternation, a group, a repeat of at least one) needs."""
    best, run = "", ""
    parts: list[frozenset[str]] = []
    for op, arg in items:
        # a run holds printable ASCII only: the text it is tested on has its whitespace collapsed to
        # single spaces, so a tab, a line break or a second space in a row could never be found there
        if op is c.LITERAL and 32 <= arg < 127 and not (arg == 32 and run.endswith(" ")):
            run += chr(arg)
            continue
        best, run = max(best, run, key=len), ""
        found = _part(op, arg)
        if found:
            parts.append(found)
    best = max(best, run, key=len)
    if len(best) >= MIN_LITERAL:
        return frozenset({best.lower()})
    return min(parts, key=len) if parts else None  # the fewest substrings to test


def _part(op: Any, arg: Any) -> frozenset[str] | None:
    if op is c.BRANCH:  # every alternative must need something, and any one of them may be it
        branches = [_needs(list(branch)) for branch in arg[1]]
        needed = [b for b in branches if b]
        return frozenset().union(*needed) if needed and len(needed) == len(branches) else None
    if op is c.SUBPATTERN:
        return _needs(list(arg[-1]))
    if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
        return _needs(list(arg[2]))
    return None
