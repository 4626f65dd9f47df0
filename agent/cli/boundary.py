"""The command line's one error boundary (exit codes, one-line errors) and its redacted logging."""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from agent.errors import BadInput, PlaybookError

ENV_DEBUG = "AGENT_DEBUG"


class State:
    """What the error boundary needs from the parsed command line."""

    debug = False
    argv: list[str] = []
    log_handler: Any = None
    root_level: int | None = None  # the root logger's level before --debug lowered it


class AgentGroup(TyperGroup):
    """The root command: every exception ends here and becomes one line and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        State.argv = argv
        State.debug = os.environ.get(ENV_DEBUG, "") not in ("", "0") or "--debug" in argv[:1]
        setup_logging(State.debug)

        def call() -> Any:
            return super(AgentGroup, self).main(args=argv, prog_name=prog_name or "agent",
                                                 complete_var=complete_var, standalone_mode=False,
                                                 windows_expand_args=windows_expand_args, **extra)

        code = guarded(call)
        if standalone_mode:
            sys.exit(code)
        return code


def guarded(call: Callable[[], Any]) -> int:
    """Run `call`; bad input -> one line and 2, anything else -> one redacted line and 1."""
    from agent.redact import redact

    try:
        result = call()
    except typer.TyperException as exc:  # typer's (vendored click) usage and parameter errors
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            return 2
        return _fail(f"error: {hide_non_choice(' '.join(exc.format_message().split()))}", exc.exit_code)
    except typer.Abort:
        return _fail("aborted", 1)
    except PlaybookError as exc:
        lines = exc.lines() or [str(exc)]
        more = f" (and {len(lines) - 1} more; run `agent playbooks validate`)" if len(lines) > 1 else ""
        return _fail(f"error: {lines[0]}{more}", 2)
    except BadInput as exc:
        return _fail(f"error: {' '.join(str(exc).split())}", 2)
    except Exception as exc:
        if State.debug:
            sys.stderr.write(redact(traceback.format_exc()))
        from agent.engine.steps import short_reason

        if type(exc).__name__ == "UntrustedCertificate":  # agent.trust.tls: its message is the one line
            return _fail(f"error: {redact(' '.join(str(exc).split()))}", 1)
        prefix = "bug: " if type(exc).__name__ == "DryRunWrite" else ""
        return _fail(f"error: {prefix}{redact(short_reason(exc))}", 1)
    return result if isinstance(result, int) else 0


_NOT_ONE_OF = re.compile(r"'(?P<value>[^']*)' is not one of (?P<choices>.*?)\.?$")


def hide_non_choice(message: str) -> str:
    """A choice option's error without the value given, unless it reads like a mistyped choice: a secret
    pasted into `-o` or `--allow-risk` is never printed back (the rule of agent.yamlsrc.echo)."""
    from agent.yamlsrc import echo

    match = _NOT_ONE_OF.search(message)
    if match is None:
        return message
    choices = match["choices"].replace("'", "")
    shown = echo(match["value"], choices)
    said = "the value given (not shown)" if shown.startswith(" (") else shown.strip()
    return f"{message[:match.start()]}{said} is not one of {choices}"


class _StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is when a record is emitted (test runners swap it per command)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(debug: bool) -> None:
    """Library log records go to stderr, redacted: errors only, or everything from INFO with --debug.

    Without a handler Python prints every WARNING, and azure-identity warns on each failed token
    request, which a diagnosis makes on purpose.
    """
    from agent import redact
    from agent.heal import logs

    root = logging.getLogger()
    if State.log_handler not in root.handlers:
        handler = _StderrHandler()
        root.addHandler(handler)
        State.log_handler = handler
        redact.install(root)
    logs.use_text(State.log_handler)  # a JSON-logging command before this one in the process left it JSON
    State.log_handler.setLevel(logging.INFO if debug else logging.ERROR)
    if State.root_level is None:
        State.root_level = root.level
    root.setLevel(min(State.root_level, logging.INFO) if debug else State.root_level)


def _fail(line: str, code: int) -> int:
    typer.echo(line, err=True)
    return code
