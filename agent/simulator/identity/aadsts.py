"""The AADSTS errors the simulated Entra ID returns: OAuth error class and text, worded as Microsoft's."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

# code -> (OAuth `error`, text template); texts as Entra ID words them (api-facts sections 2, 3, 7, 9, and
# entra-docs identity-platform/reference-error-codes.md for 50059, 65001, 700025, 900561, 9001023 and
# 7000216).
CATALOG: dict[int, tuple[str, str]] = {
    28000: ("invalid_scope",
        "Provided value for the input parameter scope '{scope}' is not valid because it contains more than "
        "one resource. Scope {scope} is not valid."),
    50013: ("invalid_client",
        "Assertion failed signature validation. [Reason - {reason}, Thumbprint of key used by client: "
        "'{thumb}', Found key 'Start={start}, End={end}']"),
    50027: ("invalid_request",
        "JWT token is invalid or malformed."),
    50034: ("invalid_grant",
        "The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign into this "
        "application, the account must be added to the directory."),
    50053: ("invalid_grant",
        "The account is locked, you've tried to sign in too many times with an incorrect user ID or "
        "password."),
    50055: ("invalid_grant",
        "The password is expired."),
    50057: ("invalid_grant",
        "The user account is disabled."),
    50076: ("invalid_grant",
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must use multi-factor authentication to access '{resource}'."),
    50126: ("invalid_grant",
        "Error validating credentials due to invalid username or password."),
    50173: ("invalid_grant",
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "might have changed or reset their password. The grant was issued on '{issued}' and the "
        "TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'."),
    50059: ("invalid_request",
        "No tenant-identifying information found in either the request or implied by any provided "
        "credentials."),
    53003: ("invalid_grant",
        "Access has been blocked by Conditional Access policies. The access policy does not allow token "
        "issuance."),
    65001: ("invalid_grant",
        "The user or administrator has not consented to use the application with ID '{app}' named "
        "'{name}'. Send an interactive authorization request for this user and resource."),
    # Device code flow: the `error` values are the "Expected errors" of identity-platform/
    # v2-oauth2-device-code.md; the codes are reference-error-codes.md's InvalidGrant, AuthorizationPending
    # and CodeExpired.
    70000: ("bad_verification_code",
        "Provided grant is invalid or malformed."),
    70016: ("authorization_pending",
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling."),
    70019: ("expired_token",
        "Verification code expired. Have the user retry the sign-in."),
    70003: ("unsupported_grant_type",
        "The app requested an unsupported grant type '{grant}'."),
    90002: ("invalid_request",
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant."),
    500011: ("invalid_resource",
        "The resource principal named {resource} was not found in the tenant named {tenant}. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You might have sent your authentication request to the wrong "
        "tenant."),
    700025: ("invalid_client",
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
    700016: ("unauthorized_client",
        "Application with identifier '{app}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any "
        "user in the tenant. You may have sent your authentication request to the wrong tenant."),
    700021: ("invalid_client",
        "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
        "documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/"
        "active-directory-certificate-credentials ."),
    700024: ("invalid_client",
        "Client assertion is not within its valid time range."),
    700027: ("invalid_client",
        "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of "
        "key used by client: '{thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS "
        "Graph to see configured keys for app Id '{app}'. Review the documentation at "
        "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service "
        "endpoint and "
        "https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build "
        "a query request URL, such as 'https://graph.microsoft.com/beta/applications/{app}']"),
    700082: ("invalid_grant",
        "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive "
        "for {time}."),
    700212: ("invalid_client",
        "The audience claim in the client assertion is invalid. It must be the token endpoint {url}."),
    900144: ("invalid_request",
        "The request body must contain the following parameter: '{param}'."),
    900561: ("invalid_request",
        "The endpoint only accepts {valid} requests. Received a {verb} request."),
    1002012: ("invalid_scope",
        "The provided value for scope {scope} is not valid. Client credential flows must have a scope "
        "value with /.default suffixed to the resource identifier (application ID URI)."),
    7000112: ("unauthorized_client",
        "Application '{app}'({name}) is disabled."),
    7000215: ("invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID, for a secret added to app '{app}'."),
    7000216: ("invalid_client",
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant "
        "type."),
    7000218: ("invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
    7000219: ("invalid_request",
        "'client_assertion_type' is invalid or missing."),
    7000222: ("invalid_client",
        "The provided client secret keys for app '{app}' are expired. Visit the Azure portal to create new "
        "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for "
        "added security: https://aka.ms/certCreds."),
    9001023: ("invalid_request",
        "The grant type isn't supported over the /common or /consumers endpoints. Please use the "
        "/organizations or tenant-specific endpoint."),
    9002313: ("invalid_grant",
        "Invalid request. Request is malformed or invalid."),
}

class AadError(Exception):
    """An AADSTS error; invalid_client answers 401, the rest 400 (as Entra ID does)."""

    def __init__(self, code: int, error: str, text: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.code, self.error, self.text, self.extra = code, error, text, extra
        self.status = status or (401 if error == "invalid_client" else 400)


def aad(code: int, *, extra: dict[str, Any] | None = None, **fields: Any) -> AadError:
    """The catalog's error `code` with its text filled in; `extra` adds body fields (suberror, claims)."""
    error, template = CATALOG[code]
    return AadError(code, error, template.format(**fields), **(extra or {}))


def aad_error_body(err: AadError) -> dict[str, Any]:
    """The token endpoint's error JSON (api-facts A.1)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": err.error,
        "error_description": f"AADSTS{err.code}: {err.text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}"
                             f"\r\nTimestamp: {now}",
        "error_codes": [err.code], "timestamp": now, "trace_id": trace, "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
    }
    body.update(err.extra)
    return body
