"""`agent init` from start to end: find the tenant, sign the admin in and check what they may do, discover
the tenant, compute the grants, create or update the agent's app, wait for the grants, write the config.

Nothing changes before the sign-in and role checks pass; a dry run reads as much as a real run and prints
every write instead of making it. Every write is journaled (mode `init`), so `agent undo RUN` reverses it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.clients.errors import ReadFailed
from agent.errors import BadInput
from agent.init import app as agent_app
from agent.init import connectors as found_connectors
from agent.init.discovery import PUBLIC_AUTHORITY, discover
from agent.init.grants import GrantPlan, resolve, tier_permissions
from agent.init.graph_setup import SetupGraph
from agent.init.hosts import Hosts, guessed_root, tenant_hosts
from agent.init.signin import (
    AdminSession,
    admin_credential,
    check_session,
    role_ids,
    scopes_of,
    token_claims,
)
from agent.init.steps import Writer, progress
from agent.playbook.manifest import RESOURCE_APP_IDS
from agent.playbook.permissions import GRAPH, SHAREPOINT

EXIT_OK, EXIT_ERROR, EXIT_PENDING, EXIT_REFUSED = 0, 1, 3, 4
KEY_FILE = "agent-admin.pem"


@dataclass
class InitOptions:
    """What the command line asked for."""

    tenant: str
    out: Path
    cloud: str = "auto"
    authority_host: str | None = None
    graph_url: str | None = None
    ews_url: str | None = None
    ca_bundle: Path | None = None
    sign_in: str = "device-code"
    client_id: str | None = None
    tier: str = "read"
    name: str = "m365-401-agent"
    tenant_name: str | None = None
    cert_days: int = 180
    dry_run: bool = False
    force: bool = False
    update: bool = False
    adopt: str | None = None
    discover_connectors: bool = True
    wait_s: float = 600.0
    argv: list[str] = field(default_factory=list)


@dataclass
class Found:
    """What the read-only phases learned."""

    tenant_id: str
    hosts: Hosts
    session: AdminSession
    grants: GrantPlan
    role_names: dict[tuple[str, str], str]
    candidates: list[found_connectors.Candidate] = field(default_factory=list)


def config_tenant(opts: InitOptions, tenant_id: str, hosts: Hosts, client_id: str = "") -> Any:
    """The config's Tenant model the client adapters take (the sign-in app stands in for the agent's)."""
    from agent.config.model import Tenant
    from agent.init.signin import DEFAULT_CLIENT_ID

    endpoints: dict[str, Any] = {k: v for k, v in vars(hosts).items() if v}
    if opts.ca_bundle is not None:
        endpoints["ca_bundle"] = str(opts.ca_bundle.resolve())
    return Tenant.model_validate({"name": opts.tenant_name or "tenant", "tenant_id": tenant_id,
                                  "endpoints": endpoints,
                                  "admin": {"client_id": client_id or opts.client_id or DEFAULT_CLIENT_ID,
                                            "auth": "azure-cli"}})


def graph_for(tenant: Any, credential: Any, dry_run: bool) -> SetupGraph:
    from agent.clients.graph import GraphAdapter
    from agent.guard import WriteGuard

    return SetupGraph(GraphAdapter(tenant, credential, WriteGuard(dry_run=dry_run)))


async def sign_in(opts: InitOptions, tenant: Any) -> tuple[AdminSession, SetupGraph]:
    from agent.clients.tokens import graph_scope

    e = tenant.endpoints
    progress(f"signing in ({opts.sign_in}) to tenant {tenant.tenant_id}")
    from agent.clients.token_cache import CachedCredential

    # one cache for the role check and every Graph call: the admin is asked to sign in once
    credential = CachedCredential(admin_credential(opts.sign_in, tenant.tenant_id, e.authority_host,
                                                   str(e.ca_bundle) if e.ca_bundle else None, opts.client_id))
    claims = token_claims(credential, graph_scope(tenant), opts.sign_in)
    user = str(claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name")
               or "the admin")
    graph = graph_for(tenant, credential, opts.dry_run)
    roles = role_ids(claims)
    if roles is None:
        roles = await graph.my_roles()
    return AdminSession(credential, user, scopes_of(claims), roles), graph


async def plan_grants(graph: SetupGraph, playbooks: Any, tier: str
                      ) -> tuple[GrantPlan, dict[tuple[str, str], str]]:
    """The tier's permissions resolved on the tenant's Graph and SharePoint service principals."""
    roles: dict[str, tuple[str, dict[str, str]]] = {}
    names: dict[tuple[str, str], str] = {}
    for resource in (GRAPH, SHAREPOINT):
        found = await graph.resource_roles(RESOURCE_APP_IDS[resource])
        if found is not None:
            roles[resource] = (found.sp_id, found.roles)
            names |= {(found.sp_id.lower(), rid.lower()): f"{resource} {value}"
                      for value, rid in found.roles.items()}
    return resolve(tier_permissions(playbooks, tier), roles), names


async def discover_hosts(opts: InitOptions, graph: SetupGraph, cloud: str) -> tuple[Hosts, str]:
    org = await graph.organization()
    progress(f"tenant {org.display_name or org.tenant_id}: {len(org.domains)} verified domain(s), initial "
             f"{org.initial_domain}")
    try:
        root = await graph.root_site_url()
    except ReadFailed as exc:
        progress(f"the root site could not be read ({exc.reason}); deriving it from {org.initial_domain}")
        root = None
    root = root or guessed_root(org.initial_domain, cloud)
    hosts = tenant_hosts(cloud, root, authority_host=opts.authority_host, graph_url=opts.graph_url,
                         ews_url=opts.ews_url)
    return hosts, org.initial_domain


async def read_phase(opts: InitOptions, playbooks: Any) -> tuple[Found, SetupGraph]:
    """Everything init learns before it may change anything."""
    ca = str(opts.ca_bundle) if opts.ca_bundle else None
    info = discover(opts.tenant, opts.authority_host or PUBLIC_AUTHORITY, ca)
    cloud = info.cloud if opts.cloud == "auto" else opts.cloud
    progress(f"tenant {opts.tenant} is {info.tenant_id} in the {cloud} cloud")
    first = tenant_hosts(cloud, None, authority_host=opts.authority_host, graph_url=opts.graph_url,
                         ews_url=opts.ews_url)
    session, graph = await sign_in(opts, config_tenant(opts, info.tenant_id, first))
    grants, names = await plan_grants(graph, playbooks, opts.tier)
    for warning in check_session(session, grants_graph=GRAPH in grants.resources()):
        progress(f"warning: {warning}")
    hosts, _ = await discover_hosts(opts, graph, cloud)
    found = Found(info.tenant_id, hosts, session, grants, names)
    if opts.discover_connectors:
        own = {opts.adopt} if opts.adopt else set()
        found.candidates = await found_connectors.discover(graph, info.tenant_id, own)
        if opts.adopt is None:
            existing = await graph.app_by_unique_name(opts.name)
            if existing is not None:
                found.candidates = [c for c in found.candidates if c.app_id != str(existing.app_id)]
    return found, graph


async def target_app(opts: InitOptions, graph: SetupGraph) -> Any:
    """The existing app init works on (None: create one); BadInput when the options and tenant disagree."""
    if opts.adopt:
        app = await graph.app_by_app_id(opts.adopt)
        if app is None:
            raise BadInput(f"--adopt {opts.adopt}: no app registration with that appId in this tenant")
        return app
    app = await graph.app_by_unique_name(opts.name)
    if app is not None and not opts.update:
        raise BadInput(f"the app {opts.name} exists already (appId {app.app_id}); `agent init --update` "
                       "re-syncs its grants, `agent init --adopt APP_ID` uses another app, and "
                       "`agent undo RUN` of the init run that made it removes it")
    if app is None and opts.update:
        raise BadInput(f"--update: no app {opts.name} in this tenant; run `agent init` without --update")
    return app


def _key_ref(opts: InitOptions) -> tuple[Path, str]:
    key_path = opts.out.parent / KEY_FILE
    return key_path, f"file:{KEY_FILE}"


def _new_key(opts: InitOptions, writer: Writer, run_id: str) -> tuple[dict[str, Any] | None, Path]:
    """A new key pair made here; the private key is written 0600 before its certificate is sent."""
    from agent.catalog.shared.cert_rotation import new_certificate
    from agent.config.secrets import atomic_write

    key_path, _ = _key_ref(opts)
    pem, cert = new_certificate("", opts.name, days=opts.cert_days)
    if not opts.dry_run:
        if key_path.exists() and not opts.force:
            raise BadInput(f"{key_path} exists; pass --force to replace it or --out to write elsewhere")
        atomic_write(key_path, pem, 0o600)
        writer.note_file(str(key_path), hashlib.sha256(pem.encode()).hexdigest(), "the agent's private key")
        progress(f"wrote the private key to {key_path} (0600); only its certificate goes to the tenant")
    return agent_app.key_credential(cert.der, cert.not_after, f"{opts.name} {run_id}"), key_path


async def change_phase(opts: InitOptions, graph: SetupGraph, found: Found, writer: Writer,
                       run_id: str, existing: Any) -> agent_app.AppState:
    """`existing`: target_app's answer, asked before the run starts (a refusal journals nothing)."""
    if existing is None:
        key, _ = _new_key(opts, writer, run_id)
        body = agent_app.app_body(opts.name, run_id, found.grants, key)
        object_id, app_id = await agent_app.create_app(graph, writer, opts.name, body)
    else:
        object_id, app_id = await _bring_up_to_date(opts, graph, writer, run_id, str(existing.app_id), found)
    sp_id, _ = await agent_app.ensure_sp(graph, writer, app_id)
    state = agent_app.AppState(object_id, app_id, sp_id, created=existing is None)
    await agent_app.grant_all(graph, writer, state, found.grants.wanted)
    state.extra = [found.role_names.get(tuple(x.split(":", 1)), x) for x in state.extra]  # type: ignore[arg-type]
    return state


def _holds_key(app: dict[str, Any], pem_path: Path) -> bool:
    """Whether the app's keyCredentials hold the certificate of the PEM file init uses."""
    if not pem_path.is_file():
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode() in {k.get("key") for k in app.get("keyCredentials") or []}


async def _bring_up_to_date(opts: InitOptions, graph: SetupGraph, writer: Writer, run_id: str, app_id: str,
                            found: Found) -> tuple[str, str]:
    """An existing app (--update, --adopt): its requiredResourceAccess synced, and a certificate of ours
    added next to its other keys when it holds none (PATCH keyCredentials replaces the list, so the
    existing keys go with it; addKey needs a key we already hold)."""
    from agent.init.graph_setup import app_dict

    app = await graph.adapter.get_application(app_id, select=["id", "appId", "keyCredentials",
                                                              "requiredResourceAccess"])
    assert app is not None  # target_app found it
    before = app_dict(app)
    wanted: dict[str, Any] = {"requiredResourceAccess": found.grants.required_resource_access()}
    key_path, _ = _key_ref(opts)
    if not _holds_key(before, key_path):
        key, _ = _new_key(opts, writer, run_id)
        wanted["keyCredentials"] = [*(before.get("keyCredentials") or []), key]
    await agent_app.update_app(graph, writer, str(app.id), before, wanted)
    return str(app.id), app_id


def consent_url(hosts: Hosts, tenant_id: str, app_id: str) -> str:
    """The admin-consent endpoint (https://learn.microsoft.com/en-us/entra/identity-platform/v2-admin-consent)."""
    return f"{hosts.authority_host}/{tenant_id}/adminconsent?client_id={app_id}"


def refused_lines(state: agent_app.AppState, found: Found) -> list[str]:
    lines = [f"refused: {label} ({reason})" for label, reason in state.refused]
    lines.append(f"next: a Global Administrator or Privileged Role Administrator grants consent at "
                 f"{consent_url(found.hosts, found.tenant_id, state.app_id)} then runs `agent init "
                 f"--update`; "
                 "what was made is journaled (`agent undo RUN` removes it)")
    return lines
