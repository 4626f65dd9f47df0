"""The heal lock in the state directory: one acting run at a time, and a dead holder's lock recovered.

The kernel's fcntl.flock is the lock: it is released when its holder dies, however it dies (SIGKILL,
OOM, power loss on a local disk), so a crashed run never blocks the next one. The file only *describes*
the holder (pid, host, start time) for the message a refused run prints. Where flock is not supported
(some network file systems), the description is the lock, and a holder is live only while its pid is.
The file is never deleted: unlinking a flock file lets two runs lock two different inodes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.errors import AgentError, BadInput
from agent.journal.statedir import check_private

LOCK_NAME = "heal.lock"
Now = Callable[[], datetime]


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) the lock, as written in the lock file."""

    pid: int
    started: str
    host: str = ""
    command: str = "heal"

    def alive(self) -> bool:
        """Whether the holder still runs; a pid on another host cannot be checked, so it counts as live."""
        if self.host and self.host != socket.gethostname():
            return True
        return pid_alive(self.pid)


class LockBusy(AgentError):
    """Another run holds the lock; this one did not run (exit 1)."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        who = f"pid {holder.pid}, started {holder.started}" if holder else "holder unknown"
        what = holder.command if holder else "heal"
        super().__init__(f"another {what} run ({who}) holds the lock")


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


class HealLock:
    """`with HealLock(state_dir):` holds the lock or raises LockBusy; `recovered` names a dead holder."""

    def __init__(self, state_dir: Path, command: str = "heal", now: Now | None = None) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self.command = command
        self._now = now or (lambda: datetime.now(UTC))
        self._fd: int | None = None
        self.recovered: Holder | None = None  # a holder that died without releasing

    def acquire(self) -> HealLock:
        # O_CLOEXEC: a child process must not inherit the descriptor and keep the lock after we exit;
        # O_NOFOLLOW: a planted symlink must not make the truncate below empty some other file
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadInput(f"the lock {self.path} is a symbolic link: refusing to follow it; remove "
                               "it (the agent makes a new one)") from None
            raise
        try:
            check_private(self.path, "lock")
        except BaseException:
            os.close(fd)
            raise
        try:
            self._lock(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._describe(fd)
        return self

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(read_holder(fd)) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            # no flock here: the file's holder decides, live only while its process is
            holder = read_holder(fd)
            if holder is not None and holder.pid != os.getpid() and holder.alive():
                raise LockBusy(holder) from None
        previous = read_holder(fd)
        if previous is not None and previous.pid != os.getpid():
            self.recovered = previous  # it left its description behind: it died while holding the lock

    def _describe(self, fd: int) -> None:
        started = self._now().astimezone(UTC).isoformat(timespec="seconds")
        me = Holder(os.getpid(), started, socket.gethostname(), self.command)
        data = json.dumps(me.__dict__).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # an empty file says nobody holds it
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> HealLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def read_holder(fd: int) -> Holder | None:
    """The description in the lock file, or None when it is empty or unreadable."""
    try:
        raw = os.pread(fd, 4096, 0)
        data: Any = json.loads(raw.decode()) if raw.strip() else None
        if not isinstance(data, dict):
            return None
        return Holder(int(data["pid"]), str(data.get("started", "?")), str(data.get("host", "")),
                      str(data.get("command", "heal")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
