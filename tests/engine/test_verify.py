"""Verification's poll and the detector wrapper under the run's deadline: the run's end stops the poll,
whatever budget the fixer's propagation gives it, and a deadline's cancellation is never an answer."""

from __future__ import annotations

import asyncio

import pytest

from agent import deadline as deadlines
from agent.context import Context
from agent.engine import deadline as stepping
from agent.engine.steps import detect_safely
from agent.engine.verify import Backoff, poll_until_ok
from agent.model import Finding
from agent.registry import Detector


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_run_deadline_stops_the_poll_before_its_own_budget() -> None:
    clock, slept, probes = _Clock(), [], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async def probe() -> Finding:
        probes.append(1)
        return Finding.found("still missing")

    run_clock = _Clock()
    spent = deadlines.Deadline(1.0, clock=run_clock)
    run_clock.now = 2.0  # the run's deadline has passed; the poll's own budget has not
    with deadlines.in_force(spent), pytest.raises(deadlines.DeadlinePassed):
        await poll_until_ok(probe, 60.0, sleep=sleep, clock=clock, backoff=Backoff(1.0, 2.0, 15.0))
    assert probes == [1] and slept == []  # one probe, then no wait past the run's end


async def test_without_a_run_deadline_the_poll_spends_its_own_budget() -> None:
    clock, slept = _Clock(), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async def probe() -> Finding:
        return Finding.found("still missing")

    finding, attempts = await poll_until_ok(probe, 10.0, sleep=sleep, clock=clock,
                                            backoff=Backoff(1.0, 2.0, 15.0))
    assert finding.status.value == "found" and attempts == 5 and sum(slept) == pytest.approx(10.0)


class _Slow(Detector):
    name = "toy-slow"

    async def detect(self, ctx: Context) -> Finding:
        await asyncio.sleep(5)
        return Finding.ok("too late")


@pytest.mark.parametrize("own_timeout", [None, 30.0])
async def test_the_run_deadline_cancels_a_detector_and_is_not_turned_into_an_answer(
        own_timeout: float | None) -> None:
    with deadlines.in_force(deadlines.Deadline(0.05)), pytest.raises(deadlines.DeadlinePassed):
        async with stepping.within():
            await detect_safely(_Slow(), None, own_timeout)  # type: ignore[arg-type]


async def test_a_detector_past_its_own_timeout_is_unknown() -> None:
    finding = await detect_safely(_Slow(), None, 0.05)  # type: ignore[arg-type]
    assert finding.status.value == "unknown" and "timed out after 0.05s" in (finding.reason or "")
