"""Progress bars on long work, for people only: on stderr, and silent off a terminal or with -o json."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

Advance = Callable[[int], None]


class _Switch:
    """Whether bars may be drawn: the CLI turns them off for machine output (-o json and friends)."""

    enabled: bool | None = None  # None: decide by whether stderr is a terminal


def configure(enabled: bool | None) -> None:
    """True/False forces bars on/off; None restores the default (only when stderr is a terminal)."""
    _Switch.enabled = enabled


def active() -> bool:
    if _Switch.enabled is not None:
        return _Switch.enabled
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _noop(step: int = 1) -> None:
    return None


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Advance]:
    """`with progress("granting", 2000) as advance: ... advance(1)`; thread-safe; a no-op when quiet."""
    if not active() or total == 0:
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    lock = threading.Lock()  # the fleet fix advances from worker threads
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(step: int = 1) -> None:
            with lock:
                bar.advance(task, step)

        yield advance
