"""The agent's own credential per `admin.auth`, through azure-identity's own classes; config checks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.identity import (
    AzureCliCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from agent.clients.tokens import AssertionOnly, admin_credential
from agent.config.load import load_config
from agent.errors import ConfigError
from tests.config.test_config import GUID, MINIMAL


def _tenant(tmp_path: Path, admin: dict[str, Any]) -> Any:
    data = copy.deepcopy(MINIMAL)
    data["tenants"][0]["admin"] = {"client_id": GUID, **admin}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path).tenants[0]


@pytest.mark.parametrize("auth, expected", [
    ("workload-identity", WorkloadIdentityCredential), ("managed-identity", ManagedIdentityCredential),
    ("azure-cli", AzureCliCredential), ("default", DefaultAzureCredential),
])
def test_each_auth_method_is_azure_identitys_own_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       auth: str, expected: type) -> None:
    token_file = tmp_path / "federated-token"
    token_file.write_text("header.payload.signature")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))  # what AKS / GitHub Actions mount
    tenant = _tenant(tmp_path, {"auth": auth})
    assert tenant.admin.method == auth
    credential = admin_credential(tenant)
    assert isinstance(credential, expected)
    sharepoint = admin_credential(tenant, require_certificate=True)
    assert isinstance(sharepoint, AssertionOnly) and isinstance(sharepoint.credential, expected)


def test_certificate_and_secret_come_from_their_references(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_SECRET", "s3cret-value-for-the-test")
    assert isinstance(admin_credential(_tenant(tmp_path, {"client_secret": "env:ADMIN_SECRET"})),
                      ClientSecretCredential)
    with pytest.raises(ConfigError, match="auth: certificate needs certificate"):
        _tenant(tmp_path, {"auth": "certificate", "client_secret": "env:ADMIN_SECRET"})


def test_an_app_without_any_credential_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs client_secret or certificate, or an auth: such as"):
        _tenant(tmp_path, {})


def test_a_certificate_credential_is_built_from_the_pem(tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    cert = ca.issue_cert("agent.local", key_type=trustme.KeyType.RSA)  # Entra signs assertions with RS256
    pem = tmp_path / "admin.pem"
    pem.write_text(cert.private_key_pem.bytes().decode() + cert.cert_chain_pems[0].bytes().decode())
    tenant = _tenant(tmp_path, {"certificate": f"file:{pem}"})
    assert tenant.admin.method == "certificate"
    # the key is parsed once per process; each credential signs its assertions with it
    assert isinstance(admin_credential(tenant), ClientAssertionCredential)
