"""Wait, with a fresh credential each try, until the app's own tokens carry the roles init granted.

Entra ID replicates a new app, its certificate and its grants over minutes; MSAL caches a refused token
request, so every try builds a new CertificateCredential (as the engine's verify step does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agent.clients.tokens import decode_claims
from agent.init.steps import progress


def token_roles(make: Callable[[], Any], scope: str) -> set[str] | None:
    """The `roles` of a fresh app-only token for `scope`, or None while no token is issued."""
    credential = make()
    try:
        token = credential.get_token(scope)
    except Exception:  # not replicated yet (AADSTS700016, 7000229 ...): try again
        return None
    finally:
        close = getattr(credential, "close", None)
        if close is not None:
            close()
    return set(decode_claims(token.token).get("roles") or [])


def wait_for_roles(make: Callable[[], Any], wanted: dict[str, set[str]], limit_s: float,
                   sleep: Callable[[float], None] = time.sleep) -> dict[str, set[str]]:
    """Poll until each scope's token holds its wanted roles or `limit_s` passes; returns what is missing."""
    missing = {scope: set(roles) for scope, roles in wanted.items() if roles}
    deadline, delay = time.monotonic() + limit_s, 1.0
    while True:
        for scope in list(missing):
            roles = token_roles(make, scope)
            if roles is not None:
                missing[scope] -= roles
            if not missing[scope]:
                del missing[scope]
        if not missing or time.monotonic() >= deadline:
            return missing
        progress(f"waiting for the grants to reach the app's tokens ({sum(map(len, missing.values()))} "
                 f"role(s) not yet), next try in {delay:.0f} s")
        sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 60.0)
