"""A small run of benchmarks/onedrive_fleet.py: both ways grant every OneDrive; the comparison is printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "onedrive_fleet.py"


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("onedrive_fleet", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look their module up there
    spec.loader.exec_module(bench)
    assert bench.main(["--users", "12", "--latency-ms", "2", "--throttle-rate", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "naive loop" in out and "agent fix" in out and "vs naive" in out
    assert "OneDrives still missing the grant: 0" in out
    assert "median of 3: " in out  # three agent runs from the same broken state, all shown
    naive = next(line for line in out.splitlines() if line.startswith("naive loop"))
    assert naive.split()[-2] == "38"  # contextinfo, ensureuser, MERGE per OneDrive + 2 for its token
