"""agent.config.secrets: reference syntax, lazy resolution, redaction, and writing rotated secrets."""

from __future__ import annotations

import os
import stat
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from agent import redact
from agent.config.secrets import SecretRef, SecretStore, update_dotenv, write_secret
from agent.errors import SecretError


@pytest.fixture(autouse=True)
def _clean_redactor() -> Any:
    yield
    redact.clear()


class FakeVault:
    """Stands in for azure.keyvault.secrets.SecretClient; records the vault URL and the secrets."""

    instances: list[FakeVault] = []
    secrets: dict[str, str] = {}
    fail_with: Exception | None = None

    def __init__(self, vault_url: str, credential: Any) -> None:
        self.vault_url = vault_url
        FakeVault.instances.append(self)

    def get_secret(self, name: str) -> Any:
        if FakeVault.fail_with is not None:
            raise FakeVault.fail_with
        return types.SimpleNamespace(value=FakeVault.secrets[name])

    def set_secret(self, name: str, value: str) -> None:
        FakeVault.secrets[name] = value


@pytest.fixture
def fake_vault(monkeypatch: pytest.MonkeyPatch) -> type[FakeVault]:
    """Install fake azure.keyvault.secrets and azure.identity modules for the lazy imports."""
    secrets_mod = types.ModuleType("azure.keyvault.secrets")
    secrets_mod.SecretClient = FakeVault  # type: ignore[attr-defined]
    identity_mod = types.ModuleType("azure.identity")
    identity_mod.DefaultAzureCredential = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.keyvault.secrets", secrets_mod)
    monkeypatch.setitem(sys.modules, "azure.identity", identity_mod)
    monkeypatch.setattr(FakeVault, "instances", [])
    monkeypatch.setattr(FakeVault, "secrets", {"migsvc-password": "vault-held-password"})
    monkeypatch.setattr(FakeVault, "fail_with", None)
    return FakeVault


@pytest.mark.parametrize(
    "text",
    [
        "env:MIGSVC_PASSWORD",
        "file:admin.pem",
        "file:/etc/agent/secret",
        "keyvault:myvault/name-1",
        "keyvault:https://v.vault.usgovcloudapi.net/name",
    ],
)
def test_valid_references_parse(text: str) -> None:
    ref = SecretRef(text)
    assert str(ref) == text
    assert ref == SecretRef(text) and hash(ref) == hash(SecretRef(text))
    assert repr(ref) == f"SecretRef({text!r})"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hunter2-literal", "not a secret reference"),
        ("vault:x/y", "not a secret reference"),
        ("env:", "not a secret reference"),
        ("env:9LIVES", "env: needs an environment variable name"),
        ("keyvault:onlyname", "keyvault: needs VAULT/NAME"),
        ("keyvault:vault/bad_name", "keyvault: needs VAULT/NAME"),
    ],
)
def test_invalid_references_say_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        SecretRef(text)


@pytest.mark.parametrize("text", ["hunter2-literal", "pass:word-literal", "env:9LIVES-X"])
def test_invalid_references_never_echo_the_text(text: str) -> None:
    with pytest.raises(ValueError) as info:
        SecretRef(text)
    assert text not in str(info.value) and "literal" not in str(info.value) and "LIVES" not in str(info.value)


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_TEST_PW", "correct-horse-battery")
    assert SecretRef("env:AGENT_TEST_PW").resolve() == "correct-horse-battery"
    assert redact.redact("pw correct-horse-battery") == "pw ***"


def test_env_reference_missing_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_TEST_PW", raising=False)
    with pytest.raises(
        SecretError, match=r"^secret env:AGENT_TEST_PW: environment variable AGENT_TEST_PW is not set$"
    ):
        SecretRef("env:AGENT_TEST_PW").resolve()
    monkeypatch.setenv("AGENT_TEST_PW", "")
    with pytest.raises(SecretError, match="is empty"):
        SecretRef("env:AGENT_TEST_PW").resolve()


@pytest.mark.parametrize(
    ("content", "value"),
    [
        ("s3cret-value\n", "s3cret-value"),
        ("s3cret-value\r\n", "s3cret-value"),
        ("s3cret-value", "s3cret-value"),
        ("s3cret-value\n\n", "s3cret-value\n"),
        ("-----BEGIN X-----\nabc\n-----END X-----\n", "-----BEGIN X-----\nabc\n-----END X-----"),
    ],
)
def test_file_reference_strips_one_trailing_newline(tmp_path: Path, content: str, value: str) -> None:
    (tmp_path / "s.txt").write_bytes(content.encode())
    assert SecretRef("file:s.txt", tmp_path).resolve() == value


def test_file_reference_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "abs.txt").write_text("absolute-secret\n")
    assert SecretRef(f"file:{tmp_path / 'abs.txt'}", Path("/elsewhere")).resolve() == "absolute-secret"
    monkeypatch.chdir(tmp_path)
    assert SecretRef("file:abs.txt").path == tmp_path / "abs.txt"  # no base folder: the working folder


def test_missing_file_names_the_reference(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as info:
        SecretRef("file:gone.pem", tmp_path).resolve()
    assert str(info.value).startswith("secret file:gone.pem: cannot read ")
    assert "No such file" in str(info.value)


def test_keyvault_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.keyvault.secrets", None)  # import now raises ImportError
    with pytest.raises(SecretError, match=r"secret keyvault:v/n: needs the keyvault extra: pip install"):
        SecretRef("keyvault:v/n").resolve()
    with pytest.raises(SecretError, match="keyvault extra"):
        SecretStore("keyvault:v/n").write("new-value-123")


def test_keyvault_read_and_write(fake_vault: type[FakeVault]) -> None:
    assert SecretRef("keyvault:contoso-migration/migsvc-password").resolve() == "vault-held-password"
    assert fake_vault.instances[0].vault_url == "https://contoso-migration.vault.azure.net"
    assert redact.redact("vault-held-password") == "***"
    write_secret("keyvault:https://v.vault.azure.cn/rotated", "rotated-value-456")
    assert fake_vault.secrets["rotated"] == "rotated-value-456"
    assert fake_vault.instances[1].vault_url == "https://v.vault.azure.cn"


def test_keyvault_errors_name_only_the_type(fake_vault: type[FakeVault]) -> None:
    fake_vault.fail_with = PermissionError("Forbidden: details that may be long")
    with pytest.raises(SecretError) as info:
        SecretRef("keyvault:vault/name").resolve()
    assert str(info.value) == "secret keyvault:vault/name: key vault read failed (PermissionError)"


def test_file_store_writes_0600_atomically(tmp_path: Path) -> None:
    store = SecretStore("file:sub/new-secret.txt", tmp_path)
    store.write("rotated~secret.value")
    target = tmp_path / "sub" / "new-secret.txt"
    assert target.read_text() == "rotated~secret.value\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert SecretRef("file:sub/new-secret.txt", tmp_path).resolve() == "rotated~secret.value"
    assert sorted(p.name for p in target.parent.iterdir()) == ["new-secret.txt"]  # no temp file left
    assert redact.redact("rotated~secret.value") == "***"  # registered before it was written


def test_env_file_store_updates_one_line_and_keeps_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# connector settings\nOTHER=1\nexport CONNECTOR_SECRET=old\nTAIL=x\nCONNECTOR_SECRET=older\n"
    )
    env.chmod(0o640)
    monkeypatch.delenv("CONNECTOR_SECRET", raising=False)
    write_secret("env-file:.env#CONNECTOR_SECRET", "new.Secret~value", base_dir=tmp_path)
    assert (
        env.read_text() == "# connector settings\nOTHER=1\nexport CONNECTOR_SECRET=new.Secret~value\nTAIL=x\n"
    )
    assert stat.S_IMODE(env.stat().st_mode) == 0o640  # an existing file keeps its permissions
    assert os.environ["CONNECTOR_SECRET"] == "new.Secret~value"


def test_env_file_store_creates_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEW_SECRET", raising=False)
    SecretStore("env-file:conf/.env#NEW_SECRET", tmp_path).write("abc def")
    env = tmp_path / "conf" / ".env"
    assert env.read_text() == "NEW_SECRET='abc def'\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain-Value_1.~", "K=plain-Value_1.~"),
        ("with space", "K='with space'"),
        ("it's $x", 'K="it\'s \\$x"'),
    ],
)
def test_dotenv_quoting(value: str, line: str) -> None:
    assert update_dotenv("", "K", value) == line + "\n"


def test_write_secret_rejects_bad_store() -> None:
    with pytest.raises(SecretError, match=r"secret env:X: not a secret store; expected file:PATH"):
        write_secret("env:X", "value-1234")
    with pytest.raises(SecretError, match="env-file: needs PATH#NAME"):
        write_secret("env-file:.env", "value-1234")


def test_unwritable_store_names_the_reference(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(SecretError, match=r"^secret file:blocker/s\.txt: cannot write "):
        SecretStore("file:blocker/s.txt", tmp_path).write("value-1234")


class Holder(BaseModel):
    secret: SecretRef
    store: SecretStore | None = None


def test_pydantic_fields_validate_with_base_dir_context(tmp_path: Path) -> None:
    held = Holder.model_validate(
        {"secret": "file:x.txt", "store": "env-file:.env#N"}, context={"base_dir": tmp_path}
    )
    assert held.secret.path == tmp_path / "x.txt"
    assert held.store is not None and held.store.env_name == "N"
    assert held.model_dump() == {"secret": "file:x.txt", "store": "env-file:.env#N"}
    assert Holder.model_json_schema()["properties"]["secret"]["type"] == "string"
    assert Holder(secret=held.secret).secret is held.secret


def test_pydantic_rejects_non_strings() -> None:
    with pytest.raises(ValidationError, match="must be a secret reference string"):
        Holder.model_validate({"secret": 42})
