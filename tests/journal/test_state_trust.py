"""The state directory is not trusted blindly: symlinked lock, foreign or loose files, edited undo data."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from agent.errors import BadInput
from agent.journal.lock import HealLock
from agent.journal.statedir import JOURNAL_NAME, state_dir
from agent.journal.store import KEY_NAME, Journal
from agent.model import Call, Step

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_symlinked_lock_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    folder = state_dir(tmp_path / "state", {})
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (folder / "heal.lock").symlink_to(victim)
    with pytest.raises(BadInput, match=r"heal\.lock is a symbolic link"):
        HealLock(folder).acquire()
    assert victim.read_text() == "precious"


def test_new_state_files_are_private(tmp_path: Path) -> None:
    folder = state_dir(tmp_path / "state", {})
    with Journal.in_dir(folder), HealLock(folder):
        assert mode(folder) == 0o700
        assert mode(folder / JOURNAL_NAME) == mode(folder / KEY_NAME) == mode(folder / "heal.lock") == 0o600


@pytest.mark.parametrize("target, chmod, fix", [("", 0o777, "chmod 700"), ("", 0o770, "chmod 700"),
                                                (JOURNAL_NAME, 0o666, "chmod 600"),
                                                (JOURNAL_NAME, 0o620, "chmod 600")])
def test_a_state_dir_or_journal_writable_by_others_is_refused(tmp_path: Path, target: str, chmod: int,
                                                              fix: str) -> None:
    folder = state_dir(tmp_path / "state", {})
    Journal.in_dir(folder).close()
    (folder / target).chmod(chmod)
    with pytest.raises(BadInput, match=f"writable by group or others.*`{fix} {folder / target}`".rstrip("/")):
        state_dir(folder, {})


@as_root
@pytest.mark.parametrize("target", ["", JOURNAL_NAME])
def test_a_state_dir_or_journal_of_another_user_is_refused(tmp_path: Path, target: str) -> None:
    folder = state_dir(tmp_path / "state", {})
    Journal.in_dir(folder).close()
    os.chown(folder / target, NOBODY, -1)
    with pytest.raises(BadInput, match=f"belongs to uid {NOBODY}"):
        state_dir(folder, {})
    with pytest.raises(BadInput, match=f"belongs to uid {NOBODY}"):
        Journal.in_dir(folder)  # history opens the journal without ensure_state_dir


def test_an_edited_change_is_no_longer_sealed(tmp_path: Path) -> None:
    folder = state_dir(tmp_path / "state", {})
    with Journal.in_dir(folder) as journal:
        run = journal.start_run("fix")
        seq = journal.change_pending(run, "c", "cause", "fixer", Step("act", Call("PATCH", "https://x/p"),
                                                                      undo={"exclude_users": ["a"]}))
        journal.change_applied(run, seq, {"exclude_users": ["a"]})
        assert [c.sealed for c in journal.changes(run)] == [True]
    with sqlite3.connect(folder / JOURNAL_NAME) as db:
        db.execute("UPDATE changes SET undo=? WHERE seq=1", ('{"exclude_users": ["a", "evil"]}',))
    with Journal.in_dir(folder) as journal:
        assert [c.sealed for c in journal.changes(run)] == [False]
    (folder / KEY_NAME).unlink()  # a new key does not make the edit authentic
    with sqlite3.connect(folder / JOURNAL_NAME) as db:
        db.execute("UPDATE changes SET undo=? WHERE seq=1", ('{"exclude_users": ["a"]}',))
    with Journal.in_dir(folder) as journal:
        assert [c.sealed for c in journal.changes(run)] == [False]
