"""How well explain names the cause of the labelled corpus, per split and per source family.

`python -m tests.explain.corpus_measure [-v] [--dev]` prints the table (`--dev`: the development part only,
which is all that knowledge work may look at); tests/explain/test_explain.py asserts its floors.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.explain.knowledge import Knowledge, load_knowledge
from agent.explain.rank import explain

CORPUS = Path(__file__).resolve().parents[1] / "data" / "errors" / "corpus.yaml"


# The corpus's two broad unrelated labels (see its header) and the narrower kinds of
# agent/knowledge/unrelated.yaml that fall under each: naming one of them is naming the right kind.
BROAD_KINDS = {"network": frozenset({"network-timeout", "dns", "proxy", "tls-trust"}),
               "service-error": frozenset({"service-outage"})}


def right_kind(label: str | None, named: str) -> bool:
    return label is not None and (named == label or named in BROAD_KINDS.get(label, ()))


def expected_of(item: dict[str, Any]) -> list[str]:
    value = item["expected"]
    return [] if value is None else (value if isinstance(value, list) else [value])


@dataclass
class Tally:
    """Hits over one slice of the corpus."""

    causes: int = 0
    top1: int = 0
    top3: int = 0
    unrelated: int = 0
    not_a_cause: int = 0  # unrelated items given no cause (an unrelated kind, or nothing)
    right_kind: int = 0
    misses: list[tuple[Any, ...]] = field(default_factory=list)

    def rate(self, hits: int, total: int) -> float:
        return hits / total if total else 0.0

    @property
    def top1_rate(self) -> float:
        return self.rate(self.top1, self.causes)

    @property
    def top3_rate(self) -> float:
        return self.rate(self.top3, self.causes)

    @property
    def unrelated_rate(self) -> float:
        return self.rate(self.not_a_cause, self.unrelated)

    def line(self, name: str) -> str:
        return (f"{name:<18} causes {self.top1:>3}/{self.causes:<3} top-1 {self.top1_rate:>4.0%}  "
                f"top-3 {self.top3_rate:>4.0%}   unrelated {self.not_a_cause:>3}/{self.unrelated:<3} "
                f"{self.unrelated_rate:>4.0%} (right kind {self.right_kind})")


def load(path: Path = CORPUS) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return items


def score(item: dict[str, Any], knowledge: Knowledge, tally: Tally) -> None:
    expected = expected_of(item)
    result = explain(item["text"], knowledge)
    ranked = [m.id for m in result.causes]
    if not expected:
        tally.unrelated += 1
        tally.not_a_cause += not ranked
        tally.right_kind += result.other is not None and right_kind(item.get("other"), result.other.id)
        if ranked:
            tally.misses.append((None, ranked[0], item["source"]))
        return
    tally.causes += 1
    tally.top1 += bool(ranked) and ranked[0] in expected
    tally.top3 += any(cid in expected for cid in ranked[:3])
    if not ranked or ranked[0] not in expected:
        tally.misses.append((expected, ranked[0] if ranked else None, item["source"]))


def measure(items: Iterable[dict[str, Any]], knowledge: Knowledge) -> dict[str, Tally]:
    """Tallies keyed `all`, `split:<dev|test>`, `family:<family>`, `<split>/<family>`, and `batch:<name>`:
    a collection round's test items on their own (collected after the knowledge they are measured on)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for item in items:
        split, family = item.get("split", "dev"), item.get("family", "?")
        keys = ["all", f"split:{split}", f"family:{family}", f"{split}/{family}"]
        if item.get("batch") and split == "test":  # a round's items read after all (`seen:`) leave its tally
            keys.append(f"batch:{item['batch']}")
        for key in keys:
            score(item, knowledge, tallies[key])
    return dict(tallies)


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("-")]
    # `--dev` measures the development part alone: what knowledge work may look at, misses included.
    corpus = load(Path(paths[0]) if paths else CORPUS)
    items = [i for i in corpus if "--dev" not in argv or i.get("split") == "dev"]
    tallies = measure(items, load_knowledge())
    for key in sorted(tallies, key=lambda k: (k != "all", not k.startswith(("split", "batch")), "/" in k, k)):
        print(tallies[key].line(key))
    if "-v" in argv or "--misses" in argv:
        for miss in tallies["all"].misses:
            print("  miss:", miss)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
