"""Reading a log directory: its event files per category, line by line, read-only.

IO, blocking; used by the ``asgi-audit`` command. Nothing here writes, locks or
parses JSON: it finds the files and yields the raw bytes of whole lines.

* :func:`event_files` lists a directory's event files per category in time order:
  the rotated files oldest first (``<file>.<UTC stamp>[.N].rotated[.gz]``, by stamp
  then N), then the current ``<file>``. Not event files, so never listed: hidden
  files (``.<file>.lock``, ``.asgi-audit-key``, temporary files), crash leftovers
  (``<file>.<stamp>.partial``), the integrity checkpoints (and their rotated
  files), and ``*.jsonl`` names that are no category's file.
* :func:`iter_lines` streams the whole lines of a plain or gzipped file with their
  line numbers; a partial last line (still being written, or cut by a crash) is
  not yielded. :func:`scan_lines` does the same with byte offsets, and can skip
  whole blocks a cheap test rules out. :func:`open_event_file` finds a rotated
  file that was gzipped since it was listed.

Reading at the ends of a current file (its last lines, following it) is
:mod:`asgi_audit.store.following`.
"""

from __future__ import annotations

import calendar
import gzip
import io
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from ..record.events import CATEGORY_FILES, category_filename

__all__ = (
    "NOT_EVENT_FILES",
    "ByteReader",
    "EventFile",
    "OpenFile",
    "category_of_file",
    "event_files",
    "iter_lines",
    "line_number_at",
    "open_event_file",
    "scan_lines",
)

#: Files beside the category files that hold no events: the integrity checkpoints
#: (``checkpoints.jsonl``; ``checkpoints.log`` is no ``*.jsonl`` name anyway).
NOT_EVENT_FILES: Final = frozenset({"checkpoints.jsonl", "checkpoints.log"})

_ROTATED_RE: Final = re.compile(
    r"(?P<base>[^/]+\.jsonl)\.(?P<stamp>\d{8}_\d{6})(?:\.(?P<n>\d+))?\.rotated(?P<gz>\.gz)?\Z"
)
_BUFFER: Final = 1 << 20
_MAX_LINE: Final = 16 << 20
_BY_FILE: Final = {name: category for category, name in CATEGORY_FILES.items()}


#: What :func:`open_event_file` returns: a plain or a gzipped file.
OpenFile = io.FileIO | gzip.GzipFile


class ByteReader(Protocol):
    """Anything with ``read(size) -> bytes``: a file, a gzip file, a socket file."""

    def read(self, size: int, /) -> bytes | None: ...


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
    if name in NOT_EVENT_FILES or not name.endswith(".jsonl"):
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


def open_event_file(f: EventFile) -> OpenFile:
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


def _blocks(fh: ByteReader) -> Iterator[tuple[int, bytes]]:
    """``(offset, block)``: blocks of whole lines (without the last newline), ~1 MiB.

    A last line without its newline is left out. A "line" longer than 16 MiB comes
    in pieces (it is no event).
    """
    offset = 0
    pending = b""
    try:
        while block := fh.read(_BUFFER):
            cut = block.rfind(b"\n")
            if cut < 0:
                pending += block
                if len(pending) > _MAX_LINE:
                    yield offset, pending
                    offset += len(pending)
                    pending = b""
                continue
            data = b"".join((pending, memoryview(block)[:cut]))  # one copy
            pending = block[cut + 1 :]
            yield offset, data
            offset += len(data) + 1
    except (EOFError, zlib.error) as exc:
        raise OSError(f"damaged gzip data after byte {offset} ({exc})") from exc


def iter_lines(fh: ByteReader) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without its newline)`` of each whole line, streaming.

    A last line without its newline (still being written) is not yielded.

    Raises:
        OSError: reading failed, or gzipped data is corrupt or cut short (the
            lines before the damage were yielded).
    """
    number = 0
    for _, data in _blocks(fh):
        for line in data.split(b"\n"):
            number += 1
            yield number, line


def scan_lines(
    fh: ByteReader, wanted: Callable[[bytes], bool] | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, line)`` of each whole line, like :func:`iter_lines` but faster.

    With ``wanted``, a block of lines (~1 MiB) for which ``wanted(block)`` is false
    is skipped without being split (a test such as ``needle in block``). Turn an
    offset into a line number with :func:`line_number_at`.

    Raises:
        OSError: as :func:`iter_lines`.
    """
    for offset, data in _blocks(fh):
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
