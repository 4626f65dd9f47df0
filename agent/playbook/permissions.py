"""Which application permissions each detector and fixer needs, and which the agent's own tokens carry.

A permission is written as Microsoft names it (`AppRoleAssignment.ReadWrite.All`, a Microsoft Graph
application permission), or prefixed with its resource when it is not Graph's:
`SharePoint:Sites.FullControl.All` (Office 365 SharePoint Online). Grants are read from the `roles`
claim of the admin app's Graph and SharePoint access tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

GRAPH, SHAREPOINT = "Graph", "SharePoint"
CHECKED = (GRAPH, SHAREPOINT)  # resources whose token the agent can read; others cannot be checked
UNKNOWN = "*"  # "<resource>:*" in a granted set: that token could not be read, nothing is blocked on it

# A granted permission also satisfies these (besides itself and the generic rule that X.ReadWrite.Y
# satisfies X.Read.Y). From the Microsoft Graph permission reference and each API's permission table.
IMPLIES: dict[str, tuple[str, ...]] = {
    "Directory.Read.All": ("User.Read.All", "Group.Read.All", "GroupMember.Read.All", "Application.Read.All",
                           "Domain.Read.All", "Organization.Read.All"),
    "Directory.ReadWrite.All": ("Directory.Read.All", "User.ReadWrite.All", "Group.ReadWrite.All",
                                "LicenseAssignment.ReadWrite.All", "Organization.ReadWrite.All"),
    "Application.ReadWrite.All": ("Application.ReadWrite.OwnedBy",),
    "User.ReadWrite.All": ("User.EnableDisableAccount.All", "LicenseAssignment.ReadWrite.All"),
    "Organization.ReadWrite.All": ("Organization.Read.All",),
    "Policy.ReadWrite.ConditionalAccess": ("Policy.ReadWrite.SecurityDefaults",),
    "Sites.FullControl.All": ("Sites.Manage.All", "Sites.ReadWrite.All", "Sites.Read.All"),
    "Sites.Manage.All": ("Sites.ReadWrite.All",),
    "Sites.ReadWrite.All": ("Sites.Read.All", "Files.ReadWrite.All"),
    "Sites.Read.All": ("Files.Read.All",),
    "Group.ReadWrite.All": ("GroupMember.ReadWrite.All",),
}


def _direct(permission: str) -> set[str]:
    implied = set(IMPLIES.get(permission, ()))
    if ".ReadWrite" in permission:  # X.ReadWrite.All -> X.Read.All, Mail.ReadWrite -> Mail.Read
        implied.add(permission.replace(".ReadWrite", ".Read", 1))
    return implied


def satisfied_by_grant(granted: str) -> set[str]:
    """Every permission a grant satisfies: itself and, transitively, what it implies."""
    seen, todo = {granted}, [granted]
    while todo:
        for implied in _direct(todo.pop()) - seen:
            seen.add(implied)
            todo.append(implied)
    return seen


def split(permission: str) -> tuple[str, str]:
    """`SharePoint:Sites.FullControl.All` -> (SharePoint, Sites.FullControl.All); no prefix means Graph."""
    resource, sep, name = permission.partition(":")
    if not sep:
        return GRAPH, permission
    for known in CHECKED:
        if resource.lower() == known.lower():
            return known, name
    return resource, name


def _normalised(granted: Iterable[str]) -> set[str]:
    return {"{}:{}".format(*split(g)) for g in granted}


def status(permission: str, granted: Iterable[str]) -> str:
    """present, missing, or unknown (its token could not be read, or its resource cannot be checked)."""
    resource, name = split(permission)
    grants = _normalised(granted)
    if resource not in CHECKED or f"{resource}:{UNKNOWN}" in grants:
        return "unknown"
    held = {n for r, n in (g.split(":", 1) for g in grants) if r == resource}
    return "present" if any(name in satisfied_by_grant(g) for g in held) else "missing"


def missing_permissions(fixer_cls: Any, granted: set[str]) -> list[str]:
    """The permissions `fixer_cls` declares that `granted` (role names, `Resource:`-prefixed or not) lacks."""
    return [p for p in getattr(fixer_cls, "permissions", ()) if status(p, granted) == "missing"]


# -- what the admin app's tokens carry ------------------------------------------------------------------
@dataclass
class Grants:
    """The roles of the admin app's tokens per resource; None where the token could not be had."""

    tenant: str
    roles: dict[str, list[str] | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def flat(self) -> set[str]:
        """`Resource:Role` for every role, `Resource:*` for every resource whose token was not read."""
        out: set[str] = set()
        for resource in CHECKED:
            roles = self.roles.get(resource)
            out |= {f"{resource}:{UNKNOWN}"} if roles is None else {f"{resource}:{r}" for r in roles}
        return out


def read_grants(clients: Any) -> Grants:
    """Ask for the admin app's Graph and SharePoint tokens through `clients` and read their roles."""
    from agent.clients.tokens import decode_claims, graph_scope, sharepoint_scope
    from agent.engine.steps import short_reason

    grants = Grants(clients.tenant.name)
    sources = ((GRAPH, False, lambda: graph_scope(clients.tenant)),
               (SHAREPOINT, True, lambda: sharepoint_scope(clients.tenant)))
    for resource, certificate, scope in sources:
        try:
            token = clients.admin_credential(certificate=certificate).get_token(scope())
            grants.roles[resource] = sorted(decode_claims(token.token).get("roles") or [])
        except Exception as exc:  # any failure means "cannot tell", never "missing"
            grants.roles[resource] = None
            grants.errors[resource] = short_reason(exc)
    return grants


async def granted_permissions(clients: Any) -> set[str] | None:
    """The admin app's grants as a flat set, or None when these clients cannot tell (no admin credential)."""
    if not hasattr(clients, "admin_credential") or not hasattr(clients, "tenant"):
        return None
    try:
        grants = await asyncio.to_thread(read_grants, clients)
    except Exception:
        return None
    return grants.flat()


# -- what each cause needs ------------------------------------------------------------------------------
def step_needs(step: str, cls: Any, granted: set[str] | None) -> dict[str, Any]:
    """One detector or fixer: its permissions with their status, and its directory roles (not checked)."""
    perms = list(getattr(cls, "permissions", ()))
    return {
        "step": step, "name": cls.name,
        "permissions": [{"name": p, "status": status(p, granted) if granted is not None else "unchecked"}
                        for p in perms],
        "roles": list(getattr(cls, "roles", ())),
    }


def cause_needs(playbooks: Sequence[Any], granted: set[str] | None) -> list[dict[str, Any]]:
    """Per cause: what its detector and its fixer need, and whether the admin app has it."""
    causes = []
    for pb in playbooks:
        steps = [step_needs("detect", pb.detector_cls, granted)]
        if pb.fixer_cls is not None:
            steps.append(step_needs("fix", pb.fixer_cls, granted))
        causes.append({"id": pb.id, "steps": steps})
    return causes


def missing_summary(causes: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Missing permission -> the `cause/step-name` entries that need it."""
    out: dict[str, list[str]] = {}
    for cause in causes:
        for step in cause["steps"]:
            for perm in step["permissions"]:
                if perm["status"] == "missing":
                    out.setdefault(perm["name"], []).append(f"{cause['id']} ({step['step']}: {step['name']})")
    return out


# -- the `agent permissions` report ---------------------------------------------------------------------
def permissions_report(config_file: Any, playbooks: Sequence[Any]) -> dict[str, Any]:
    """Every tenant of the config checked against its admin app's tokens; without a config, unchecked."""
    if config_file is None:
        return {"tenants": [], "causes": cause_needs(playbooks, None)}
    from agent.config.load import load_config

    config = load_config(config_file)

    async def all_grants() -> list[Grants]:
        return list(await asyncio.gather(*(tenant_grants(t) for t in config.tenants)))

    return {"tenants": [tenant_report(g, playbooks) for g in asyncio.run(all_grants())]}


async def tenant_grants(tenant: Any) -> Grants:
    """The admin app's grants in one tenant, read with fresh clients that are closed afterwards."""
    from agent.clients import clients_factory

    clients = clients_factory(tenant)
    try:
        return await asyncio.to_thread(read_grants, clients)
    finally:
        await clients.aclose()


def tenant_report(grants: Grants, playbooks: Sequence[Any]) -> dict[str, Any]:
    """One tenant: its tokens' roles (or why they could not be read), each cause's needs, what is missing,
    and what the app holds beyond them (least privilege: every grant is a standing risk)."""
    causes = cause_needs(playbooks, grants.flat())
    tokens = {r: {"roles": grants.roles.get(r), "error": grants.errors.get(r)} for r in CHECKED}
    return {"tenant": grants.tenant, "tokens": tokens, "causes": causes, "missing": missing_summary(causes),
            "extra": extra_grants(grants, playbooks)}


def extra_grants(grants: Grants, playbooks: Sequence[Any]) -> dict[str, list[str]]:
    """`Resource:Role` granted but declared by no detector or fixer -> the declared needs it covers
    (empty: unused; else broader than needed)."""
    declared: set[str] = set()
    for pb in playbooks:
        for cls in (pb.detector_cls, pb.fixer_cls):
            if cls is not None:
                declared |= {"{}:{}".format(*split(p)) for p in getattr(cls, "permissions", ())}
                declared |= {"{}:{}".format(*split(p)) for p in getattr(cls, "conditional_permissions", {})}
    extra: dict[str, list[str]] = {}
    for resource in CHECKED:
        for role in grants.roles.get(resource) or []:
            key = f"{resource}:{role}"
            if key not in declared:
                covers = sorted(d for d in declared if d.startswith(f"{resource}:")
                                and d.split(":", 1)[1] in satisfied_by_grant(role))
                extra[key] = covers
    return extra


def report_exit_code(report: dict[str, Any]) -> int:
    """0 when every needed permission is present; 3 when one is missing or a token could not be read."""
    for tenant in report.get("tenants", []):
        if tenant["missing"] or any(t["roles"] is None for t in tenant["tokens"].values()):
            return 3
    return 0


def render_report(report: dict[str, Any], out: Any) -> None:
    """For people: per tenant the tokens, every permission with its status, then what is missing."""
    from rich.table import Table

    if not report["tenants"]:
        out.print("no connector config: the permissions below are not checked against a token")
        out.print(_table("needed permissions", report["causes"], Table))
        return
    for tenant in report["tenants"]:
        for resource, token in tenant["tokens"].items():
            seen = f"{len(token['roles'])} role(s)" if token["roles"] is not None else \
                f"not read ({token['error']})"
            out.print(f"tenant {tenant['tenant']}: {resource} token: {seen}")
        out.print(_table(f"tenant {tenant['tenant']}", tenant["causes"], Table))
        for perm, users in tenant["missing"].items():
            out.print(f"[bold red]missing[/] {perm}: needed by {', '.join(users)}")
        if not tenant["missing"]:
            out.print("every permission the detectors and fixers declare is present")
        for perm, covers in tenant.get("extra", {}).items():
            why = f"broader than needed (covers {', '.join(covers)})" if covers else "needed by nothing"
            out.print(f"[yellow]extra[/] {perm}: {why}")


_STYLE = {"present": "green", "missing": "bold red", "unknown": "magenta", "unchecked": "dim"}


def _table(title: str, causes: Sequence[dict[str, Any]], table_cls: Any) -> Any:
    table = table_cls(title=title, title_justify="left")
    for column in ("cause", "step", "name", "permission", "status"):
        table.add_column(column, overflow="fold")
    for cause in causes:
        for step in cause["steps"]:
            rows = [(p["name"], f"[{_STYLE[p['status']]}]{p['status']}[/]") for p in step["permissions"]]
            rows += [(f"role: {r}", "[dim]not checked[/]") for r in step["roles"]]
            for name, state in rows or [("(none)", "")]:
                table.add_row(cause["id"], step["step"], step["name"], name, state)
    return table
