"""Reading at the ends of a category file: its first and last lines, and following it.

IO, blocking; used by the ``asgi-audit`` command. Like :mod:`asgi_audit.store.reading`
(which lists the files and streams whole files), nothing here writes, locks or
parses JSON. Plain files only: a current file is never gzipped. Regular files only
(:func:`~asgi_audit.store.opening.open_regular`), and no line longer than
:data:`~asgi_audit.store.opening.MAX_LINE` is ever held: it is counted and skipped.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from .opening import MAX_LINE, open_regular

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


def read_backward(
    fd: int,
    end: int,
    too_long: Callable[[int], None] | None = None,
    cap: int = MAX_LINE,
) -> Iterator[bytes]:
    """The whole lines before ``end`` (an offset just past a newline, or 0), newest first.

    Reads blocks backwards from ``end``; lines come without their newline. A line
    longer than ``cap`` is not yielded (nor held): ``too_long(its length)``.
    """
    carry: list[bytes] = []  # the line whose start is not read yet, in pieces, in order
    size = 0  # its length so far
    pos = end
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = os.pread(fd, pos - start, start)
        if pos == end:
            block = block[:-1]  # the newline at ``end``: nothing follows it
        pos = start
        last = block.rfind(b"\n")
        if last < 0:
            size += len(block)
            carry = [] if size > cap else [block, *carry]
            continue
        yield from _checked(
            [b"".join((block[last + 1 :], *carry))], size + len(block) - last - 1, too_long, cap
        )
        first = block.find(b"\n")
        if first < last:
            inner = block[first + 1 : last].split(b"\n")
            yield from _checked(inner[::-1], None, too_long, cap)
        carry, size = [block[:first]], first
    if end > 0:
        yield from _checked([b"".join(carry)], size, too_long, cap)


def _checked(
    lines: list[bytes], size: int | None, too_long: Callable[[int], None] | None, cap: int
) -> Iterator[bytes]:
    for line in lines:
        length = len(line) if size is None else size
        if length > cap:
            if too_long is not None:
                too_long(length)
        else:
            yield line


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
    ``max_read`` bytes of a file (and as much of the rest of a rotated one), so a
    follower that starts on a large file catches up over several polls.

    Only a regular file is followed: anything else at the path (a symlink, a FIFO,
    ...) makes :meth:`poll` raise :class:`~asgi_audit.store.opening.NotRegularFile`.
    A line longer than ``cap`` is counted in :attr:`too_long` and skipped.
    """

    __slots__ = (
        "_fd",
        "_ident",
        "_offset",
        "_pending",
        "_skipping",
        "behind",
        "cap",
        "dropped",
        "max_read",
        "path",
        "too_long",
    )

    def __init__(self, path: Path, *, max_read: int = 8 * _BUFFER, cap: int = MAX_LINE) -> None:
        self.path = path
        self.max_read = max_read
        self.cap = cap
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._pending = b""
        self._skipping = False  # inside a line over the cap: skipped to its newline
        #: Partial last lines left in files that were rotated away (never completed).
        self.dropped = 0
        #: Lines longer than ``cap``, skipped.
        self.too_long = 0
        #: The last poll stopped at ``max_read``: there is more to read at once.
        self.behind = False

    @classmethod
    def at_end(cls, path: Path) -> Follower:
        """A follower of ``path`` that starts after the file's last whole line.

        A missing file is followed from the start of the file that will appear.

        Raises:
            NotRegularFile: ``path`` is not a regular file.
        """
        follower = cls(path)
        if follower._open():
            assert follower._fd is not None
            follower._offset = complete_end(follower._fd, os.fstat(follower._fd).st_size)
        return follower

    def last_lines(self, too_long: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The whole lines before where following starts, newest first."""
        if self._fd is None:
            return iter(())
        return read_backward(self._fd, self._offset, too_long, self.cap)

    def _open(self) -> bool:
        try:
            fd = open_regular(self.path)
        except FileNotFoundError:
            return False
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)
        self._offset, self._pending, self._skipping = 0, b"", False
        return True

    def _read(self, limit: int) -> tuple[list[bytes], bool]:
        """The new whole lines in at most ``limit`` bytes, and whether the end was reached."""
        assert self._fd is not None
        lines: list[bytes] = []
        budget = limit
        while budget > 0:
            block = os.pread(self._fd, min(_BUFFER, budget), self._offset)
            if not block:
                return lines, True
            self._offset += len(block)
            budget -= len(block)
            self._take(block, lines)
        return lines, False

    def _take(self, block: bytes, lines: list[bytes]) -> None:
        if self._skipping:
            cut = block.find(b"\n")
            if cut < 0:
                return
            self._skipping = False
            self.too_long += 1
            block = block[cut + 1 :]
        *complete, rest = block.split(b"\n")
        if complete:
            complete[0] = self._pending + complete[0]
            if len(complete[0]) > self.cap:
                self.too_long += 1
                del complete[0]
            lines += complete
            self._pending = rest
        else:
            self._pending += rest
        if len(self._pending) > self.cap:
            self._pending, self._skipping = b"", True

    def poll(self) -> list[bytes]:
        """The whole lines written since the last poll, in file order.

        Raises:
            NotRegularFile: the path names something that is not a regular file.
            OSError: reading failed.
        """
        if self._fd is None and not self._open():
            return []
        lines, at_end = self._read(self.max_read)
        self.behind = not at_end
        if not at_end:
            return lines  # more to read: the next poll goes on
        try:
            st = os.stat(self.path, follow_symlinks=False)
            moved = (st.st_dev, st.st_ino) != self._ident
        except FileNotFoundError:
            moved = True
        if moved:
            # Rotated or deleted: what was written before the rotation, then the new file.
            rest, at_end = self._read(self.max_read)
            lines += rest
            if not at_end:
                self.behind = True  # the rest of the old file first, on the next poll
                return lines
            self.dropped += bool(self._pending or self._skipping)
            self.close()
            try:
                opened = self._open()
            except OSError:
                return lines  # the next poll opens it again, and tells
            if opened:
                lines += self._read(self.max_read)[0]
        elif st.st_size < self._offset:
            # Truncated in place: start over.
            self._offset, self._pending, self._skipping = 0, b"", False
            lines += self._read(self.max_read)[0]
        return lines

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
