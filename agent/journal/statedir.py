"""Where the journal and the heal lock live: --state-dir, config, $AGENT_STATE_DIR, $XDG_STATE_HOME/agent."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from agent.errors import BadInput

ENV_STATE_DIR = "AGENT_STATE_DIR"
JOURNAL_NAME = "journal.sqlite3"


def resolve_state_dir(explicit: str | os.PathLike[str] | None = None,
                      env: Mapping[str, str] | None = None,
                      configured: str | os.PathLike[str] | None = None) -> Path:
    """The state directory: --state-dir, the config's state_dir, $AGENT_STATE_DIR, XDG; not created."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if configured:
        return Path(configured).expanduser()
    if env.get(ENV_STATE_DIR):
        return Path(env[ENV_STATE_DIR]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "agent"
    return Path.home() / ".local" / "state" / "agent"


def ensure_state_dir(path: Path) -> Path:
    """Create the directory (0700: the journal holds tenant details) and return it.

    A state directory or journal that another user owns, or that group or others may write, is refused:
    whoever can write there can rewrite the journal's undo data or plant a symlinked lock.
    """
    if str(path).strip() == "":
        raise BadInput("the state directory is empty; give a folder (--state-dir DIR or $AGENT_STATE_DIR)")
    if path.exists() and not path.is_dir():
        raise BadInput(f"state directory {path} is not a directory; give a folder (--state-dir DIR)")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the state directory {path}: {exc.strerror or type(exc).__name__}; "
                       "give a folder this user may create (--state-dir DIR)") from None
    check_private(path, "state directory")
    # mkdir's mode is filtered by the umask and ignored for an existing directory
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    journal = path / JOURNAL_NAME
    if journal.exists() or journal.is_symlink():
        check_private(journal, "journal")
    return path


def check_private(path: Path, what: str) -> None:
    """Refuse a state file or folder that is a symlink, another user's, or group/world-writable."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise BadInput(f"cannot read the {what} {path}: {exc.strerror or type(exc).__name__}") from None
    fix = "chmod 700" if stat.S_ISDIR(info.st_mode) else "chmod 600"
    if stat.S_ISLNK(info.st_mode):
        raise BadInput(f"the {what} {path} is a symbolic link: refusing to follow it; replace it with a "
                       "real file or folder")
    if info.st_uid != os.geteuid():
        raise BadInput(f"the {what} {path} belongs to uid {info.st_uid}, not to this user "
                       f"(uid {os.geteuid()}): refusing to trust it; use a state directory of your own or "
                       f"`chown {os.geteuid()} {path}`")
    if info.st_mode & 0o022:
        raise BadInput(f"the {what} {path} is writable by group or others: refusing to trust it; run "
                       f"`{fix} {path}`")


def state_dir(explicit: str | os.PathLike[str] | None = None,
              env: Mapping[str, str] | None = None,
              configured: str | os.PathLike[str] | None = None) -> Path:
    """Resolve and create the state directory."""
    return ensure_state_dir(resolve_state_dir(explicit, env, configured))
