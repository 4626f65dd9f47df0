"""A folder of config files, one per customer, read as one config; `--tenant` keeps one tenant's part."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.directory import select_tenant
from agent.config.load import load_config
from agent.errors import ConfigError
from tests.conftest import TOY_CONFIG


def customer(folder: Path, name: str, tenant_id: str | None = None) -> Path:
    text = TOY_CONFIG.replace("contoso", name).replace("mail1", f"{name}-mail").replace(
        "files1", f"{name}-files")
    if tenant_id:
        text = text.replace(f"tenant_id: {name}.onmicrosoft.com", f"tenant_id: {tenant_id}")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_file_s_tenants_and_connectors_in_one_config(tmp_path: Path) -> None:
    for name in ("fabrikam", "contoso"):
        customer(tmp_path, name)
    (tmp_path / "notes.txt").write_text("not a config")
    config = load_config(tmp_path)
    assert [t.name for t in config.tenants] == ["contoso", "fabrikam"]  # name order
    assert config.tenant_of("fabrikam-mail").name == "fabrikam"
    one = select_tenant(config, "fabrikam")
    assert [t.name for t in one.tenants] == ["fabrikam"]
    assert [c.name for c in one.connectors] == ["fabrikam-mail", "fabrikam-files"]
    assert select_tenant(config, "CONTOSO.onmicrosoft.com").tenants[0].name == "contoso"  # by tenant id


def test_a_name_in_two_files_names_both(tmp_path: Path) -> None:
    customer(tmp_path, "contoso")
    (tmp_path / "copy.yaml").write_text((tmp_path / "contoso.yaml").read_text())
    with pytest.raises(ConfigError, match=r"copy\.yaml: tenant 'contoso' is also in .*contoso\.yaml"):
        load_config(tmp_path)


def test_an_empty_folder_and_an_unknown_tenant_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.yaml config files"):
        load_config(tmp_path)
    customer(tmp_path, "contoso")
    with pytest.raises(ConfigError, match="unknown tenant 'nope'; valid: contoso"):
        select_tenant(load_config(tmp_path), "nope")


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    customer(tmp_path, "contoso")
    (tmp_path / "broken.yaml").write_text("tenants: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        load_config(tmp_path)
