"""Delegated consent in the simulated Entra ID: the scopes a user token may carry, and how they are named."""

from __future__ import annotations

from typing import Any

from agent.simulator.identity.aadsts import aad
from agent.simulator.identity.tokens import GRAPH_AUDIENCE
from agent.simulator.state.tenant import EXCHANGE_APP_ID, GRAPH_APP_ID, SHAREPOINT_APP_ID, Tenant

OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
# The demo tenant's consent: what every client was granted per resource (admin consent at set-up).
DELEGATED_SCOPES = {GRAPH_APP_ID: "Files.ReadWrite.All Mail.ReadWrite Sites.FullControl.All User.Read",
                    EXCHANGE_APP_ID: "EWS.AccessAsUser.All",
                    SHAREPOINT_APP_ID: "AllSites.FullControl MyFiles.Write"}
# First-party public clients are pre-authorized in every tenant; which Graph scopes exactly is not
# documented, so the Azure CLI app holds just the delegated scopes an admin set-up needs (the stricter
# choice): create the agent's app and grant its roles, read the tenant and the admin's roles.
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
FIRST_PARTY_SCOPES = {AZURE_CLI_APP_ID: {
    GRAPH_APP_ID: "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All Directory.Read.All "
                  "Domain.Read.All RoleManagement.Read.Directory Sites.Read.All User.Read"}}
# Scenarios override the consent here: {client appId: {resource appId: "Scope.One Scope.Two" or ""}}.
CONSENT_KEY = "delegated_consent"


def oidc_requested(scope: str) -> set[str]:
    """The OpenID Connect scopes of a request (openid, profile, email, offline_access)."""
    return {s.lower() for s in scope.split()} & OIDC_SCOPES


def consented(t: Tenant, client_id: str, resource_app: str) -> list[str]:
    """The delegated scopes the client holds for the resource in this tenant."""
    override: dict[str, Any] = t.extras.get(CONSENT_KEY) or {}
    per_client = override.get(client_id) or {}
    if resource_app in per_client:
        return str(per_client[resource_app]).split()
    first_party = FIRST_PARTY_SCOPES.get(client_id)
    if first_party is not None:
        return first_party.get(resource_app, "").split()
    return DELEGATED_SCOPES.get(resource_app, "").split()


def granted(t: Tenant, client_id: str, client_name: str, resource_app: str, scope: str) -> list[str]:
    """The scopes a user token gets: those requested (all consented ones for `.default`).

    A requested scope the client holds no consent for is AADSTS65001 `invalid_grant` with suberror
    `consent_required` (entra-docs identity-platform/reference-error-codes.md, DelegationDoesNotExist;
    ROPC cannot show a consent prompt: identity-platform/v2-oauth-ropc.md).
    """
    names = [item.rsplit("/", 1)[-1] for item in scope.split() if item.lower() not in OIDC_SCOPES]
    allowed = consented(t, client_id, resource_app)
    if not names or ".default" in names:
        wanted = allowed
    else:
        by_name = {a.lower(): a for a in allowed}
        if any(n.lower() not in by_name for n in names):
            raise _no_consent(client_id, client_name)
        wanted = [by_name[n.lower()] for n in names]
    if not wanted:
        raise _no_consent(client_id, client_name)
    return wanted


def _no_consent(client_id: str, client_name: str) -> Exception:
    return aad(65001, app=client_id, name=client_name, extra={"suberror": "consent_required"})


def response_scope(scopes: list[str], audience: str, oidc: set[str], graph: str = GRAPH_AUDIENCE) -> str:
    """The `scope` of the token response: the granted scopes (Graph's short, others with the resource URI)."""
    resource = [s if audience == graph else f"{audience.rstrip('/')}/{s}" for s in scopes]
    return " ".join([*resource, *sorted(oidc)])
