"""Opening an event file for reading without trusting what is at its name.

IO, blocking. Whoever can write the log directory can put anything at an event
file's name; the tools that read it open it here:

* :func:`open_regular` opens regular files only: never through a symlink
  (``O_NOFOLLOW``), and without waiting for a writer on a FIFO (``O_NONBLOCK``,
  cleared once the file is known to be regular). A FIFO, device, socket or
  directory is refused with :class:`NotRegularFile`.
* :class:`GzipReader` gunzips with bounded memory: no read returns more than it
  was asked for, however much a few bytes of input inflate to.
* :data:`MAX_LINE` is the longest line any reader holds; a longer one is reported
  and skipped (see :mod:`asgi_audit.store.reading`).
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zlib
from pathlib import Path
from types import TracebackType
from typing import Final

__all__ = (
    "MAX_LINE",
    "GzipReader",
    "NotRegularFile",
    "OpenFile",
    "file_kind",
    "open_file",
    "open_regular",
)

#: The longest line a reader holds in memory (no event comes near it); longer ones
#: are skipped, and reported where they are.
MAX_LINE: Final = 16 << 20
_RAW: Final = 1 << 16
_GZIP: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer (CRC and size checked)
_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class NotRegularFile(OSError):
    """The name is a symlink, a FIFO, a device, a socket or a directory: not read.

    ``reason`` is the :class:`~asgi_audit.store.listing.Refused` reason
    (``symlink``, ``FIFO``, ...).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(errno.EINVAL, f"a {reason}, not a regular file", os.fspath(path))
        self.reason = reason


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, for a message: FIFO, directory, ..."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> int:
    """A file descriptor of the regular file at ``path``, opened for reading.

    Raises:
        NotRegularFile: ``path`` is a symlink, a FIFO, a device, a socket or a
            directory (nothing blocks, nothing is read).
        OSError: it cannot be opened (missing, permission, ...).
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise NotRegularFile(path, "symlink") from None
        if exc.errno == errno.ENXIO:  # a socket (or a FIFO without readers)
            raise NotRegularFile(path, "socket") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, file_kind(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class GzipReader:
    """Reads a gzip file (one member or several, zero padding allowed) in bounded pieces.

    ``read(size)`` returns at most ``size`` bytes (``b""`` at the end); a file cut
    short or corrupt raises :class:`EOFError` or :class:`zlib.error`.
    """

    __slots__ = ("_d", "_input", "_member", "_raw")

    def __init__(self, raw: io.FileIO) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(_GZIP)
        self._input = b""
        self._member = False  # inside a member (its header was started)

    def fileno(self) -> int:
        return self._raw.fileno()

    def read(self, size: int, /) -> bytes:
        while True:
            if not self._input:
                self._input = self._raw.read(_RAW) or b""
                if not self._input:
                    if self._member:
                        raise EOFError("compressed file ended before the end of its data")
                    return b""
            if not self._member:  # between members: zero padding may follow
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    continue
                self._member = True
            out = self._d.decompress(self._input, size)
            if self._d.eof:
                self._input = self._d.unused_data
                self._d = zlib.decompressobj(_GZIP)
                self._member = False
            else:
                self._input = self._d.unconsumed_tail
            if out:
                return out

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> GzipReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


#: What :func:`open_file` returns: a plain file or a gzip reader over one.
OpenFile = io.FileIO | GzipReader


def open_file(path: Path, compressed: bool) -> OpenFile:
    """The regular file at ``path`` for reading, gunzipped if ``compressed``.

    Raises:
        NotRegularFile: as :func:`open_regular`.
        OSError: it cannot be opened.
    """
    raw = io.FileIO(open_regular(path), "r", closefd=True)
    return GzipReader(raw) if compressed else raw
