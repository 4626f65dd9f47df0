"""Contract samples for the routes an admin set-up run calls (see test_graph_contract.SAMPLES)."""

from __future__ import annotations

from typing import Any

from msgraph.generated.models.application import Application
from msgraph.generated.models.directory_object_collection_response import DirectoryObjectCollectionResponse
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.federated_identity_credential_collection_response import (
    FederatedIdentityCredentialCollectionResponse,
)
from msgraph.generated.models.key_credential import KeyCredential
from msgraph.generated.models.organization_collection_response import OrganizationCollectionResponse
from msgraph.generated.models.unified_role_assignment_collection_response import (
    UnifiedRoleAssignmentCollectionResponse,
)
from msgraph.generated.models.user import User

from agent.simulator.scenarios.contoso import CONNECTOR_APP_ID, build_contoso, make_certificate, material
from agent.simulator.state.tenant import Tenant
from agent.trust.own_certificate import proof

# msgraph-sdk reaches /me through users/{user-id} (GraphServiceClient.me swaps the id for `me`), and
# writes casts with the `graph` namespace alias: the SDK path a served /me route must match.
ME_PREFIX, SDK_ME = "me", "users/{user-id}"
FIC = {"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
       "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}


def sdk_pattern(pattern: str) -> str:
    """The msgraph-sdk form of a served pattern: /me as users/{user-id}, casts with the `graph.` alias."""
    if pattern == ME_PREFIX or pattern.startswith(ME_PREFIX + "/"):
        pattern = SDK_ME + pattern[len(ME_PREFIX):]
    return pattern.replace("microsoft.graph.", "graph.")


def _admin(t: Tenant) -> dict[str, Any]:
    """A delegated token of the tenant's Global Administrator."""
    return {"scp": "User.Read Directory.Read.All Application.ReadWrite.All", "oid": t.user(
        str(t.extras["admin_upn"])).id}


def _app_id(t: Tenant) -> str:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    return app.id


def _with_fic(t: Tenant) -> str:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    app.federated_credentials.append({"id": "f1", **FIC})
    return app.id


def _named(t: Tenant) -> str:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    app.unique_name = "connector"
    return "applications(uniqueName='connector')"


def _add_key(t: Tenant) -> tuple[str, dict[str, str], Any]:
    """addKey with a proof signed by the app's current certificate (application-addkey.md)."""
    app_object_id = _app_id(t)
    new = make_certificate("next")
    body = {"keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": new.key_b64},
            "passwordCredential": None, "proof": proof(material().connector_cert.pem, app_object_id)}
    return f"applications/{app_object_id}/addKey", {}, body


def _remove_key(t: Tenant) -> tuple[str, dict[str, str], Any]:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    body = {"keyId": app.key_credentials[0].key_id, "proof": proof(material().connector_cert.pem, app.id)}
    return f"applications/{app.id}/removeKey", {}, body


def init_samples(sample: Any) -> list[Any]:
    """`sample` is test_graph_contract.Sample (passed in: this module is imported by it)."""
    admin = _admin(build_contoso(users=2))
    fic_path = "applications/{application-id}/federatedIdentityCredentials"
    return [
        sample("POST", "applications", lambda t: ("applications", {}, {"displayName": "new"}), Application,
               201),
        sample("PATCH", "applications(uniqueName='{uniqueName}')",
               lambda t: ("applications(uniqueName='agent')", {}, {"displayName": "agent"}), Application, 201,
               headers={"Prefer": "create-if-missing"}),
        sample("DELETE", "applications/{application-id}", lambda t: (f"applications/{_app_id(t)}", {}, None),
               None),
        sample("GET", "applications(uniqueName='{uniqueName}')", lambda t: (_named(t), {}, None),
               Application),
        sample("POST", "applications/{application-id}/addKey", _add_key, KeyCredential),
        sample("POST", "applications/{application-id}/removeKey", _remove_key, None),
        sample("POST", fic_path, lambda t: (f"applications/{_app_id(t)}/federatedIdentityCredentials", {},
                                            FIC), FederatedIdentityCredential, 201),
        sample("GET", fic_path, lambda t: (f"applications/{_with_fic(t)}/federatedIdentityCredentials", {},
                                           None), FederatedIdentityCredentialCollectionResponse),
        sample("DELETE", fic_path + "/{fic-id}",
               lambda t: (f"applications/{_with_fic(t)}/federatedIdentityCredentials/f1", {}, None), None),
        sample("GET", "organization", lambda t: ("organization", {}, None), OrganizationCollectionResponse),
        sample("GET", "me", lambda t: ("me", {}, None), User, claims=admin),
        sample("GET", "me/transitiveMemberOf", lambda t: ("me/transitiveMemberOf", {}, None),
               DirectoryObjectCollectionResponse, claims=admin),
        *(sample("GET", f"me/transitiveMemberOf/{cast}", lambda t, c=cast: (f"me/transitiveMemberOf/{c}", {},
                                                                            None),
                 DirectoryObjectCollectionResponse, claims=admin)
          for cast in ("microsoft.graph.directoryRole", "graph.directoryRole")),
        sample("GET", "roleManagement/directory/roleAssignments",
               lambda t: ("roleManagement/directory/roleAssignments", {}, None),
               UnifiedRoleAssignmentCollectionResponse, claims=admin),
    ]
