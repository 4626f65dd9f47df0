"""Which causes to look at first: each connector's own first sign-in, and what its error text points at.

The hints only order the detectors; a probe that stalls or fails costs the order, never the diagnosis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from agent.engine import deadline as stepping
from agent.engine.job import Job, PlaybookLike
from agent.engine.steps import Binding


async def bounded_hints(bindings: dict[str, Binding]) -> dict[str, str]:
    """The hints within a few seconds and the run's deadline: a stalled sign-in only loses the order."""
    hints: dict[str, str] = {}
    with contextlib.suppress(stepping.DeadlinePassed):
        async with stepping.within(stepping.HINT_CAP_S):
            hints = await probe_hints(bindings)
    return hints


async def probe_hints(bindings: dict[str, Binding]) -> dict[str, str]:
    """Each connector's first sign-in, as the connector does it: the error text it fails with."""
    async def one(name: str, binding: Binding) -> tuple[str, str | None]:
        probe = getattr(binding.clients, "connector_probe", None)
        try:
            return name, (await probe()) if probe is not None else None
        except Exception:  # a probe that cannot run only loses the ordering, never the diagnosis
            return name, None

    pairs = await asyncio.gather(*(one(name, b) for name, b in bindings.items()))
    return {name: text for name, text in pairs if text}


def ranked(jobs: list[Job], hints: Mapping[str, str], playbooks: Sequence[PlaybookLike]) -> list[Job]:
    """Jobs whose causes a connector's error text (hints) points at start first; others keep order."""
    if not hints:
        return jobs
    from agent.explain.rank import knowledge_from_playbooks, rank_causes

    knowledge = knowledge_from_playbooks(playbooks)
    rank: dict[tuple[str, str], int] = {}
    for name, text in hints.items():
        ids = [job.cause for job in jobs if job.connector.name == name]
        rank.update({(name, cid): i for i, cid in enumerate(rank_causes(text, ids, knowledge))})
    return sorted(jobs, key=lambda job: rank.get((job.connector.name, job.cause), len(jobs)))
