"""Scenario switches for an admin set-up run: a tenant that blocks device code, an admin without a role."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .graph_roles import MEMBERS_CREATE_APPS_KEY
from .identity_device import BLOCKED_KEY
from .state import Tenant


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


SWITCHES: dict[str, Callable[[Tenant], None]] = {"device-code-blocked": block_device_code,
                                                 "admin-without-role": admin_without_role}


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
