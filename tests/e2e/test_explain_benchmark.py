"""The large-log part of benchmarks/explain_speed.py: one answer both ways, the threshold restored."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.explain import literals

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "explain_speed.py"


def load(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("explain_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    return bench


def test_the_large_log_part_compares_both_ways_on_one_answer(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load(monkeypatch)
    log = bench.large_log(0.1)
    assert len(log) > literals.SMALL_TEXT and log.endswith(bench.TEXT)
    assert bench.large_log(0.1) == log  # seeded: the same log every run
    before = literals.SMALL_TEXT
    bench.log_part(0.1)
    out = capsys.readouterr().out
    assert "as it runs" in out and "every pattern searched" in out
    assert "-> app-credentials-invalid" in out and "same answer: True" in out
    assert before == literals.SMALL_TEXT
