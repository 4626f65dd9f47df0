"""Tokens shared by many callers: one fetch at a time, reused until near expiry, sync or async."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential


def token_still_valid(token: AccessToken | None, margin_s: float = 300.0) -> bool:
    """True while a cached token has more than `margin_s` seconds left."""
    return token is not None and token.expires_on - margin_s > time.time()



class CachedCredential:
    """One sync credential shared by many callers: tokens reused until near expiry, one fetch at a time.

    SharePoint touches thousands of sites from threads; each would otherwise go through MSAL's
    cache lock or, on a cold start, send its own token request.
    """

    def __init__(self, credential: TokenCredential, margin_s: float = 300.0) -> None:
        self.credential, self.margin_s = credential, margin_s
        self._lock = threading.Lock()
        self._tokens: dict[tuple[Any, ...], AccessToken] = {}

    def cached(self, *scopes: str, enable_cae: bool = False) -> AccessToken | None:
        token = self._tokens.get((scopes, enable_cae))
        return token if token_still_valid(token, self.margin_s) else None

    def get_token(self, *scopes: str, claims: str | None = None, enable_cae: bool = False,
                  **kwargs: Any) -> AccessToken:
        if claims is None and (token := self.cached(*scopes, enable_cae=enable_cae)) is not None:
            return token
        with self._lock:
            if claims is None and (token := self.cached(*scopes, enable_cae=enable_cae)) is not None:
                return token
            token = self.credential.get_token(*scopes, claims=claims, enable_cae=enable_cae, **kwargs)
            self._tokens[(scopes, enable_cae)] = token
            return token

    def close(self) -> None:
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()


class AsyncTokenSource:
    """The same credential for async callers (kiota awaits what get_token returns): no event-loop stalls."""

    def __init__(self, credential: TokenCredential | CachedCredential) -> None:
        self.cache = credential if isinstance(credential, CachedCredential) else CachedCredential(credential)

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        if tenant_id is not None:
            kwargs["tenant_id"] = tenant_id
        if claims is None and (token := self.cache.cached(*scopes, enable_cae=enable_cae)) is not None:
            return token
        return await asyncio.to_thread(self.cache.get_token, *scopes, claims=claims, enable_cae=enable_cae,
                                       **kwargs)
