"""Masks secrets in text, nested data and log records: registered values plus anything token-shaped."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4  # shorter values would mask ordinary words and digits everywhere

# Names (compared lower-case, without _ and -) whose values are secrets wherever they appear.
SECRET_KEYS = frozenset(
    {
        "password",
        "newpassword",
        "currentpassword",
        "passwd",
        "secret",
        "clientsecret",
        "secrettext",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientassertion",
        "privatekey",
        "assertion",
    }
)
_KEY_NAMES = r"client_secret|password|client_assertion|assertion|access_token|refresh_token|id_token"
_JSON_NAMES = _KEY_NAMES + r"|secretText|secret|clientSecret|newPassword|privateKey"

# Token-shaped things, masked even when nobody registered them; each keeps its label for readability.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S), MASK),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), MASK),
    # an Authorization header (or dict entry) hides its credential whatever it looks like
    (
        re.compile(
            r"\b(Authorization[\"']?\s*[:=]\s*[\"']?(?:(?:Bearer|Basic|NTLM|Negotiate)\s+)?)[^\s\"',}]+", re.I
        ),
        rf"\1{MASK}",
    ),
    # elsewhere, token68 credentials only (with a digit, unlike prose), so a challenge such as
    # `Bearer authorization_uri="..."` or a sentence about "Basic authentication" stays readable
    (
        re.compile(
            r"\b(Bearer|Basic|NTLM|Negotiate)\s+(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,}"
            r"(?:=+(?![A-Za-z0-9._~+/=\"-])|(?![A-Za-z0-9._~+/=-]))",
            re.I,
        ),
        rf"\1 {MASK}",
    ),
    (re.compile(rf"\b({_KEY_NAMES})=[^&\s\"',;]+", re.I), rf"\1={MASK}"),
    (re.compile(rf"([\"']({_JSON_NAMES})[\"']\s*:\s*)([\"'])(?:\\.|(?!\3).)*\3", re.I), rf"\1\3{MASK}\3"),
)

# Every _PATTERNS match contains one of these words, so a text without any of them skips the patterns:
# a fleet report holds thousands of user names, each otherwise run through every pattern.
_TRIGGER = re.compile(rf"-----BEGIN|eyJ|authorization|bearer|basic|ntlm|negotiate|{_JSON_NAMES}", re.I)

_lock = threading.Lock()
_values: set[str] = set()
# Short texts already redacted under the current values (a fleet's thousands of user names recur in its
# evidence, plans, journal and output: each was scanned many times). The memo lives with its values:
# register() starts a new one, so no text is answered from before a new secret.
_MEMO_TEXT, _MEMO_SIZE = 256, 200_000
_state: tuple[tuple[str, ...], dict[str, str]] = ((), {})


def register(value: str | None) -> None:
    """Mask `value` (and its URL- and JSON-escaped forms) in everything redacted from now on."""
    if not value or len(value) < MIN_LENGTH:
        return
    # A secret travels escaped in form bodies and JSON, so mask those spellings too.
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        _renew()


def clear() -> None:
    """Forget every registered value (tests start clean)."""
    with _lock:
        _values.clear()
        _renew()


def _renew() -> None:
    """New (values, memo); callers hold _lock. Longest first, so a value that contains another is masked
    whole. Plain substring replacement, not one regular expression of all values: a private key's PEM is
    kilobytes of literal, and compiling that alternation again at each register() cost 0.1 s a run."""
    global _state
    _state = (tuple(sorted(_values, key=len, reverse=True)), {})


def redact(text: str) -> str:
    """`text` with registered values and token-looking things replaced by ***."""
    if not text:
        return text
    values, memo = _state  # one read: a concurrent register() swaps both, never half of them
    if len(text) > _MEMO_TEXT:
        return _redact(text, values)
    done = memo.get(text)
    if done is None:
        done = _redact(text, values)
        if len(memo) < _MEMO_SIZE:
            memo[text] = done
    return done


def _redact(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    if _TRIGGER.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (password, client_secret, secretText ...)."""
    return key.replace("_", "").replace("-", "").lower() in SECRET_KEYS


def redact_obj(obj: Any) -> Any:
    """A copy of `obj` with values under secret-ish keys as *** and every string redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: _redact_item(k, v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(redact_obj(v) for v in obj)
    return obj


def _redact_item(key: Any, value: Any) -> Any:
    if value is None or value == "":
        return value  # nothing to hide, and "no secret set" is useful evidence
    if isinstance(key, str) and is_secret_key(key):
        return MASK
    if isinstance(key, str) and key.lower() == "key" and isinstance(value, str) and "PRIVATE KEY" in value:
        return MASK
    return redact_obj(value)


class RedactingFilter(logging.Filter):
    """Rewrites each log record's message (and traceback text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Format the traceback now so the handler's formatter uses the redacted text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_previous_factory: Callable[..., logging.LogRecord] | None = None


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Redact every log record: a filter on `logger` (default root) and its handlers, and a record
    factory so handlers added later, and records of child loggers, are covered too; idempotent.

    A logger's own filters never see records propagated from child loggers, hence the factory.
    """
    global _previous_factory
    target = logger if logger is not None else logging.getLogger()
    existing = next((f for f in target.filters if isinstance(f, RedactingFilter)), None)
    flt = existing or RedactingFilter()
    for owner in [target, *target.handlers]:
        if not any(isinstance(f, RedactingFilter) for f in owner.filters):
            owner.addFilter(flt)
    with _lock:
        if _previous_factory is None:
            previous = _previous_factory = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                flt.filter(record)
                return record

            logging.setLogRecordFactory(factory)
    return flt


def uninstall(logger: logging.Logger | None = None) -> None:
    """Undo install(): restore the record factory and drop the filters (tests)."""
    global _previous_factory
    target = logger if logger is not None else logging.getLogger()
    for owner in [target, *target.handlers]:
        for flt in [f for f in owner.filters if isinstance(f, RedactingFilter)]:
            owner.removeFilter(flt)
    with _lock:
        if _previous_factory is not None:
            logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None
