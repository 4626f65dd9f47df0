"""Breaking the demo tenant cause by cause, and scenario files (tenant, users, break, wire)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.simulator.clouds import CLOUDS
from agent.simulator.faults import parse_wire
from agent.simulator.scenarios.contoso import (
    ACCOUNT_UPN,
    ADMIN_APP_ID,
    CONNECTOR_APP_ID,
    FEDERATED_DOMAIN,
    PUBLIC_CLIENT_ID,
    AppCertificate,
    build_contoso,
    material,
)
from agent.simulator.scenarios.init import apply_switches, check_switches
from agent.simulator.state.policies import EXCHANGE_ADMIN_ROLE
from agent.simulator.state.tenant import (
    EXCHANGE_APP_ID,
    FULL_ACCESS_AS_APP,
    FULL_CONTROL_ROLE_DEF,
    Application,
    Tenant,
    User,
    login_name,
    now,
)

__all__ = ["ACCOUNT_UPN", "ADMIN_APP_ID", "CAUSE_IDS", "CONNECTOR_APP_ID", "PUBLIC_CLIENT_ID", "VARIANTS",
           "AppCertificate", "Scenario", "break_cause", "build_contoso", "build_scenario", "expand_breaks",
           "load_scenario", "material", "parse_scenario"]

CAUSE_IDS = (
    "exo-app-missing-full-access", "bad-credentials", "mfa-blocks-service-account", "sso-federated-account",
    "account-unlicensed", "legacy-auth-disabled", "app-credentials-invalid", "app-certificate-missing",
    "no-onedrive-access", "app-not-installed", "not-site-collection-admin", "target-site-missing",
    "no-full-control",
)
# Variants of a cause (`cause:variant`); the first one is the default.
VARIANTS: dict[str, tuple[str, ...]] = {
    "bad-credentials": ("wrong-password", "expired", "locked", "disabled"),
    "account-unlicensed": ("no-licence", "no-usage-location"),
    "app-credentials-invalid": ("expired", "wrong-secret"),
    "app-certificate-missing": ("missing", "expired"),
    # How Conditional Access comes to target the account: "All users" (its exclusion is lost), a group it
    # joined (nested), a directory role it was given, an authentication-strength policy switched on, and a
    # location-conditioned policy switched on (a condition the agent cannot evaluate).
    "mfa-blocks-service-account": ("all-users", "group", "role", "strength", "location"),
}
SCENARIO_KEYS = ("break", "cloud", "description", "switch", "tenant", "users", "wire")
MAX_USERS = 100_000
DAY = 86400.0


# -- the state faults ------------------------------------------------------------------------------

def _account(t: Tenant) -> User:
    return t.user(str(t.extras.get("account_upn", ACCOUNT_UPN)))


def _connector_app(t: Tenant) -> Application:
    return t.application(str(t.extras.get("connector_app_id", CONNECTOR_APP_ID)))


def _break_full_access(t: Tenant, _: str) -> None:
    client, exo = t.sp_by_app_id(_connector_app(t).app_id), t.sp_by_app_id(EXCHANGE_APP_ID)
    if client is None or exo is None:
        return
    for grant in list(t.app_role_assignments.values()):
        target = (client.id, exo.id, FULL_ACCESS_AS_APP)
        if (grant.principal_id, grant.resource_id, grant.app_role_id) == target:
            t.delete_app_role_assignment(grant.id)


def _break_credentials(t: Tenant, variant: str) -> None:
    user = _account(t)
    options: dict[str, dict[str, Any]] = {
        # the connector's config keeps the old password
        "wrong-password": {"password": "Changed-" + secrets.token_urlsafe(12)},
        "expired": {"password_expired": True, "password_policies": None},
        "locked": {"locked_until": now() + DAY},
        "disabled": {"account_enabled": False},
    }
    t.update_user(user.id, **options[variant])


def _break_mfa(t: Tenant, variant: str) -> None:
    user = _account(t)
    if variant == "group":
        t.add_group_member(str(t.extras["mfa_group_id"]), user.id)
    elif variant == "role":
        t.assign_directory_role(EXCHANGE_ADMIN_ROLE, user.id)
    elif variant in ("strength", "location"):
        t.update_ca_policy(str(t.extras[f"{variant}_policy_id"]), {"state": "enabled"})
    else:
        policy = t.ca_policy(str(t.extras["mfa_policy_id"]))
        t.set_ca_exclusions(policy.id, [uid for uid in policy.exclude_users if uid != user.id])


def _break_federated(t: Tenant, _: str) -> None:
    """The connector is set up with an account on the federated domain (as many customers do)."""
    user = _account(t)
    old_login, new_upn = login_name(user.upn), f"{user.upn.split('@')[0]}@{FEDERATED_DOMAIN}"
    t.rename_user(user.id, new_upn)
    user.mail = new_upn
    for site in t.sites.values():  # SharePoint follows the rename, as the user profile sync does
        entry = site.user_by_login(old_login)
        if entry is not None:
            entry.login_name, entry.email = login_name(new_upn), new_upn
    t.extras["account_upn"] = new_upn


def _break_unlicensed(t: Tenant, variant: str) -> None:
    user = _account(t)
    if user.licenses:
        t.assign_license(user.id, [], list(user.licenses))
    if variant == "no-usage-location":
        t.update_user(user.id, usage_location=None)


def _break_legacy_auth(t: Tenant, _: str) -> None:
    t.onprem.auth_schemes = ["Negotiate"]  # Windows auth only: no Basic, no NTLM
    t.touch("set-onprem-auth")


def _break_app_credentials(t: Tenant, variant: str) -> None:
    app = _connector_app(t)
    if variant == "wrong-secret":  # rotated by someone else: the configured value no longer exists
        for cred in list(app.password_credentials):
            t.remove_password(app.id, cred.key_id)
        t.add_password(app.id, "rotated", "x" + secrets.token_urlsafe(30), now() + 180 * DAY)
        return
    for cred in app.password_credentials:
        cred.start, cred.end = now() - 400 * DAY, now() - DAY
    t.touch("expire-passwords")


def _break_certificate(t: Tenant, variant: str) -> None:
    app = _connector_app(t)
    thumbprint = t.extras["connector_cert"].thumbprint
    if variant == "expired":
        for key in app.key_credentials:
            if key.thumbprint == thumbprint:
                key.start, key.end = now() - 400 * DAY, now() - DAY
        t.touch("expire-key-credentials")
        return
    t.set_key_credentials(app.id, [k for k in app.key_credentials if k.thumbprint != thumbprint])


def _break_onedrive(t: Tenant, _: str) -> None:
    """The account was never made site collection admin of the users' OneDrives."""
    login = login_name(_account(t).upn)
    for site in t.sites.values():
        entry = site.user_by_login(login) if site.path.startswith("/personal/") else None
        if entry is not None:
            del site.users[entry.id]
            site.role_assignments = [r for r in site.role_assignments if r.principal_id != entry.id]
    t.touch("remove-onedrive-admins")


def _break_not_installed(t: Tenant, _: str) -> None:
    sp = t.sp_by_app_id(_connector_app(t).app_id)
    if sp is not None:
        t.delete_service_principal(sp.id)


def _break_site_admin(t: Tenant, _: str) -> None:
    site = t.site(str(t.extras["source_site"]))
    entry = site.user_by_login(login_name(_account(t).upn))
    if entry is not None and entry.is_site_admin:
        t.set_site_admin(site, entry.id, False)


def _break_target_site(t: Tenant, _: str) -> None:
    site = t.find_site(str(t.extras["target_site"]))
    if site is not None:
        t.delete_site(site.id)


def _break_full_control(t: Tenant, _: str) -> None:
    site = t.site(str(t.extras["source_site"]))
    entry = site.user_by_login(login_name(_account(t).upn))
    if entry is not None:
        t.remove_role_assignment(site, entry.id, FULL_CONTROL_ROLE_DEF)


_BREAKERS: dict[str, Callable[[Tenant, str], None]] = {
    "exo-app-missing-full-access": _break_full_access, "bad-credentials": _break_credentials,
    "mfa-blocks-service-account": _break_mfa, "sso-federated-account": _break_federated,
    "account-unlicensed": _break_unlicensed, "legacy-auth-disabled": _break_legacy_auth,
    "app-credentials-invalid": _break_app_credentials, "app-certificate-missing": _break_certificate,
    "no-onedrive-access": _break_onedrive, "app-not-installed": _break_not_installed,
    "not-site-collection-admin": _break_site_admin, "target-site-missing": _break_target_site,
    "no-full-control": _break_full_control,
}


def _split(cause_id: str, variant: str | None) -> tuple[str, str]:
    cause, _, suffix = cause_id.partition(":")
    if cause not in _BREAKERS:
        raise ValueError(f"unknown cause id {cause!r} (valid: {', '.join(CAUSE_IDS)})")
    options = VARIANTS.get(cause, ("default",))
    chosen = variant or suffix or options[0]
    if chosen not in options:
        raise ValueError(f"unknown variant {chosen!r} of {cause} (valid: {', '.join(options)})")
    return cause, chosen


def break_cause(tenant: Tenant, cause_id: str, variant: str | None = None) -> None:
    """Apply one cause as a state fault (`cause` or `cause:variant`); ValueError lists the valid ids."""
    cause, chosen = _split(cause_id, variant)
    _BREAKERS[cause](tenant, chosen)


def expand_breaks(items: Iterable[Any], where: str = "break") -> tuple[str, ...]:
    """Validated `cause[:variant]` strings; `all` means every cause, and {cause, variant} maps work too."""
    out: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            unknown = set(item) - {"cause", "variant"}
            if unknown or "cause" not in item:
                raise ValueError(f"{where}[{index}]: expected keys cause and optional variant")
            item = f"{item['cause']}:{item['variant']}" if item.get("variant") else str(item["cause"])
        if not isinstance(item, str):
            raise ValueError(f"{where}[{index}]: expected a cause id, got {item!r}")
        if item == "all":
            out.extend(c for c in CAUSE_IDS if c not in out)
            continue
        try:
            cause, _ = _split(item, None)
        except ValueError as exc:
            raise ValueError(f"{where}[{index}]: {exc}") from None
        out.append(item if ":" in item else cause)
    return tuple(dict.fromkeys(out))


# -- scenario files --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the demo tenant, its size, the causes to break and wire faults."""

    tenant: str = "contoso"
    users: int = 50
    breaks: tuple[str, ...] = ()
    wire: dict[str, Any] | None = None  # validated; parsed afresh on apply so fault counters restart
    description: str = ""
    source: str = "<scenario>"
    cloud: str = "public"  # the token audiences the tenant issues and checks (simulator/clouds.py)
    switches: tuple[str, ...] = ()  # scenarios_init.SWITCHES, applied after the breaks


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """From a file path, YAML/JSON text or a mapping; ValueError names the bad key."""
    if isinstance(source, Mapping):
        return parse_scenario(source)
    path = Path(source) if isinstance(source, Path) or "\n" not in source else None
    if path is not None and path.is_file():
        return parse_scenario(_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    if isinstance(source, Path) or source.strip().lower().endswith((".yaml", ".yml", ".json")):
        raise ValueError(f"{source}: scenario file not found")
    return parse_scenario(_yaml(source, "<scenario>"))


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{where}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def parse_scenario(data: Any, where: str = "<scenario>") -> Scenario:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: a scenario is a mapping with keys {', '.join(SCENARIO_KEYS)}")
    for key in data:
        if key not in SCENARIO_KEYS:
            raise ValueError(f"{where}: unknown key {key!r} (valid: {', '.join(SCENARIO_KEYS)})")
    tenant = data.get("tenant", "contoso")
    if tenant != "contoso":
        raise ValueError(f"{where}: tenant: unknown tenant {tenant!r} (valid: contoso)")
    users = data.get("users", 50)
    if isinstance(users, bool) or not isinstance(users, int) or not 0 <= users <= MAX_USERS:
        raise ValueError(f"{where}: users: expected an integer 0..{MAX_USERS}, got {users!r}")
    raw_breaks = data.get("break") or []
    if not isinstance(raw_breaks, list):
        raise ValueError(f"{where}: break: expected a list of cause ids")
    breaks = expand_breaks(raw_breaks, f"{where}: break")
    wire = data.get("wire")
    parse_wire(wire, f"{where}: wire")  # validate now, parse again on apply
    description = str(data.get("description") or "")
    cloud = data.get("cloud", "public")
    if cloud not in CLOUDS:
        raise ValueError(f"{where}: cloud: unknown cloud {cloud!r} (valid: {', '.join(CLOUDS)})")
    raw_switches = data.get("switch") or []
    if not isinstance(raw_switches, list):
        raise ValueError(f"{where}: switch: expected a list of switch names")
    switches = check_switches(raw_switches, f"{where}: switch")
    return Scenario(tenant, users, breaks, dict(wire) if wire else None, description, where, cloud, switches)


def build_scenario(users: int = 50, breaks: Iterable[str] = (), switches: Iterable[str] = ()) -> Tenant:
    """The demo tenant with the given causes broken and switches applied."""
    tenant = build_contoso(users)
    for item in expand_breaks(breaks):
        break_cause(tenant, item)
    apply_switches(tenant, switches)
    return tenant

