"""The demo tenant, each cause as a state fault a fix repairs and an undo restores, and scenario files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.simulator.scenarios.contoso import (
    ACCOUNT_UPN,
    CONNECTOR_APP_ID,
    CONNECTOR_ROLES,
    E3,
    GRAPH_ROLES,
    SHAREPOINT_ROLES,
    build_contoso,
)
from agent.simulator.scenarios.load import (
    CAUSE_IDS,
    VARIANTS,
    break_cause,
    build_scenario,
    load_scenario,
)
from agent.simulator.state.tenant import (
    EXCHANGE_APP_ID,
    FULL_ACCESS_AS_APP,
    FULL_CONTROL_ROLE_DEF,
    Tenant,
    login_name,
    now,
    personal_path,
)

SCENARIOS = Path(__file__).resolve().parents[3] / "configs" / "scenarios"
DESIGN_CAUSES = {
    "exo-app-missing-full-access", "bad-credentials", "mfa-blocks-service-account", "sso-federated-account",
    "account-unlicensed", "legacy-auth-disabled", "app-credentials-invalid", "app-certificate-missing",
    "no-onedrive-access", "app-not-installed", "not-site-collection-admin", "target-site-missing",
    "no-full-control",
}


@pytest.fixture
def t() -> Tenant:
    return build_contoso(5)


def account(t: Tenant) -> str:
    return str(t.extras["account_upn"])


def test_ten_thousand_users_build_fast() -> None:
    started = time.perf_counter()
    big = build_contoso(10_000)
    assert time.perf_counter() - started < 2.0
    assert len([s for s in big.sites if s.startswith("/personal/")]) == 10_000
    assert big.find_site(personal_path("user10000@contoso.onmicrosoft.com")) is not None


def test_healthy_tenant_has_what_the_connectors_need(t: Tenant) -> None:
    user = t.user(ACCOUNT_UPN)
    assert [p.name for p in t.exchange_plans(user)] == ["EXCHANGE_S_ENTERPRISE"] and user.usage_location
    assert t.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID) == ["full_access_as_app"]
    assert t.domains["contoso.com"].authentication_type == "Federated"
    mfa = t.ca_policy(str(t.extras["mfa_policy_id"]))
    assert mfa.state == "enabled" and user.id in mfa.exclude_users
    states = {p.state for p in t.ca_policies.values()}
    assert states == {"enabled", "disabled", "enabledForReportingButNotEnforced"}
    assert not t.security_defaults_enabled and "Basic" in t.onprem.auth_schemes
    for path in ("/sites/source", "/sites/target", personal_path("user0003@contoso.onmicrosoft.com")):
        entry = t.site(path).user_by_login(login_name(ACCOUNT_UPN))
        assert entry is not None and entry.is_site_admin
    assert t.has_full_control(t.site("/sites/source"), ACCOUNT_UPN)
    assert t.skus[E3].prepaid_enabled > t.consumed(E3)  # free units for the licence fix
    assert t.version == 0 and t.ops == []


def test_admin_app_has_both_credentials_and_the_roles_fixes_need(t: Tenant) -> None:
    admin = t.application(str(t.extras["admin_app_id"]))
    assert admin.password_credentials and admin.key_credentials
    roles = t.roles_of(admin.app_id, "00000003-0000-0000-c000-000000000000")
    assert "AppRoleAssignment.ReadWrite.All" in roles and "Policy.ReadWrite.ConditionalAccess" in roles
    assert t.roles_of(admin.app_id, "00000003-0000-0ff1-ce00-000000000000") == ["Sites.FullControl.All"]
    assert GRAPH_ROLES["Sites.FullControl.All"] != SHAREPOINT_ROLES["Sites.FullControl.All"]


# For each cause: is it broken? (a detector in state terms) and how a fix repairs it (what the API does).
def _exo_granted(t: Tenant) -> bool:
    return "full_access_as_app" in t.roles_of(CONNECTOR_APP_ID, EXCHANGE_APP_ID)


def _grant_exo(t: Tenant) -> None:
    sp, exo = t.service_principal(CONNECTOR_APP_ID), t.service_principal(EXCHANGE_APP_ID)
    t.assign_app_role(sp.id, exo.id, FULL_ACCESS_AS_APP)


def _can_sign_in(t: Tenant) -> bool:
    user = t.user(account(t))
    return (user.password == t.extras["account_password"] and user.account_enabled
            and not user.password_expired and (user.locked_until or 0) < now())


def _mfa_excluded(t: Tenant) -> bool:
    return t.user(account(t)).id in t.ca_policy(str(t.extras["mfa_policy_id"])).exclude_users


def _exclude(t: Tenant) -> None:
    policy = t.ca_policy(str(t.extras["mfa_policy_id"]))
    t.set_ca_exclusions(policy.id, [*policy.exclude_users, t.user(account(t)).id])


def _licensed(t: Tenant) -> bool:
    return t.has_mailbox(t.user(account(t)))


def _secret_valid(t: Tenant) -> bool:
    app = t.application(CONNECTOR_APP_ID)
    return any(c.secret == t.extras["connector_secret"] and c.end > now() for c in app.password_credentials)


def _cert_valid(t: Tenant) -> bool:
    thumb = t.extras["connector_cert"].thumbprint
    keys = t.application(CONNECTOR_APP_ID).key_credentials
    return any(k.thumbprint == thumb and k.end > now() for k in keys)


def _add_cert(t: Tenant) -> None:
    app, cert = t.application(CONNECTOR_APP_ID), t.extras["connector_cert"]
    kept = [k for k in app.key_credentials if k.thumbprint != cert.thumbprint]
    t.set_key_credentials(app.id, [*kept, cert.key_credential("re-added")])


def _onedrive_admin(t: Tenant) -> bool:
    site = t.site(personal_path("user0001@contoso.onmicrosoft.com"))
    entry = site.user_by_login(login_name(account(t)))
    return entry is not None and entry.is_site_admin


def _make_onedrive_admin(t: Tenant) -> None:
    for site in [s for s in t.sites.values() if s.path.startswith("/personal/")]:
        t.set_site_admin(site, t.ensure_site_user(site, account(t)).id, True)


def _installed(t: Tenant) -> bool:
    return t.sp_by_app_id(CONNECTOR_APP_ID) is not None


def _install(t: Tenant) -> None:
    sp = t.create_service_principal(CONNECTOR_APP_ID)
    for resource, values in CONNECTOR_ROLES.items():
        target = t.service_principal(resource)
        for value in values:
            role = target.role_by_value(value)
            assert role is not None
            t.assign_app_role(sp.id, target.id, role.id)


def _source_admin(t: Tenant) -> bool:
    entry = t.site("/sites/source").user_by_login(login_name(account(t)))
    return entry is not None and entry.is_site_admin


def _make_source_admin(t: Tenant) -> None:
    site = t.site("/sites/source")
    t.set_site_admin(site, t.ensure_site_user(site, account(t)).id, True)


def _full_control(t: Tenant) -> bool:
    site = t.site("/sites/source")
    entry = site.user_by_login(login_name(account(t)))
    return entry is not None and any(r.principal_id == entry.id and r.role_def_id == FULL_CONTROL_ROLE_DEF
                                     for r in site.role_assignments)


def _grant_full_control(t: Tenant) -> None:
    site = t.site("/sites/source")
    t.add_role_assignment(site, t.ensure_site_user(site, account(t)).id, FULL_CONTROL_ROLE_DEF)


Check = Callable[[Tenant], bool]
Repair = Callable[[Tenant], object] | None


def _managed(t: Tenant) -> bool:
    domain = t.domain_of(t.user(account(t)))
    return domain is not None and domain.authentication_type == "Managed"


def _reset_password(t: Tenant) -> None:
    t.update_user(account(t), password=t.extras["account_password"])


def _create_target(t: Tenant) -> None:
    t.create_site("/sites/target", "Migration target", "admin@contoso.onmicrosoft.com", "STS#3", 1033)
CASES: dict[str, tuple[Check, Repair]] = {
    "exo-app-missing-full-access": (_exo_granted, _grant_exo),
    "bad-credentials": (_can_sign_in, _reset_password),
    "bad-credentials:expired": (_can_sign_in, lambda t: t.update_user(account(t), password_expired=False)),
    "bad-credentials:disabled": (_can_sign_in, lambda t: t.update_user(account(t), account_enabled=True)),
    "bad-credentials:locked": (_can_sign_in, lambda t: t.update_user(account(t), locked_until=None)),
    "mfa-blocks-service-account": (_mfa_excluded, _exclude),
    "sso-federated-account": (_managed, None),
    "account-unlicensed": (_licensed, lambda t: t.assign_license(account(t), [E3], [])),
    "legacy-auth-disabled": (lambda t: "Basic" in t.onprem.auth_schemes, None),
    "app-credentials-invalid": (_secret_valid, None),
    "app-certificate-missing": (_cert_valid, _add_cert),
    "no-onedrive-access": (_onedrive_admin, _make_onedrive_admin),
    "app-not-installed": (_installed, _install),
    "not-site-collection-admin": (_source_admin, _make_source_admin),
    "target-site-missing": (lambda t: t.find_site("/sites/target") is not None, _create_target),
    "no-full-control": (_full_control, _grant_full_control),
}


def test_every_design_cause_has_a_state_fault() -> None:
    assert set(CAUSE_IDS) == DESIGN_CAUSES
    assert {c.split(":")[0] for c in CASES} == DESIGN_CAUSES


@pytest.mark.parametrize("cause", list(CASES))
def test_break_then_repair(t: Tenant, cause: str) -> None:
    check, repair = CASES[cause]
    assert check(t), "healthy before the break"
    version = t.version
    break_cause(t, cause)
    assert not check(t), "broken after the break"
    assert t.version > version, "a break is a recorded mutation"
    if repair is not None:
        repair(t)
        assert check(t), "the state operation a fix calls repairs it"


def test_break_leaves_other_causes_alone(t: Tenant) -> None:
    break_cause(t, "target-site-missing")
    for cause, (check, _) in CASES.items():
        if not cause.startswith("target-site-missing"):
            assert check(t), cause


def test_wrong_secret_variant_rotates_the_secret_away_from_the_config(t: Tenant) -> None:
    break_cause(t, "app-credentials-invalid", "wrong-secret")
    creds = t.application(CONNECTOR_APP_ID).password_credentials
    assert creds and all(c.secret != t.extras["connector_secret"] and c.end > now() for c in creds)


def test_federated_break_renames_the_account_everywhere(t: Tenant) -> None:
    break_cause(t, "sso-federated-account")
    upn = account(t)
    assert upn.endswith("@contoso.com") and t.find_user(ACCOUNT_UPN) is None
    assert t.site("/sites/source").user_by_login(login_name(upn)) is not None


def test_unknown_cause_and_variant_list_the_valid_ones(t: Tenant) -> None:
    with pytest.raises(ValueError, match=r"unknown cause id 'nope'.*exo-app-missing-full-access"):
        break_cause(t, "nope")
    with pytest.raises(ValueError, match="valid: wrong-password, expired, locked, disabled"):
        break_cause(t, "bad-credentials:sleepy")
    assert set(VARIANTS) <= set(CAUSE_IDS)


def test_all_breaks_every_cause() -> None:
    broken = build_scenario(3, ["all"])
    assert not any(check(broken) for cause, (check, _) in CASES.items() if ":" not in cause)


# -- scenario files ----------------------------------------------------------------------------------

def test_shipped_scenarios_load() -> None:
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert {f.stem for f in files} >= {"all-broken", "mail", "files", "sharepoint"}
    loaded = {f.stem: load_scenario(f) for f in files}
    assert set(loaded["all-broken"].breaks) == DESIGN_CAUSES
    assert "bad-credentials:expired" in loaded["mail"].breaks


def test_scenario_text_with_mapping_breaks_and_wire() -> None:
    scenario = load_scenario("tenant: contoso\nusers: 7\n"
                             "break:\n  - {cause: bad-credentials, variant: locked}\n"
                             "wire: {latency_ms: 20, throttle: {rate: 0.1, retry_after_s: 1}}\n")
    assert (scenario.users, scenario.breaks) == (7, ("bad-credentials:locked",))
    assert scenario.wire == {"latency_ms": 20, "throttle": {"rate": 0.1, "retry_after_s": 1}}


@pytest.mark.parametrize(("text", "message"), [
    ("tenant: contoso\nusres: 5\n", "unknown key 'usres'"),
    ("tenant: fabrikam\n", "unknown tenant 'fabrikam'"),
    ("users: -1\n", "users: expected an integer"),
    ("break: [nope]\n", r"break\[0\]: unknown cause id 'nope'"),
    ("break: target-site-missing\n", "break: expected a list"),
    ("wire: {throttle: {rat: 1}}\n", "wire.throttle: unknown key 'rat'"),
    ("users: [1\n", r"<scenario>:\d+: not valid YAML"),
    ("- just\n- a list\n", "a scenario is a mapping"),
])
def test_bad_scenarios_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_scenario(text)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="scenario file not found"):
        load_scenario(str(tmp_path / "nope.yaml"))
