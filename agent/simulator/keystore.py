"""The simulated tenant's app-certificate keys, generated once per user and kept in a private folder.

Generating an RSA-2048 key costs about 0.1 s of CPU, and every simulator process (each `--sim` run, each
test's tenant) needs two for its app certificates; reading one back costs about 1 ms. The certificates
themselves are still issued fresh by each process. These keys belong to a simulated tenant that nothing
real trusts; the folder is the user's own (0700, checked like the CA bundle's), else nothing is kept.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


def _folder() -> Path | None:
    """The user's private key folder, or None when it cannot be trusted (someone else's, a symlink)."""
    if not hasattr(os, "getuid"):
        return None
    folder = Path(tempfile.gettempdir()) / f"agent-sim-keys-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if folder.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


def simulated_key(role: str) -> rsa.RSAPrivateKey:
    """The RSA key for `role` (e.g. "admin"): read back when kept, else generated and kept."""
    folder = _folder()
    path = folder / f"{role}-rsa{KEY_BITS}.pem" if folder is not None else None
    if path is not None:
        try:
            # written by this user into a folder only this user can write: no need for OpenSSL's slow
            # key validation (the 34 ms that make a load cost a third of a generation)
            key = serialization.load_pem_private_key(path.read_bytes(), None,
                                                     unsafe_skip_rsa_key_validation=True)
            if isinstance(key, rsa.RSAPrivateKey) and key.key_size == KEY_BITS:
                return key
        except (OSError, ValueError, TypeError):
            pass  # missing or damaged: a new one replaces it
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    if path is not None:
        _keep(path, key)
    return key


def _keep(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(scratch, path)  # atomic: a concurrent simulator reads a whole key or none
    except OSError:
        scratch.unlink(missing_ok=True)
