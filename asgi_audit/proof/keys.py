"""The deployment's key file, shared by every process writing to one directory.

IO. Without ``ASGI_AUDIT_KEY`` or ``Auditor(key=...)``, keyed hashes of session
ids still need one key that every worker and every restart agrees on: it is kept
in the log directory (``0600``), made once. It is not a secret against someone
who can read the directory, so it never keys the MAC chain (see integrity).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from ..store.files import LogDirectory

__all__ = ("KEY_FILE", "load_or_create_key")

KEY_FILE: Final = ".asgi-audit-key"
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def load_or_create_key(directory: LogDirectory) -> bytes:
    """The deployment's key kept in the log directory, created (0600) on first use.

    Every process writing to the directory reads the same key, so keyed hashes
    (session ids) correlate across workers and restarts. The key is written to a
    private temporary file and published with ``link()``, which never replaces an
    existing file: a reader sees either no key file or a whole one, and of two
    racing processes one publishes and the other reads.
    """
    path = directory.path / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = os.urandom(32)
    tmp = directory.path / f"{KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        os.unlink(tmp)
    return key


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | _CLOEXEC)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    if len(data) != 32:
        raise OSError(f"Audit key file is damaged (expected 32 bytes): '{path}'")
    return data
