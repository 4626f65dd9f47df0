"""The heal lock: one holder at a time, a dead holder's lock recovered, never inherited by children."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.journal import lock as lockmod
from agent.journal.lock import LOCK_NAME, HealLock, Holder, LockBusy, pid_alive

HOLD = """
import sys, time
from pathlib import Path
from agent.journal.lock import HealLock
lock = HealLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of tmp_path (killed at the end)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def fixed_now() -> datetime:
    return datetime(2026, 11, 25, 14, 22, 33, tzinfo=UTC)


def test_lock_describes_its_holder_and_empties_on_release(tmp_path: Path) -> None:
    with HealLock(tmp_path, now=fixed_now) as held:
        assert held.held and held.recovered is None
        data = json.loads((tmp_path / LOCK_NAME).read_text())
        assert data["pid"] == os.getpid() and data["started"] == "2026-11-25T14:22:33+00:00"
        assert data["host"] == socket.gethostname() and data["command"] == "heal"
        assert oct((tmp_path / LOCK_NAME).stat().st_mode & 0o777) == "0o600"
    assert not held.held
    assert (tmp_path / LOCK_NAME).read_text() == ""
    with HealLock(tmp_path) as again:  # released: the next run takes it without a recovery note
        assert again.recovered is None


def test_a_second_holder_is_refused_with_pid_and_start(tmp_path: Path) -> None:
    with HealLock(tmp_path, now=fixed_now), pytest.raises(LockBusy) as info:
        HealLock(tmp_path).acquire()  # flock conflicts between two open files, even in one process
    assert str(info.value) == \
        f"another heal run (pid {os.getpid()}, started 2026-11-25T14:22:33+00:00) holds the lock"


def test_a_live_process_holds_it(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockBusy) as info:
        HealLock(tmp_path).acquire()
    assert info.value.holder is not None and info.value.holder.pid == holder.pid


def test_a_lock_left_by_a_killed_process_is_recovered(tmp_path: Path,
                                                      holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_NAME).read_text()  # the file still names the dead holder...
    with HealLock(tmp_path) as taken:  # ...but the kernel released its flock
        assert taken.recovered is not None and taken.recovered.pid == holder.pid
        assert not pid_alive(holder.pid)
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_child_process_does_not_inherit_the_lock(tmp_path: Path) -> None:
    lock = HealLock(tmp_path).acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], close_fds=False)
    try:
        lock.release()
        with HealLock(tmp_path):  # the child still runs, yet holds no copy of the lock
            assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_without_flock_the_pid_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_flock = lockmod.fcntl.flock

    def no_flock(fd: int, operation: int) -> None:
        if operation & lockmod.fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    monkeypatch.setattr(lockmod.fcntl, "flock", no_flock)
    path = tmp_path / LOCK_NAME
    live = Holder(os.getppid(), "2026-11-25T10:00:00+00:00", socket.gethostname())
    path.write_text(json.dumps(live.__dict__))
    with pytest.raises(LockBusy, match=f"pid {os.getppid()}, started 2026-11-25T10:00:00"):
        HealLock(tmp_path).acquire()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    path.write_text(json.dumps(Holder(int(dead.stdout), "then", socket.gethostname()).__dict__))
    with HealLock(tmp_path) as taken:
        assert taken.recovered is not None and taken.recovered.pid == int(dead.stdout)


def test_holder_liveness() -> None:
    assert pid_alive(os.getpid()) and not pid_alive(0)
    assert Holder(os.getpid(), "now").alive()
    assert Holder(999_999_999, "now", socket.gethostname()).alive() is False
    assert Holder(999_999_999, "now", "another-host").alive()  # cannot tell: assume it runs


def test_garbage_in_the_lock_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("not json")
    with HealLock(tmp_path) as taken:
        assert taken.recovered is None
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
