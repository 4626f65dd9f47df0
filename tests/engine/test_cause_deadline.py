"""The per-cause deadline: a cause whose own work outlives it is `unknown (deadline)` with the cause's
limit named, the others carry on, and time spent waiting for a turn is not counted against a cause."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config.load import load_config
from agent.config.model import Config
from agent.context import Context
from agent.engine.core import EngineSettings
from agent.heal.policy import Policy
from agent.model import Finding, Status
from agent.registry import Detector
from tests.fakes import MakeEngine, ToyPlaybook
from tests.test_deadline import EXAMPLE


def _slow(name: str, seconds: float) -> type[Detector]:
    class Slow(Detector):
        async def detect(self, ctx: Context) -> Finding:
            await asyncio.sleep(seconds)
            return Finding.ok(f"answered after {seconds}s")

    Slow.name = name
    return Slow


async def test_a_cause_past_its_own_deadline_is_unknown_and_the_others_finish(make_engine: MakeEngine,
                                                                             toy_catalog: None) -> None:
    slow = ToyPlaybook("toy-slow", _slow("toy-slow", 5))
    quick = ToyPlaybook("toy-quick", _slow("toy-quick", 0))
    engine = make_engine([slow, quick], settings=EngineSettings(cause_deadline_s=0.3, deadline_s=60))
    report = await engine.diagnose()
    outcomes = {o.cause: o for o in report.results}
    assert outcomes["toy-slow"].status == Status.UNKNOWN
    assert outcomes["toy-slow"].reason == "deadline: the cause's 0.3s deadline passed before this check " \
                                          "finished"
    assert outcomes["toy-quick"].status == Status.OK and report.exit_code == 3


async def test_waiting_for_a_turn_is_not_counted(make_engine: MakeEngine, toy_catalog: None) -> None:
    books = [ToyPlaybook(f"toy-wait{i}", _slow(f"toy-wait{i}", 0.2)) for i in range(3)]
    engine = make_engine(books, settings=EngineSettings(concurrency=1, cause_deadline_s=0.5))
    report = await engine.diagnose()  # one at a time: the last waits 0.4s, then works 0.2s
    assert [o.status for o in report.results] == [Status.OK] * 3, [o.reason for o in report.results]


def test_the_policy_and_the_option_take_a_cause_deadline() -> None:
    assert Policy(cause_deadline="2m").cause_deadline_s == 120 and Policy().cause_deadline_s is None
    with pytest.raises(ValidationError, match="cause_deadline"):
        Policy(cause_deadline="soon")
    result = CliRunner().invoke(app, ["diagnose", "--sim", "--cause-deadline", "soon"])
    assert result.exit_code == 2 and "--cause-deadline" in result.output and "Traceback" not in result.output


def test_every_deadline_and_its_default_are_in_the_help() -> None:
    runner = CliRunner()
    for command in ("diagnose", "fix", "undo", "approve"):
        shown = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
        assert "--deadline" in shown and "[default: 15m]" in shown, command
    heal = " ".join(runner.invoke(app, ["heal", "--help"], terminal_width=200).output.split())
    assert "--deadline" in heal and "else 15m" in heal and "--cause-deadline" in heal


def test_the_body_cap_is_configured_and_checked() -> None:
    config = load_config(EXAMPLE)
    assert config.network.max_response_bytes == 32 * 1024 * 1024
    data = config.model_dump(mode="json")
    data["network"] = {"max_response_bytes": 10}
    with pytest.raises(ValidationError, match="max_response_bytes"):
        Config.model_validate(data)
