"""Signing the admin in again for the undo of an init run, at the tenant and endpoints the run recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.errors import BadInput
from agent.journal.store import Journal, RunRecord


async def undo_init_run(journal: Journal, record: RunRecord, dry_run: bool) -> int:
    from agent.init import run as phases
    from agent.init.hosts import tenant_hosts
    from agent.init.signin import SignInRefused
    from agent.init.undo import undo_init

    where: dict[str, Any] = (record.targets or {}).get("agent-init") or {}
    if not where.get("tenant_id"):
        raise BadInput(f"run {record.id} is an init run without its tenant recorded; reverse it by hand")
    ca = where.get("ca_bundle")
    opts = phases.InitOptions(tenant=where["tenant_id"], out=Path(record.config or "agent.yaml"),
                              authority_host=where.get("authority_host"), graph_url=where.get("graph_url"),
                              ca_bundle=Path(ca) if ca else None, sign_in=where.get("sign_in", "device-code"),
                              client_id=where.get("client_id"), dry_run=dry_run)
    hosts = tenant_hosts(where.get("cloud", "public"), None, authority_host=opts.authority_host,
                         graph_url=opts.graph_url)
    try:
        _, graph = await phases.sign_in(opts, phases.config_tenant(opts, where["tenant_id"], hosts))
    except SignInRefused as exc:
        raise BadInput(str(exc)) from None
    try:
        return await undo_init(journal, record, dry_run, graph)
    finally:
        await graph.adapter.aclose()
