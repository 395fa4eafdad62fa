"""Copies of the files that still change (the ledger and the current files), so that
what a command checks is exactly what it reads next.

IO, blocking. A current file grows while it is read, and the ledger with it; a
rotated file never changes again. :func:`copy_whole_lines` copies a file's whole
lines (a last line still being written is left out) through the same opener as
every reader (regular files only, never through a link).
:func:`fingerprint` is what a caller compares before and after to tell a file
that changed in place.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, NamedTuple

from .opening import open_file

__all__ = ("Fingerprint", "copy_whole_lines", "fingerprint")

_CHUNK: Final = 1 << 20


class Fingerprint(NamedTuple):
    """What changes when a file is replaced, written or touched (``st_ctime_ns``
    changes on every write and metadata change, and cannot be set back by anyone
    but the system's clock)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _of(st: os.stat_result) -> Fingerprint:
    return Fingerprint(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def fingerprint(path: Path) -> Fingerprint:
    """The file at ``path`` as it is now (not following a symlink).

    Raises:
        OSError: it cannot be looked at (gone, ...).
    """
    return _of(os.stat(path, follow_symlinks=False))


def copy_whole_lines(source: Path, target: Path) -> None:
    """Copy the whole lines of the plain file ``source`` into a new ``target``
    (mode 0600).

    Raises:
        FileNotFoundError: ``source`` is not there.
        NotRegularFile: it is a symlink, a FIFO, ... (never opened).
        FileExistsError: ``target`` exists.
        OSError: reading or writing failed.
    """
    with open_file(source, compressed=False) as fh:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        out = os.open(target, flags, 0o600)
        try:
            written = whole = 0
            while chunk := fh.read(_CHUNK):
                _write_all(out, chunk)
                end = chunk.rfind(b"\n")
                if end >= 0:
                    whole = written + end + 1
                written += len(chunk)
            os.ftruncate(out, whole)
        finally:
            os.close(out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
