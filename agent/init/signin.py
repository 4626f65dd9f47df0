"""The admin's own sign-in for `agent init` (delegated, through azure-identity), and the checks on its token
and directory roles that come before any change.

Device code is the default (DeviceCodeCredential; its default client is the Azure CLI's first-party app,
so no app of ours has to exist yet), `--browser` opens InteractiveBrowserCredential, `--azure-cli` reuses an
`az login` (AzureCliCredential). Roles: https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference
(template ids); creating apps and service principals needs Application Administrator or Cloud Application
Administrator; granting Microsoft Graph app roles needs Privileged Role Administrator or Global
Administrator (https://learn.microsoft.com/en-us/graph/permissions-grant-via-msgraph, "Prerequisites").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.clients.tokens import decode_claims
from agent.errors import BadInput
from agent.trust.ca import bundle_path

SIGN_INS = ("device-code", "browser", "azure-cli")
# azure-identity's default public client (the Azure CLI app): DEVELOPER_SIGN_ON_CLIENT_ID in its _constants.py
DEFAULT_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
APPLICATION_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMIN = "158c047a-c907-4556-b7ef-446551a6b5f7"
ROLE_NAMES = {GLOBAL_ADMIN: "Global Administrator", PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator",
              APPLICATION_ADMIN: "Application Administrator",
              CLOUD_APPLICATION_ADMIN: "Cloud Application Administrator"}
# Delegated scopes the set-up calls need: the app and its service principal, the grants, and reading the
# resource service principals' appRoles (Application.ReadWrite.All includes reading).
NEEDED_SCOPES = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")


class SignInRefused(Exception):
    """The admin could not sign in, or may not do what init needs: one line with the next step."""


@dataclass
class AdminSession:
    """Who signed in, with which scopes and roles, and the credential to call Graph with."""

    credential: Any
    user: str
    scopes: frozenset[str]
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def may_create_apps(self) -> bool:
        return bool(self.roles & {GLOBAL_ADMIN, APPLICATION_ADMIN, CLOUD_APPLICATION_ADMIN})

    @property
    def may_grant_graph(self) -> bool:
        return bool(self.roles & {GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN})


def _stderr_prompt(uri: str, code: str, expires: Any) -> None:
    print(f"To sign in, open {uri} and enter the code {code}", file=sys.stderr, flush=True)


def admin_credential(method: str, tenant_id: str, authority_host: str, ca_bundle: str | None,
                     client_id: str | None = None,
                     prompt: Callable[[str, str, Any], None] = _stderr_prompt) -> Any:
    """The azure-identity credential for the chosen sign-in."""
    import azure.identity as identity

    if method not in SIGN_INS:
        raise BadInput(f"unknown sign-in {method!r}; valid: {', '.join(SIGN_INS)}")
    if method == "azure-cli":
        return identity.AzureCliCredential(tenant_id=tenant_id)
    opts: dict[str, Any] = {"tenant_id": tenant_id, "authority": authority_host,
                            "disable_instance_discovery": True, "retry_total": 0}
    verify = bundle_path(ca_bundle)
    if verify is not None:
        opts["connection_verify"] = verify
    if client_id:
        opts["client_id"] = client_id
    if method == "browser":
        return identity.InteractiveBrowserCredential(**opts)
    return identity.DeviceCodeCredential(prompt_callback=prompt, timeout=900, **opts)


def refusal(exc: Exception, method: str) -> SignInRefused:
    """One line for a failed sign-in, naming the next step (Conditional Access blocking device code:
    AADSTS53003, https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-authentication-flows)."""
    text = str(exc)
    if "AADSTS53003" in text:
        if method == "device-code":
            return SignInRefused("sign-in refused: Conditional Access blocks device code sign-in in "
                                 "this tenant "
                                 "(AADSTS53003); run `agent init --browser`, or `az login` then "
                                 "`agent init --azure-cli`")
        return SignInRefused("sign-in refused by Conditional Access (AADSTS53003); sign in from a device the "
                             "tenant's policies allow, or ask an admin which policy applies")
    code = next((w.rstrip(":.,") for w in text.split() if w.startswith("AADSTS")), None)
    why = code or type(exc).__name__
    return SignInRefused(f"sign-in failed ({why}); try `agent init --browser` or `--azure-cli`")


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(claims.get("scp") or "").split())


def missing_scopes(scopes: frozenset[str]) -> list[str]:
    return [s for s in NEEDED_SCOPES if s not in scopes]


def check_session(session: AdminSession, grants_graph: bool) -> list[str]:
    """Raise SignInRefused when nothing can be done; else warnings (grants that will need someone else)."""
    lacking = missing_scopes(session.scopes)
    if lacking:
        raise SignInRefused(f"{session.user}'s token lacks the delegated scope(s) {', '.join(lacking)}; "
                            "consent them for the sign-in app, or sign in with --client-id of an app "
                            "that has "
                            "them")
    if not session.may_create_apps:
        raise SignInRefused(f"{session.user} holds none of Global Administrator, Application "
                            f"Administrator or "
                            "Cloud Application Administrator, which creating the agent's app needs; nothing "
                            "was changed: sign in as one of them (granting Microsoft Graph roles also needs "
                            "Privileged Role Administrator or Global Administrator)")
    if grants_graph and not session.may_grant_graph:
        return [f"{session.user} holds no Privileged Role Administrator or Global Administrator role: the "
                "Microsoft Graph grants will likely be refused (each is tried and reported)"]
    return []


def token_claims(credential: Any, scope: str, method: str) -> dict[str, Any]:
    """The admin's token claims for `scope`; SignInRefused on any sign-in failure."""
    try:
        token = credential.get_token(scope, enable_cae=True)  # as msgraph asks: one sign-in serves both
    except Exception as exc:  # azure-identity raises ClientAuthenticationError and friends
        raise refusal(exc, method) from None
    return decode_claims(token.token)


def role_ids(claims: dict[str, Any]) -> frozenset[str] | None:
    """The `wids` claim (tenant-wide role template ids) when the token carries it."""
    wids = claims.get("wids")
    return frozenset(str(w).lower() for w in wids) if isinstance(wids, list) else None
