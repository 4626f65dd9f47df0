"""Agent runs side by side: worker processes, forked from a server that has the client libraries loaded,
each running the real CLI in-process, and one simulated tenant per lane so that faults never cross.

A faulted run mostly waits (for its deadline, a read limit, a retry); lanes let those waits overlap, so
the whole fault matrix fits the suite's time budget on two cores. A worker pays no import cost per run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from agent.simulator import Simulator

T = TypeVar("T")
PRELOAD = ["tests.resilience.lane_worker"]


class Lanes:
    """`count` simulators and `count` preloaded CLI workers; `run_all(cases, fn)` runs fn(case, lane) for
    every case, each on a free lane, at most `count` at a time."""

    def __init__(self, root: Path, count: int = 4) -> None:
        self.root, self.count = root, count
        self._stack = contextlib.ExitStack()
        self.sims: list[Simulator] = []
        self.pool: ProcessPoolExecutor | None = None
        self.healthy_s = 0.0  # how long a healthy diagnose of every mail cause takes here, now

    def __enter__(self) -> Lanes:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        self.pool = self._stack.enter_context(ProcessPoolExecutor(self.count, mp_context=context))
        self.sims = [self._stack.enter_context(Simulator(users=4)) for _ in range(self.count)]
        folder = self.root / "warm"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "agent.yaml"
        self.sims[0].write_config(config)
        from tests.resilience.lane_worker import warm

        # one real command per worker before any case is timed: the first run of a process pays for
        # what later runs find ready (model schemas, TLS contexts, the playbooks)
        warmed = [self.pool.submit(warm, str(config), str(folder / "state")) for _ in range(self.count)]
        for future in warmed:
            future.result(timeout=300)
        # timed alone: the warm-ups above ran all at once, each slowed by the others
        self.healthy_s = self.pool.submit(warm, str(config), str(folder / "state"), 1).result(timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def cli(self, argv: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
        """(exit code, stdout, stderr, seconds) of `agent ARGV` in a worker process."""
        from tests.resilience.lane_worker import run_cli

        assert self.pool is not None
        return self.pool.submit(run_cli, argv, env).result(timeout=120)

    def run_all(self, cases: list[Any], fn: Callable[[Any, Simulator, Path], T]
                ) -> dict[Any, T | BaseException]:
        free: queue.Queue[Simulator] = queue.Queue()
        for sim in self.sims:
            free.put(sim)

        def one(index: int, case: Any) -> T:
            with self._lane(free) as sim:
                folder = self.root / f"case{index}"
                folder.mkdir(parents=True, exist_ok=True)
                return fn(case, sim, folder)

        with ThreadPoolExecutor(self.count) as threads:
            futures = {case: threads.submit(one, i, case) for i, case in enumerate(cases)}
        return {case: _result(future) for case, future in futures.items()}

    @staticmethod
    @contextlib.contextmanager
    def _lane(free: queue.Queue[Simulator]) -> Iterator[Simulator]:
        sim = free.get()
        try:
            yield sim
        finally:
            sim.set_faults(None)
            free.put(sim)


def _result(future: Future[T]) -> T | BaseException:
    error = future.exception()
    return error if error is not None else future.result()
