"""The connector's client secret is wrong, expired or about to expire (app-credentials-invalid): rotate it
into the connector's secret store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.catalog.shared.app_keys import token_evidence
from agent.clients.errors import ReadFailed, WriteFailed
from agent.clients.tokens import TokenProbe, graph_scope, probe_app_secret
from agent.config.secrets import write_secret
from agent.model import Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, Settled, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.graph_view import GraphObject
    from agent.context import Context

WRONG_SECRET, EXPIRED_SECRET = 7000215, 7000222


class SecretParams(BaseModel):
    """`with: {warn_days: 30}`: a working secret that expires within this many days is reported too."""

    model_config = ConfigDict(extra="forbid")
    warn_days: int = Field(30, ge=0, le=3650)


class RotateParams(BaseModel):
    """The new secret's display name and lifetime (Microsoft recommends well under two years)."""

    model_config = ConfigDict(extra="forbid")
    display_name: str = Field("migration connector (rotated by m365-401-agent)", min_length=1)
    lifetime_days: int = Field(180, ge=1, le=730)


def _now() -> datetime:
    return datetime.now(UTC)


def _secret_views(app: GraphObject | None, secret: str) -> list[dict[str, Any]]:
    """The app's secrets, described without their hints; `configured` marks the one the connector holds.

    Graph returns the first three characters of each secret as `hint`: comparing them with the
    configured value identifies its credential without ever showing either.
    """
    views = []
    for cred in (app.password_credentials or []) if app is not None else []:
        end = cred.end_date_time
        views.append({"key_id": str(cred.key_id), "display_name": cred.display_name,
                      "end": end.isoformat() if end else None,
                      "expired": bool(end and end < _now()),
                      "configured": bool(cred.hint and secret.startswith(cred.hint))})
    return views


# -- app-credentials-invalid ------------------------------------------------------------------------------

@register_detector
class ClientSecretInvalid(Detector):
    """The connector's client secret is refused (AADSTS7000215 wrong, 7000222 expired) or expires soon."""

    name = "client-secret-invalid"
    params_model = SecretParams
    params: SecretParams
    permissions = ("Application.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        app = ctx.connector.app
        if app is not None and app.owner == "vendor" and app.client_secret is None:
            return Finding.unknown("vendor-held credential: the vendor keeps the connector app's secret, so "
                                   "the agent cannot test it")
        if app is None or app.client_secret is None:
            return Finding.ok("the connector has no client secret configured")
        secret = app.client_secret.resolve()
        try:
            probe = await asyncio.to_thread(probe_app_secret, ctx.tenant, app.client_id, secret,
                                          graph_scope(ctx.tenant))
        except ReadFailed as exc:
            return Finding.unknown(f"could not request a token with the connector's secret: {exc.reason}")
        evidence: dict[str, Any] = {"client_id": app.client_id, "token": token_evidence(probe)}
        try:
            registration = await ctx.clients.graph.get_application(
                app.client_id, select=["id", "displayName", "passwordCredentials"])
        except ReadFailed as exc:
            return self._without_registration(probe, exc.reason, evidence)
        evidence["secrets"] = views = _secret_views(registration, secret)
        if probe.ok:
            return self._expiry(views, evidence)
        if probe.aadsts in (WRONG_SECRET, EXPIRED_SECRET):
            return self._refused(probe, evidence)
        return self._by_registration(probe, registration, views, evidence)

    @staticmethod
    def _refused(probe: TokenProbe, evidence: dict[str, Any]) -> Finding:
        if probe.aadsts == EXPIRED_SECRET:
            evidence["problem"] = "expired"
            return Finding.found("the connector's client secret has expired (AADSTS7000222): Entra ID "
                                 "refuses it, and every call the connector makes answers 401", **evidence)
        evidence["problem"] = "wrong"
        return Finding.found("the connector's client secret is wrong (AADSTS7000215): it is not a current "
                             "secret of the app (rotated, or the secret ID was pasted instead of its "
                             "value)", **evidence)

    def _expiry(self, views: list[dict[str, Any]], evidence: dict[str, Any]) -> Finding:
        ends = [datetime.fromisoformat(v["end"]) for v in views if v["configured"] and v["end"]]
        if not ends:
            return Finding.ok("the connector's client secret works", **evidence)
        days = (max(ends) - _now()).days
        evidence["expiring_in_days"] = days
        if days <= self.params.warn_days:
            evidence["problem"] = "expiring"
            return Finding.found(f"the connector's client secret works but expires in {days} day(s) "
                                 f"(warning threshold {self.params.warn_days}): the connector will then get "
                                 "401 (AADSTS7000222)", **evidence)
        return Finding.ok(f"the connector's client secret works and is valid for {days} more day(s)",
                          **evidence)

    @staticmethod
    def _without_registration(probe: TokenProbe, reason: str, evidence: dict[str, Any]) -> Finding:
        if probe.ok:
            evidence["expiry"] = f"not checked: {reason}"
            return Finding.ok("the connector's client secret works (its expiry could not be read)",
                              **evidence)
        if probe.aadsts in (WRONG_SECRET, EXPIRED_SECRET):
            return ClientSecretInvalid._refused(probe, evidence)
        return Finding.unknown(f"the token endpoint answered AADSTS{probe.aadsts}, which does not test the "
                               f"secret, and the app's secrets could not be read: {reason}", **evidence)

    @staticmethod
    def _by_registration(probe: TokenProbe, registration: GraphObject | None, views: list[dict[str, Any]],
                         evidence: dict[str, Any]) -> Finding:
        """Entra refused for another reason (app not installed, disabled): judge the secret from Graph."""
        if registration is None:
            return Finding.unknown(f"the token endpoint answered AADSTS{probe.aadsts}, which does not test "
                                   "the secret, and the app registration is not in this tenant", **evidence)
        configured = [v for v in views if v["configured"]]
        if not configured:
            evidence["problem"] = "wrong"
            return Finding.found("the connector's client secret matches none of the app's secrets",
                                 **evidence)
        if all(v["expired"] for v in configured):
            evidence["problem"] = "expired"
            return Finding.found("the connector's client secret has expired", **evidence)
        return Finding.ok(f"the token endpoint answered AADSTS{probe.aadsts} (not a secret problem); the "
                          "configured secret matches a current secret of the app", **evidence)


@register_fixer
class RotateClientSecret(Fixer):
    """addPassword, the new value written to the connector's secret store (undo: removePassword)."""

    name = "rotate-client-secret"
    params_model = RotateParams
    params: RotateParams
    permissions = ("Application.ReadWrite.All",)
    risk = Risk.MEDIUM
    propagation_s = 60.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        plan = Plan(ctx.cause, ctx.connector.name, self.name,
                    self.risk)
        app = ctx.connector.app
        if app is None or app.secret_store is None:
            plan.note = ("the connector has no secret_store: the agent cannot hand it a new secret; "
                         "create one in the portal and paste it into the migration tool")
            return plan
        registration = await ctx.clients.graph.get_application(app.client_id, select=["id", "displayName"])
        if registration is None:
            plan.note = "the app registration is not in this tenant: rotate its secret in its home tenant"
            return plan
        end = (_now() + timedelta(days=self.params.lifetime_days)).replace(microsecond=0)
        plan.steps.append(self._add_step(ctx, str(registration.id), end, str(app.secret_store),
                                         str(finding.evidence.get("problem") or "refused")))
        return plan

    def _add_step(self, ctx: Context, object_id: str, end: datetime, store: str, problem: str) -> Step:
        body = {"passwordCredential": {"displayName": self.params.display_name,
                                       "endDateTime": end.isoformat().replace("+00:00", "Z")}}
        call = ctx.clients.graph.call("POST", f"/applications/{object_id}/addPassword", body)
        return Step("add-password", call, before={"configured_secret": problem},
                    after={"new_secret": f"written to {store} (never shown)", "expires": body[
                        "passwordCredential"]["endDateTime"]},
                    params={"app_object_id": object_id, "display_name": self.params.display_name,
                            "end": end.isoformat(), "store": store},
                    undo={"app_object_id": object_id},
                    description="add a new client secret to the connector's app and write it to the "
                                f"connector's secret store {store}")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        graph, p = ctx.clients.graph, step.params
        if step.action == "remove-password":
            try:
                await graph.remove_password(p["app_object_id"], p["key_id"])
            except WriteFailed as exc:
                if exc.status != 404:  # already gone: the undo's goal holds
                    raise
            return {}
        if step.action != "add-password":
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        app = ctx.connector.app
        if app is None or app.secret_store is None:
            raise ValueError("the connector has no secret_store")
        created = await graph.add_password(p["app_object_id"], p["display_name"],
                                           datetime.fromisoformat(p["end"]))
        key_id = str(created.key_id)
        try:
            write_secret(app.secret_store, str(created.secret_text))
        except Exception:
            # nobody can use a secret that was not stored: take it away again, then report the failure
            await graph.remove_password(p["app_object_id"], key_id)
            raise
        return {"key_id": key_id}

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """Made when the app has a secret of this display name ending exactly when the step asked; its
        value never reached the agent, so the undo removes it by its key id."""
        app = ctx.connector.app
        if step.action != "add-password" or app is None:
            return None
        registration = await ctx.clients.graph.get_application(app.client_id,
                                                               select=["id", "passwordCredentials"])
        if registration is None:
            return Settled(False, note="(the app registration is gone)")
        end = datetime.fromisoformat(step.params["end"])
        for cred in registration.password_credentials or []:
            when = cred.end_date_time
            if cred.display_name == step.params["display_name"] and when is not None and cred.key_id \
                    and abs((_aware(when) - _aware(end)).total_seconds()) < 1:
                return Settled(True, {"key_id": str(cred.key_id)},
                               note="a secret nobody stored was added: undo removes it")
        return Settled(False)

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if step.action != "add-password" or not undo.get("key_id"):
            raise ValueError(f"{step.action} cannot be undone")
        body = {"keyId": undo["key_id"]}
        call = ctx.clients.graph.call("POST", f"/applications/{undo['app_object_id']}/removePassword", body)
        return Step("remove-password", call, before={"secret": undo["key_id"]}, after={"secret": None},
                    params={"app_object_id": undo["app_object_id"], "key_id": undo["key_id"]},
                    undo=dict(undo), irreversible=True,
                    description="remove the client secret the fix added; the secret store keeps its value, "
                                "so put the previous secret back there if it is still valid")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
