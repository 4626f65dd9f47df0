"""The heal policy: which fixes a scheduled run may apply unattended, secret rotation, notification hooks."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.errors import BadInput
from agent.model import Finding, Risk, Status
from agent.yamlsrc import YamlSyntaxError, field_errors, read_yaml, validation_problems

if TYPE_CHECKING:
    from agent.grants.lifetime import Lifetimes

ENV_POLICY = "AGENT_HEAL_POLICY"
RiskLimit = Literal["none", "low", "medium", "high"]
WebhookFormat = Literal["json", "teams", "messagecard"]
SECRET_SCHEMES = ("env:", "file:", "keyvault:")
# statuses worth telling someone about; ok and skipped are not news
StatusName = Literal["ok", "found", "unknown", "planned", "fixed", "unverified", "failed", "skipped"]
DEFAULT_NOTIFY_ON: tuple[StatusName, ...] = ("found", "planned", "fixed", "unverified", "failed", "unknown")
_CAUSE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_RANK = {"none": -1, "low": 0, "medium": 1, "high": 2}


def _lifetime(value: str) -> str:
    """A grant lifetime such as 30d (agent.grants.lifetime)."""
    from agent.grants.lifetime import parse_lifetime

    parse_lifetime(value, "lifetime")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Webhook(_Strict):
    """Where a heal run's summary is posted: a generic JSON body or a Teams card."""

    name: str | None = None
    url: str  # https://..., http:// to a loopback host only, or a secret reference (env:, file:, keyvault:)
    format: WebhookFormat = "json"
    when: tuple[StatusName, ...] = DEFAULT_NOTIFY_ON  # not `on`: YAML 1.1 reads that key as true
    timeout_s: float = Field(default=5.0, gt=0, le=30)  # a slow hook must not hold up the scheduler

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith(SECRET_SCHEMES):
            from agent.config.secrets import SecretRef

            SecretRef(value)  # syntax only; the URL is read when the run posts
            return value
        check_webhook_url(value)
        return value

    @property
    def label(self) -> str:
        """How the hook is named in messages; never its URL (a Teams URL is a credential)."""
        return self.name or f"{self.format} webhook"

    def resolve_url(self, base_dir: Path | None = None) -> str:
        """The URL, read from its secret reference if it is one (file: paths are relative to the policy)."""
        if not self.url.startswith(SECRET_SCHEMES):
            return self.url
        from agent.config.secrets import SecretRef

        value = SecretRef(self.url, base_dir).resolve()
        check_webhook_url(value)
        return value


class Policy(_Strict):
    """What `agent heal` may do on its own; everything else stays pending for `agent approve`."""

    max_risk: RiskLimit = "medium"  # fixes up to this risk are applied; "none" applies nothing by risk
    allow: tuple[str, ...] = ()  # cause ids applied whatever their risk
    deny: tuple[str, ...] = ()  # cause ids never applied unattended (deny wins over allow and max_risk)
    rotate_expiring_days: int = Field(default=0, ge=0, le=365)  # rotate what expires within N days; 0: never
    # renew the agent's own certificate this many days before it expires (0: never)
    own_certificate_renew_days: int = Field(default=30, ge=0, le=365)
    notify: tuple[Webhook, ...] = ()
    deadline: str | None = None  # the run's limit (90s, 15m, 1h); default 15m; --deadline wins
    cause_deadline: str | None = None  # one cause's own work; default none; --cause-deadline wins
    # cause id (or default) -> lifetime of the grants its fix makes (30d): heal revokes them then
    grant_lifetime: dict[str, Annotated[str, AfterValidator(_lifetime)]] = Field(default_factory=dict)
    grant_warn_days: int = Field(default=7, ge=0, le=365)  # reports name grants expiring within N days
    _base_dir: Path | None = PrivateAttr(None)  # the policy file's folder: file: references start there

    @property
    def base_dir(self) -> Path | None:
        return self._base_dir

    @field_validator("deadline", "cause_deadline")
    @classmethod
    def _duration(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            from agent.deadline import parse_duration

            parse_duration(value, str(info.field_name))
        return value

    @property
    def deadline_s(self) -> float | None:
        from agent.deadline import parse_duration

        return None if self.deadline is None else parse_duration(self.deadline)

    @property
    def cause_deadline_s(self) -> float | None:
        from agent.deadline import parse_duration

        return None if self.cause_deadline is None else parse_duration(self.cause_deadline)

    @field_validator("grant_lifetime")
    @classmethod
    def _lifetime_keys(cls, values: dict[str, str]) -> dict[str, str]:
        for cause in values:
            if cause != "default" and not _CAUSE_ID.fullmatch(cause):
                raise ValueError(f"{cause!r} is not a cause id (kebab-case) or default")
        return values

    def lifetimes(self) -> Lifetimes:
        """The per-cause grant lifetimes of a heal run."""
        from agent.grants.lifetime import Lifetimes, parse_lifetime

        return Lifetimes(per_cause={c: parse_lifetime(t, c) for c, t in self.grant_lifetime.items()})

    @field_validator("allow", "deny")
    @classmethod
    def _ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _CAUSE_ID.fullmatch(value):
                raise ValueError(f"{value!r} is not a cause id (kebab-case, e.g. account-unlicensed)")
        return values

    @model_validator(mode="after")
    def _no_overlap(self) -> Policy:
        both = sorted(set(self.allow) & set(self.deny))
        if both:
            raise field_errors("Policy", [(("deny",), f"{', '.join(both)} both allowed and denied")])
        return self

    def check_causes(self, known: Iterable[str]) -> None:
        """Every cause id the policy names must be a playbook's; BadInput lists the valid ones."""
        valid = set(known)
        for key in ("allow", "deny", "grant_lifetime"):
            unknown = sorted(set(getattr(self, key)) - valid - {"default"})
            if unknown:
                raise BadInput(f"heal policy {key}: unknown cause id {', '.join(unknown)}; "
                               f"valid: {', '.join(sorted(valid))}")


@dataclass(frozen=True)
class Decision:
    """Whether the policy lets heal apply a plan, and why (shown with a pending plan)."""

    apply: bool
    reason: str


def decide(policy: Policy, cause: str, risk: Risk, finding: Finding | None) -> Decision:
    """deny, then the expiring-secret rule, then allow, then max_risk."""
    if cause in policy.deny:
        return Decision(False, f"the heal policy denies {cause}")
    days = expiring_in_days(finding)
    if days is not None:
        limit = policy.rotate_expiring_days
        if not limit or days > limit:
            rule = f"rotate_expiring_days is {limit}" if limit else "rotate_expiring_days is off"
            return Decision(False, f"expires in {days:g} day(s), not broken yet; {rule}")
    if cause in policy.allow:
        return Decision(True, f"the heal policy allows {cause}")
    if risk.rank <= _RANK[policy.max_risk]:
        return Decision(True, f"{risk.value} risk is within max_risk {policy.max_risk}")
    return Decision(False, f"{risk.value} risk is above the heal policy's max_risk {policy.max_risk}")


def expiring_in_days(finding: Finding | None) -> float | None:
    """Days left of a credential that still works (a warning), from the detector's `expiring_in_days`."""
    if finding is None or finding.status != Status.FOUND:
        return None
    value = finding.evidence.get("expiring_in_days")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None  # absent, or already expired: broken, so the ordinary rules apply
    return float(value)


def risk_limit(policy: Policy) -> Risk | None:
    """max_risk as a Risk (None for "none")."""
    return None if policy.max_risk == "none" else Risk(policy.max_risk)


def check_webhook_url(value: str) -> None:
    """https anywhere; plain http only to this machine (it would carry tenant details in clear)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL or a secret reference (env:, file:, keyvault:)")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("plain http is allowed only to localhost; use https")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def policy_path(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """--policy, else $AGENT_HEAL_POLICY, else None (the built-in default policy)."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    return Path(env[ENV_POLICY]) if env.get(ENV_POLICY) else None


def load_policy(path: Path | None) -> Policy:
    """The policy file validated, or the default; every error is one BadInput line naming file:line."""
    if path is None:
        return Policy()
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise BadInput(f"heal policy {exc.problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise BadInput(f"heal policy {path}: cannot read: {reason}") from None
    if doc.duplicate_keys:
        raise BadInput(f"heal policy {doc.duplicate_keys[0]}")
    data: Any = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise BadInput(f"heal policy {path}: must be a mapping (max_risk:, allow:, deny:, notify: ...)")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        lines = [str(p) for p in validation_problems(exc, doc, Policy)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise BadInput(f"heal policy {lines[0]}{more}") from None
    policy._base_dir = path.resolve().parent
    return policy
