"""One write for one tenant object, however many connectors point at it (e.g. one shared account).

Two connectors that use the same migration account would each plan a password reset: two irreversible
resets in one run, and with separate password stores the first connector holds a password the second
reset has replaced. A fixer marks such a step with `params["shared_key"]` (what object it changes, e.g.
`user:<id>`). Within one tenant, the first plan keeps the step and gains the others' params under
`params["shared"]`; the other plans lose it and follow the first: they are verified once it has landed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.model import Step


def merge_shared(jobs: Sequence[Any]) -> None:
    """Fold every step that changes an object an earlier job's plan already changes into that step.
    `jobs` are the engine's jobs (tenant, connector, plan, follows), in fix order."""
    owners: dict[tuple[str, str, str], tuple[Any, Step]] = {}
    for job in jobs:
        if job.plan is None:
            continue
        for step in list(job.plan.steps):
            key = step.params.get("shared_key")
            if not key:
                continue
            owner = owners.setdefault((job.tenant.name, step.action, str(key)), (job, step))
            if owner[0] is job:
                continue
            owner_job, owner_step = owner
            owner_step.params.setdefault("shared", []).append(
                {"connector": job.connector.name, **{k: v for k, v in step.params.items()
                                                     if k not in ("shared_key", "shared")}})
            job.plan.steps.remove(step)
            job.follows = owner_job
            job.plan.note = (f"shares one {step.action} with connector {owner_job.connector.name} "
                             f"({key}): done once, for each")
