"""The connector's certificate is not on its app registration, or only with an expired validity
(app-certificate-missing): add its public key, keeping the app's other keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.catalog.app_keys import (
    ConnectorCert,
    KeyView,
    connector_certificate,
    key_dicts,
    key_views,
    token_evidence,
)
from agent.clients.errors import ReadFailed
from agent.clients.tokens import GRAPH_SCOPE, TokenProbe, probe_app_certificate
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

KEY_NOT_FOUND = 700027


@register_detector
class CertificateNotRegistered(Detector):
    """The connector's certificate is not (or no longer) among the app's keyCredentials (AADSTS700027)."""

    name = "certificate-not-registered"
    permissions = ("Application.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        cert = connector_certificate(ctx.connector)
        if cert is None:
            return Finding.ok("the connector has no certificate configured")
        evidence: dict[str, Any] = {"client_id": cert.client_id, "thumbprint": cert.thumbprint,
                                    "subject": cert.subject, "not_after": cert.not_after.isoformat()}
        probe = await self._probe(ctx, cert, evidence)
        if probe is not None and probe.ok:
            return Finding.ok("the connector's certificate signs in", **evidence)
        try:
            registration = await ctx.clients.graph.get_application(cert.client_id,
                                                                    select=["id", "keyCredentials"])
        except ReadFailed as exc:
            if probe is not None and probe.aadsts == KEY_NOT_FOUND:
                return Finding.found("Entra ID does not know the connector's certificate (AADSTS700027); "
                                     f"the app's keys could not be read: {exc.reason}", **evidence)
            return Finding.unknown(f"the app's certificates could not be read: {exc.reason}", **evidence)
        if registration is None:
            return Finding.unknown("the app registration is not in this tenant: its certificates can only "
                                   "be checked in its home tenant", **evidence)
        return self._verdict(cert, key_views(registration), probe, evidence)

    @staticmethod
    async def _probe(ctx: Context, cert: ConnectorCert, evidence: dict[str, Any]) -> TokenProbe | None:
        if cert.pem is None:
            evidence["token"] = "not probed: only the public certificate is configured"
            return None
        try:
            probe = await asyncio.to_thread(probe_app_certificate, ctx.tenant, cert.client_id, cert.pem,
                                            GRAPH_SCOPE)
        except ReadFailed as exc:
            evidence["token"] = f"no answer: {exc.reason}"
            return None
        evidence["token"] = token_evidence(probe)
        return probe

    @staticmethod
    def _verdict(cert: ConnectorCert, keys: list[KeyView], probe: TokenProbe | None,
                 evidence: dict[str, Any]) -> Finding:
        evidence["registered"] = [k.summary() for k in keys]
        mine = [k for k in keys if k.thumbprint == cert.thumbprint]
        if not mine:
            evidence["problem"] = "missing"
            return Finding.found(f"the app's keyCredentials lack the connector's certificate "
                                 f"{cert.thumbprint}: Entra ID answers AADSTS700027 (key not found)",
                                 **evidence)
        if all(k.expired for k in mine):
            evidence["problem"] = "expired"
            return Finding.found(f"the app carries the connector's certificate {cert.thumbprint} only with "
                                 "an expired validity (AADSTS50013 / 700027)", **evidence)
        if probe is not None and probe.aadsts == KEY_NOT_FOUND:
            evidence["problem"] = "replicating"
            return Finding.found("the certificate is registered but Entra ID does not accept it yet "
                                 "(replication can take minutes)", **evidence)
        return Finding.ok("the connector's certificate is registered on the app (the token request fails "
                          "for another reason)", **evidence)


@register_fixer
class RegisterCertificate(Fixer):
    """PATCH keyCredentials: the existing keys plus the connector's public certificate (undo: old list)."""

    name = "register-certificate"
    permissions = ("Application.ReadWrite.All",)
    risk = Risk.MEDIUM
    propagation_s = 60.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(str(ctx.settings.get("cause", "app-certificate-missing")), ctx.connector.name, self.name,
                    self.risk)
        cert = connector_certificate(ctx.connector)
        if cert is None:
            plan.note = "the connector has no certificate configured"
            return plan
        if cert.not_after < datetime.now(UTC):
            plan.note = (f"the certificate itself expired on {cert.not_after:%Y-%m-%d}: issue a new one and "
                         "configure it in the migration tool first")
            return plan
        registration = await ctx.clients.graph.get_application(cert.client_id,
                                                                select=["id", "keyCredentials"])
        if registration is None:
            plan.note = "the app registration is not in this tenant: add the certificate in its home tenant"
            return plan
        keys = key_views(registration)
        if any(k.thumbprint == cert.thumbprint and not k.expired for k in keys):
            plan.note = "the certificate is already registered and valid"
            return plan
        old = key_dicts(keys)
        new = [k.data for k in keys if k.thumbprint != cert.thumbprint] + [cert.key_credential()]
        plan.steps.append(self._patch_step(ctx, str(registration.id), old, new, "register-certificate",
                                           f"add the connector's certificate {cert.thumbprint} "
                                           f"({cert.subject}) to the app, keeping its other keys"))
        return plan

    @staticmethod
    def _patch_step(ctx: Context, object_id: str, old: list[dict[str, Any]], new: list[dict[str, Any]],
                    action: str, description: str) -> Step:
        call = ctx.clients.graph.call("PATCH", f"/applications/{object_id}", {"keyCredentials": new})
        return Step(action, call, before={"keyCredentials": [KeyView.of_dict(k).summary() for k in old]},
                    after={"keyCredentials": [KeyView.of_dict(k).summary() for k in new]},
                    params={"app_object_id": object_id, "keys": new},
                    undo={"app_object_id": object_id, "keys": old}, description=description)

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        if step.action not in ("register-certificate", "restore-key-credentials"):
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        await ctx.clients.graph.patch_key_credentials(step.params["app_object_id"], step.params["keys"])
        return {}

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if "keys" not in undo:
            raise ValueError(f"{step.action}: the previous key list was not recorded")
        return self._patch_step(ctx, undo["app_object_id"], list(step.params.get("keys") or []),
                                list(undo["keys"]), "restore-key-credentials",
                                "put the app's keyCredentials back as they were before the fix")
