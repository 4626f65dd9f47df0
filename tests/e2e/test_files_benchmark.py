"""A small run of benchmarks/onedrive_fleet.py: both ways grant every OneDrive; the comparison is printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "onedrive_fleet.py"


def load(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("onedrive_fleet", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look their module up there
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # its sibling main_job, as when run as a script
    spec.loader.exec_module(bench)
    return bench


def columns(out: str, name: str) -> list[str]:
    """The numbers of the table row of run `name`: seconds, requests, CPU, RSS, limit, x limit, vs naive."""
    line = next(line for line in out.splitlines() if line.startswith(name))
    return line[len(name):].split()[:7]


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load(monkeypatch)
    assert bench.main(["--users", "12", "--latency-ms", "2", "--throttle-rate", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "naive loop" in out and "agent fix" in out and "vs naive" in out
    assert "OneDrives still missing the grant: 0" in out
    assert "median of 3: " in out  # three agent runs from the same broken state, all shown
    naive = columns(out, "naive loop (office365, sequential)")
    assert naive[1] == "38"  # contextinfo, ensureuser, MERGE per OneDrive + 2 for its token
    agent = columns(out, "agent fix (concurrent, chunked, verified)")
    seconds, requests, cpu, rss, limit = (float(v) for v in agent[:5])
    assert cpu > 0 and 20 < rss < 1000  # the agent process's own CPU and peak RSS (MB)
    assert limit == pytest.approx(requests * 2 / 1000 / 32, abs=0.001)  # requests x latency / 32
    exact = bench.physical_limit(int(requests), 2)
    assert float(agent[5].rstrip("x")) == pytest.approx(seconds / exact, rel=0.05)
    floor = columns(out, "requests floor (no agent, 2 GETs each)")
    assert floor[1] == "24"  # each of the 12 OneDrives' admin list read twice, nothing else
    assert float(floor[2]) > 0 and "bare library's reads alone" in out


def test_skip_naive_times_a_sample_and_says_so(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load(monkeypatch)
    assert bench.main(["--users", "12", "--latency-ms", "2", "--skip-naive", "--naive-sample", "4",
                       "--repeat", "1", "--no-throttled", "--no-floor"]) == 0
    out = capsys.readouterr().out
    assert "requests floor" not in out
    assert "NOT run on every OneDrive" in out and "scaled linearly to 12" in out
    naive = columns(out, "naive loop, 4 measured, scaled x3")
    assert naive[1] == str((3 * 4 + 2) * 3)  # 4 OneDrives' requests (and the token's), x3
