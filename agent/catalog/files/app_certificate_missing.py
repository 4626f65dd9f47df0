"""The connector's certificate is not on its app registration, only with an expired validity, or about
to expire (app-certificate-missing): add its public key (or a new one), keeping the app's other keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.catalog.shared.app_keys import (
    ConnectorCert,
    KeyView,
    connector_certificate,
    key_dicts,
    key_views,
    token_evidence,
)
from agent.catalog.shared.cert_rotation import (
    LIFETIME_DAYS,
    common_name,
    new_certificate,
    rotation_store,
    write_public_certificate,
)
from agent.clients.errors import ReadFailed
from agent.clients.tokens import TokenProbe, graph_scope, probe_app_certificate
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

KEY_NOT_FOUND = 700027
NEW_KEY_PLACEHOLDER = "<public key of the new certificate, generated when the step is applied>"
DAY_S = 86400.0


class CertificateParams(BaseModel):
    """`with: {warn_days: 30}`: a working certificate that expires within this many days is reported too."""

    model_config = ConfigDict(extra="forbid")
    warn_days: int = Field(30, ge=0, le=3650)


@register_detector
class CertificateNotRegistered(Detector):
    """The connector's certificate is not (or no longer) among the app's keyCredentials (AADSTS700027)."""

    name = "certificate-not-registered"
    params_model = CertificateParams
    params: CertificateParams
    permissions = ("Application.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        cert = connector_certificate(ctx.connector)
        if cert is None and ctx.connector.app is not None and ctx.connector.app.owner == "vendor":
            return Finding.unknown("vendor-held credential: the vendor keeps the connector app's "
                                   "certificate, so the agent cannot compare it with the app's keys")
        if cert is None:
            return Finding.ok("the connector has no certificate configured")
        evidence: dict[str, Any] = {"client_id": cert.client_id, "thumbprint": cert.thumbprint,
                                    "subject": cert.subject, "not_after": cert.not_after.isoformat()}
        probe = await self._probe(ctx, cert, evidence)
        if probe is not None and probe.ok:
            return self._expiry(cert, evidence) or Finding.ok("the connector's certificate signs in",
                                                               **evidence)
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
                                            graph_scope(ctx.tenant))
        except ReadFailed as exc:
            evidence["token"] = f"no answer: {exc.reason}"
            return None
        evidence["token"] = token_evidence(probe)
        return probe

    def _expiry(self, cert: ConnectorCert, evidence: dict[str, Any]) -> Finding | None:
        """A warning when the (still valid, registered) certificate expires within warn_days."""
        days = round((cert.not_after - datetime.now(UTC)).total_seconds() / DAY_S, 1)
        if days < 0 or days > self.params.warn_days:
            return None
        evidence.update(expiring_in_days=days, problem="expiring")
        return Finding.found(f"the connector's certificate {cert.thumbprint} still works but expires in "
                             f"{days:g} day(s), on {cert.not_after:%Y-%m-%d} (warning threshold "
                             f"{self.params.warn_days}): the connector will then get 401 (AADSTS700027)",
                             **evidence)

    def _verdict(self, cert: ConnectorCert, keys: list[KeyView], probe: TokenProbe | None,
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
        if probe is None or probe.ok:
            expiring = self._expiry(cert, evidence)
            if expiring is not None:
                return expiring
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
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        cert = connector_certificate(ctx.connector)
        if cert is None:
            plan.note = "the connector has no certificate configured"
            return plan
        if finding.evidence.get("problem") == "expiring":
            return await self._rotation_plan(ctx, plan, cert)
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

    async def _rotation_plan(self, ctx: Context, plan: Plan, cert: ConnectorCert) -> Plan:
        """A new certificate, generated when applied: its PEM to the connector's file, its key to the app."""
        store, why = rotation_store(ctx.connector)
        if store is None:
            plan.note = why
            return plan
        registration = await ctx.clients.graph.get_application(cert.client_id,
                                                                select=["id", "keyCredentials"])
        if registration is None:
            plan.note = ("the app registration is not in this tenant: rotate its certificate in its "
                         "home tenant")
            return plan
        object_id, old = str(registration.id), key_dicts(key_views(registration))
        # the key pair is made at apply time, so the plan (and an approval of it) stays the same until then
        added = {"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": cert.subject,
                 "key": NEW_KEY_PLACEHOLDER}
        call = ctx.clients.graph.call("PATCH", f"/applications/{object_id}",
                                      {"keyCredentials": [*old, added]})
        summaries = [KeyView.of_dict(k).summary() for k in old]
        public = ctx.connector.app.certificate_public if ctx.connector.app is not None else None
        also = f" (and the certificate alone to {public})" if public is not None else ""
        new_summary = {"display_name": cert.subject, "thumbprint": "(new)", "lifetime_days": LIFETIME_DAYS}
        step = Step("rotate-certificate", call, before={"keyCredentials": summaries},
                    after={"keyCredentials": [*summaries, new_summary]},
                    params={"app_object_id": object_id, "keys": old, "common_name": common_name(cert.der),
                            "store": str(store)},
                    undo={"app_object_id": object_id, "keys": old},
                    description=f"issue a new self-signed certificate ({cert.subject}, {LIFETIME_DAYS} "
                                f"days), write it with its private key to {store}{also} and add its "
                                "public key to the app, keeping its other keys (the current one "
                                f"{cert.thumbprint} expires on {cert.not_after:%Y-%m-%d}); undo removes "
                                "the new key from the app, the file keeps the new certificate")
        plan.steps.append(step)
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
        if step.action == "rotate-certificate":
            return await self._rotate(ctx, step)
        if step.action not in ("register-certificate", "restore-key-credentials"):
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        await ctx.clients.graph.patch_key_credentials(step.params["app_object_id"], step.params["keys"])
        return {}

    @staticmethod
    async def _rotate(ctx: Context, step: Step) -> dict[str, Any]:
        """Generate, register the public key, then write the PEM (taking the key back if that fails)."""
        store, why = rotation_store(ctx.connector)
        if store is None:
            raise ValueError(why)
        p, graph = step.params, ctx.clients.graph
        client_id = ctx.connector.app.client_id if ctx.connector.app is not None else ""
        pem, cert = await asyncio.to_thread(new_certificate, client_id, str(p["common_name"]))
        old = list(p["keys"])
        new = [*old, cert.key_credential()]
        await graph.patch_key_credentials(p["app_object_id"], new)
        try:
            store.write(pem)
        except Exception:
            # nobody can sign with a key whose private half was not stored: take it away again
            await graph.patch_key_credentials(p["app_object_id"], old)
            raise
        done: dict[str, Any] = {"new_thumbprint": cert.thumbprint, "applied_keys": new}
        public = ctx.connector.app.certificate_public if ctx.connector.app is not None else None
        if public is not None:
            # the connector signs with the PEM just written, so the rotation stands either way; a public
            # file left behind is reported rather than undoing a working key
            try:
                write_public_certificate(Path(public), cert)
                done["public_certificate"] = str(public)
            except OSError as exc:
                done["public_certificate_error"] = f"{public}: {exc.strerror or exc}"
                step.after = {**(step.after or {}), "warning": f"the public certificate file was not "
                              f"updated ({done['public_certificate_error']}): put the new one there"}
        return done

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if "keys" not in undo:
            raise ValueError(f"{step.action}: the previous key list was not recorded")
        applied = undo.get("applied_keys") or step.params.get("keys") or []
        note = "; the connector's certificate files keep the new certificate, so put the previous one back " \
               "there while it is still valid" if step.action == "rotate-certificate" else ""
        return self._patch_step(ctx, undo["app_object_id"], list(applied), list(undo["keys"]),
                                "restore-key-credentials",
                                "put the app's keyCredentials back as they were before the fix" + note)
