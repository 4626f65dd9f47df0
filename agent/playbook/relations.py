"""Relations between causes, as the playbooks declare them: which cause hides, implies or precedes another.

- `masked_by: X`: while X holds, this cause's check cannot run or cannot judge (its answer is `unknown`
  naming X); once X is fixed, this cause is checked again in the same run.
- `implied_by: X`: X holding means this cause holds too (no service principal, so no grant on it); this
  cause's fix can only be planned in full once X's fix has landed.
- `after: X`: when both are fixed in one run, X's fix goes first (this fix, or the probe that verifies it,
  needs X's fix in place).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

KINDS = ("masked_by", "implied_by", "after")


@dataclass(frozen=True)
class Relation:
    """One declared relation to another cause, with the reason it holds."""

    kind: str  # one of KINDS
    cause: str
    why: str


@dataclass(frozen=True)
class Relations:
    """Every relation one playbook declares."""

    items: tuple[Relation, ...] = field(default_factory=tuple)

    def of(self, kind: str) -> tuple[str, ...]:
        return tuple(r.cause for r in self.items if r.kind == kind)

    @property
    def masked_by(self) -> tuple[str, ...]:
        return self.of("masked_by")

    @property
    def first(self) -> tuple[str, ...]:
        """Causes whose fix goes before this one's (implied_by and after)."""
        return tuple(r.cause for r in self.items if r.kind in ("implied_by", "after"))

    @property
    def related(self) -> frozenset[str]:
        return frozenset(r.cause for r in self.items)


NONE = Relations()


class Related(Protocol):
    """What ordering needs of a playbook (agent.playbook.load.Playbook, or a test's stand-in)."""

    @property
    def id(self) -> str: ...


def relations_of(playbook: object) -> Relations:
    """A playbook's relations; stand-ins without any have none."""
    found = getattr(playbook, "relations", NONE)
    return found if isinstance(found, Relations) else NONE


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the graph `cause -> causes it relates to`, as a path that ends where it starts."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def fix_order(causes: Sequence[str], first: Mapping[str, Iterable[str]]) -> list[str]:
    """`causes` with every cause after the ones it must follow; otherwise in the order given.

    Validated playbooks have no cycles; if a stand-in brings one, the remaining causes keep their order
    rather than looping.
    """
    wanted = set(causes)
    placed: list[str] = []
    done: set[str] = set()
    remaining = list(causes)
    while remaining:
        ready = [c for c in remaining if not (set(first.get(c, ())) & wanted) - done]
        batch = ready[:1] or remaining[:1]  # one at a time keeps the given order stable
        placed += batch
        done.update(batch)
        remaining = [c for c in remaining if c not in done]
    return placed
