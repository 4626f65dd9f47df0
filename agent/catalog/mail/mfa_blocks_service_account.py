"""MFA / Conditional Access blocking the migration account, and excluding it from exactly those policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.catalog.mail.bad_credentials import (
    MFA_CODES,
    AccountParams,
    account_upn,
    cannot_read,
    read_account,
    sign_in,
    sign_in_evidence,
)
from agent.catalog.shared.conditional_access_eval import Account, assess, strings
from agent.catalog.shared.conditional_access_eval import policy_controls as policy_controls
from agent.clients.errors import ReadFailed
from agent.clients.graph_json import as_dict
from agent.model import Finding, Plan, Risk, Step
from agent.registry import AlreadyReversed, Detector, Fixer, Settled, register_detector, register_fixer

if TYPE_CHECKING:
    from agent.context import Context

SECURITY_DEFAULTS_NOTE = (
    "security defaults require MFA for every account and cannot exclude one; the agent never turns them off "
    "(a tenant-wide weakening): move the connector to app-only (certificate) authentication, or replace "
    "security defaults with Conditional Access policies that exclude the migration account")
NO_POLICY_NOTE = ("no enforced Conditional Access policy the agent can evaluate covers the account (per-user "
                  "MFA?): exclude the account by hand or move the connector to app-only authentication")


def _names_members(policies: list[dict[str, Any]]) -> bool:
    keys = ("includeGroups", "excludeGroups", "includeRoles", "excludeRoles")
    return any(strings((p.get("conditions") or {}).get("users") or {}, k)
               for p in policies if p.get("state") == "enabled" for k in keys)


async def read_account_scope(ctx: Context, policies: list[dict[str, Any]],
                             user_id: str) -> tuple[Account, str | None]:
    """The account's transitive groups and roles when a policy names any; why they are unreadable."""
    if not _names_members(policies):
        return Account(user_id), None
    try:
        objects = [as_dict(o) for o in await ctx.clients.graph.memberships(user_id)]
    except ReadFailed as exc:
        return Account(user_id, None, None), exc.reason
    groups = frozenset(str(o["id"]) for o in objects if o.get("@odata.type") == "#microsoft.graph.group")
    roles = [o.get("roleTemplateId") for o in objects
             if o.get("@odata.type") == "#microsoft.graph.directoryRole"]
    if any(r is None for r in roles):  # limited information: the role's template id is hidden
        return Account(user_id, groups, None), "reading directory roles needs RoleManagement.Read.Directory"
    return Account(user_id, groups, frozenset(str(r) for r in roles)), None


@register_detector
class BlockedByMfa(Detector):
    """MFA or a blocking Conditional Access policy stops the account's password sign-in."""

    name = "account-blocked-by-mfa"
    params_model = AccountParams
    params: AccountParams
    # User.Read.All also reads the account's transitive groups (their ids); RoleManagement.Read.Directory
    # shows its directory roles' template ids, which includeRoles names.
    permissions = ("Policy.Read.All", "User.Read.All", "RoleManagement.Read.Directory")

    async def detect(self, ctx: Context) -> Finding:
        upn = account_upn(ctx, self.params.account)
        if upn is None:
            return Finding.ok("the connector signs in with an app only: user MFA does not apply")
        evidence: dict[str, Any] = {"account": upn}
        try:
            probe = await sign_in(ctx)
        except ReadFailed as exc:
            return Finding.unknown(f"could not sign in as {upn}: {exc.reason}", **evidence)
        evidence["sign_in"] = sign_in_evidence(probe)
        if probe.ok:
            return Finding.ok("the account signs in without an MFA or Conditional Access challenge",
                              **evidence)
        try:
            return await self._policies(ctx, upn, probe.aadsts in MFA_CODES, evidence)
        except ReadFailed as exc:
            return cannot_read("the Conditional Access policies that apply to the account", exc, **evidence)

    async def _policies(self, ctx: Context, upn: str, mfa_seen: bool, evidence: dict[str, Any]) -> Finding:
        user = await read_account(ctx, upn, ["id"])
        if user is None:
            return Finding.masked(f"{upn} does not exist (see bad-credentials): no policy can be matched "
                                  "against it", ["bad-credentials"], **evidence)
        user_id = str(user["id"])
        policies = [as_dict(p) for p in await ctx.clients.graph.ca_policies()]
        account, unreadable = await read_account_scope(ctx, policies, user_id)
        verdicts = [(p, assess(p, account)) for p in policies]
        blocking: list[dict[str, Any]] = [
            {"id": p.get("id"), "name": p.get("displayName"), "controls": v.controls,
             "modified": p.get("modifiedDateTime")} for p, v in verdicts if v.blocks]
        uncertain: list[dict[str, Any]] = [
            {"id": p.get("id"), "name": p.get("displayName"), "controls": v.controls, "conditions": v.unknown}
            for p, v in verdicts if v.controls and v.unknown]
        evidence.update(account_id=user_id, policies=blocking, uncertain_policies=uncertain,
                        memberships_unreadable=unreadable)
        code = evidence["sign_in"].get("aadsts")
        if blocking:
            names = ", ".join(f"'{b['name']}' ({b['id']}: {'+'.join(b['controls'])})" for b in blocking)
            when = f"AADSTS{code}" if mfa_seen else f"after the current AADSTS{code} is solved"
            return Finding.found(f"Conditional Access {names} stops {upn} ({when}); a connector cannot "
                                 "answer an MFA prompt", **evidence)
        if uncertain:  # never ok: a policy the agent cannot fully evaluate may be what stops the account
            names = "; ".join(f"'{u['name']}' ({u['id']}): {', '.join(u['conditions'])}" for u in uncertain)
            return Finding.unknown(f"Conditional Access may stop {upn} (AADSTS{code}), but the agent cannot "
                                   f"evaluate {names}", **evidence)
        if not mfa_seen:
            return Finding.ok("no enforced Conditional Access policy requires MFA for the account",
                              **evidence)
        defaults = await ctx.clients.graph.security_defaults()
        evidence["security_defaults"] = bool(defaults is not None and defaults.is_enabled)
        if evidence["security_defaults"]:
            return Finding.found(f"security defaults require MFA for {upn} (AADSTS{code})", **evidence)
        return Finding.found(f"the sign-in of {upn} needs MFA (AADSTS{code}) but no enforced Conditional "
                             "Access policy the agent can evaluate covers it (per-user MFA?)", **evidence)


@register_fixer
class ExcludeFromPolicies(Fixer):
    """Add the account to excludeUsers of exactly the blocking policies (merged; undo restores the list)."""

    name = "exclude-account-from-ca"
    permissions = ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Application.Read.All")
    risk = Risk.HIGH  # it weakens a security policy for one account
    propagation_s = 300.0

    async def plan(self, ctx: Context, finding: Finding) -> Plan:
        ev = finding.evidence
        plan = Plan(ctx.cause, ctx.connector.name,
                    self.name, self.risk)
        user_id, blocking = ev.get("account_id"), ev.get("policies") or []
        if not blocking or not user_id:
            plan.note = SECURITY_DEFAULTS_NOTE if ev.get("security_defaults") else NO_POLICY_NOTE
            return plan
        # excludeUsers is right whether the policy takes the account in as a user, through a group, a role
        # or "All": an exclusion overrides any inclusion
        # (https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-users-groups).
        for item in blocking:
            policy = await self._read(ctx, str(item["id"]))
            excluded = strings((policy.get("conditions") or {}).get("users") or {}, "excludeUsers")
            if user_id not in excluded:
                merged = [*excluded, str(user_id)]
                plan.steps.append(self._step(ctx, policy, excluded, merged, "exclude-account",
                                             {"user_id": str(user_id)}))
        if not plan.steps:
            plan.note = "the account is already excluded from every blocking policy"
        return plan

    @staticmethod
    async def _read(ctx: Context, policy_id: str) -> dict[str, Any]:
        policy = await ctx.clients.graph.get_ca_policy(policy_id)
        if policy is None:
            raise LookupError(f"Conditional Access policy {policy_id} no longer exists")
        return as_dict(policy)

    @staticmethod
    def _step(ctx: Context, policy: dict[str, Any], before: list[str], after: list[str], action: str,
              extra: dict[str, Any]) -> Step:
        pid, name = str(policy.get("id")), policy.get("displayName")
        body = {"conditions": {"users": {"excludeUsers": after}}}
        what = "exclude the migration account from" if action == "exclude-account" \
            else "restore the exclusions of"
        call = ctx.clients.graph.call("PATCH", f"/identity/conditionalAccess/policies/{pid}", body)
        return Step(action, call,
                    before={"excludeUsers": before}, after={"excludeUsers": after},
                    params={"policy_id": pid, **extra}, undo={"policy_id": pid, "exclude_users": before},
                    description=f"{what} Conditional Access policy '{name}' (the full excludeUsers list is "
                                "sent: Graph replaces it)")

    async def apply_step(self, ctx: Context, step: Step) -> dict[str, Any]:
        """Merge again at write time (someone may have edited the policy since the plan)."""
        pid = str(step.params["policy_id"])
        policy = await self._read(ctx, pid)
        current = strings((policy.get("conditions") or {}).get("users") or {}, "excludeUsers")
        if step.action == "exclude-account":
            user_id = str(step.params["user_id"])
            target = current if user_id in current else [*current, user_id]
        elif step.action == "restore-exclusions":
            _refuse_if_modified(policy, step.params.get("expect_modified"))
            target = [str(u) for u in step.params["exclude_users"]]
        else:
            raise ValueError(f"{self.name} cannot apply {step.action!r}")
        await ctx.clients.graph.set_ca_excluded_users(pid, target)
        after = await self._read(ctx, pid)  # its new modifiedDateTime guards the undo
        return {"policy_id": pid, "exclude_users": current, "modified": after.get("modifiedDateTime")}

    async def settle(self, ctx: Context, step: Step) -> Settled | None:
        """Made when the account is in the policy's excludeUsers and was not before the fix."""
        if step.action != "exclude-account":
            return None
        pid, user_id = str(step.params["policy_id"]), str(step.params["user_id"])
        policy = await self._read(ctx, pid)
        current = strings((policy.get("conditions") or {}).get("users") or {}, "excludeUsers")
        before = [str(u) for u in (step.before or {}).get("excludeUsers") or []]
        if user_id not in current or user_id in before:
            return Settled(False)
        # restore what is there now minus the account: keeps edits made since; modified guards the rest
        return Settled(True, {"policy_id": pid, "exclude_users": [u for u in current if u != user_id],
                              "modified": policy.get("modifiedDateTime")})

    async def undo_step(self, ctx: Context, step: Step) -> Step:
        """PATCH the saved list back, refusing when the policy was changed after the fix."""
        undo = step.undo or {}
        policy = await self._read(ctx, str(undo["policy_id"]))
        current = strings((policy.get("conditions") or {}).get("users") or {}, "excludeUsers")
        saved = [str(u) for u in undo.get("exclude_users") or []]
        user_id = (step.params or {}).get("user_id")
        if step.action == "exclude-account" and user_id and str(user_id) not in current \
                and sorted(current) == sorted(saved):
            # an earlier undo's PATCH went through but its answer was lost: nothing left to restore
            raise AlreadyReversed(f"Conditional Access policy '{policy.get('displayName')}' no longer "
                                  "excludes the account")
        _refuse_if_modified(policy, undo.get("modified"))
        return self._step(ctx, policy, current, saved, "restore-exclusions",
                          {"exclude_users": saved, "expect_modified": undo.get("modified")})


def _refuse_if_modified(policy: dict[str, Any], expected: str | None) -> None:
    actual = policy.get("modifiedDateTime")
    if expected is not None and not _same_time(actual, expected):
        name = policy.get("displayName")
        raise RuntimeError(f"Conditional Access policy '{name}' was modified at {actual}, "
                           f"after the fix ({expected}): not overwriting that edit; restore its excludeUsers "
                           "by hand from the journal")


def _same_time(actual: Any, expected: str) -> bool:
    """The same instant however it is spelled (Graph's `Z` as read raw, or `+00:00` as older journals
    kept it from the typed model)."""
    from agent.clients.graph_view import parse_datetime

    if actual == expected:
        return True
    when = parse_datetime(str(actual)) if actual else None
    return when is not None and when == parse_datetime(expected)
