"""`agent undo RUN` of an own-certificate renewal: the old key back on the app, the old PEM back in its file,
the new key removed, newest first; each proof signed with the key the file holds at that moment."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from agent.clients.errors import ClientError
from agent.errors import BadInput
from agent.journal.store import Journal, RunRecord
from agent.model import Call, Step
from agent.trust.own_certificate import CAUSE, add_key, remove_key, write_pem


def _tenant(config: Any, record: RunRecord) -> Any:
    names = list(record.targets or {})
    for tenant in config.tenants:
        if tenant.name in names and (record.targets or {})[tenant.name] == tenant.location():
            return tenant
    name = names[0] if names else "?"
    raise BadInput(f"run {record.id} renewed the certificate of tenant {name}, which the config no longer "
                   "points at the same way; undo it with the config that run used")


async def _reverse(graph: Any, action: str, undo: dict[str, Any], path: Path) -> None:
    current = path.read_text(encoding="utf-8")
    if action == "remove-own-key":  # put the old certificate back (proof: the key the file holds now)
        der = base64.b64decode(undo["certificate"])
        await add_key(graph, undo["app_object_id"], der, current, "agent (restored)")
    elif action == "write-file":
        previous = path.with_name(path.name + ".previous")
        if previous.is_file():
            write_pem(path, previous.read_text(encoding="utf-8"))
    elif action == "add-own-key":  # the file holds the old key again: it signs the removal of the new one
        await remove_key(graph, undo["app_object_id"], undo["key_id"], current)


async def undo_rotation(journal: Journal, record: RunRecord, config: Any, dry_run: bool) -> int:
    from agent.clients.graph import GraphAdapter
    from agent.clients.tokens import certificate_credential
    from agent.guard import WriteGuard

    tenant = _tenant(config, record)
    path = tenant.admin.certificate.path
    changes = [c for c in reversed(journal.changes(record.id)) if c.state == "applied"]
    if any(not c.sealed for c in changes):
        raise BadInput(f"run {record.id}: a change does not match its journal signature: not undoing "
                       "anything")
    if dry_run:
        for c in changes:
            print(f"would reverse change {c.seq} ({c.action})")
        return 0
    undo_id = journal.start_run("undo", argv=list(sys.argv[1:]), undoes=record.id, targets=record.targets)
    code = 0
    try:
        for change in changes:
            pem = path.read_text(encoding="utf-8")  # a fresh credential from the key the file holds now
            graph = GraphAdapter(tenant, certificate_credential(tenant, tenant.admin.client_id, pem),
                                 WriteGuard(dry_run=False))
            seq = journal.change_pending(undo_id, CAUSE, CAUSE, CAUSE, Step(
                action=f"undo-{change.action}", call=Call(change.call.method, change.call.url)))
            try:
                await _reverse(graph, change.action, change.undo or {}, path)
            except ClientError as exc:
                journal.change_failed(undo_id, seq, exc.reason)
                print(f"error: change {change.seq} ({change.action}): {exc.reason}", file=sys.stderr)
                code = 4
                break
            finally:
                await graph.aclose()
            journal.change_applied(undo_id, seq, None)
            journal.change_undone(record.id, change.seq, undo_id)
            print(f"change {change.seq} ({change.action}): reversed")
    finally:
        journal.finish_run(undo_id, code)
    return code
