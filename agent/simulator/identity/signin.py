"""Signing a user in for the token endpoint: password, account state and Conditional Access."""

from __future__ import annotations

import hmac
import json

from agent.simulator.identity.aadsts import aad
from agent.simulator.state.policies import ropc_client_app_type
from agent.simulator.state.tenant import Tenant, User, now


def sign_in(t: Tenant, username: str, password: str) -> User:
    user = t.find_user(username)
    if user is None:
        raise aad(50034, tenant=t.tenant_id)
    if user.locked_until is not None and user.locked_until > now():
        raise aad(50053)  # smart lockout answers before the password is even checked
    domain = t.domain_of(user)
    federated = domain is not None and domain.authentication_type == "Federated"
    # Raw ROPC never reaches the federated IdP: Entra answers as for a bad password.
    if federated or not password or not hmac.compare_digest(user.password.encode(), password.encode()):
        raise aad(50126)
    account_state(user)
    return user


def account_state(user: User) -> None:
    if user.locked_until is not None and user.locked_until > now():
        raise aad(50053)
    if not user.account_enabled:
        raise aad(50057)
    if user.password_expired and "DisablePasswordExpiration" not in (user.password_policies or ""):
        raise aad(50055)


def conditional_access(t: Tenant, user: User, resource_app: str, acr: str) -> None:
    """Enforced CA policies covering the user, resource and client type: `block` -> 53003, MFA -> 50076."""
    policies = t.blocking_policies(user, resource_app, ropc_client_app_type(acr))
    capolids = {"essential": True, "values": [p.id for p in policies]}
    claims = json.dumps({"access_token": {"capolids": capolids}})
    codes = {p.grant_error() for p in policies}
    if 53003 in codes:
        raise aad(53003, extra={"suberror": "message_only", "claims": claims})
    # Security defaults block ROPC only when a scenario says so (extras), to keep the demo focused.
    defaults = t.security_defaults_enabled and bool(t.extras.get("security_defaults_enforced"))
    if defaults or 50076 in codes:
        raise aad(50076, extra={"suberror": "basic_action", "claims": claims}, resource=resource_app)
