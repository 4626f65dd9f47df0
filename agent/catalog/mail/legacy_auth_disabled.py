"""legacy-auth-disabled: EWS no longer offers the Basic or NTLM scheme the connector signs in with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.clients.errors import ReadFailed
from agent.model import Finding
from agent.registry import Detector, register_detector

if TYPE_CHECKING:
    from agent.context import Context

EXCHANGE_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com")
SCHEME_OF = {"basic": "Basic", "ntlm": "NTLM"}


@register_detector
class LegacyAuthRefused(Detector):
    """EWS no longer offers the Basic/NTLM scheme the connector signs in with."""

    name = "ews-legacy-auth-refused"
    permissions = ()  # it probes EWS as the connector's account: no permission of the agent's own app

    async def detect(self, ctx: Context) -> Finding:
        account = ctx.connector.account
        method = account.auth if account is not None else "oauth"
        url = ctx.clients.ews_url
        online = ctx.connector.kind == "exchange-online" or urlsplit(url).hostname in EXCHANGE_ONLINE_HOSTS
        evidence: dict[str, Any] = {"ews_url": url, "connector_auth": method, "exchange_online": online}
        if method not in SCHEME_OF:
            return Finding.ok("the connector uses OAuth (modern authentication): Basic is not needed",
                              **evidence)
        try:
            challenge = await ctx.clients.ews.challenge(url)
        except ReadFailed as exc:
            return Finding.unknown(f"could not reach EWS at {url}: {exc.reason}", **evidence)
        scheme = SCHEME_OF[method]
        evidence.update(status=challenge.status, offered=challenge.www_authenticate,
                        diagnostics=challenge.x_ms_diagnostics)
        if challenge.status not in (200, 401):  # a server error or proxy page is no challenge at all
            return Finding.unknown(f"EWS at {url} answered HTTP {challenge.status} instead of an "
                                   "authentication challenge: the schemes it offers cannot be told",
                                   **evidence)
        offers = challenge.status == 200 or scheme.lower() in (s.lower() for s in challenge.www_authenticate)
        if offers and not online:  # Exchange Online refuses Basic even where a challenge still names it
            return Finding.ok(f"EWS offers {scheme} authentication", **evidence)
        offered = ", ".join(challenge.www_authenticate) or "no scheme"
        if online:
            return Finding.found(f"the connector signs in to Exchange Online with {scheme}: Exchange Online "
                                 f"retired Basic authentication for EWS (it offers {offered})", **evidence)
        return Finding.found(f"EWS offers {offered}, not {scheme}, which the connector uses: the EWS "
                             "virtual directory has Basic authentication turned off", **evidence)
