"""The device authorization grant of the simulated Entra ID: `/devicecode` and the polling token requests.

https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code (entra-docs
identity-platform/v2-oauth2-device-code.md). The simulated user "signs in" on its own: a flow is approved
for the tenant's admin (or `extras["device_code_user"]`) after the client's first poll, which is answered
`authorization_pending` as the page's "Expected errors" table says.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from agent.simulator.identity.aadsts import aad
from agent.simulator.state.tenant import Tenant

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FLOWS_KEY = "device_flows"
# Scenario switches kept in the tenant's extras (see scenarios_init.py).
BLOCKED_KEY = "device_code_blocked"
USER_KEY = "device_code_user"
INTERVAL_KEY = "device_code_interval"
# "From the moment the request is sent, the user has 15 minutes to sign in. This is the default value
# for expires_in." The page gives no interval value; 5 s is what Entra sends and MSAL's own default.
EXPIRES_IN_S = 900
DEFAULT_INTERVAL_S = 5
VERIFICATION_URI = "https://microsoft.com/devicelogin"
USER_CODE_ALPHABET = string.ascii_uppercase + string.digits


@dataclass
class DeviceFlow:
    """One pending device authorization: who asked, for what, and how often it was polled."""

    client_id: str
    scope: str
    user_code: str
    expires_at: float
    user_id: str = ""
    polls: int = 0


def _flows(t: Tenant) -> dict[str, DeviceFlow]:
    flows: dict[str, DeviceFlow] = t.extras.setdefault(FLOWS_KEY, {})
    return flows


def start(t: Tenant, form: dict[str, str]) -> dict[str, Any]:
    """`POST /{tenant}/oauth2/v2.0/devicecode`: client_id and scope are both required."""
    for param in ("client_id", "scope"):
        if not form.get(param):
            raise aad(900144, param=param)
    device_code = secrets.token_urlsafe(48)
    user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9))
    flow = DeviceFlow(form["client_id"], form["scope"], user_code, time.time() + EXPIRES_IN_S)
    _flows(t)[device_code] = flow
    interval = int(t.extras.get(INTERVAL_KEY, DEFAULT_INTERVAL_S))
    return {"user_code": user_code, "device_code": device_code, "verification_uri": VERIFICATION_URI,
            "expires_in": EXPIRES_IN_S, "interval": interval,
            "message": f"To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the "
                       f"code {user_code} to authenticate."}


def redeem(t: Tenant, form: dict[str, str]) -> DeviceFlow:
    """The approved flow of a token poll, or the documented error: pending, expired, unknown, blocked.

    The flow is used once: a second redemption of the same device_code is an unknown code.
    """
    code = form.get("device_code", "")
    if not code:
        raise aad(900144, param="device_code")
    flow = _flows(t).get(code)
    if flow is None or flow.client_id != form.get("client_id", "").split("@")[0]:
        raise aad(70000)  # "bad_verification_code": the client_id must match the initial request's
    if time.time() > flow.expires_at:
        del _flows(t)[code]
        raise aad(70019)
    flow.polls += 1
    if flow.polls == 1:
        raise aad(70016)
    if t.extras.get(BLOCKED_KEY):
        # A Conditional Access policy whose Authentication flows condition targets device code flow with
        # Block access (identity/conditional-access/concept-authentication-flows.md and
        # policy-block-authentication-flows.md): the sign-in is refused as any CA block is,
        # AADSTS53003 (identity-platform/reference-error-codes.md, BlockedByConditionalAccess).
        del _flows(t)[code]
        raise aad(53003, extra={"suberror": "message_only"})
    user = t.find_user(str(t.extras.get(USER_KEY) or t.extras.get("admin_upn") or ""))
    if user is None:
        raise aad(70016)  # nobody to approve it: the flow stays pending until it expires
    flow.user_id = user.id
    del _flows(t)[code]
    return flow
