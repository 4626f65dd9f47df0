"""Graph v1.0 `addKey` / `removeKey`: an application rolling its own certificates, with proof of possession.

application-addkey.md and application-removekey.md (microsoft-graph-docs-contrib api-reference/v1.0/api):
the `proof` is a JWT signed with the private key of one of the app's existing valid certificates, with
`aud` 00000002-0000-0000-c000-000000000000, `iss` the application's object id, and `exp` at most
`nbf` + 10 minutes; an app with no valid certificate cannot use these actions. "An app doesn't need any
specific permission to roll its own keys"; another caller needs Application.ReadWrite.All (OwnedBy is left
out: the tenant model keeps no owners).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
from cryptography import x509

from agent.simulator.graph.apps import _key_credential, key_json
from agent.simulator.graph.odata import GraphError, GraphRequest, GraphRoute, Reply
from agent.simulator.state.tenant import Application, KeyCredential

PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
MAX_PROOF_S = 600
INVALID_PROOF = "Invalid proof: the proof of possession token is not valid."


def _app(req: GraphRequest) -> Application:
    key = req.params["application_id"]
    app = req.tenant.applications.get(key)
    if app is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    return app


def _caller_may(req: GraphRequest, app: Application) -> None:
    own = str(req.claims.get("appid") or req.claims.get("azp") or "") == app.app_id and not req.delegated
    if not own and "Application.ReadWrite.All" not in req.granted:
        raise GraphError(403, "Authorization_RequestDenied",
                         "Insufficient privileges to complete the operation.")


def _valid_keys(app: Application) -> list[KeyCredential]:
    stamp = time.time()
    return [k for k in app.key_credentials if k.type == "AsymmetricX509Cert" and k.start <= stamp <= k.end]


def _check_proof(app: Application, proof: Any) -> KeyCredential:
    """The valid key that signed `proof`, or 400: wrong signer, audience, issuer or lifetime."""
    keys = _valid_keys(app)
    if not keys:
        raise GraphError(400, "Request_BadRequest", "The application has no valid certificate to prove "
                         "possession of: use Update application instead.")
    if not isinstance(proof, str) or not proof:
        raise GraphError(400, "Request_BadRequest", "Property 'proof' is required.")
    for key in keys:
        public = x509.load_der_x509_certificate(base64.b64decode(key.key)).public_key()
        try:
            claims = jwt.decode(proof, public, algorithms=["RS256"],  # type: ignore[arg-type]
                                audience=PROOF_AUDIENCE, issuer=app.id,
                                options={"require": ["aud", "iss", "nbf", "exp"]})
        except jwt.PyJWTError:
            continue
        if int(claims["exp"]) - int(claims["nbf"]) > MAX_PROOF_S:
            raise GraphError(400, "Request_BadRequest", INVALID_PROOF)
        return key
    raise GraphError(400, "Request_BadRequest", INVALID_PROOF)


def add_key(req: GraphRequest) -> Reply:
    """`POST /applications/{id}/addKey`: 200 with the new keyCredential (its key not echoed)."""
    app = _app(req)
    _caller_may(req, app)
    body = req.json_body()
    _check_proof(app, body.get("proof"))
    item = body.get("keyCredential")
    if not isinstance(item, dict) or not item.get("key"):
        raise GraphError(400, "Request_BadRequest", "Property 'keyCredential' is required.")
    cred = _key_credential(app, {k: v for k, v in item.items() if k != "keyId"})
    if any(k.thumbprint == cred.thumbprint for k in app.key_credentials):
        raise GraphError(400, "Request_BadRequest", "The key already exists on the application.")
    app.key_credentials.append(cred)
    req.tenant.touch("add-key")
    return Reply(200, {"@odata.context": f"{req.base_url}/v1.0/$metadata#microsoft.graph.keyCredential",
                       **key_json(cred, with_key=False)})


def remove_key(req: GraphRequest) -> Reply:
    """`POST /applications/{id}/removeKey`: 204."""
    app = _app(req)
    _caller_may(req, app)
    body = req.json_body()
    _check_proof(app, body.get("proof"))
    key_id = str(body.get("keyId") or "")
    kept = [k for k in app.key_credentials if k.key_id != key_id]
    if len(kept) == len(app.key_credentials):
        raise GraphError(404, "Request_ResourceNotFound", f"No key credential with keyId '{key_id}'.")
    app.key_credentials = kept
    req.tenant.touch("remove-key")
    return Reply(204)


_APP = "applications/{application-id}"
# application-addkey-permissions.md / application-removekey-permissions.md: no permission for the app itself
ROUTES = [GraphRoute("POST", _APP + "/addKey", add_key, ()),
          GraphRoute("POST", _APP + "/removeKey", remove_key, ())]
