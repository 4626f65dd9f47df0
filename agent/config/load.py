"""The config the agent runs with: one file, or a folder of files (one per customer) read as one."""

from __future__ import annotations

from pathlib import Path

from agent.config.directory import load_config_dir
from agent.config.model import Config, load_config_file


def load_config(path: str | Path) -> Config:
    """A config file, or a folder of them; every error is a one-line ConfigError naming file, line, field."""
    path = Path(path)
    return load_config_dir(path) if path.is_dir() else load_config_file(path)
