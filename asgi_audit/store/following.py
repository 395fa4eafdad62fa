"""Reading at the ends of a category file: its first and last lines, and following it.

IO, blocking; used by the ``asgi-audit`` command. Like :mod:`asgi_audit.store.reading`
(which lists the files and streams whole files), nothing here writes, locks or
parses JSON. Plain files only: a current file is never gzipped.

* :func:`complete_end` finds the end of a file's last whole line.
* :func:`read_backward` yields the whole lines of a file from its end, newest first,
  reading blocks backwards (the last lines of a 1 GB file cost one block);
  :func:`read_forward` the first lines from its start.
* :class:`Follower` follows one category file like ``tail -F``: new whole lines as
  they come, across rotations (the rest of the old file first) and truncation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ("Follower", "complete_end", "read_backward", "read_forward")

_BUFFER: Final = 1 << 20
_BLOCK: Final = 1 << 16


def complete_end(fd: int, size: int) -> int:
    """The offset just past the last newline before ``size`` (0 if there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        pos = os.pread(fd, end - start, start).rfind(b"\n")
        if pos >= 0:
            return start + pos + 1
        end = start
    return 0


def read_backward(fd: int, end: int) -> Iterator[bytes]:
    """The whole lines before ``end`` (an offset just past a newline, or 0), newest first.

    Reads blocks backwards from ``end``; lines come without their newline.
    """
    head = b""  # the end of a line that starts in an earlier block
    pos = end
    first = True
    while pos > 0:
        start = max(0, pos - _BLOCK)
        parts = (os.pread(fd, pos - start, start) + head).split(b"\n")
        pos = start
        if first:
            parts.pop()  # what follows the last newline: nothing
            first = False
        head = parts.pop(0) if pos > 0 and parts else b""
        yield from reversed(parts)


def read_forward(fd: int, limit: int = 64, max_bytes: int = 4 * _BUFFER) -> Iterator[bytes]:
    """At most ``limit`` whole lines from the start, oldest first, in ``max_bytes`` at most."""
    pending = b""
    offset = 0
    count = 0
    while count < limit and offset < max_bytes:
        block = os.pread(fd, _BLOCK, offset)
        if not block:
            return
        offset += len(block)
        *lines, pending = (pending + block).split(b"\n")
        yield from lines[: limit - count]
        count += len(lines)


class Follower:
    """Follows one category file by its path, like ``tail -F``.

    :meth:`poll` returns the whole lines written since the last call. A line still
    being written waits for its newline. When the path names another file (the
    file was rotated) or none (rotated, not yet written again), the rest of the old
    file is read first (nobody writes to a file after it is rotated: rotation takes
    the writers' lock), then the new file from its start. A file that shrank was
    truncated: it is read again from its start. One poll reads at most
    ``max_read`` bytes of a file (plus the rest of a rotated one), so a follower
    that starts on a large file catches up over several polls.
    """

    __slots__ = ("_fd", "_ident", "_offset", "_pending", "behind", "dropped", "max_read", "path")

    def __init__(self, path: Path, *, max_read: int = 8 * _BUFFER) -> None:
        self.path = path
        self.max_read = max_read
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._pending = b""
        #: Partial last lines left in files that were rotated away (never completed).
        self.dropped = 0
        #: The last poll stopped at ``max_read``: there is more to read at once.
        self.behind = False

    @classmethod
    def at_end(cls, path: Path) -> Follower:
        """A follower of ``path`` that starts after the file's last whole line.

        A missing file is followed from the start of the file that will appear.
        """
        follower = cls(path)
        if follower._open():
            assert follower._fd is not None
            follower._offset = complete_end(follower._fd, os.fstat(follower._fd).st_size)
        return follower

    def last_lines(self) -> Iterator[bytes]:
        """The whole lines before where following starts, newest first."""
        if self._fd is None:
            return iter(())
        return read_backward(self._fd, self._offset)

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return False
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)
        self._offset, self._pending = 0, b""
        return True

    def _read(self, limit: int | None) -> tuple[list[bytes], bool]:
        """The new whole lines, and whether the end of the file was reached."""
        assert self._fd is not None
        chunks = [self._pending]
        budget = limit
        at_end = False
        while budget is None or budget > 0:
            size = _BUFFER if budget is None else min(_BUFFER, budget)
            block = os.pread(self._fd, size, self._offset)
            if not block:
                at_end = True
                break
            chunks.append(block)
            self._offset += len(block)
            if budget is not None:
                budget -= len(block)
        *lines, self._pending = b"".join(chunks).split(b"\n")
        return lines, at_end

    def poll(self) -> list[bytes]:
        """The whole lines written since the last poll, in file order.

        Raises:
            OSError: reading failed.
        """
        if self._fd is None and not self._open():
            return []
        lines, at_end = self._read(self.max_read)
        self.behind = not at_end
        if not at_end:
            return lines  # more to read: the next poll goes on
        try:
            st = os.stat(self.path)
            moved = (st.st_dev, st.st_ino) != self._ident
        except FileNotFoundError:
            moved = True
        if moved:
            # Rotated or deleted: what was written before the rotation, then the new file.
            lines += self._read(None)[0]
            self.dropped += bool(self._pending)
            self.close()
            if self._open():
                lines += self._read(self.max_read)[0]
        elif st.st_size < self._offset:
            # Truncated in place: start over.
            self._offset, self._pending = 0, b""
            lines += self._read(self.max_read)[0]
        return lines

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
