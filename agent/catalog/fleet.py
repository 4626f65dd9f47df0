"""Running one SharePoint call per site over thousands of sites: bounded per tenant, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from agent.clients.errors import ClientError
from agent.context import SHOW_PROGRESS

T = TypeVar("T")
R = TypeVar("R")

# One semaphore per (event loop, tenant, service): every fleet operation on a tenant's SharePoint shares
# it, so two connectors of one tenant do not double the load SharePoint sees (it throttles per tenant).
_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Semaphore]] = \
    weakref.WeakKeyDictionary()


def tenant_limit(tenant: str, service: str, size: int) -> asyncio.Semaphore:
    """The running loop's semaphore for (tenant, service); the first caller sets its size."""
    per_loop = _LIMITS.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault((tenant, service), asyncio.Semaphore(size))


@dataclass
class Outcome(Generic[T, R]):
    """One item's result: its value, or the client error that stopped it (status and one-line reason)."""

    item: T
    value: R | None = None
    error: ClientError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


THROTTLED = frozenset({429, 503, 504})


async def fleet_map(items: Sequence[T], work: Callable[[T], Awaitable[R]], limit: asyncio.Semaphore,
                    label: str, passes: int = 2,
                    weight: Callable[[T], int] | None = None) -> list[Outcome[T, R]]:
    """`work(item)` for every item, at most `limit` at a time; a ClientError is that item's outcome.

    `weight(item)` is how far the progress bar moves when an item is done (the sites in a batch).

    Items still throttled when their own retries ran out (429/503/504) get another pass once the
    others are done: over thousands of sites a few unlucky calls otherwise fail a whole run. Anything
    else (a DryRunWrite, a bug) propagates and cancels the rest. Results keep the items' order.
    """
    results = await _one_pass(items, work, limit, label, weight)
    for _ in range(passes - 1):
        again = [i for i, r in enumerate(results) if r.error is not None and r.error.status in THROTTLED]
        if not again:
            break
        retried = await _one_pass([items[i] for i in again], work, limit, f"{label} (throttled, again)",
                                  weight)
        for index, result in zip(again, retried, strict=True):
            results[index] = result
    return results


async def _one_pass(items: Sequence[T], work: Callable[[T], Awaitable[R]], limit: asyncio.Semaphore,
                    label: str, weight: Callable[[T], int] | None) -> list[Outcome[T, R]]:
    async def one(item: T) -> Outcome[T, R]:
        async with limit:
            try:
                return Outcome(item, await work(item))
            except ClientError as exc:
                return Outcome(item, error=exc)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    size = weight or (lambda item: 1)
    try:
        with progress(label, sum(size(item) for item in items)) as advance:
            for done in asyncio.as_completed(tasks):
                advance(size((await done).item))
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()


async def fleet_map_threads(items: Sequence[T], work: Callable[[T], R], limit: asyncio.Semaphore,
                            label: str, run: Callable[[Callable[[], None]], Awaitable[None]], slots: int,
                            passes: int = 2) -> list[Outcome[T, R]]:
    """fleet_map for a synchronous `work(item)`: `slots` threads (each holding one of the tenant's
    permits) take items from one shared queue until it is empty. `run(fn)` runs fn on a client's threads.

    Same contract as fleet_map: a ClientError is that item's outcome, throttled items get another pass,
    anything else stops every thread and propagates, results keep the items' order.
    """
    results = await _threads_pass(items, work, limit, label, run, slots)
    for _ in range(passes - 1):
        again = [i for i, r in enumerate(results) if r.error is not None and r.error.status in THROTTLED]
        if not again:
            break
        retried = await _threads_pass([items[i] for i in again], work, limit, f"{label} (throttled, again)",
                                      run, slots)
        for index, result in zip(again, retried, strict=True):
            results[index] = result
    return results


async def _threads_pass(items: Sequence[T], work: Callable[[T], R], limit: asyncio.Semaphore, label: str,
                        run: Callable[[Callable[[], None]], Awaitable[None]],
                        slots: int) -> list[Outcome[T, R]]:
    results: list[Outcome[T, R] | None] = [None] * len(items)
    lock, taken, stop = threading.Lock(), iter(range(len(items))), threading.Event()

    def drain(advance: Callable[[int], None]) -> None:
        while not stop.is_set():
            with lock:
                index = next(taken, None)
            if index is None:
                return
            item = items[index]
            try:
                results[index] = Outcome(item, work(item))
            except ClientError as exc:
                results[index] = Outcome(item, error=exc)
            except BaseException:
                stop.set()  # a bug or a refused write: the other threads stop at their next item
                raise
            advance(1)

    with progress(label, len(items)) as advance:
        async def slot() -> None:
            async with limit:
                await run(lambda: drain(advance))
        try:
            await asyncio.gather(*(slot() for _ in range(max(1, min(slots, len(items))))))
        finally:
            stop.set()  # cancelled: threads cannot be interrupted, but they take no further item
    return [r if r is not None else Outcome(items[i], error=ClientError("not attempted"))
            for i, r in enumerate(results)]


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar on stderr for a person at a terminal; a no-op otherwise."""
    console = _console() if SHOW_PROGRESS.get() and total > 1 else None
    if console is None:
        yield _quiet
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(step: int = 1) -> None:
            bar.advance(task, step)
        yield advance


def _quiet(step: int = 1) -> None:
    return None


def _console() -> Any:
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else None
