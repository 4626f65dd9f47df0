"""The schema of a playbook file: its fields, symptoms and detect/fix sections, with their own checks."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.kinds import MATCH_KINDS, ConnectorKind, ServiceName
from agent.regex_safety import backtracking_problem

Area = Literal["mail", "files", "sharepoint"]
AREAS: tuple[str, ...] = get_args(Area)
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _kebab(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("must be kebab-case: lower-case letters, digits and single dashes")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


def check_pattern(value: str | None) -> str | None:
    """A symptom's or clue's regular expression: it must compile."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        problem = backtracking_problem(value)
        if problem:
            raise ValueError(f"unsafe regular expression: {problem}; write it without nesting repeats")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Symptom(_Strict):
    """One thing `explain` looks for in an error: exactly one of the match kinds, with a weight."""

    code: str | None = None  # an error code such as AADSTS50126 or ErrorNonExistentMailbox
    text: str | None = None  # a phrase, matched case-insensitively
    pattern: str | None = None  # a regular expression
    status: int | None = None  # an HTTP status
    header: str | None = None  # a response header (name or "Name: value")
    exception: str | None = None  # an exception class name
    weight: Annotated[float, Field(gt=0)] = 1.0
    # a sign of one surface only (a site's 403): it counts where the text names one of these services, or
    # names no service at all, and not where it names only others (a 403 from Graph's directory API)
    services: list[ServiceName] | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return check_pattern(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Symptom:
        given = [k for k in MATCH_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a symptom needs exactly one of {', '.join(MATCH_KINDS)} (got {len(given)})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in MATCH_KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> str | int:
        value: str | int = getattr(self, self.kind)
        return value


class UseSpec(_Strict):
    """`detect:` or `fix:` — a registered name and the parameters its schema validates."""

    use: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("with_", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value  # `with:` left empty in YAML


class FixSpec(UseSpec):
    risk: Literal["low", "medium", "high"] | None = None  # None: the fixer's declared risk
    expires_after: str | None = None  # lifetime of the grants the fix makes (30d, 2w); None: permanent

    @field_validator("expires_after")
    @classmethod
    def _lifetime(cls, value: str | None) -> str | None:
        if value is not None:
            from agent.grants.lifetime import parse_lifetime

            parse_lifetime(value, "expires_after")
        return value


class RelationSpec(_Strict):
    """`masked_by:`, `implied_by:` or `after:` entry: another cause's id and why the relation holds."""

    cause: Annotated[str, AfterValidator(_kebab)]
    why: Annotated[str, AfterValidator(_not_blank)]


class PlaybookSpec(_Strict):
    """The structure of a playbook file (stage 2); names and parameters are checked after it."""

    id: Annotated[str, AfterValidator(_kebab)]
    title: Annotated[str, AfterValidator(_not_blank)]
    area: Area
    applies_to: Annotated[list[ConnectorKind], Field(min_length=1)]
    symptoms: Annotated[list[Symptom], Field(min_length=1)]
    detect: UseSpec
    fix: FixSpec | None = None  # advice-only causes have no fix
    advice: Annotated[str, AfterValidator(_not_blank)]
    references: list[Annotated[str, AfterValidator(_url)]] = Field(default_factory=list)
    # relations to other causes (agent.playbook.relations): checked across files once every file is read
    masked_by: list[RelationSpec] = Field(default_factory=list)
    implied_by: list[RelationSpec] = Field(default_factory=list)
    after: list[RelationSpec] = Field(default_factory=list)
