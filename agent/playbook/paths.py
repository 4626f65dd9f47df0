"""Where playbooks are read from: $AGENT_PLAYBOOKS, else the shipped folder (cheap to import)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AGENT_PLAYBOOKS"


def default_paths() -> list[Path]:
    """$AGENT_PLAYBOOKS (os.pathsep-separated), else the repository's playbooks/ folder."""
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return shipped_paths()


def shipped_paths() -> list[Path]:
    """The playbooks that come with the agent: the repository's folder, or a wheel's own copy."""
    package = Path(__file__).resolve().parents[1]  # agent/
    repo = package.parent / "playbooks"
    builtin = package / "builtin_playbooks"  # an installed wheel carries its own copy
    return [builtin] if not repo.is_dir() and builtin.is_dir() else [repo]


def yaml_files(folder: Path) -> list[Path]:
    """The playbook files in a folder and its subfolders, sorted: what every reader of playbooks reads."""
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
