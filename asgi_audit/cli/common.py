"""What every ``asgi-audit`` command shares: errors and exit codes, times, the log
directory, the warnings about what could not be read, and the argument types.

IO only to check and list the log directory (through :mod:`asgi_audit.store.reading`)
and to print warnings on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import orjson

from ..record.events import category_filename
from ..store.opening import MAX_LINE
from ..store.reading import EventFile, Listing, event_files, line_number_at

__all__ = (
    "DEFAULT_LOG_DIR",
    "EXIT_ALTERED",
    "EXIT_ERROR",
    "EXIT_KEY_MISMATCH",
    "EXIT_OK",
    "EXIT_UNKEYED",
    "CliError",
    "Command",
    "Record",
    "Report",
    "add_log_dir",
    "canonical",
    "category_list",
    "checked_log_dir",
    "last_record",
    "listing",
    "megabytes",
    "names",
    "parse_event",
    "parse_time",
    "seconds",
    "timestamp_key",
    "warn",
    "warn_missing_categories",
    "whole_number",
)

EXIT_OK: Final = 0
#: ``verify`` found a line or file that was altered, removed or inserted.
EXIT_ALTERED: Final = 1
#: A usage error, a missing or unreadable directory, a bad time, a failed operation.
EXIT_ERROR: Final = 2
#: ``verify`` found nothing altered, but lines it could not check: they were sealed
#: without a key, with another key, or with a key when none was given.
EXIT_KEY_MISMATCH: Final = 3
#: ``verify`` found nothing altered in a log sealed without a key (``sealing="unkeyed"``):
#: anyone who could write the files could have rewritten it (``--accept-unkeyed``: 0).
EXIT_UNKEYED: Final = 4

DEFAULT_LOG_DIR: Final = "logs/security"
_TIME_HELP: Final = "use an ISO time or 15m, 2h, 7d"
_RELATIVE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])\Z")
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: ``(timestamp key, order within its stream, raw line, parsed event)``
Record = tuple[str, int, bytes, dict[str, Any]]


class CliError(Exception):
    """A failure reported as ``asgi-audit: <message>`` with exit status 2."""


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: how its arguments are declared, and its handler.

    The handler returns the exit status, or raises :class:`CliError` (status 2).
    """

    name: str
    summary: str
    description: str
    epilog: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------- times


def parse_time(value: str, now: float | None = None) -> datetime:
    """An aware UTC datetime from an ISO time or ``15m``/``2h``/``7d``/``30s`` ago.

    An ISO time without an offset is UTC; ``Z`` is accepted.

    Raises:
        CliError: quoting the value.
    """
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        moment = time.time() if now is None else now
        ago = float(relative[1]) * _UNITS[relative[2]]
        return datetime.fromtimestamp(moment - ago, timezone.utc)
    try:
        return _parse_iso(text)
    except ValueError:
        raise CliError(f"cannot parse time from: {value!r} ({_TIME_HELP})") from None


# Python 3.10's fromisoformat takes only 3 or 6 digits of a second's fraction.
_FRACTION: Final = re.compile(r"(\d\d:\d\d:\d\d)\.(\d{1,6})\d*")


def _parse_iso(text: str) -> datetime:
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: f"{m.group(1)}.{m.group(2).ljust(6, '0')}", text, count=1)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def canonical(moment: datetime) -> str:
    """``moment`` as ISO UTC with microseconds: the form :func:`timestamp_key` gives."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def timestamp_key(value: object) -> str | None:
    """A sortable key of an event's ``timestamp``: ISO UTC with microseconds, or None.

    The library's own timestamps are already in that form and are used as they are.
    """
    if not isinstance(value, str):
        return None
    if len(value) == 32 and value[10] == "T" and value[19] == "." and value[26:] == "+00:00":
        return value
    try:
        return canonical(_parse_iso(value))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- reading


#: Where a line is: its file, and its byte offset or its line number when known.
_Where = tuple[EventFile, int | None, int | None]


def _place(where: _Where) -> str:
    f, offset, number = where
    if number is not None:
        return f"at {f.path}:{number}"
    if offset is None:
        return f"in {str(f.path)!r}"
    try:
        return f"at {f.path}:{line_number_at(f, offset)}"
    except OSError:
        return f"in {str(f.path)!r} at byte {offset}"


def _where(where: EventFile | Path, offset: int | None, number: int | None = None) -> _Where:
    return (where if isinstance(where, EventFile) else EventFile(where, "")), offset, number


@dataclass
class Report:
    """What could not be read, reported on stderr (at the end, or as it is met)."""

    bad_lines: int = 0
    #: Where the first bad line is.
    first_bad: _Where | None = None
    #: The paths already said to be unreadable or not read.
    unreadable: set[str] = field(default_factory=set)
    #: The plain rotated files already said to be read beside their .gz.
    twins: set[str] = field(default_factory=set)
    #: Lines over the longest a reader holds, skipped.
    long_lines: int = 0
    first_long: _Where | None = None

    def bad_line(self, where: EventFile | Path, offset: int | None = None) -> None:
        self.bad_lines += 1
        if self.first_bad is None:
            self.first_bad = _where(where, offset)

    def long_line(
        self, where: EventFile | Path, offset: int | None = None, number: int | None = None
    ) -> None:
        """A line longer than :data:`~asgi_audit.store.opening.MAX_LINE`, at a byte
        ``offset`` or line ``number`` when known."""
        self.long_lines += 1
        if self.first_long is None:
            self.first_long = _where(where, offset, number)

    def cannot_read(self, path: Path, exc: OSError) -> None:
        if str(path) not in self.unreadable:
            self.unreadable.add(str(path))
            warn(f"cannot read {str(path)!r}: {exc.strerror or exc}")

    def listed(self, log_dir: Path, found: Listing) -> None:
        """A warning for each entry the listing refused, and each plain rotated file
        listed beside its ``.gz`` twin (both are read)."""
        for refused in found.refused:
            path = str(log_dir / refused.name)
            if path not in self.unreadable:
                self.unreadable.add(path)
                warn(f"not read: {path!r}: {refused.detail}")
        for files in found.categories.values():
            for f in files:
                if f.twin and str(f.path) not in self.twins:
                    self.twins.add(str(f.path))  # said once
                    warn(
                        f"both {str(f.path)!r} and its .gz exist: both are read, "
                        "their events may show twice"
                    )

    def finish(self) -> None:
        if self.bad_lines:
            what = (
                "line that is not a JSON object"
                if self.bad_lines == 1
                else "lines that are not JSON objects"
            )
            assert self.first_bad is not None
            warn(f"skipped {self.bad_lines} {what} (the first {_place(self.first_bad)})")
        if self.long_lines:
            what = "line" if self.long_lines == 1 else "lines"
            assert self.first_long is not None
            warn(
                f"skipped {self.long_lines} {what} longer than {MAX_LINE:,} bytes "
                f"(the first {_place(self.first_long)})"
            )


def warn(message: str) -> None:
    """``asgi-audit: warning: <message>`` on stderr."""
    print(f"asgi-audit: warning: {message}", file=sys.stderr)


def checked_log_dir(value: str) -> Path:
    """The log directory named on the command line, once it is known to be readable.

    Raises:
        CliError: it is missing, not a directory, or cannot be read.
    """
    path = Path(value)
    try:
        if not path.is_dir():
            if path.exists():
                raise CliError(f"not a directory: {value!r}")
            raise CliError(f"no such log directory: {value!r}")
        with os.scandir(path):
            pass
    except OSError as exc:
        raise CliError(f"cannot read log directory: {value!r} ({exc.strerror or exc})") from None
    return path


def listing(log_dir: Path, report: Report | None = None) -> dict[str, list[EventFile]]:
    """:func:`asgi_audit.store.reading.event_files` per category, its failure a
    :class:`CliError`; with a ``report``, what it refused is warned of."""
    try:
        found = event_files(log_dir)
    except OSError as exc:
        raise CliError(f"cannot read log directory: {str(log_dir)!r} ({exc.strerror})") from None
    if report is not None:
        report.listed(log_dir, found)
    return found.categories


def warn_missing_categories(log_dir: Path, categories: list[str] | None) -> None:
    """A warning for each category asked for that has no file in ``log_dir``."""
    if categories:
        found = listing(log_dir)
        for category in dict.fromkeys(categories):
            if category not in found:
                warn(f"no files of category {category!r} in {str(log_dir)!r}")


def parse_event(line: bytes) -> dict[str, Any] | None:
    """The event of a line, or None when it is not a JSON object."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


# ---------------------------------------------------------------------------- arguments


def category_list(value: str) -> list[str]:
    """``-c auth,injection``: category names, each one a valid category."""
    found = [v.strip() for v in value.split(",") if v.strip()]
    for name in found:
        try:
            category_filename(name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if not found:
        raise argparse.ArgumentTypeError("expected a category name")
    return found


def names(value: str) -> list[str]:
    """``a,b``: the values separated by commas, at least one."""
    found = [v.strip() for v in value.split(",") if v.strip()]
    if not found:
        raise argparse.ArgumentTypeError("expected a value")
    return found


def whole_number(value: str) -> int:
    """An integer >= 0."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def megabytes(value: str) -> float:
    """A number of MB >= 0."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of MB >= 0, got {value!r}")
    return number


def seconds(value: str) -> float:
    """A number of seconds > 0."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {value!r}")
    return number


def add_log_dir(p: argparse.ArgumentParser) -> None:
    """The optional ``LOG_DIR`` positional argument of every command."""
    p.add_argument(
        "log_dir",
        nargs="?",
        default=DEFAULT_LOG_DIR,
        metavar="LOG_DIR",
        help=f"the log directory (default: {DEFAULT_LOG_DIR})",
    )


def last_record(value: str, what: str) -> bytes:
    """The last non-empty line of the file ``value`` names (a ledger record kept or
    shipped: a long file is read from its end).

    Raises:
        CliError: it cannot be read, or holds no line.
    """
    try:
        with open(value, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - (8 << 20)))
            data = fh.read()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {value!r}: {exc.strerror or exc}") from None
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        raise CliError(f"the {what} {value!r} holds no ledger record")
    return lines[-1].strip()
