"""Secret references (env:, file:, keyvault:) resolved lazily, and stores a rotated secret goes to."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from agent import redact
from agent.errors import SecretError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAULT_SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
_DOTENV_PLAIN = re.compile(r"[A-Za-z0-9_.~+/=:@%,-]*")
KEYVAULT_HINT = "needs the keyvault extra: pip install 'm365-401-agent[keyvault]'"


class _Ref:
    """A `scheme:target` string checked when the config loads; never holds a secret value itself."""

    schemes: ClassVar[tuple[str, ...]]
    kind: ClassVar[str]
    examples: ClassVar[str]

    def __init__(self, text: str, base_dir: Path | None = None) -> None:
        scheme, sep, target = text.partition(":")
        if not sep or scheme not in self.schemes or not target:
            # Never echo the text: someone may have pasted the secret itself here.
            raise ValueError(f"not a {self.kind}; expected {self.examples}")
        self.text, self.scheme, self.target, self.base_dir = text, scheme, target, base_dir
        self._check()

    def _check(self) -> None:
        """Per-scheme syntax checks; raise ValueError."""
        if self.scheme == "keyvault":
            vault, _, name = self.target.rpartition("/")
            if not vault or not _VAULT_SECRET_NAME.fullmatch(name):
                raise ValueError("keyvault: needs VAULT/NAME (NAME: letters, digits and dashes)")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str(other) == self.text

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.text))

    @property
    def path(self) -> Path:
        """The local file a file:/env-file: reference points at; relative to the config's folder."""
        raw = self.target.rpartition("#")[0] if self.scheme == "env-file" else self.target
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (self.base_dir or Path.cwd()) / path
        return path

    @property
    def vault_url(self) -> str:
        """https://VAULT.vault.azure.net, or VAULT itself when it is already a URL (sovereign clouds)."""
        vault = self.target.rpartition("/")[0]
        return vault if vault.startswith("https://") else f"https://{vault}.vault.azure.net"

    @property
    def vault_secret_name(self) -> str:
        return self.target.rpartition("/")[2]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "description": f"a {cls.kind}: {cls.examples}"}

    @classmethod
    def _validate(cls, value: Any, info: core_schema.ValidationInfo) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError(f"must be a {cls.kind} string ({cls.examples})")
        # load_config passes the config file's folder so relative paths mean "next to the config".
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base_dir")
        return cls(value, Path(base) if base is not None else None)


class SecretRef(_Ref):
    """Where a secret comes from: env:NAME, file:PATH or keyvault:VAULT/NAME; `.resolve()` reads it."""

    schemes = ("env", "file", "keyvault")
    kind = "secret reference"
    examples = "env:NAME, file:PATH or keyvault:VAULT/NAME"

    def _check(self) -> None:
        super()._check()
        if self.scheme == "env" and not _ENV_NAME.fullmatch(self.target):
            raise ValueError("env: needs an environment variable name, e.g. env:MIGSVC_PASSWORD")

    def resolve(self) -> str:
        """The secret value, registered with the redactor before it is returned."""
        if self.scheme == "env":
            value = self._from_env()
        elif self.scheme == "file":
            value = self._from_file()
        else:
            value = self._from_keyvault()
        redact.register(value)
        return value

    def _from_env(self) -> str:
        value = os.environ.get(self.target)
        if value is None:
            raise SecretError(self.text, f"environment variable {self.target} is not set")
        if not value:
            raise SecretError(self.text, f"environment variable {self.target} is empty")
        return value

    def _from_file(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(
                self.text, f"cannot read {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None
        # Editors add one trailing newline; the secret does not include it.
        value = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
        if not value:
            raise SecretError(self.text, f"{self.path} is empty")
        return value

    def _from_keyvault(self) -> str:
        client = _keyvault_client(self)
        try:
            value = client.get_secret(self.vault_secret_name).value
        except Exception as exc:  # azure errors vary; the type names the problem without leaking content
            raise SecretError(self.text, f"key vault read failed ({type(exc).__name__})") from None
        if not value:
            raise SecretError(self.text, "key vault secret has no value")
        return str(value)


class SecretStore(_Ref):
    """Where a rotated secret is written: file:PATH, env-file:PATH#NAME or keyvault:VAULT/NAME."""

    schemes = ("file", "env-file", "keyvault")
    kind = "secret store"
    examples = "file:PATH, env-file:PATH#NAME or keyvault:VAULT/NAME"

    def _check(self) -> None:
        super()._check()
        if self.scheme == "env-file":
            path, _, name = self.target.rpartition("#")
            if not path or not _ENV_NAME.fullmatch(name):
                raise ValueError("env-file: needs PATH#NAME, e.g. env-file:.env#CONNECTOR_SECRET")

    @property
    def env_name(self) -> str:
        return self.target.rpartition("#")[2]

    def write(self, value: str) -> None:
        """Store `value`; it is registered with the redactor first so no later output can show it."""
        redact.register(value)
        try:
            if self.scheme == "file":
                atomic_write(self.path, value + "\n", file_mode(self.path))
            elif self.scheme == "env-file":
                self._write_env_file(value)
            else:
                self._write_keyvault(value)
        except OSError as exc:
            raise SecretError(
                self.text, f"cannot write {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None

    @property
    def previous_path(self) -> Path | None:
        """Where a pending rotation keeps the old value of a file: store (PATH.previous), else None."""
        return self.path.with_name(self.path.name + ".previous") if self.scheme == "file" else None

    def begin_rotation(self, old: str, new: str) -> None:
        """Store `new` before the tenant gets it, keeping `old` recoverable next to it (0600), so neither
        is lost whatever happens to the write in between."""
        redact.register(old)
        previous = self.previous_path
        if previous is not None:
            try:
                atomic_write(previous, old + "\n", 0o600)
            except OSError as exc:
                raise SecretError(self.text, f"cannot write {previous}: "
                                             f"{exc.strerror or type(exc).__name__}") from None
        self.write(new)

    def end_rotation(self, old: str | None) -> None:
        """The write's answer came: put `old` back when it was refused (None: keep the new value), and
        drop the recovery copy. A lost answer calls neither: both values stay."""
        if old is not None:
            self.write(old)
        previous = self.previous_path
        if previous is not None:
            previous.unlink(missing_ok=True)

    def _write_env_file(self, value: str) -> None:
        old = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        atomic_write(self.path, update_dotenv(old, self.env_name, value), file_mode(self.path))
        # This process reads env:NAME for the verify probe: let it see what a restart would see.
        os.environ[self.env_name] = value

    def _write_keyvault(self, value: str) -> None:
        client = _keyvault_client(self)
        try:
            client.set_secret(self.vault_secret_name, value)
        except Exception as exc:  # see _from_keyvault
            raise SecretError(self.text, f"key vault write failed ({type(exc).__name__})") from None


def write_secret(store: SecretStore | str, value: str, base_dir: Path | None = None) -> None:
    """Write a new secret value into a store given as a SecretStore or its `scheme:target` text."""
    if isinstance(store, str):
        try:
            store = SecretStore(store, base_dir)
        except ValueError as exc:
            raise SecretError(str(store), str(exc)) from None  # a store location is not a secret
    store.write(value)


def update_dotenv(text: str, name: str, value: str) -> str:
    """`text` (a dotenv file) with NAME set to value; other lines kept, later duplicates of NAME dropped."""
    line = f"{name}={_dotenv_quote(value)}"
    pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=")
    out: list[str] = []
    replaced = False
    for old in text.splitlines():
        match = pattern.match(old)
        if match is None:
            out.append(old)
        elif not replaced:
            out.append((match.group(1) or "") + line)
            replaced = True
    if not replaced:
        out.append(line)
    return "\n".join(out) + "\n"


def _dotenv_quote(value: str) -> str:
    if _DOTENV_PLAIN.fullmatch(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def file_mode(path: Path, new: int = 0o600) -> int:
    """Keep an existing file's permissions; a new file gets `new` (a secret: its owner only)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return new


def atomic_write(path: Path, text: str, mode: int) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _keyvault_client(ref: _Ref) -> Any:
    """A SecretClient for the reference's vault; the SDK is an optional extra, imported only here."""
    try:
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise SecretError(ref.text, KEYVAULT_HINT) from None
    from azure.identity import DefaultAzureCredential

    return SecretClient(vault_url=ref.vault_url, credential=DefaultAzureCredential())
