"""JSON-line logs: one object per record, with run id and tenant, redacted."""

from __future__ import annotations

import io
import json
import logging

from agent import redact
from agent.heal import logs
from agent.model import Outcome, RunReport, Status

SECRET = "Zq8-very-secret-Value-77"


def capture() -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.use_json(handler)
    logging.getLogger().addHandler(handler)
    return handler, stream


def test_records_are_json_lines_with_run_id_and_tenant() -> None:
    redact.register(SECRET)
    handler, stream = capture()
    try:
        report = RunReport("20261207-010203-abcd", "heal", "x", exit_code=3, results=[
            Outcome("c-mail", "account-unlicensed", Status.FOUND, reason=f"token {SECRET} refused")])
        logs.log_report(report, {"c-mail": "contoso"}, 2.5)
        token = logs.TENANT.set("contoso")
        logging.getLogger("azure.identity").warning("a library warning is left out")
        logging.getLogger("azure.identity").error("a library error with %s", SECRET)
        logs.TENANT.reset(token)
    finally:
        logging.getLogger().removeHandler(handler)
        logs.use_text(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["agent.run", "agent.run", "azure.identity"]
    result, run, library = lines
    assert (result["run_id"], result["tenant"], result["cause"], result["status"]) == (
        "20261207-010203-abcd", "contoso", "account-unlicensed", "found")
    assert result["reason"] == "token *** refused"
    assert run["exit_code"] == 3 and run["duration_s"] == 2.5 and run["tenant"] == "contoso"
    assert library["tenant"] == "contoso" and library["level"] == "error"
    assert SECRET not in stream.getvalue()
