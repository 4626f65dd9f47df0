"""A migration account on a federated (SSO) domain: its sign-in goes to another identity provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.catalog.mail.bad_credentials import AccountParams, account_upn
from agent.clients.errors import ReadFailed
from agent.model import Finding
from agent.registry import Detector, register_detector

if TYPE_CHECKING:
    from agent.context import Context


@register_detector
class FederatedAccount(Detector):
    """The account's domain is federated: its sign-in goes to another identity provider."""

    name = "account-domain-federated"
    params_model = AccountParams
    params: AccountParams
    permissions = ("Domain.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        upn = account_upn(ctx, self.params.account)
        if upn is None:
            return Finding.ok("the connector signs in with an app only")
        domain = upn.rsplit("@", 1)[-1].lower()
        evidence: dict[str, Any] = {"account": upn, "domain": domain}
        try:
            realm = await ctx.clients.user_realm(upn)
            evidence.update(realm=realm.account_type, federation_protocol=realm.federation_protocol,
                            identity_provider=realm.federation_url)
        except ReadFailed as exc:
            evidence["realm_error"] = exc.reason
        auth_type = await self._domain_type(ctx, domain, evidence)
        kinds = {str(evidence.get("realm", "")).lower(), (auth_type or "").lower()}
        if "federated" in kinds:
            return Finding.found(f"{domain} is federated: {upn} signs in at "
                                 f"{evidence.get('identity_provider') or 'an external identity provider'}, "
                                 "which a connector's direct sign-in cannot reach", **evidence)
        if "managed" in kinds:
            return Finding.ok(f"{domain} is a managed (cloud) domain", **evidence)
        return Finding.unknown(f"could not tell how {domain} signs in: "
                               f"{evidence.get('realm_error') or evidence.get('domain_error')}", **evidence)

    @staticmethod
    async def _domain_type(ctx: Context, domain: str, evidence: dict[str, Any]) -> str | None:
        try:
            found = await ctx.clients.graph.get_domain(domain)
        except ReadFailed as exc:
            evidence["domain_error"] = exc.reason
            return None
        if found is None:
            return None
        evidence["authentication_type"] = found.authentication_type
        return found.authentication_type


