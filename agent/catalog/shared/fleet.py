"""Running one SharePoint call per site over thousands of sites: bounded per tenant, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from agent.clients.errors import ClientError
from agent.context import SHOW_PROGRESS
from agent.progress import progress as bar

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
    return await _with_passes(items, passes, label,
                              lambda part, name: _one_pass(part, work, limit, name, weight))


async def _with_passes(items: Sequence[T], passes: int, label: str,
                       one_pass: Callable[[Sequence[T], str], Awaitable[list[Outcome[T, R]]]],
                       ) -> list[Outcome[T, R]]:
    """`one_pass` over every item, then again over those still throttled, up to `passes` times."""
    results = await one_pass(items, label)
    for _ in range(passes - 1):
        again = [i for i, r in enumerate(results) if r.error is not None and r.error.status in THROTTLED]
        if not again:
            break
        retried = await one_pass([items[i] for i in again], f"{label} (throttled, again)")
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
    return await _with_passes(items, passes, label,
                              lambda part, name: _threads_pass(part, work, limit, name, run, slots))


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
    # gather returned, so every drain ran until the queue was empty: each item has its outcome
    assert all(r is not None for r in results)
    return cast(list[Outcome[T, R]], results)


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """The run's progress bar (agent.progress: a person at a terminal only) when the command shows one."""
    if not SHOW_PROGRESS.get() or total <= 1:
        yield _quiet
        return
    with bar(label, total) as advance:
        yield advance


def _quiet(step: int = 1) -> None:
    return None
