"""Signed access tokens of the simulated tenant: one RSA key per process, JWKS, issue and validate."""

from __future__ import annotations

import base64
import functools
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from agent.simulator.clouds import audiences_of
from agent.simulator.keystore import simulated_key
from agent.simulator.state.tenant import EXCHANGE_APP_ID, GRAPH_APP_ID, SHAREPOINT_APP_ID

GRAPH_AUDIENCE = "https://graph.microsoft.com"  # the public cloud's; a TokenService knows its cloud's
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
TOKEN_LIFETIME_S = 3599


class TokenRejected(Exception):
    """A bearer token a service refuses; each service renders it in its own wire format.

    `reason` is a Graph-style message ("Access token validation failure. Invalid audience."),
    `diagnostics` the `x-ms-diagnostics` value for the calling service (EWS 2000xxx, SharePoint 3000xxx),
    `kind` a machine key: missing | malformed | signature | issuer | audience | expired | not_yet_valid.
    """

    def __init__(self, reason: str, diagnostics: str, kind: str = "invalid") -> None:
        super().__init__(reason)
        self.reason, self.diagnostics, self.kind = reason, diagnostics, kind


@dataclass(frozen=True)
class SigningKey:
    """The simulator's token-signing key and its public JWK."""

    private_key: rsa.RSAPrivateKey
    kid: str

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "alg": "RS256",
                "n": _b64u_int(numbers.n), "e": _b64u_int(numbers.e)}


def _b64u_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@functools.lru_cache(maxsize=1)
def process_signing_key() -> SigningKey:
    """One per process, its key kept between processes (keystore: generating one costs ~0.1 s of CPU);
    the kid is new each process. A token still names its simulator: the issuer carries the port."""
    key = simulated_key("token-signing")
    kid = base64.urlsafe_b64encode(hashlib.sha1(uuid.uuid4().bytes).digest()).rstrip(b"=").decode()
    return SigningKey(key, kid)


def sharepoint_aliases(base_url: str) -> set[str]:
    return {base_url, base_url + "/", SHAREPOINT_APP_ID}


class TokenService:
    """Issues RS256 access tokens and validates bearer headers against audience, issuer and lifetime."""

    def __init__(self, base_url: str, key: SigningKey | None = None, leeway_s: int = 0,
                 cloud: str = "public") -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key or process_signing_key()
        self.leeway_s = leeway_s
        self.cloud = audiences_of(cloud)
        self.graph_audience, self.exchange_audience = self.cloud.graph, self.cloud.exchange
        # Audiences each service accepts besides its canonical URI (Microsoft issues either form).
        self.aliases = {self.graph_audience: GRAPH_APP_ID, self.exchange_audience: EXCHANGE_APP_ID}

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk()]}

    def public_key(self) -> rsa.RSAPublicKey:
        return self.key.private_key.public_key()

    def issue(self, *, tenant_id: str, audience: str, app_id: str, appidacr: str,
              roles: list[str] | None = None, scp: str | None = None, upn: str | None = None,
              oid: str | None = None, name: str | None = None, app_name: str | None = None,
              lifetime_s: int = TOKEN_LIFETIME_S, now: float | None = None,
              wids: list[str] | None = None) -> str:
        """An access token; app-only tokens carry `roles`, delegated ones `scp`, `upn` and maybe `wids`."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "aud": audience, "iss": self.issuer(tenant_id), "iat": issued, "nbf": issued,
            "exp": issued + lifetime_s, "tid": tenant_id, "appid": app_id, "azp": app_id,
            "appidacr": appidacr, "azpacr": appidacr, "oid": oid or app_id, "sub": oid or app_id,
            "uti": uuid.uuid4().hex[:22], "ver": "2.0", "idtyp": "user" if upn else "app",
        }
        if app_name:
            claims["app_displayname"] = app_name
        if roles is not None and not upn:
            claims["roles"] = list(roles)
        if upn:
            claims.update(upn=upn, unique_name=upn, scp=scp or "", amr=["pwd"], name=name or upn)
            if wids is not None:  # identity-platform/access-token-claims-reference.md: role template ids
                claims["wids"] = list(wids)
        return jwt.encode(claims, self.key.private_key, algorithm="RS256",
                          headers={"kid": self.key.kid, "x5t": self.key.kid})

    def accepted_audiences(self, audience: str) -> set[str]:
        canonical = audience.rstrip("/")
        if canonical == self.base_url:
            return sharepoint_aliases(self.base_url)
        accepted = {canonical, canonical + "/"}
        if canonical in self.aliases:
            accepted.add(self.aliases[canonical])
        return accepted

    def validate(self, authorization_header: str | None, audience: str) -> dict[str, Any]:
        """The verified claims of a `Bearer` header, or TokenRejected saying why not."""
        diag = _Diagnostics(audience.rstrip("/"), self.base_url, self.exchange_audience)
        scheme, _, token = (authorization_header or "").strip().partition(" ")
        if not authorization_header or scheme.lower() != "bearer" or not token.strip():
            raise diag.reject("missing", "Access token is empty.")
        try:
            claims = jwt.decode(token.strip(), self.public_key(), algorithms=["RS256"],
                                options={"verify_aud": False, "require": ["exp", "nbf", "iss", "aud"]},
                                leeway=self.leeway_s)
        except jwt.ExpiredSignatureError:
            raise diag.reject("expired", "Lifetime validation failed, the token is expired.") from None
        except jwt.ImmatureSignatureError:
            raise diag.reject("not_yet_valid", "Lifetime validation failed, the token is not yet valid.") \
                from None
        except jwt.InvalidSignatureError:
            raise diag.reject("signature", "Access token validation failure. Invalid signature.") from None
        except jwt.PyJWTError:
            raise diag.reject("malformed", "CompactToken parsing failed with error code: 80049217") from None
        if claims.get("iss") != self.issuer(str(claims.get("tid", ""))):
            raise diag.reject("issuer", "Access token validation failure. Invalid issuer.")
        if str(claims.get("aud")) not in self.accepted_audiences(audience):
            raise diag.reject("audience", "Access token validation failure. Invalid audience.",
                              str(claims.get("aud")))
        return claims


@dataclass(frozen=True)
class _Diagnostics:
    """Builds the `x-ms-diagnostics` value the way the calling service words it."""

    audience: str
    base_url: str
    exchange_audience: str = EXCHANGE_AUDIENCE

    def reject(self, kind: str, reason: str, claimed_aud: str = "") -> TokenRejected:
        return TokenRejected(reason, self.header(kind, reason, claimed_aud), kind)

    def header(self, kind: str, reason: str, claimed_aud: str) -> str:
        if self.audience == self.base_url:  # SharePoint
            if kind == "audience":
                return f"3000003;reason=\"Invalid audience Uri '{claimed_aud}'.\";category=\"invalid_client\""
            code = "3000006" if kind == "signature" else "3000001"
            return f'{code};reason="{reason}";category="invalid_client"'
        if self.audience == self.exchange_audience:
            if kind == "audience":
                return (f"2000003;reason=\"The audience claim value is invalid '{claimed_aud}'.\";"
                        'error_category="invalid_resource"')
            category = "invalid_signature" if kind == "signature" else "invalid_token"
            return f'2000001;reason="{reason}";error_category="{category}"'
        return f'error="invalid_token", error_description="{reason}"'
