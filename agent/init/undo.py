"""`agent undo RUN` of an `agent init` run: its grants, service principal and app removed, newest first, as
the admin (the agent's own app may not delete itself and its grants), each reversal journaled as an undo
run; the files init wrote are removed when they are still as init wrote them."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from agent.clients.errors import ClientError, ReadFailed, WriteFailed
from agent.errors import BadInput
from agent.init.steps import CAUSE, CONNECTOR, FIXER, progress
from agent.journal.store import KEY_NAME, Journal, RunRecord
from agent.model import Call, Change, Step

UNDOABLE = ("applied", "uncertain", "pending")


def init_changes(journal: Journal, record: RunRecord) -> list[Change]:
    changes = list(reversed(journal.changes(record.id)))
    tampered = [c for c in changes if not c.sealed]
    if tampered:
        raise BadInput(f"run {record.id}: change {tampered[-1].seq} ({tampered[-1].action}) does not "
                       f"match its "
                       f"journal signature (edited since, or {KEY_NAME} was replaced): not undoing anything")
    return [c for c in changes if c.state in UNDOABLE]


def reverse_call(graph: Any, change: Change) -> Call | None:
    """The call that reverses one change (None: a local file, or nothing recorded to reverse)."""
    u = change.undo or {}
    if change.action == "grant-app-role" and u.get("assignment_id"):
        return Call("DELETE", graph.url(f"/servicePrincipals/{u['resource_sp_id']}/appRoleAssignedTo/"
                                        f"{u['assignment_id']}"))
    if change.action == "create-service-principal" and u.get("sp_id"):
        return Call("DELETE", graph.url(f"/servicePrincipals/{u['sp_id']}"))
    if change.action == "create-app" and u.get("app_object_id"):
        return Call("DELETE", graph.url(f"/applications/{u['app_object_id']}"))
    if change.action == "update-app" and u.get("app_object_id"):
        return Call("PATCH", graph.url(f"/applications/{u['app_object_id']}"), u.get("restore"))
    return None


async def _reverse(graph: Any, change: Change) -> None:
    u = change.undo or {}
    if change.action == "grant-app-role":
        await graph.adapter.delete_app_role_assignment(u["resource_sp_id"], u["assignment_id"])
    elif change.action == "create-service-principal":
        await graph.adapter.delete_service_principal(u["sp_id"])
    elif change.action == "create-app":
        await graph.delete_app(u["app_object_id"])
    elif change.action == "update-app":
        await graph.patch_app(u["app_object_id"], dict(u.get("restore") or {}))


def remove_file(change: Change, dry_run: bool) -> str:
    u = change.undo or {}
    path = Path(str(u.get("path") or ""))
    if not path.is_file():
        return f"{path}: already gone"
    if hashlib.sha256(path.read_bytes()).hexdigest() != u.get("sha256"):
        return f"{path}: changed since init wrote it, kept"
    if not dry_run:
        path.unlink()
    return f"{path}: {'would remove' if dry_run else 'removed'}"


async def undo_init(journal: Journal, record: RunRecord, dry_run: bool, graph: Any) -> int:
    """Reverse every change of the init run; 0 when all are reversed, 4 when one failed."""
    changes = init_changes(journal, record)
    undo_id = None if dry_run else journal.start_run("undo", argv=list(sys.argv[1:]), undoes=record.id,
                                                      targets=record.targets)
    failed = False
    try:
        for change in changes:
            if change.action == "write-file":
                print(remove_file(change, dry_run))
                if not dry_run and undo_id:
                    journal.change_undone(record.id, change.seq, undo_id)
                continue
            failed = not await _one(journal, record, change, graph, undo_id) or failed
            if failed:
                break
    finally:
        if undo_id is not None:
            journal.finish_run(undo_id, 4 if failed else 0)
    if failed:
        print(f"error: undo of run {record.id} stopped at a failure; run `agent undo {record.id}` again",
              file=sys.stderr)
    return 4 if failed else 0


async def _one(journal: Journal, record: RunRecord, change: Change, graph: Any, undo_id: str | None) -> bool:
    call = reverse_call(graph, change)
    if call is None:
        print(f"change {change.seq} ({change.action}): nothing recorded to reverse")
        return True
    if undo_id is None:
        print(f"would {call.method} {call.url}")
        return True
    step = Step(action=f"undo-{change.action}", call=call, params={"undoes": change.seq})
    seq = journal.change_pending(undo_id, CONNECTOR, CAUSE, FIXER, step)
    progress(f"{call.method} {call.url}")
    try:
        await _reverse(graph, change)
    except (ReadFailed, WriteFailed) as exc:
        if exc.status == 404:  # gone already (deleted by hand, or never made): nothing left to reverse
            journal.change_applied(undo_id, seq, None)
            journal.change_undone(record.id, change.seq, undo_id)
            print(f"change {change.seq} ({change.action}): already gone")
            return True
        journal.change_failed(undo_id, seq, exc.reason)
        print(f"change {change.seq} ({change.action}): {exc.reason}", file=sys.stderr)
        return False
    except ClientError as exc:
        journal.change_failed(undo_id, seq, exc.reason)
        return False
    journal.change_applied(undo_id, seq, None)
    journal.change_undone(record.id, change.seq, undo_id)
    print(f"change {change.seq} ({change.action}): reversed")
    return True
