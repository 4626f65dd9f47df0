"""Scenario switches for an admin set-up run: device code blocked, an admin without a role, no agent app yet,
a vendor-owned connector app."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from agent.simulator.graph.roles import MEMBERS_CREATE_APPS_KEY
from agent.simulator.identity.device import BLOCKED_KEY
from agent.simulator.scenarios.contoso import VENDOR_APP_ID, VENDOR_TENANT
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP, ServicePrincipal, Tenant


def block_device_code(t: Tenant) -> None:
    """Conditional Access blocks device code flow for everyone (policy-block-authentication-flows.md)."""
    t.extras[BLOCKED_KEY] = True
    t.touch("block-device-code")


def admin_without_role(t: Tenant) -> None:
    """The admin holds no directory role, and members may not register apps (users-default-permissions.md,
    "Restrict member users' default permissions": allowedToCreateApps false), so creating an app needs a
    role the admin lacks."""
    admin = t.find_user(str(t.extras.get("admin_upn") or ""))
    if admin is not None:
        for holders in t.directory_roles.values():
            while admin.id in holders:
                holders.remove(admin.id)
    t.extras[MEMBERS_CREATE_APPS_KEY] = False
    t.touch("remove-admin-roles")


def agent_app_missing(t: Tenant) -> None:
    """A tenant the agent has never been set up in: no app registration, service principal or grant of it."""
    app_id = str(t.extras.get("admin_app_id") or "")
    for key, app in list(t.applications.items()):
        if app.app_id == app_id:
            del t.applications[key]
    sp = t.sp_by_app_id(app_id)
    if sp is not None:
        for grant in [g for g in t.app_role_assignments.values() if g.principal_id == sp.id]:
            t.delete_app_role_assignment(grant.id)
        del t.service_principals[sp.id]
    t.touch("remove-agent-app")


def vendor_connector(t: Tenant) -> None:
    """A vendor's multi-tenant migration app consented in this tenant: only its service principal is here
    (appOwnerOrganizationId is the vendor's tenant), holding full_access_as_app."""
    sp = ServicePrincipal(str(uuid.uuid5(uuid.NAMESPACE_URL, f"vendor:{VENDOR_APP_ID}")), VENDOR_APP_ID,
                          "Fabrikam Migration Service", app_owner_organization_id=VENDOR_TENANT)
    t.service_principals[sp.id] = sp
    exchange = t.sp_by_app_id(EXCHANGE_APP_ID)
    if exchange is not None:
        t.assign_app_role(sp.id, exchange.id, FULL_ACCESS_AS_APP)
    t.touch("add-vendor-connector")


SWITCHES: dict[str, Callable[[Tenant], None]] = {"vendor-connector": vendor_connector,
                                                 "device-code-blocked": block_device_code,
                                                 "admin-without-role": admin_without_role,
                                                 "agent-app-missing": agent_app_missing}


def check_switches(items: Iterable[object], where: str = "switch") -> tuple[str, ...]:
    """Validated switch names; ValueError lists the valid ones."""
    out: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or item not in SWITCHES:
            raise ValueError(f"{where}[{index}]: unknown switch {item!r} (valid: {', '.join(SWITCHES)})")
        out.append(item)
    return tuple(dict.fromkeys(out))


def apply_switches(t: Tenant, names: Iterable[str]) -> None:
    for name in check_switches(names):
        SWITCHES[name](t)
