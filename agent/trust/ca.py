"""What the agent trusts for TLS: the default trust (the system's and certifi's roots) plus `ca_bundle`'s CAs.

`endpoints.ca_bundle` names *extra* CAs (a TLS-inspecting proxy's, the simulated tenant's): a split tunnel
sends some hosts through the proxy and others straight to Microsoft, so the public roots must stay trusted.
`ssl.create_default_context(cafile=...)` and requests' `verify=PATH` load only the given file, so the
libraries that take a path get a combined bundle: certifi's roots followed by the extra CAs.
"""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import tempfile
from pathlib import Path


def _certifi_path() -> str | None:
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests and httpx
        return None
    return str(certifi.where())


def ssl_context(extra: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """A verifying client context: the system's roots, certifi's, and the extra CAs on top. One per extra
    file and version: loading some 300 roots costs about 0.1 s of CPU, and every Graph client asks."""
    if extra is None:
        return _context(None, 0, 0)
    stat = Path(extra).stat()
    return _context(str(Path(extra).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _context(extra: str | None, mtime_ns: int, size: int) -> ssl.SSLContext:
    """Shared by the clients of a process: a context only verifies, it holds no connection state."""
    context = ssl.create_default_context()  # load_default_certs(): the system store
    public = _certifi_path()
    if public is not None:
        context.load_verify_locations(cafile=public)
    if extra is not None:
        context.load_verify_locations(cafile=str(extra))
    return context


def bundle_path(extra: str | os.PathLike[str] | None) -> str | None:
    """A CA file for libraries that take a path (requests, azure-core, exchangelib): certifi's roots plus
    the extra CAs; None without extra CAs (each library then uses its own default trust)."""
    if extra is None:
        return None
    path = Path(extra)
    stat = path.stat()
    return _combined(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _combined(extra: str, mtime_ns: int, size: int) -> str:
    """Written once per extra file and version, in a private folder; CA certificates are not secrets."""
    public = _certifi_path()
    text = Path(public).read_text(encoding="utf-8") if public else ""
    text = text.rstrip("\n") + "\n" + Path(extra).read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"agent-ca-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if folder.is_symlink() or (hasattr(os, "getuid") and info.st_uid != os.getuid()) or info.st_mode & 0o022:
        folder = Path(tempfile.mkdtemp(prefix="agent-ca-"))  # someone else's folder: trust none of it
    target = folder / f"bundle-{digest}.pem"
    if not target.is_file():
        scratch = target.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, target)  # atomic: a concurrent run never reads half a bundle
    return str(target)
