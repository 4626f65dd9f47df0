"""Where the journal and the heal lock live: --state-dir, config, $AGENT_STATE_DIR, $XDG_STATE_HOME/agent."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

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
    """Create the directory (0700: the journal holds tenant details) and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing directory
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def state_dir(explicit: str | os.PathLike[str] | None = None,
              env: Mapping[str, str] | None = None,
              configured: str | os.PathLike[str] | None = None) -> Path:
    """Resolve and create the state directory."""
    return ensure_state_dir(resolve_state_dir(explicit, env, configured))
