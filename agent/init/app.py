"""The agent's own app registration, its service principal and its grants: created or brought up to date
idempotently (application-upsert by uniqueName), every write through the journaled Writer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.clients.errors import WriteFailed
from agent.init.grants import GrantPlan, Wanted
from agent.init.graph_setup import SetupGraph
from agent.init.steps import Writer, progress
from agent.model import Call

TAG = "m365-401-agent"
PLACEHOLDER_APP = "<new app id>"
PLACEHOLDER_SP = "<new service principal id>"


@dataclass
class AppState:
    """The app as init leaves it (ids are placeholders in a dry run)."""

    object_id: str
    app_id: str
    sp_id: str
    created: bool = False
    granted: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    held: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def key_credential(der: bytes, end: datetime, label: str) -> dict[str, Any]:
    """A keyCredential of the public certificate only (keyCredential resource: type, usage, key)."""
    return {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode(),
            "displayName": label, "endDateTime": end.astimezone(UTC).isoformat().replace("+00:00", "Z")}


def thumbprint(der: bytes) -> str:
    return hashlib.sha1(der).hexdigest().upper()


def app_body(name: str, run_id: str, grants: GrantPlan, key: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"displayName": name, "signInAudience": "AzureADMyOrg", "tags": [TAG],
                            "notes": f"Created by agent init (run {run_id}); see `agent history {run_id}`",
                            "requiredResourceAccess": grants.required_resource_access()}
    if key is not None:
        body["keyCredentials"] = [key]
    return body


async def create_app(graph: SetupGraph, writer: Writer, name: str, body: dict[str, Any]) -> tuple[str, str]:
    """Upsert with create-if-missing: (object id, appId)."""
    call = Call("PATCH", graph.url(f"/applications(uniqueName='{name}')"), body)
    progress(f"creating the app registration {name}")
    made = await writer.write("create-app", call, lambda: graph.upsert_app(name, body),
                              lambda app: {"app_object_id": str(app.id), "app_id": str(app.app_id)}
                              if app is not None else {"unique_name": name},
                              description=f"create the agent's app registration {name}")
    if writer.dry_run:
        return PLACEHOLDER_APP, PLACEHOLDER_APP
    if made is None:  # 204: it existed after all (created meanwhile): read it
        found = await graph.app_by_unique_name(name)
        assert found is not None
        made = found
    return str(made.id), str(made.app_id)


async def update_app(graph: SetupGraph, writer: Writer, object_id: str, before: dict[str, Any],
                     body: dict[str, Any]) -> None:
    """PATCH the properties that differ; the journal keeps the old values for undo."""
    changed = {k: v for k, v in body.items() if before.get(k) != v}
    if not changed:
        return
    old = {k: before.get(k) for k in changed}
    call = Call("PATCH", graph.url(f"/applications/{object_id}"), changed)
    progress(f"updating the app registration ({', '.join(sorted(changed))})")
    await writer.write("update-app", call, lambda: graph.patch_app(object_id, changed),
                       lambda _: {"app_object_id": object_id, "restore": old}, before=old,
                       description="update the agent's app registration")


async def ensure_sp(graph: SetupGraph, writer: Writer, app_id: str, wait_s: float = 60.0) -> tuple[str, bool]:
    """The app's service principal, created if missing and polled until Graph shows it (replication)."""
    if app_id == PLACEHOLDER_APP:
        await writer.write("create-service-principal", Call("POST", graph.url("/servicePrincipals"),
                                                            {"appId": app_id}),
                           _never, lambda sp: {})
        return PLACEHOLDER_SP, True
    sp = await graph.adapter.get_service_principal(app_id, select=["id", "appId"])
    if sp is not None:
        return str(sp.id), False
    call = Call("POST", graph.url("/servicePrincipals"), {"appId": app_id})
    progress("creating its service principal")
    made = await writer.write("create-service-principal", call,
                              lambda: graph.adapter.create_service_principal(app_id),
                              lambda sp: {"sp_id": str(sp.id), "app_id": app_id},
                              description="create the agent app's service principal")
    if made is None:
        return PLACEHOLDER_SP, True
    delay, waited = 1.0, 0.0
    while await graph.adapter.get_service_principal(app_id, select=["id"]) is None and waited < wait_s:
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 10.0)
    return str(made.id), True


async def _never() -> None:  # a dry run never calls it
    raise AssertionError("dry run")


async def held_roles(graph: SetupGraph, sp_id: str) -> set[tuple[str, str]]:
    """(resource sp id, app role id) the app holds now."""
    if sp_id == PLACEHOLDER_SP:
        return set()
    grants = await graph.adapter.app_role_assignments(sp_id)
    return {(str(g.resource_id).lower(), str(g.app_role_id).lower()) for g in grants}


async def _grant_one(graph: SetupGraph, writer: Writer, sp_id: str, w: Wanted) -> None:
    body = {"principalId": sp_id, "resourceId": w.resource_sp_id, "appRoleId": w.role_id}
    call = Call("POST", graph.url(f"/servicePrincipals/{w.resource_sp_id}/appRoleAssignedTo"), body)
    progress(f"granting {w.label}")
    await writer.write("grant-app-role", call,
                       lambda: graph.adapter.grant_app_role(w.resource_sp_id, sp_id, w.role_id),
                       lambda made: {"resource_sp_id": w.resource_sp_id, "assignment_id": str(made.id),
                                     "role": w.label},
                       params={"role": w.label}, description=f"grant {w.label}")


async def grant_all(graph: SetupGraph, writer: Writer, state: AppState, wanted: list[Wanted]) -> None:
    """Each missing grant on its own, each answer checked; a refusal is recorded and the rest go on."""
    held = await held_roles(graph, state.sp_id)
    for w in wanted:
        if (w.resource_sp_id.lower(), w.role_id.lower()) in held:
            state.held.append(w.label)
            continue
        try:
            await _grant_one(graph, writer, state.sp_id, w)
        except WriteFailed as exc:
            if exc.lost:
                raise
            state.refused.append((w.label, exc.reason))
            continue
        state.granted.append(w.label)
    wanted_keys = {(w.resource_sp_id.lower(), w.role_id.lower()) for w in wanted}
    state.extra = sorted(f"{r}:{a}" for r, a in held - wanted_keys)
