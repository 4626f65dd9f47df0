"""The admin's token and roles are checked before anything changes; refusals are one line with a next step."""

from __future__ import annotations

from typing import Any

import pytest

from agent.init.signin import (
    APPLICATION_ADMIN,
    GLOBAL_ADMIN,
    PRIVILEGED_ROLE_ADMIN,
    AdminSession,
    SignInRefused,
    check_session,
    refusal,
    role_ids,
)

ALL = frozenset({"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.Read"})


def _session(roles: set[str], scopes: frozenset[str] = ALL) -> AdminSession:
    return AdminSession(credential=None, user="admin@x", scopes=scopes, roles=frozenset(roles))


def test_global_admin_passes_without_warnings() -> None:
    assert check_session(_session({GLOBAL_ADMIN}), grants_graph=True) == []


def test_application_admin_alone_is_warned_about_graph_grants() -> None:
    warnings = check_session(_session({APPLICATION_ADMIN}), grants_graph=True)
    assert len(warnings) == 1 and "Privileged Role Administrator" in warnings[0]
    assert check_session(_session({APPLICATION_ADMIN, PRIVILEGED_ROLE_ADMIN}), grants_graph=True) == []
    assert check_session(_session({APPLICATION_ADMIN}), grants_graph=False) == []


def test_no_role_or_missing_scope_refuses_before_any_change() -> None:
    with pytest.raises(SignInRefused, match="nothing was changed"):
        check_session(_session(set()), grants_graph=True)
    with pytest.raises(SignInRefused, match=r"AppRoleAssignment\.ReadWrite\.All"):
        check_session(_session({GLOBAL_ADMIN}, frozenset({"Application.ReadWrite.All"})), grants_graph=True)


def test_device_code_blocked_names_the_other_sign_ins() -> None:
    exc: Any = Exception("AADSTS53003: Access has been blocked by Conditional Access policies.")
    line = str(refusal(exc, "device-code"))
    assert "--browser" in line and "--azure-cli" in line and "\n" not in line
    assert "--browser" not in str(refusal(exc, "browser"))
    assert "AADSTS50076" in str(refusal(Exception("AADSTS50076: MFA"), "browser"))


def test_wids_claim_is_read_when_present() -> None:
    assert role_ids({"wids": [GLOBAL_ADMIN.upper()]}) == frozenset({GLOBAL_ADMIN})
    assert role_ids({}) is None
