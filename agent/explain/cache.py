"""A per-user cache of data read from files, keyed by a hash of the files' text: explain's parsed knowledge
(so that `agent explain` does not parse a few hundred kilobytes of YAML on every run) and the playbook
listing (so that `agent playbooks list` imports neither YAML nor the playbook schema when nothing changed).

JSON, never pickle: a tampered cache can change an answer (as editing the YAML can), not run code. The data
is validated exactly as if it had just been parsed from YAML. A cache that is not ours, or that others may
write, is ignored; any failure to read or write it falls back to parsing the YAML, which stays the truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ENV_VAR = "AGENT_CACHE_DIR"  # where to keep it; "off" disables it
_FORMAT = "explain-knowledge-1"  # bump when the cached shape changes


def cached_read(paths: Sequence[Path],
                parse_all: Callable[[Sequence[Path]], tuple[dict[Path, Any], bool]],
                name: str = "explain", salt: str = "") -> dict[Path, Any]:
    """The parsed data of every file: from the cache when its key matches the files' text, else from
    `parse_all` (data per file, and whether all of them parsed: only then is the result cached).
    `name` keeps one user's caches apart (explain's knowledge, the playbook listing); `salt` is whatever
    else the data depends on (the text of the code that derived it)."""
    texts = {path: _text(path) for path in paths}
    folder = cache_dir()
    readable = {path: text for path, text in texts.items() if text is not None}
    if folder is None or len(readable) < len(texts):
        return parse_all(paths)[0]
    key = _key(readable.items(), f"{name}\0{salt}")
    cache = _file(folder, paths, name)
    data = _load(folder, cache, key)
    if data is not None and set(data) == {str(p) for p in paths}:
        return {path: data[str(path)] for path in paths}
    parsed, complete = parse_all(paths)
    if complete:
        _store(folder, cache, key, {str(p): parsed[p] for p in paths})
    return parsed


def cache_dir() -> Path | None:
    """$AGENT_CACHE_DIR, else $XDG_CACHE_HOME/m365-401-agent, else ~/.cache/m365-401-agent; None when off."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home directory to speak of
        return None
    return root / "m365-401-agent"


def _text(path: Path) -> str | None:
    """The file's text, or None when it cannot be read (the parser then reports why)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _key(texts: Iterable[tuple[Path, str]], salt: str = "") -> str:
    digest = hashlib.sha256(_FORMAT.encode())
    digest.update(salt.encode("utf-8", "surrogatepass"))
    for path, text in texts:
        digest.update(f"\0{path}\0{len(text)}\0".encode())
        digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _file(folder: Path, paths: Sequence[Path], name: str = "explain") -> Path:
    """One cache file per set of knowledge files (an installation, a playbook folder): installations side
    by side keep their own, and a changed file only replaces its installation's cache."""
    where = hashlib.sha256("\0".join(str(p) for p in paths).encode("utf-8", "surrogatepass")).hexdigest()
    return folder / f"{name}-{where[:24]}.json"


def _trusted(path: Path) -> bool:
    """Ours, and writable by nobody else (a shared /tmp must not feed us answers)."""
    try:
        info = path.stat()
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(folder: Path, cache: Path, key: str) -> dict[str, Any] | None:
    if not (_trusted(folder) and _trusted(cache)):
        return None
    try:
        document = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    if not isinstance(document.get("files"), dict):
        return None
    files: dict[str, Any] = document["files"]
    return files


def _store(folder: Path, cache: Path, key: str, files: dict[str, Any]) -> None:
    """Best effort, written whole: a temporary file renamed into place."""
    try:
        payload = json.dumps({"key": key, "files": files}, ensure_ascii=False)
    except (TypeError, ValueError):  # a value JSON cannot hold (a YAML date, say): just don't cache
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder):
            return
        handle, temporary = tempfile.mkstemp(prefix=".explain-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(payload)
            os.replace(temporary, cache)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError:
        return
