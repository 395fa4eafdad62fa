"""Reading a log directory: its event files per category, line by line, read-only.

IO, blocking; used by the ``asgi-audit`` command. Nothing here writes, locks or
parses JSON: it finds the files and yields the raw bytes of whole lines.

* :func:`event_files` lists a directory's event files per category in time order,
  and the entries it refuses: :func:`asgi_audit.store.listing.list_event_files`,
  the one list every tool reads.
* :func:`iter_lines` streams the whole lines of a plain or gzipped file with their
  line numbers; a partial last line (still being written, or cut by a crash) is
  not yielded. :func:`scan_lines` does the same with byte offsets, and can skip
  whole blocks a cheap test rules out. A line longer than
  :data:`~asgi_audit.store.opening.MAX_LINE` is never held: it is reported to a
  ``too_long`` callback and reading goes on at the next line.
  :func:`open_event_file` opens regular files only, and finds a rotated file that
  was gzipped since it was listed.

Reading at the ends of a current file (its last lines, following it) is
:mod:`asgi_audit.store.following`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Protocol

from .listing import (
    NOT_EVENT_FILES,
    EventFile,
    Listing,
    Refused,
    category_of_file,
    list_event_files,
)
from .opening import MAX_LINE, OpenFile, open_file

__all__ = (
    "NOT_EVENT_FILES",
    "ByteReader",
    "EventFile",
    "Listing",
    "OpenFile",
    "Refused",
    "TooLong",
    "category_of_file",
    "event_files",
    "iter_lines",
    "line_number_at",
    "open_event_file",
    "scan_lines",
)

_BUFFER: Final = 1 << 20

#: Told of each line over the cap: ``(where, its length in bytes)``; ``where`` is a
#: byte offset for :func:`scan_lines`, a line number for :func:`iter_lines`.
TooLong = Callable[[int, int], None]


class ByteReader(Protocol):
    """Anything with ``read(size) -> bytes``: a file, a gzip reader, a socket file."""

    def read(self, size: int, /) -> bytes | None: ...


def event_files(log_dir: Path) -> Listing:
    """Per category, its event files in time order (rotated oldest first, then
    current), and the entries refused.

    Raises:
        OSError: the directory cannot be listed.
    """
    return list_event_files(log_dir)


def open_event_file(f: EventFile) -> OpenFile:
    """Open an event file for reading (gunzipping a ``.gz``), regular files only.

    A plain rotated file that is gone may have been gzipped since it was listed;
    its ``.gz`` is opened instead, unless that was listed as well.

    Raises:
        NotRegularFile: the name is no longer a regular file.
        OSError: it cannot be opened.
    """
    if f.compressed:
        return open_file(f.path, True)
    try:
        return open_file(f.path, False)
    except FileNotFoundError:
        if f.current or f.twin:
            raise
        return open_file(f.path.with_name(f.path.name + ".gz"), True)


def _blocks(
    fh: ByteReader, too_long: TooLong, partial: bool = False, cap: int = MAX_LINE
) -> Iterator[tuple[int, bytes]]:
    """``(offset, block)``: runs of whole lines (without the last newline), ~1 MiB.

    A last line without its newline is left out (``partial``: yielded alone). A
    line longer than ``cap`` (the last one too, newline or not) is never held:
    ``too_long(offset, length)``, and the next line follows.
    """
    step = min(_BUFFER, cap)  # so that a line inside one read is never over the cap
    offset = 0  # where the unfinished line starts
    pending: list[bytes] = []
    size = 0  # its length so far
    skipping = False  # it is over the cap: counted, not kept
    try:
        while block := fh.read(step):
            cut = block.rfind(b"\n")
            if cut < 0:
                size += len(block)
                if not skipping:
                    skipping = size > cap
                    pending = [] if skipping else [*pending, block]
                continue
            first = block.find(b"\n")
            if skipping or size + first > cap:
                too_long(offset, size + first)
                offset += size + first + 1
                if first < cut:
                    data = block[first + 1 : cut]
                    yield offset, data
                    offset += len(data) + 1
            else:
                data = b"".join((*pending, memoryview(block)[:cut])) if pending else block[:cut]
                yield offset, data
                offset += len(data) + 1
            rest = block[cut + 1 :]
            pending, size, skipping = ([rest] if rest else []), len(rest), False
    except (EOFError, zlib.error) as exc:
        raise OSError(f"damaged gzip data after byte {offset + size} ({exc})") from exc
    if skipping:  # over the cap, finished or not: never an event
        too_long(offset, size)
    elif partial and size:
        yield offset, b"".join(pending)


def _ignore(where: int, length: int) -> None:
    pass


def iter_lines(
    fh: ByteReader, too_long: TooLong | None = None, *, partial: bool = False, cap: int = MAX_LINE
) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without its newline)`` of each whole line, streaming.

    A last line without its newline (still being written) is not yielded, unless
    ``partial``. A line longer than ``cap`` bytes is not yielded: ``too_long(its
    number, its length)`` is called when it comes, and it keeps its number.

    Raises:
        OSError: reading failed, or gzipped data is corrupt or cut short (the
            lines before the damage were yielded).
    """
    number = 0
    tell = too_long or _ignore

    def skipped(offset: int, length: int) -> None:
        nonlocal number
        number += 1
        tell(number, length)

    for _, data in _blocks(fh, skipped, partial, cap):
        for line in data.split(b"\n"):
            number += 1
            yield number, line


def scan_lines(
    fh: ByteReader,
    wanted: Callable[[bytes], bool] | None = None,
    too_long: TooLong | None = None,
    cap: int = MAX_LINE,
) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, line)`` of each whole line, like :func:`iter_lines` but faster.

    With ``wanted``, a block of lines (~1 MiB) for which ``wanted(block)`` is false
    is skipped without being split (a test such as ``needle in block``). Turn an
    offset into a line number with :func:`line_number_at`. A line longer than
    ``cap``: ``too_long(its offset, its length)``.

    Raises:
        OSError: as :func:`iter_lines`.
    """
    for offset, data in _blocks(fh, too_long or _ignore, cap=cap):
        if wanted is not None and not wanted(data):
            continue
        pos = offset
        for line in data.split(b"\n"):
            yield pos, line
            pos += len(line) + 1


def line_number_at(f: EventFile, offset: int) -> int:
    """The number of the line that starts at byte ``offset`` of ``f``.

    Raises:
        OSError: the file cannot be read.
    """
    count = 1
    with open_event_file(f) as fh:
        while offset > 0:
            block = fh.read(min(_BUFFER, offset))
            if not block:
                break
            count += block.count(b"\n")
            offset -= len(block)
    return count
