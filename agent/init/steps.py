"""Every write `agent init` makes, journaled before and after it is made (the journal's own states), or only
printed in a dry run. Undo data names the object each write created, so `agent undo RUN` removes it."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent.clients.errors import ClientError, WriteFailed
from agent.journal.store import Journal
from agent.model import Call, Step
from agent.redact import redact_obj

T = TypeVar("T")
CONNECTOR = CAUSE = "agent-init"  # the journal's connector and cause columns for init's own changes
FIXER = "agent-init"


def progress(text: str) -> None:
    """A progress line on stderr (stdout stays for the plan and the summary)."""
    print(f"init: {text}", file=sys.stderr, flush=True)


def shortened(value: Any) -> Any:
    """A body to show: certificates (long base64, public) stand as their size."""
    if isinstance(value, dict):
        return {k: (f"<certificate, {len(v)} base64 characters>" if k == "key" and isinstance(v, str)
                    else shortened(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shortened(v) for v in value]
    return value


@dataclass
class Writer:
    """Runs each write once: journal pending -> write -> applied (or failed / uncertain)."""

    journal: Journal | None
    run_id: str | None
    dry_run: bool
    planned: list[Call] = field(default_factory=list)
    cause: str = CAUSE  # the journal's connector and cause columns for these changes

    async def write(self, action: str, call: Call, do: Callable[[], Awaitable[T]],
                    undo: Callable[[T], dict[str, Any]], *, before: Any = None, description: str = "",
                    params: dict[str, Any] | None = None) -> T | None:
        """The write's result, or None in a dry run (the call is printed instead)."""
        if self.dry_run:
            self.planned.append(call)
            print(f"would {action}: {call.method} {call.url}")
            if call.body is not None:
                print(f"    {shortened(redact_obj(call.body))}")
            return None
        assert self.journal is not None and self.run_id is not None
        step = Step(action=action, call=call, before=before, params=dict(params or {}),
                    description=description)
        seq = self.journal.change_pending(self.run_id, self.cause, self.cause, FIXER, step)
        try:
            result = await do()
        except ClientError as exc:
            lost = isinstance(exc, WriteFailed) and exc.lost
            if lost:  # it may have been made: undo reads the tenant before reversing
                self.journal.change_uncertain(self.run_id, seq, exc.reason, dict(params or {}))
            else:
                self.journal.change_failed(self.run_id, seq, exc.reason)
            raise
        self.journal.change_applied(self.run_id, seq, undo(result))
        return result

    def note_file(self, path: str, digest: str, description: str) -> None:
        """A local file init wrote (config, key): journaled so that undo can remove it if unchanged."""
        if self.dry_run or self.journal is None or self.run_id is None:
            return
        step = Step(action="write-file", call=Call("WRITE", f"file:{path}"), params={"path": path},
                    description=description)
        seq = self.journal.change_pending(self.run_id, self.cause, self.cause, FIXER, step)
        self.journal.change_applied(self.run_id, seq, {"path": path, "sha256": digest})
