"""The layout keeps its shape: no import cycle, imports point down between the layers, small modules.

Every import counts, also those inside functions and under TYPE_CHECKING: a lazy import still ties two
modules together, it only moves the cost.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[1] / "agent"
BASE = {"errors", "model", "kinds", "clock", "deadline", "retry", "threads", "redact", "regex_safety",
        "yamlsrc", "progress", "guard"}
# area -> areas it must never import (what the architecture says each part does not know)
FORBIDDEN = {
    "simulator": "every area of the agent: the simulated tenant is software of its own",
    "clients": {"catalog", "engine", "heal", "explain", "report", "cli", "playbook", "grants", "init",
                "journal"},
    "catalog": {"engine", "heal", "cli", "report", "explain", "init", "playbook", "grants", "journal"},
    "engine": {"cli", "heal", "init", "report"},
    "explain": {"clients", "engine", "catalog", "journal", "cli", "heal", "init", "simulator"},
    "report": {"clients", "engine", "catalog", "cli", "heal", "simulator"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in AGENT.rglob("*.py"):
        name = ".".join(("agent", *path.relative_to(AGENT).with_suffix("").parts))
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The agent modules `name` imports (a name imported from a package counts as its module when it is
    one, else as the package)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _area(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "agent"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(GRAPH[nxt]))))
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        top = stack.pop()
                        on.discard(top)
                        part.append(top)
                        if top == node:
                            break
                    if len(part) > 1:
                        found.append(sorted(part))
    return found


def test_the_graph_sees_lazy_and_type_only_imports() -> None:
    # the engine loads undo inside a method and undo names the engine's Protocol under TYPE_CHECKING
    assert "agent.engine.undo" in GRAPH["agent.engine.core"]
    assert "agent.engine.job" in GRAPH["agent.engine.undo"]


def test_no_import_cycle() -> None:
    assert _cycles() == []


def test_a_cycle_would_be_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, "agent.model", {*GRAPH["agent.model"], "agent.errors"})
    monkeypatch.setitem(GRAPH, "agent.errors", {*GRAPH["agent.errors"], "agent.model"})
    assert ["agent.errors", "agent.model"] in _cycles()


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_imports_point_down(area: str) -> None:
    forbidden = FORBIDDEN[area]
    wrong = []
    for name, targets in GRAPH.items():
        if _area(name) != area:
            continue
        for target in targets:
            other = _area(target)
            if other == area:
                continue
            if (isinstance(forbidden, str) and target.startswith("agent")) or other in forbidden:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_base_modules_import_only_each_other() -> None:
    wrong = [f"{n} -> {t}" for n, ts in GRAPH.items() if _area(n) in BASE for t in ts if _area(t) not in BASE]
    assert wrong == []


def test_only_the_entry_points_import_the_cli() -> None:
    users = sorted(n for n, ts in GRAPH.items() if _area(n) != "cli" and any(_area(t) == "cli" for t in ts))
    assert users == ["agent.__main__"]


def test_folders_not_files_at_the_top_and_no_module_over_400_lines() -> None:
    top = [p.name for p in AGENT.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= 16, sorted(top)
    for package in ("cli", "engine", "explain", "heal", "journal", "playbook", "report", "catalog",
                    "clients", "simulator"):
        assert (AGENT / package / "__init__.py").is_file(), package
    long = [str(p.relative_to(AGENT)) for p in MODULES.values() if len(p.read_text().splitlines()) > 400]
    assert long == []


def test_no_module_is_loaded_by_name() -> None:
    named = [str(p.relative_to(AGENT)) for p in MODULES.values()
             if "import_module(" in p.read_text() or "__import__(" in p.read_text()]
    assert named == []


def test_package_faces_hold_no_code() -> None:
    """A package's __init__ is its docstring (the catalog's lists its causes; clients' is the bundle):
    parts never import their package, so a face that imported its parts would make a cycle."""
    allowed = {"agent.catalog", "agent.clients", "agent.simulator"}
    busy = [n for n, p in MODULES.items() if p.name == "__init__.py" and n not in allowed
            and any(isinstance(s, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)
                    for s in ast.parse(p.read_text()).body)]
    assert busy == []


def test_fixers_take_their_cause_from_the_context() -> None:
    """A fixer may serve several playbooks: the cause id a plan carries is the context's, never typed in."""
    ids = {p.stem for p in (AGENT.parent / "playbooks").rglob("*.yaml")}
    assert len(ids) >= 13
    typed = [f"{p.relative_to(AGENT)}: {cid}" for p in (AGENT / "catalog").rglob("*.py")
             for cid in ids if f'ctx.settings.get("cause", "{cid}")' in p.read_text()
             or f'Plan("{cid}"' in p.read_text()]
    assert typed == []
