"""The simulated tenant's certificate keys are generated once per user and read back afterwards; a damaged
or foreign keystore is never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.simulator import keystore


def _numbers(key: object) -> int:
    return key.private_numbers().d  # type: ignore[attr-defined]


@pytest.fixture
def tmp_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(keystore.tempfile, "gettempdir", lambda: str(tmp_path))
    return tmp_path / f"agent-sim-keys-{os.getuid()}"


def test_a_key_is_kept_and_read_back(tmp_keys: Path) -> None:
    first = keystore.simulated_key("admin")
    assert _numbers(keystore.simulated_key("admin")) == _numbers(first)
    assert _numbers(keystore.simulated_key("connector")) != _numbers(first)
    kept = tmp_keys / "admin-rsa2048.pem"
    assert kept.stat().st_mode & 0o777 == 0o600 and tmp_keys.stat().st_mode & 0o777 == 0o700
    loaded = serialization.load_pem_private_key(kept.read_bytes(), None)
    assert _numbers(loaded) == _numbers(first)


def test_a_damaged_key_is_replaced(tmp_keys: Path) -> None:
    first = keystore.simulated_key("admin")
    (tmp_keys / "admin-rsa2048.pem").write_text("-----BEGIN PRIVATE KEY-----\nbroken\n")
    second = keystore.simulated_key("admin")
    assert _numbers(second) != _numbers(first) and second.key_size == 2048
    assert _numbers(keystore.simulated_key("admin")) == _numbers(second)


def test_a_folder_others_can_write_is_not_used(tmp_keys: Path) -> None:
    tmp_keys.mkdir(mode=0o700)
    tmp_keys.chmod(0o777)
    first = keystore.simulated_key("admin")
    assert not (tmp_keys / "admin-rsa2048.pem").exists()
    assert _numbers(keystore.simulated_key("admin")) != _numbers(first)  # nothing kept, nothing read
