"""Every registered detector and fixer is complete: a shipped playbook uses it, it declares its
permissions and its parameter schema in its own class, it says what it does, and a test names it.

A new cause that forgets one of these fails here, not in a tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from agent import registry
from agent.playbook.load import load_playbooks
from agent.registry import Detector, Fixer

TESTS = Path(__file__).resolve().parents[1]
BOOKS = load_playbooks()
USED = {pb.detector_name for pb in BOOKS} | {pb.fixer_name for pb in BOOKS if pb.fixer_name}
ELEMENTS: list[type[Detector] | type[Fixer]] = [  # the shipped catalog, not the toys some tests register
    e for e in (*(registry.detector(n) for n in registry.detector_names()),
                *(registry.fixer(n) for n in registry.fixer_names()))
    if e.__module__.startswith("agent.catalog.")]
TEST_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py") if p.name != "test_meta.py")


@pytest.mark.parametrize("element", ELEMENTS, ids=[e.name for e in ELEMENTS])
def test_each_registered_element_is_complete(element: type[Detector] | type[Fixer]) -> None:
    assert element.name in USED, f"{element.name}: no shipped playbook uses it"
    assert "permissions" in vars(element), f"{element.name}: declares no permissions (say () if none)"
    assert all(isinstance(p, str) and p for p in element.permissions)
    schema = element.params_model
    assert issubclass(schema, BaseModel) and schema.model_config.get("extra") == "forbid", \
        f"{element.name}: its `with:` schema must refuse unknown keys"
    assert (element.__doc__ or "").strip(), f"{element.name}: no docstring says what it does"
    causes = [pb.id for pb in BOOKS if element.name in (pb.detector_name, pb.fixer_name)]
    named = [element.__name__, element.name, *(f'"{cause}"' for cause in causes)]
    assert any(n in TEST_TEXT for n in named), f"{element.name}: no test names it or its cause"


def test_each_playbook_names_registered_elements() -> None:
    names = set(registry.detector_names()) | set(registry.fixer_names())
    assert names >= USED, USED - names
    assert len(BOOKS) == len({pb.id for pb in BOOKS}) >= 13
