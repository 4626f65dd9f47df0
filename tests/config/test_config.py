"""Tests for agent.config.model: loading, field errors with file:line and choices, cross-field checks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import redact
from agent.config.load import load_config
from agent.config.model import Config, GroupScope
from agent.config.secrets import SecretRef, SecretStore
from agent.errors import BadInput, ConfigError, SecretError
from agent.kinds import CONNECTOR_KINDS

DATA = Path(__file__).resolve().parents[1] / "data" / "configs"
EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example.yaml"
GUID = "11111111-1111-1111-1111-111111111111"

MINIMAL: dict[str, Any] = {
    "tenants": [
        {
            "name": "contoso",
            "tenant_id": "contoso.onmicrosoft.com",
            "admin": {"client_id": GUID, "client_secret": "env:ADMIN_SECRET"},
        },
    ],
    "connectors": [
        {
            "name": "mail",
            "tenant": "contoso",
            "kind": "exchange-online",
            "account": {"username": "migsvc@contoso.onmicrosoft.com", "password": "env:MIGSVC_PASSWORD"},
        },
    ],
}


@pytest.fixture(autouse=True)
def _clean_redactor() -> Any:
    yield
    redact.clear()


@pytest.fixture
def write_config(tmp_path: Path) -> Any:
    """Write a config dict (MINIMAL changed by a function) to a file and return its path."""

    def write(change: Any = None) -> Path:
        data = copy.deepcopy(MINIMAL)
        if change is not None:
            change(data)
        path = tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


def test_example_config_loads_and_covers_every_connector_kind() -> None:
    config = load_config(EXAMPLE)
    assert {c.kind for c in config.connectors} == set(CONNECTOR_KINDS)
    tenant = config.tenants[0]
    assert tenant.endpoints.sharepoint_admin == "https://contoso-admin.sharepoint.com"
    onprem = config.connector("mail-onprem")
    assert config.ews_url(onprem) == "https://mail.contoso.com/EWS/Exchange.asmx"
    assert config.ews_url(config.connector("mail-exo")) == tenant.endpoints.ews_url
    assert config.connector("files-onedrive").scope.users == GroupScope(group="Migration wave 1")


def test_good_config_models_and_lookups() -> None:
    config = load_config(DATA / "good.yaml")
    contoso, fabrikam = config.tenants
    assert contoso.endpoints.onedrive_host == "https://contoso-my.sharepoint.com"  # derived
    assert fabrikam.tenant_id == "5E3A1C2B-0000-4000-8000-000000000001"
    assert fabrikam.endpoints.sharepoint_root == "https://fabrikam.example.com"  # trailing / dropped
    assert fabrikam.endpoints.onedrive_host is None  # a GUID tenant derives nothing
    sites = config.connector("sites")
    assert config.tenant_of(sites) is fabrikam
    assert config.tenant_of("mail") is contoso
    assert sites.app is not None and isinstance(sites.app.secret_store, SecretStore)
    assert sites.app.secret_store.path == DATA / "secrets" / ".env"
    assert sites.target_site is not None and sites.target_site.template == "STS#3"
    assert sites.scope.users == ["alice@contoso.com"]


def test_file_secret_resolves_next_to_the_config_and_is_registered() -> None:
    config = load_config(DATA / "good.yaml")
    ref = config.tenants[0].admin.client_secret
    assert isinstance(ref, SecretRef)
    assert ref.resolve() == "admin-secret-from-file"
    assert redact.redact("secret is admin-secret-from-file") == "secret is ***"


def test_missing_secret_loads_but_resolving_names_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_TEST_UNSET_PASSWORD", raising=False)
    config = load_config(DATA / "good.yaml")  # loads: secrets are resolved lazily
    account = config.connector("mail").account
    assert account is not None
    with pytest.raises(SecretError) as info:
        account.password.resolve()
    assert "env:AGENT_TEST_UNSET_PASSWORD" in str(info.value)
    assert isinstance(info.value, BadInput)


def test_missing_secret_file_names_reference_not_value() -> None:
    config = load_config(DATA / "good.yaml")
    cert = config.tenants[1].admin.certificate
    assert cert is not None
    with pytest.raises(SecretError, match=r"secret file:secrets/not-there\.pem: cannot read"):
        cert.resolve()


def test_secret_refs_serialise_as_references() -> None:
    dumped = load_config(DATA / "good.yaml").model_dump(mode="json")
    assert dumped["tenants"][0]["admin"]["client_secret"] == "file:secrets/admin-secret.txt"
    assert "admin-secret-from-file" not in str(dumped)


def test_yaml_syntax_error_has_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "syntax-error.yaml")
    assert str(info.value).startswith(f"{DATA / 'syntax-error.yaml'}:4: YAML syntax error")


def test_bad_kind_names_file_line_field_and_choices() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "bad-kind.yaml")
    message = str(info.value)
    assert message.startswith(f"{DATA / 'bad-kind.yaml'}:12: connectors[1].kind: invalid value 'one-drive'")
    assert "valid: exchange-online, exchange-onprem, onedrive, sharepoint" in message
    assert "\n" not in message


def test_unknown_tenant_lists_valid_tenants() -> None:
    with pytest.raises(
        ConfigError,
        match=r":10: connectors\[0\]\.tenant: unknown tenant 'contosoo'; "
        r"valid: contoso, fabrikam$",
    ):
        load_config(DATA / "unknown-tenant.yaml")


def test_literal_secret_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "literal-secret.yaml")
    message = str(info.value)
    assert "tenants[0].admin.client_secret: not a secret reference" in message
    assert "pasted" not in message and "Xq8" not in message


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(data: Any) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _delete(path: tuple[Any, ...]) -> Any:
    def change(data: Any) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def _add_connector(**fields: Any) -> Any:
    def change(data: Any) -> None:
        data["connectors"].append({"name": "extra", "tenant": "contoso", **fields})

    return change


ACCOUNT = {"username": "migsvc@contoso.onmicrosoft.com", "password": "env:P"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _set(("connectors", 0, "acount"), {}),
            "connectors[0].acount: unknown field 'acount'; valid: account, app,",
        ),
        (
            _set(("tenants", 0, "admin", "clientid"), GUID),
            "unknown field 'clientid'; valid: auth, certificate, client_id",
        ),
        (
            _delete(("tenants", 0, "admin", "client_secret")),
            "tenants[0].admin.client_secret: the admin app needs client_secret or certificate",
        ),
        (
            _set(("tenants", 0, "admin", "client_id"), "not-a-guid"),
            "tenants[0].admin.client_id: must be a GUID",
        ),
        (_set(("tenants", 0, "tenant_id"), "contoso"), "tenants[0].tenant_id: must be a domain"),
        (
            _set(("tenants", 0, "endpoints"), {"graph_url": "http://graph.example.com"}),
            "tenants[0].endpoints.graph_url: must be an https:// URL",
        ),
        (
            _set(("connectors", 0, "account", "auth"), "kerberos"),
            "connectors[0].account.auth: invalid value 'kerberos'; valid: oauth, basic, ntlm",
        ),
        (
            _set(("connectors", 0, "account", "password"), "env:1BAD"),
            "env: needs an environment variable name",
        ),
        (
            _set(("connectors", 0, "scope"), {"users": {"groups": "x"}}),
            "connectors[0].scope.users: must be all, a list of UPNs, or {group: <group id or name>}",
        ),
        (_set(("connectors", 0, "scope"), {"users": 5}), "connectors[0].scope.users: must be all"),
        (
            _add_connector(kind="exchange-onprem", account=ACCOUNT),
            "connectors[1].ews_url: an exchange-onprem connector needs ews_url",
        ),
        (
            _add_connector(kind="onedrive"),
            "connectors[1].account: a onedrive connector needs an app, an account",
        ),
        (
            _add_connector(
                kind="exchange-online", account=ACCOUNT, target_site={"url": "https://x.example.com"}
            ),
            "connectors[1].target_site: target_site is only for sharepoint connectors",
        ),
        (
            _add_connector(kind="exchange-online", account={**ACCOUNT, "password": None}),
            "connectors[1].account.password: must be a secret reference string",
        ),
        (_set(("connectors", 0, "name"), "bad name"), "connectors[0].name: must be letters, digits"),
        (
            _set(("tenants", 0, "endpoints"), {"ca_bundle": "missing-ca.pem"}),
            "tenants[0].endpoints.ca_bundle: file not found:",
        ),
        (_set(("state_dir",), 5), "state_dir: must be a file path"),
    ],
)
def test_field_errors_name_the_field_path(write_config: Any, change: Any, expected: str) -> None:
    path = write_config(change)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:")
    assert expected in message
    assert "\n" not in message


def test_duplicate_names_and_the_line_of_the_second(write_config: Any) -> None:
    def twice(data: Any) -> None:
        data["connectors"].append(copy.deepcopy(data["connectors"][0]))

    path = write_config(twice)
    lines = path.read_text().splitlines()
    second = [i for i, line in enumerate(lines, 1) if "name: mail" in line][1]
    with pytest.raises(
        ConfigError,
        match=rf":{second}: connectors\[1\]\.name: duplicate name 'mail' "
        r"\(also connectors\[0\]\)",
    ):
        load_config(path)


def test_guid_tenant_needs_sharepoint_urls_for_files_connectors(write_config: Any) -> None:
    def change(data: Any) -> None:
        data["tenants"][0]["tenant_id"] = "5e3a1c2b-0000-4000-8000-000000000001"
        data["connectors"][0]["kind"] = "onedrive"

    with pytest.raises(ConfigError, match=r"tenants\[0\]\.endpoints\.sharepoint_root: required by onedrive"):
        load_config(write_config(change))


def test_several_errors_are_counted_on_one_line(write_config: Any) -> None:
    def change(data: Any) -> None:
        data["connectors"][0]["kind"] = "x"
        data["tenants"][0]["admin"]["client_id"] = "y"

    with pytest.raises(ConfigError, match=r"\(and 1 more\)$"):
        load_config(write_config(change))


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, write_config: Any) -> None:
    (tmp_path / "ca.pem").write_text("test CA placeholder\n")
    config = load_config(write_config(_set(("tenants", 0, "endpoints"), {"ca_bundle": "ca.pem"})))
    assert config.tenants[0].endpoints.ca_bundle == tmp_path / "ca.pem"


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("tenants: []\nconnectors: []\ntenants: []\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:3: duplicate key 'tenants' \(first on line 1\)"):
        load_config(path)


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n"])
def test_a_config_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(path)


def test_missing_or_binary_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config: No such file"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"bin\.yaml: not UTF-8 text"):
        load_config(tmp_path / "bin.yaml")


def test_unknown_connector_lists_valid_names() -> None:
    config = load_config(DATA / "good.yaml")
    with pytest.raises(ConfigError, match=r"unknown connector 'mial'; valid: mail, sites"):
        config.connector("mial")


def test_config_can_be_built_in_code() -> None:
    config = Config.model_validate(MINIMAL)
    account = config.connectors[0].account
    assert account is not None and str(account.password) == "env:MIGSVC_PASSWORD"
    assert account.password.base_dir is None
