"""Exchange Online's request rules that depend on the kind of OAuth token: impersonation and anchoring."""

from __future__ import annotations

from agent.simulator.ews.soap import SoapRequest
from agent.simulator.state.tenant import Tenant, User

HEADER_DATA = "ErrorInvalidExchangeImpersonationHeaderData"
MUST_BE_PRESENT = "ExchangeImpersonation SOAP header must be present for this type of OAuth token."
MUST_NOT_EXIST = "ExchangeImpersonation SOAP header must not exist for this type of OAuth token."
ANCHOR_MISSING = ("The X-AnchorMailbox HTTP header must be set to the SMTP address of the impersonated "
                  "mailbox.")


def token_type_error(app_only: bool, request: SoapRequest) -> tuple[str, str] | None:
    """(ResponseCode, text) when the ExchangeImpersonation header does not suit the token, else None.

    Microsoft documents no page for these faults; Exchange Online answers both as an HTTP 500 SOAP fault
    with ErrorInvalidExchangeImpersonationHeaderData, as reported in ecederstrand/exchangelib#735 and #757
    and OfficeDev/ews-managed-api#245 (app-only without the header) and #212 and jamesiarmes/php-ews#525
    (delegated with the header).
    """
    if app_only and not request.impersonation_header:
        return HEADER_DATA, MUST_BE_PRESENT
    if not app_only and request.impersonation_header:
        return HEADER_DATA, MUST_NOT_EXIST
    return None


def anchor_error(tenant: Tenant, request: SoapRequest, anchor: str | None) -> tuple[str, str] | None:
    """An impersonated request must carry X-AnchorMailbox naming the impersonated mailbox.

    Documented as a requirement ("When using impersonation you must always use the X-AnchorMailbox
    request header"): office-developer-exchange-docs,
    docs/exchange-web-services/how-to-authenticate-an-ews-application-by-using-oauth.md. The refusal itself
    is not documented, so the simulator takes the stricter choice and refuses with ErrorInvalidRequest
    (its own wording) when the header is missing or names another user's mailbox.
    """
    target = request.impersonated
    if target is None:
        return None
    wanted = _user(tenant, target)
    named = _user(tenant, anchor.strip()) if anchor else None
    if not anchor or (wanted is not None and named is not None and named is not wanted):
        return "ErrorInvalidRequest", ANCHOR_MISSING
    if wanted is None and anchor.strip().lower() != target.lower():
        return "ErrorInvalidRequest", ANCHOR_MISSING
    return None


def _user(tenant: Tenant, address: str) -> User | None:
    low = address.lower()
    found = tenant.find_user(address)
    return found or next((u for u in tenant.users.values() if (u.mail or "").lower() == low), None)
