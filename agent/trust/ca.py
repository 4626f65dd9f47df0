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
import threading
from pathlib import Path
from stat import S_ISREG


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



_FILE_CONTEXTS: dict[tuple[str, int, int], ssl.SSLContext] = {}
_file_lock = threading.Lock()


def file_context(cafile: str) -> ssl.SSLContext:
    """A verifying context that trusts exactly `cafile`, built as urllib3 builds one for requests'
    `verify=PATH`, and shared by every connection that verifies against it: urllib3 otherwise builds a
    context and loads the whole bundle (some 150 roots, about 20 ms of CPU) for each new connection.

    Keyed by the file's version, so an edited bundle is read again; OSError unless it is a file."""
    stat = os.stat(cafile)
    if not S_ISREG(stat.st_mode):
        raise IsADirectoryError(f"not a CA file: {cafile}")
    key = (cafile, stat.st_mtime_ns, stat.st_size)
    context = _FILE_CONTEXTS.get(key)
    if context is None:
        with _file_lock:  # 32 threads opening their first connection at once load the bundle once
            context = _FILE_CONTEXTS.get(key)
            if context is None:
                if len(_FILE_CONTEXTS) >= 16:
                    _FILE_CONTEXTS.clear()
                context = _FILE_CONTEXTS[key] = _verifying_context(cafile)
    return context


def _verifying_context(cafile: str) -> ssl.SSLContext:
    """urllib3's strictness for requests: certificate required, hostname checked, TLS 1.2 or later.
    Shared across threads: a context holds only settings and trust, and OpenSSL locks its store."""
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.load_verify_locations(cafile=cafile)
    return context
