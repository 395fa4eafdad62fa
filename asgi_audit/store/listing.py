"""Which files of a log directory hold events: one list for every tool that reads them.

IO: lists a directory, opens nothing. ``asgi-audit verify``, ``query``, ``tail``
and ``stats``, :func:`asgi_audit.get_audit_stats` and the rotated files that
retention and the sinks see all come from here, so they agree on what a log
directory holds, whoever wrote into it.

* A category's *current* file is ``<file>`` (``auth-events.jsonl``, ``<category>.jsonl``);
  its *rotated* files are ``<file>.<UTC YYYYmmdd_HHMMSS>[.N].rotated[.gz]``. Names are
  read with ASCII digits only: a stamp or ``.N`` spelled in other digits (which
  Python's ``\\d`` and ``int()`` take) is no rotated file of ours.
* Not event files, so never listed: hidden files (``.<file>.lock``, the key file,
  temporary files), crash leftovers (``<file>.<stamp>.partial``), the integrity
  checkpoints, and names that are no category's file.
* An entry with an event file's name that is not a regular file (a symlink, a FIFO,
  a device, a socket, a directory) is never opened: it is :class:`Refused`, and so
  is a name like a rotated file's that does not parse. Each tool says so.
* A plain rotated file and its ``.gz`` twin are both listed (the ``.gz`` first):
  nothing is left out silently. A compression cut short leaves both, with the same
  lines; so does someone who plants a plain file beside a ``.gz``.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..record.events import CATEGORY_FILES, category_filename
from .opening import file_kind

__all__ = (
    "BAD_NAME",
    "NOT_EVENT_FILES",
    "EventFile",
    "Listing",
    "Refused",
    "category_of_file",
    "list_event_files",
    "list_rotated",
    "parse_rotated",
)

#: Files beside the category files that hold no events: the integrity checkpoints
#: (``checkpoints.jsonl``; ``checkpoints.log`` is no ``*.jsonl`` name anyway).
NOT_EVENT_FILES: Final = frozenset({"checkpoints.jsonl", "checkpoints.log"})

# ASCII only: [0-9], never \d (which takes any script's digits).
_ROTATED_RE: Final = re.compile(
    r"(?P<base>[^/]+?\.jsonl)\.(?P<stamp>[0-9]{8}_[0-9]{6})(?:\.(?P<n>[0-9]{1,9}))?"
    r"\.rotated(?P<gz>\.gz)?\Z",
    re.ASCII,
)
#: The reason of a :class:`Refused` entry that is refused for its name.
BAD_NAME: Final = "not a rotated file name"
_ROTATED_SUFFIXES: Final = (".rotated", ".rotated.gz")
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
    #: A plain rotated file whose ``.gz`` twin is listed as well.
    twin: bool = False

    @property
    def current(self) -> bool:
        return self.rotated_at is None


@dataclass(frozen=True, slots=True)
class Refused:
    """An entry with an event file's name that is never read, and why."""

    name: str
    #: ``symlink``, ``FIFO``, ``device``, ``socket``, ``directory``, ``not a regular
    #: file``, ``unreadable`` or ``not a rotated file name``.
    reason: str

    @property
    def what(self) -> str:
        """``a FIFO``, ``a symlink``, ...: what the entry is."""
        if self.reason == BAD_NAME:
            return "named like a rotated file, but not in its form (ASCII digits only)"
        if self.reason in ("unreadable", "not a regular file"):
            return self.reason
        return f"a {self.reason}"

    @property
    def detail(self) -> str:
        """``a FIFO, not a regular file``: the reason as a tool prints it."""
        if self.reason in (BAD_NAME, "unreadable", "not a regular file"):
            return self.what
        return f"{self.what}, not a regular file"


@dataclass(slots=True)
class Listing:
    """A directory's event files per category (in time order), and what was refused."""

    categories: dict[str, list[EventFile]] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)


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


def parse_rotated(name: str) -> tuple[str, float, int, bool] | None:
    """``(current file name, rotated at, N, gzipped)`` of a rotated file's name, or None.

    Never raises, whatever ``name`` holds.
    """
    match = _ROTATED_RE.match(name)
    if match is None:
        return None
    try:
        moment = calendar.timegm(time.strptime(match["stamp"], "%Y%m%d_%H%M%S"))
    except ValueError:
        return None
    return match["base"], float(moment), int(match["n"] or 0), match["gz"] is not None


def _not_regular(entry: os.DirEntry[str]) -> str | None:
    """Why ``entry`` is not a regular file (not following a symlink), or None."""
    if entry.is_symlink():
        return "symlink"
    if entry.is_file(follow_symlinks=False):
        return None
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    return file_kind(entry.stat(follow_symlinks=False).st_mode)


def _classify(
    entry: os.DirEntry[str], base: str | None
) -> tuple[str, tuple[float, int, bool] | None] | Refused | None:
    """``(current file name, (rotated at, N, gzipped) or None for the current file)``
    of an entry, a refusal, or None (not an event file's name).

    ``base``: only the rotated files of that current file name (and not the file).
    """
    name = entry.name
    if name.startswith("."):
        return None
    rotated = parse_rotated(name)
    if rotated is None:
        if base is None and category_of_file(name) is not None:
            own = name
        elif name.endswith(_ROTATED_SUFFIXES) and _rotated_of_category(name, base):
            return Refused(name, BAD_NAME)
        else:
            return None
    else:
        own = rotated[0]
        if (base is not None and own != base) or (base is None and not category_of_file(own)):
            return None
    try:
        why = _not_regular(entry)
    except FileNotFoundError:
        return None  # gone since the directory was read
    except OSError:
        why = "unreadable"
    if why is not None:
        return Refused(name, why)
    return own, (None if rotated is None else rotated[1:])


def _rotated_of_category(name: str, base: str | None) -> bool:
    head = name.split(".jsonl.", 1)[0] + ".jsonl"
    if base is not None:
        return head == base and name.startswith(base + ".")
    return category_of_file(head) is not None


def _in_time_order(files: list[EventFile]) -> list[EventFile]:
    """By stamp then N; of a plain file and its ``.gz`` twin, the ``.gz`` first."""
    files.sort(key=lambda f: (f.rotated_at or 0.0, f.index, not f.compressed))
    gzipped = {(f.rotated_at, f.index) for f in files if f.compressed}
    return [
        EventFile(f.path, f.category, f.rotated_at, f.index, False, twin=True)
        if not f.compressed and (f.rotated_at, f.index) in gzipped
        else f
        for f in files
    ]


def _scan(
    log_dir: Path, base: str | None
) -> tuple[dict[str, list[EventFile]], set[str], list[Refused]]:
    """Rotated files per current file name, the current files seen, and the refusals."""
    rotated: dict[str, list[EventFile]] = {}
    current: set[str] = set()
    refused: list[Refused] = []
    with os.scandir(log_dir) as entries:
        for entry in entries:
            got = _classify(entry, base)
            if got is None:
                continue
            if isinstance(got, Refused):
                refused.append(got)
                continue
            own, parsed = got
            if parsed is None:
                current.add(own)
                continue
            moment, index, compressed = parsed
            category = category_of_file(own) or ""
            rotated.setdefault(own, []).append(
                EventFile(log_dir / entry.name, category, moment, index, compressed)
            )
    refused.sort(key=lambda r: r.name)
    return rotated, current, refused


def list_event_files(log_dir: str | os.PathLike[str]) -> Listing:
    """Per category, its event files in time order: rotated oldest first, then current.

    Categories come in a stable order: the built-in ones first, then the others by
    name. A category appears when it has a current or a rotated file (a refused
    current file is neither).

    Raises:
        OSError: the directory cannot be listed.
    """
    root = Path(log_dir)
    rotated, current, refused = _scan(root, None)
    order = {category: i for i, category in enumerate(CATEGORY_FILES)}
    by_category = {category_of_file(own) or "": own for own in {*rotated, *current}}
    listing = Listing(refused=refused)
    for category in sorted(by_category, key=lambda c: (order.get(c, len(order)), c)):
        own = by_category[category]
        files = _in_time_order(rotated.get(own, []))
        if own in current:
            files.append(EventFile(root / own, category))
        listing.categories[category] = files
    return listing


def list_rotated(path: Path) -> tuple[list[EventFile], list[Refused]]:
    """The rotated files of the current file ``path``, oldest first, and what was refused.

    Raises:
        OSError: the directory cannot be listed.
    """
    rotated, _, refused = _scan(path.parent, path.name)
    return _in_time_order(rotated.get(path.name, [])), refused
