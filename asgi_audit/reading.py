"""Reading a log directory: its event files per category, line by line, read-only.

IO, blocking; used by the ``asgi-audit`` command. Nothing here writes, locks or
parses JSON: it finds the files and yields the raw bytes of whole lines.

* :func:`event_files` lists a directory's event files per category in time order:
  the rotated files oldest first (``<file>.<UTC stamp>[.N].rotated[.gz]``, by stamp
  then N), then the current ``<file>``. Not event files, so never listed: hidden
  files (``.<file>.lock``, ``.asgi-audit-key``, temporary files), crash leftovers
  (``<file>.<stamp>.partial``), the integrity ``checkpoints.jsonl`` (and its
  rotated files), and ``*.jsonl`` names that are no category's file.
* :func:`iter_lines` streams the whole lines of a plain or gzipped file with their
  line numbers; a partial last line (still being written, or cut by a crash) is
  not yielded. :func:`open_event_file` finds a rotated file that was gzipped since
  it was listed.
* :func:`read_backward` yields the whole lines of a file from its end, newest first,
  reading blocks backwards (the last lines of a 1 GB file cost one block).
* :class:`Follower` follows one category file like ``tail -F``: new whole lines as
  they come, across rotations (the rest of the old file first) and truncation.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import io
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .events import CATEGORY_FILES, category_filename

__all__ = (
    "CHECKPOINT_FILE",
    "EventFile",
    "Follower",
    "category_of_file",
    "complete_end",
    "event_files",
    "iter_lines",
    "open_event_file",
    "read_backward",
    "read_forward",
)

#: Integrity checkpoints, beside the category files; not events (same name as in
#: ``asgi_audit.integrity``).
CHECKPOINT_FILE: Final = "checkpoints.jsonl"

_ROTATED_RE: Final = re.compile(
    r"(?P<base>[^/]+\.jsonl)\.(?P<stamp>\d{8}_\d{6})(?:\.(?P<n>\d+))?\.rotated(?P<gz>\.gz)?\Z"
)
_BUFFER: Final = 1 << 20
_BLOCK: Final = 1 << 16
_MAX_LINE: Final = 16 << 20
_BY_FILE: Final = {name: category for category, name in CATEGORY_FILES.items()}


@dataclass(frozen=True, slots=True)
class EventFile:
    """One file of events: a category's current file or one of its rotated files."""

    path: Path
    category: str
    #: When it was rotated, from its name (UTC, whole seconds); None for the current file.
    rotated_at: float | None = None
    #: Its number among rotations in the same second (``.N.rotated``).
    index: int = 0
    compressed: bool = False

    @property
    def current(self) -> bool:
        return self.rotated_at is None


def category_of_file(name: str) -> str | None:
    """The category whose current file is named ``name``, or None."""
    if name == CHECKPOINT_FILE or not name.endswith(".jsonl"):
        return None
    category = _BY_FILE.get(name)
    if category is not None:
        return category
    category = name[: -len(".jsonl")]
    try:
        return category if category_filename(category) == name else None
    except ValueError:
        return None


def _rotated(name: str) -> tuple[str, float, int, bool] | None:
    match = _ROTATED_RE.match(name)
    if match is None:
        return None
    try:
        moment = calendar.timegm(time.strptime(match["stamp"], "%Y%m%d_%H%M%S"))
    except ValueError:
        return None
    return match["base"], float(moment), int(match["n"] or 0), match["gz"] is not None


def event_files(log_dir: Path) -> dict[str, list[EventFile]]:
    """Per category, its event files in time order: rotated oldest first, then current.

    Categories come in a stable order: the built-in ones first, then the others by
    name. A category appears when it has a current or a rotated file.

    Raises:
        OSError: the directory cannot be listed.
    """
    found: dict[str, list[EventFile]] = {}
    current: dict[str, EventFile] = {}
    with os.scandir(log_dir) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not entry.is_file():
                continue
            category = category_of_file(name)
            if category is not None:
                current[category] = EventFile(Path(log_dir) / name, category)
                continue
            rotated = _rotated(name)
            if rotated is None:
                continue
            base, moment, index, compressed = rotated
            category = category_of_file(base)
            if category is not None:
                found.setdefault(category, []).append(
                    EventFile(Path(log_dir) / name, category, moment, index, compressed)
                )
    for category, files in found.items():
        # By stamp then N; a plain and a gzipped copy of one rotation (while it is
        # being compressed) are the same events: keep the gzipped one only.
        files.sort(key=lambda f: (f.rotated_at or 0.0, f.index, not f.compressed))
        kept: list[EventFile] = []
        for f in files:
            if kept and (kept[-1].rotated_at, kept[-1].index) == (f.rotated_at, f.index):
                continue
            kept.append(f)
        found[category] = kept
    for category, f in current.items():
        found.setdefault(category, []).append(f)
    order = {category: i for i, category in enumerate(CATEGORY_FILES)}
    return {
        category: found[category]
        for category in sorted(found, key=lambda c: (order.get(c, len(order)), c))
    }


def open_event_file(f: EventFile) -> io.BufferedIOBase:
    """Open an event file for reading (gunzipping a ``.gz``).

    A plain rotated file that is gone may have been gzipped since it was listed;
    its ``.gz`` is opened instead.

    Raises:
        OSError: it cannot be opened.
    """
    if f.compressed:
        return gzip.open(f.path, "rb")
    try:
        return io.FileIO(f.path, "r")
    except FileNotFoundError:
        if f.current:
            raise
        return gzip.open(f.path.with_name(f.path.name + ".gz"), "rb")


def iter_lines(
    fh: io.BufferedIOBase, wanted: Callable[[bytes], bool] | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without its newline)`` of each whole line, streaming.

    Reads blocks of 1 MiB and splits them. With ``wanted``, a block of whole lines
    for which ``wanted(block)`` is false is skipped without being split (a cheap
    test such as ``needle in block``). A last line without its newline is not
    yielded. A "line" longer than 16 MiB is yielded in pieces (it is no event).

    Raises:
        OSError: reading failed, or gzipped data is corrupt or cut short (the
            lines before the damage were yielded).
    """
    number = 0
    pending = b""
    try:
        while block := fh.read(_BUFFER):
            cut = block.rfind(b"\n")
            if cut < 0:
                pending += block
                if len(pending) > _MAX_LINE:
                    number += 1
                    yield number, pending
                    pending = b""
                continue
            data = pending + block[:cut] if pending else block[:cut]
            pending = block[cut + 1 :]
            if wanted is not None and not wanted(data):
                number += data.count(b"\n") + 1
                continue
            for line in data.split(b"\n"):
                number += 1
                yield number, line
    except (EOFError, zlib.error) as exc:
        raise OSError(f"damaged gzip data after line {number} ({exc})") from exc


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

    __slots__ = ("_fd", "_ident", "_offset", "_pending", "dropped", "max_read", "path")

    def __init__(self, path: Path, *, max_read: int = 8 * _BUFFER) -> None:
        self.path = path
        self.max_read = max_read
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._pending = b""
        #: Bytes of partial last lines left in files that were rotated away.
        self.dropped = 0

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
            self.dropped += len(self._pending)
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
