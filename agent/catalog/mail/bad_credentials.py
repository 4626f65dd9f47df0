"""The migration account's own sign-in: wrong, expired, locked or disabled credentials; federated domains."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from agent import redact
from agent.clients.errors import ReadFailed, WriteFailed
from agent.clients.graph_json import as_dict
from agent.clients.tokens import ews_scope
from agent.config.secrets import SecretError, SecretRef, SecretStore
from agent.model import Call, Finding, Plan, Risk, Step
from agent.registry import Detector, Fixer, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.clients.tokens import TokenProbe
    from agent.context import Context

CONNECTOR_ACCOUNT = "connector.account"
# ROPC answers that say what is wrong with the credential itself (api-facts section 2).
CREDENTIAL_CODES = {50126: "wrong-password", 50055: "expired", 50144: "expired-on-premises",
                    50053: "locked", 50057: "disabled", 50034: "not-found"}
# Answers given only after the password was accepted: MFA or Conditional Access stopped the sign-in.
MFA_CODES = frozenset({50076, 50079, 50072, 50074, 50158, 53003, 530035, 50131})
ACCOUNT_FIELDS = ["id", "userPrincipalName", "accountEnabled", "passwordPolicies",
                  "lastPasswordChangeDateTime", "onPremisesSyncEnabled", "userType"]
NO_EXPIRY = "DisablePasswordExpiration"
# EWS codes of a failing server: they come before, or instead of, any verdict on the password
SERVER_FAULTS = ("ErrorInternalServer", "ErrorServerBusy", "ErrorTimeoutExpired")


class AccountParams(BaseModel):
    """`with: {account: connector.account}` (the connector's account) or a UPN."""

    model_config = ConfigDict(extra="forbid")
    account: str = CONNECTOR_ACCOUNT

    @field_validator("account")
    @classmethod
    def _reference_or_upn(cls, value: str) -> str:
        if value != CONNECTOR_ACCOUNT and "@" not in value:
            raise ValueError(f"must be {CONNECTOR_ACCOUNT} or a user principal name (name@domain)")
        return value


# -- helpers shared by the mail account causes ---------------------------------------------------------

def account_upn(ctx: Context, account: str = CONNECTOR_ACCOUNT) -> str | None:
    """The UPN the cause is about: the connector's account, or the one the playbook names."""
    if account != CONNECTOR_ACCOUNT:
        return account
    return ctx.connector.account.username if ctx.connector.account is not None else None


def cannot_read(what: str, exc: ReadFailed, **evidence: Any) -> Finding:
    """`unknown`: a failed read is never an absent grant; a 403's reason names the missing permission."""
    return Finding.unknown(f"could not read {what}: {exc.reason}", **evidence)


def sign_in_evidence(probe: TokenProbe) -> dict[str, Any]:
    """What the password-grant probe showed, for evidence (no token, no secret)."""
    if probe.ok:
        return {"ok": True}
    return {"ok": False, "aadsts": probe.aadsts, "error": probe.error, "message": probe.message}


async def sign_in(ctx: Context) -> TokenProbe:
    """Sign in as the connector's account does (password grant to Exchange Online); ReadFailed: no verdict."""
    probe: TokenProbe = await ctx.clients.probe_password(ews_scope(ctx.tenant))
    return probe


async def read_account(ctx: Context, upn: str, fields: list[str]) -> dict[str, Any] | None:
    """The account as Graph JSON (selected fields), None when there is no such user; ReadFailed passes."""
    user = await ctx.clients.graph.get_user(upn, select=fields)
    return as_dict(user) if user is not None else None


async def is_federated(ctx: Context, upn: str) -> bool:
    """Whether the account's domain signs in at another identity provider (raw ROPC then says 50126)."""
    try:
        realm = await ctx.clients.user_realm(upn)
    except ReadFailed:
        return False
    return realm.account_type.lower() == "federated"


def new_password(length: int = 24) -> str:
    """A generated password meeting Entra's complexity rules (all four character classes)."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%*+-=?@^_")
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    value = "".join(chars)
    redact.register(value)  # from this moment no output can show it
    return value


# -- bad-credentials ---------------------------------------------------------------------------------------

@register_detector
class CredentialsRejected(Detector):
    """The account's password is wrong, expired, locked, or the account is disabled."""

    name = "account-credentials-rejected"
    params_model = AccountParams
    params: AccountParams
    permissions = ("User.Read.All",)

    async def detect(self, ctx: Context) -> Finding:
        upn = account_upn(ctx, self.params.account)
        if upn is None:
            return Finding.ok("the connector signs in with an app only: no account password to check")
        evidence: dict[str, Any] = {"account": upn}
        try:
            early = await self._ews_basic(ctx, evidence)
            if early is not None:
                return early
            probe = await sign_in(ctx)
        except ReadFailed as exc:
            return Finding.unknown(f"could not sign in as {upn}: {exc.reason}", **evidence)
        evidence["sign_in"] = sign_in_evidence(probe)
        variant = self._variant(probe, evidence)
        if variant is None:
            return self._not_credentials(probe, evidence)
        if variant == "wrong-password" and await is_federated(ctx, upn):
            masks = ["sso-federated-account", *self._legacy_mask(evidence)]
            return Finding.masked("AADSTS50126 is what any password gets on a federated domain (see "
                                  "sso-federated-account): the password itself cannot be judged there",
                                  masks, federated=True, **evidence)
        return await self._found(ctx, upn, variant, evidence)

    async def _ews_basic(self, ctx: Context, evidence: dict[str, Any]) -> Finding | None:
        """On-premises Basic/NTLM: EWS is the verdict, unless the server no longer offers the scheme."""
        account = ctx.connector.account
        if ctx.connector.kind != "exchange-onprem" or account is None or account.auth == "oauth":
            return None
        ews = await ctx.clients.probe_ews()
        scheme = "Basic" if account.auth == "basic" else "NTLM"
        evidence["ews"] = {"ok": ews.ok, "status": ews.status, "offered": ews.www_authenticate}
        if ews.ok:
            return Finding.ok(f"EWS accepted the account's {scheme} sign-in", **evidence)
        if ews.status != 401 and ews.code and not ews.code.startswith(SERVER_FAULTS):
            # EWS itself answered (a mailbox-level error): the account was authenticated first
            return Finding.ok(f"EWS accepted the credentials (it answered {ews.code})", **evidence)
        if ews.status != 401:  # a server error or an odd answer says nothing about the password
            answer = ews.code or f"HTTP {ews.status}"
            return Finding.unknown(f"EWS answered {answer} to the account's {scheme} sign-in, which "
                                   "neither accepts nor refuses the password", **evidence)
        if scheme.lower() in (s.lower() for s in ews.www_authenticate):
            evidence["ews_rejected"] = True  # the server offers the scheme and still refused the password
        else:
            evidence["ews_scheme_refused"] = True  # 401 before the password: see legacy-auth-disabled
        return None  # a verdict on the account comes from the password grant next

    @staticmethod
    def _legacy_mask(evidence: dict[str, Any]) -> list[str]:
        """legacy-auth-disabled too, when on-premises EWS refused the scheme before the password."""
        return ["legacy-auth-disabled"] if evidence.get("ews_scheme_refused") else []

    @staticmethod
    def _variant(probe: TokenProbe, evidence: dict[str, Any]) -> str | None:
        from_code = CREDENTIAL_CODES.get(probe.aadsts) if not probe.ok and probe.aadsts else None
        if from_code is not None:
            return from_code
        # EWS offered the scheme and refused: the on-premises password is wrong whatever Entra says
        return "wrong-password" if evidence.get("ews_rejected") else None

    @staticmethod
    def _not_credentials(probe: TokenProbe, evidence: dict[str, Any]) -> Finding:
        if probe.ok and evidence.get("ews", {}).get("status") == 401:
            return Finding.ok("the password is right; EWS refused it only because it no longer offers the "
                              "connector's scheme (see legacy-auth-disabled)", **evidence)
        if probe.ok:
            return Finding.ok("the account signs in with its stored password", **evidence)
        if probe.aadsts in MFA_CODES:
            return Finding.ok(f"the password is accepted; AADSTS{probe.aadsts} comes after it "
                              "(see mfa-blocks-service-account)", **evidence)
        return Finding.unknown(f"the sign-in failed with AADSTS{probe.aadsts}, which says nothing about the "
                               "password", **evidence)

    async def _found(self, ctx: Context, upn: str, variant: str, evidence: dict[str, Any]) -> Finding:
        try:
            user = await read_account(ctx, upn, ACCOUNT_FIELDS)
        except ReadFailed as exc:
            return cannot_read(f"the state of {upn}", exc, variant=variant, **evidence)
        if user is None:
            return Finding.found(f"{upn} does not exist in the tenant (AADSTS50034)", variant="not-found",
                                 **evidence)
        if variant == "wrong-password" and user.get("accountEnabled") is False:
            variant = "disabled"  # Entra checks the password first; the state read tells the rest
        evidence.update(variant=variant, account_id=user.get("id"),
                        account_enabled=user.get("accountEnabled"),
                        password_policies=user.get("passwordPolicies"),
                        password_changed=user.get("lastPasswordChangeDateTime"),
                        synced=bool(user.get("onPremisesSyncEnabled")),
                        stored_password_written=_stored_at(ctx))
        summary = _SUMMARIES[variant].format(upn=upn)
        if variant == "wrong-password" and evidence.get("ews_rejected"):
            summary = f"EWS refuses the stored password of {upn} although it offers the connector's scheme"
        return Finding.found(summary, **evidence)


def _stored_at(ctx: Context) -> str | None:
    """When the connector's password file was last written: compare with lastPasswordChangeDateTime."""
    account = ctx.connector.account
    if account is None or account.password.scheme != "file":
        return None
    try:
        stamp = account.password.path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


_SUMMARIES = {
    "wrong-password": "the stored password of {upn} is wrong (AADSTS50126): changed since the connector "
                      "was set up, or mistyped",
    "expired": "the password of {upn} has expired (AADSTS50055)",
    "expired-on-premises": "the on-premises password of {upn} has expired (AADSTS50144)",
    "locked": "{upn} is locked out by smart lockout (AADSTS50053)",
    "disabled": "{upn} is disabled (AADSTS50057)",
    "not-found": "{upn} does not exist in the tenant (AADSTS50034)",
}
LOCKOUT_NOTE = ("locked out: nothing to change; Entra smart lockout lifts on its own (60 s after the first "
                "lockout by default, longer after repeated failures): retry in a few minutes, and stop "
                "whatever keeps signing in with the old password")


@register_fixer
class RestoreSignIn(Fixer):
    """Re-enable the account, stop its password expiring, or (approved, irreversible) reset its password."""

    name = "restore-account-sign-in"
    permissions = ("User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All")
    roles = ("User Administrator (password reset only)",)
    risk = Risk.HIGH  # DESIGN: the cause is high risk; a reset cannot be undone
    propagation_s = 120.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        ev = finding.evidence
        cause = ctx.cause
        plan = Plan(cause, ctx.connector.name, self.name, self.risk)
        variant, user_id = ev.get("variant"), ev.get("account_id")
        if variant in ("locked", "not-found", "expired-on-premises") or not user_id:
            plan.note = LOCKOUT_NOTE if variant == "locked" else f"{variant}: nothing the agent can change"
        elif ev.get("synced") and variant in ("disabled", "wrong-password"):
            plan.note = "the account is synchronised from on-premises AD: change it there, not in Entra ID"
        elif variant == "disabled":
            plan.steps.append(self._enable_step(ctx, str(user_id), True))
        elif variant == "expired":
            plan.steps.append(self._expiry_step(ctx, str(user_id), ev.get("password_policies")))
        elif variant == "wrong-password":
            self._reset_or_note(ctx, plan, str(user_id))
        return plan

    def _enable_step(self, ctx: Context, user_id: str, enabled: bool) -> Step:
        body = {"accountEnabled": enabled}
        verb = "re-enable" if enabled else "disable again"
        return Step("set-account-enabled", ctx.clients.graph.call("PATCH", f"/users/{user_id}", body),
                    before={"accountEnabled": not enabled}, after=body,
                    params={"user_id": user_id, "account_enabled": enabled},
                    undo={"user_id": user_id, "account_enabled": not enabled},
                    description=f"{verb} the migration account")

    def _expiry_step(self, ctx: Context, user_id: str, current: str | None,
                     target: str | None = None) -> Step:
        old = current or "None"
        if target is None:
            parts = [p.strip() for p in old.split(",") if p.strip() not in ("", "None", NO_EXPIRY)]
            target = ", ".join([NO_EXPIRY, *parts])
        body = {"passwordPolicies": target}
        what = "stop the password expiring (then set a new password in the connector when convenient)" \
            if NO_EXPIRY in target else "restore the password policies"
        return Step("set-password-policies", ctx.clients.graph.call("PATCH", f"/users/{user_id}", body),
                    before={"passwordPolicies": old}, after=body,
                    params={"user_id": user_id, "password_policies": target},
                    undo={"user_id": user_id, "password_policies": old},
                    description=what)

    def _reset_or_note(self, ctx: Context, plan: Plan, user_id: str) -> None:
        store = _store_of(ctx)
        if store is None:
            plan.note = ("the connector's password reference cannot be written (use file: or keyvault:); "
                         "reset the password by hand and update the connector")
            return
        body = {"passwordProfile": {"password": redact.MASK, "forceChangePasswordNextSignIn": False}}
        plan.risk = Risk.HIGH
        plan.steps.append(Step(
            "reset-password", ctx.clients.graph.call("PATCH", f"/users/{user_id}", body),
            before={"credential": "the old password (unknown to the agent)"},
            after={"credential": f"a new generated password, stored in {store}"},
            params={"user_id": user_id, "store": str(store), "store_base": _base_of(store),
                    "shared_key": f"user:{user_id}"}, irreversible=True,
            description=f"IRREVERSIBLE: reset the migration account's password to a generated value and "
                        f"write it to the connector's secret store {store}; the old password cannot be "
                        "restored"))

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        p, graph = step.params, ctx.clients.graph
        if step.action == "set-account-enabled":
            await graph.patch_user(p["user_id"], {"accountEnabled": bool(p["account_enabled"])})
        elif step.action == "set-password-policies":
            await graph.patch_user(p["user_id"], {"passwordPolicies": p["password_policies"]})
        elif step.action == "reset-password":
            await _reset(ctx, step)
        else:
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        return {}

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        undo = step.undo or {}
        if step.action == "set-account-enabled":
            return self._enable_step(ctx, undo["user_id"], bool(undo["account_enabled"]))
        if step.action == "set-password-policies":
            before = (step.after or {}).get("passwordPolicies")
            return self._expiry_step(ctx, undo["user_id"], before, undo["password_policies"])
        raise ValueError(f"{step.action} cannot be undone")


def _store_of(ctx: Context) -> SecretStore | None:
    """The connector's password reference as a writable store (file: or keyvault:), else None."""
    account = ctx.connector.account
    if account is None or account.password.scheme not in ("file", "keyvault"):
        return None
    return SecretStore(account.password.text, account.password.base_dir)


def _base_of(store: SecretStore) -> str | None:
    return None if store.base_dir is None else str(store.base_dir)


def _shared_stores(step: Step) -> list[tuple[SecretStore, str | None]]:
    """The stores of the other connectors that use this account (agent.engine.shared_targets), with each one's
    current value when it can be read (kept recoverable like the connector's own)."""
    stores = []
    for entry in step.params.get("shared", []):
        base = entry.get("store_base")
        store = SecretStore(entry["store"], Path(base) if base else None)
        try:
            current: str | None = SecretRef(entry["store"], store.base_dir).resolve()
        except SecretError:
            current = None  # a missing file is written fresh; nothing to keep
        stores.append((store, current))
    return stores


async def _reset(ctx: Context, step: Step) -> None:
    """Store the new password first, the old one kept next to it; reset; then settle the store.

    Refused outright (a 4xx, a connection that never opened): the account still has the old password,
    so it goes back. Answer lost (a timeout, a drop, a 5xx): the tenant most likely has the new one, so
    the store keeps it, the old one stays recoverable, and the engine journals the step `uncertain`.
    """
    store, account = _store_of(ctx), ctx.connector.account
    if store is None or account is None:
        raise WriteFailed("the connector's password reference cannot be written")
    ctx.guard.check(Call("PUT", f"secret store {store}"))  # a dry run stops here, before any write
    old, new = account.password.resolve(), new_password()
    stores = [(store, old), *_shared_stores(step)]  # every connector of this account gets the new one
    for each, previous in stores:
        if previous is None:
            each.write(new)
        else:
            each.begin_rotation(previous, new)
    try:
        await ctx.clients.graph.patch_user(step.params["user_id"], {
            "passwordProfile": {"password": new, "forceChangePasswordNextSignIn": False}})
    except WriteFailed as exc:
        if not exc.lost:
            _end_rotations(stores, refused=True)  # refused: the account still has the old password
        raise
    except Exception:
        _end_rotations(stores, refused=True)  # no answer from the tenant: it failed before the request
        raise
    _end_rotations(stores, refused=False)


def _end_rotations(stores: list[tuple[SecretStore, str | None]], refused: bool) -> None:
    for each, previous in stores:
        if refused and previous is not None:
            each.end_rotation(previous)
        elif not refused:
            each.end_rotation(None)
