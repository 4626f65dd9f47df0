"""Worker threads that never hold the process: daemon threads, and an event loop that does not wait for them.

exchangelib, office365 and azure-identity are synchronous, so the agent calls them in threads. A thread
blocked on a server that never answers cannot be interrupted; Python's ThreadPoolExecutor joins every
worker at exit and asyncio.run() waits for its default executor, so one stalled read would keep the
process alive long after its report. Here the workers are daemon threads and shutting the pool down waits
only briefly: the run's deadline has already reported that work `unknown`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

try:  # the worker loop of CPython's pool (3.11-3.13); without it the pool keeps its own threads
    from concurrent.futures.thread import _worker as _pool_worker
except ImportError:  # pragma: no cover - a Python whose pool is built differently
    _pool_worker = None  # type: ignore[assignment]
_worker: Any = _pool_worker

T = TypeVar("T")
SHUTDOWN_JOIN_S = 0.5  # what a finished pool waits for its idle workers to leave; stalled ones stay behind
DEFAULT_WORKERS = 32  # asyncio's default (cpu + 4) is 6 on two cores: a few stalled reads would starve it


class DaemonThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose workers are daemon threads that interpreter exit does not join."""

    def _adjust_thread_count(self) -> None:
        if _worker is None:
            super()._adjust_thread_count()
            return
        if self._idle_semaphore.acquire(timeout=0):
            return

        def weakref_cb(_: Any, q: Any = self._work_queue) -> None:
            q.put(None)

        threads: Any = self._threads
        if len(threads) < self._max_workers:
            name = f"{self._thread_name_prefix or 'worker'}_{len(threads)}"
            thread = threading.Thread(name=name, target=_worker, daemon=True, args=(
                weakref.ref(self, weakref_cb), self._work_queue,
                self._initializer, self._initargs))
            thread.start()
            threads.add(thread)  # not in concurrent.futures' exit registry: exit does not wait for it

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)
        if wait:  # one short wait for them all, however many are stuck
            until = time.monotonic() + SHUTDOWN_JOIN_S
            for thread in list(self._threads):
                thread.join(max(0.0, until - time.monotonic()))


def run(main: Coroutine[Any, Any, T], workers: int = DEFAULT_WORKERS) -> T:
    """asyncio.run() with daemon worker threads behind asyncio.to_thread and run_in_executor(None)."""
    async def with_pool() -> T:
        asyncio.get_running_loop().set_default_executor(
            DaemonThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-io"))
        return await main

    return asyncio.run(with_pool())
