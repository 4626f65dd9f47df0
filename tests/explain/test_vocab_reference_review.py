"""Entries read again against Microsoft's own references: the Entra error-code reference, Exchange's
x-ms-diagnostics list and the SharePoint and EWS throttling pages. Each text quotes its source's wording."""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind

EWS = "https://outlook.office365.com/EWS/Exchange.asmx"


@pytest.mark.parametrize("text, kind", [
    # the home tenant's record of the AADSTS50020 failure, and the same wording under 16000 / 16003
    ("AADSTS90072: PassThroughUserMfaError", "wrong-tenant"),
    ("AADSTS16000: SelectUserAccount", "wrong-tenant"),
    ("AADSTS16003: SsoUserAccountNotFoundInResourceTenant", "wrong-tenant"),
    # a malformed assertion or token type, and a claims-mapping signing key: no connector credential
    ("AADSTS50048: Subject mismatches Issuer claim in the client assertion.", "tool-bug"),
    ("AADSTS700229: ForbiddenTokenType", "tool-bug"),
    ("AADSTS50146: MissingCustomSigningKey", "tool-bug"),
    ("AADSTS90112: Application identifier is expected to be a GUID.", "invalid-input"),
    ("AADSTS650059: The application is configured with signInAudience AzureADMyOrg.", "wrong-tenant"),
    ("AADSTS90084: OrgIdWsFederationGuestNotAllowed", "guest-account"),
    ("AADSTS500571: The guest user account is disabled.", "guest-account"),
    # Exchange's x-ms-diagnostics errorIds
    (f'x-ms-diagnostics: 2000002;reason="token expired";error_category="token_expired" {EWS}',
     "token-expired"),
    (f'x-ms-diagnostics: 2000004;reason="invalid tenant";error_category="invalid_tenant" {EWS}',
     "wrong-tenant"),
    (f'x-ms-diagnostics: 2000007;reason="internal error";error_category="internal_error" {EWS}',
     "service-outage"),
    # a 503 from SharePoint Online or EWS is first a throttle; from Graph it stays an outage
    ("503 Server Too Busy https://contoso.sharepoint.com/sites/hr/_api/web", "throttling"),
    (f"The request failed. The remote server returned an error: (503) Server Unavailable. {EWS}",
     "throttling"),
    ("GET https://graph.microsoft.com/v1.0/users returned 503 Service Unavailable", "service-outage"),
])
def test_a_reference_code_names_its_documented_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


@pytest.mark.parametrize("text, cause", [
    ("AADSTS50137: the password must be changed due to a security policy rule.", "bad-credentials"),
    ("AADSTS50142: Password change is required due to a conditional access policy.",
     "mfa-blocks-service-account"),
])
def test_codes_the_reference_lists_name_their_cause(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


def test_security_defaults_are_entras_block_not_exchanges_basic_setting(shipped: Knowledge) -> None:
    result = explain("AADSTS530035: Access has been blocked by security defaults. This is due to the request "
                     "using legacy auth or being deemed unsafe by security defaults policies.", shipped)
    cause_first(result, "mfa-blocks-service-account")
    assert "legacy-auth-disabled" not in [m.id for m in result.causes]


def test_an_unknown_account_shows_the_wrong_tenant_beside_the_password(shipped: Knowledge) -> None:
    result = explain("AADSTS50034: The user account {EUII Hidden} does not exist in the contoso.com "
                     "directory.", shipped)
    cause_first(result, "bad-credentials")
    assert result.also is not None and result.also.id == "wrong-tenant" and result.reading


def test_a_graph_mail_403_names_the_apps_graph_permissions_before_ews_full_access(shipped: Knowledge) -> None:
    """full_access_as_app is EWS's permission; Graph's mail APIs read the app's Mail.* application roles."""
    text = "GET https://graph.microsoft.com/v1.0/users/a@contoso.com/messages returned 403 Forbidden"
    result = explain(text, shipped)
    ids = [m.id for m in result.causes]
    assert ids[:2] == ["app-not-installed", "exo-app-missing-full-access"], ids
    assert result.also is not None and result.also.id == "app-access-policy"


def test_an_account_missing_from_the_tenant_offers_the_password_to_rule_out(shipped: Knowledge) -> None:
    result = explain("AADSTS16000: SelectUserAccount", shipped)
    unrelated_kind(result, "wrong-tenant")
    assert [m.id for m in result.rule_out] == ["bad-credentials"]
    assert result.next == ["agent diagnose --only bad-credentials"]


@pytest.mark.parametrize("text", [
    'Get-PnPFileSharingLink: Either scp or roles claim need to be present in the token.',
    '{"error":{"code":"AccessDenied",'
    '"message":"Either scp or roles claim need to be present in the token."}}',
])
def test_a_token_without_scp_or_roles_names_the_missing_consent(shipped: Knowledge, text: str) -> None:
    """CLI for Microsoft 365's certificate caveats: the app has no application permission granted."""
    cause_first(explain(text, shipped), "app-not-installed")
