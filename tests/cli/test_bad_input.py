"""Bad state directories and journals: exit 2, one clear line naming the path, no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import agent_cli  # noqa: F401 (the fixture)

Prepare = Callable[[Path], Path]


def a_file(tmp: Path) -> Path:
    (tmp / "plain").write_text("not a folder")
    return tmp / "plain"


def uncreatable(tmp: Path) -> Path:
    return Path("/proc/no-such-dir/agent")


def garbage_journal(tmp: Path) -> Path:
    folder = tmp / "g"
    folder.mkdir(mode=0o700)
    (folder / "journal.sqlite3").write_bytes(b"this is not sqlite " * 100)
    (folder / "journal.sqlite3").chmod(0o600)
    return folder


def journal_is_a_folder(tmp: Path) -> Path:
    folder = tmp / "d"
    (folder / "journal.sqlite3").mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def world_writable(tmp: Path) -> Path:
    folder = tmp / "w"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


@pytest.mark.parametrize("command", ["diagnose", "history"])
@pytest.mark.parametrize("prepare, words", [
    (a_file, "is not a directory"), (uncreatable, "cannot create the state directory"),
    (garbage_journal, "cannot be used"), (journal_is_a_folder, "is not a file"),
    (world_writable, "chmod 700"),
])
def test_bad_state_dir_is_one_line_and_exit_2(agent_cli: Callable[..., object], tmp_path: Path,  # noqa: F811
                                              toy_config_path: Path, toy_playbooks_dir: Path,
                                              command: str, prepare: Prepare, words: str) -> None:
    folder = prepare(tmp_path)
    if command == "history" and prepare is world_writable:
        pytest.skip("history reads an existing journal only; it has none here")
    if command == "history" and prepare is uncreatable:
        pytest.skip("history creates nothing: a missing folder has no runs")
    args = [command, "--state-dir", str(folder)]
    if command == "diagnose":
        args += ["--config", str(toy_config_path), "--playbooks", str(toy_playbooks_dir)]
    result = agent_cli(*args, common=False)
    err = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 2, (result.stdout, err)  # type: ignore[attr-defined]
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
