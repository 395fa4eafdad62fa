"""``asgi-audit query``: the events that match filters, from every file of a log
directory (current, rotated, gzipped), in time order, streaming.

:class:`Filter` decides what matches, cheap tests on raw bytes first;
:func:`query` reads each category's files through a reorder window
(:func:`reordered`) and merges the categories by timestamp.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

import orjson

from ..store.reading import EventFile, OpenFile, open_event_file, scan_lines
from .common import (
    EXIT_OK,
    Command,
    Record,
    Report,
    add_log_dir,
    canonical,
    category_list,
    checked_log_dir,
    listing,
    names,
    parse_time,
    timestamp_key,
    warn_missing_categories,
    whole_number,
)
from .output import Printer

__all__ = ("QUERY", "REORDER_WINDOW", "Filter", "query", "reordered")

#: Lines of several processes may be slightly out of order in a file: query re-sorts
#: each category's lines within a window of this many lines.
REORDER_WINDOW: Final = 4096

#: query option -> the event field it filters on
_FIELD_OPTIONS: Final = {
    "event_type": "event_type",
    "outcome": "outcome",
    "ip": "ip_address",
    "agent": "agent_id",
    "request_id": "request_id",
    "user": "user_id",
}
_NUMBER: Final = re.compile(r"-?\d+(?:\.\d+)?\Z")


def _needle(value: str) -> bytes | None:
    """Bytes that every line holding ``value`` as a JSON string (or number) holds.

    None when a JSON writer may have escaped part of it (anything but printable
    ASCII, ``"`` and ``\\``): then only the parsed event decides.
    """
    if not value or not all(" " <= c <= "~" and c not in '"\\' for c in value):
        return None
    raw = value.encode("ascii")
    return raw if _NUMBER.match(value) else b'"' + raw + b'"'


class Filter:
    """What ``query`` keeps: every given filter must hold, any of its values.

    :attr:`block_test` skips a whole block of lines that holds no value sought;
    :meth:`maybe` looks at a line's raw bytes (the value's JSON form must be in
    it, the library's timestamp must be in range): cheap tests without false
    negatives before the JSON parsing. :meth:`matches` decides on the parsed event.
    """

    def __init__(
        self,
        categories: Iterable[str] | None = None,
        fields: dict[str, Iterable[str]] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.categories = None if categories is None else frozenset(categories)
        self.fields = {name: frozenset(values) for name, values in (fields or {}).items()}
        self.since = None if since is None else canonical(since)
        self.until = None if until is None else canonical(until)
        self.since_epoch = None if since is None else since.timestamp()
        self.timed = since is not None or until is not None
        self._since_b = None if self.since is None else self.since.encode()
        self._until_b = None if self.until is None else self.until.encode()
        self._needles: list[tuple[bytes, ...]] = []
        for values in self.fields.values():
            needles = [_needle(v) for v in values]
            if all(n is not None for n in needles):
                self._needles.append(tuple(n for n in needles if n is not None))

    def wants_file(self, f: EventFile, mtime: float) -> bool:
        """False when no line of ``f`` can be at or after ``--since``.

        A line's timestamp is read before it is written, so it is before the file's
        last write (mtime) and its rotation (the second in its name); a second of
        slack covers coarse file-system clocks.
        """
        if self.since_epoch is None:
            return True
        newest = mtime + 1.0
        if f.rotated_at is not None:
            newest = min(newest, f.rotated_at + 2.0)
        return newest >= self.since_epoch

    @property
    def block_test(self) -> Callable[[bytes], bool] | None:
        """A test of a block of lines that is false when none of them can match."""
        return self._has_needles if self._needles else None

    def _has_needles(self, block: bytes) -> bool:
        return all(any(n in block for n in needles) for needles in self._needles)

    def maybe(self, line: bytes) -> bool:
        for needles in self._needles:
            for needle in needles:
                if needle in line:
                    break
            else:
                return False
        if (
            self.timed
            and line.startswith(b'{"timestamp":"')
            and line[40:47] == b'+00:00"'
            and line[24:25] == b"T"
            and line[33:34] == b"."
        ):
            stamp = line[14:46]
            if self._since_b is not None and stamp < self._since_b:
                return False
            if self._until_b is not None and stamp >= self._until_b:
                return False
        return True

    def matches(self, event: dict[str, Any], key: str | None) -> bool:
        for name, accepted in self.fields.items():
            value = event.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or value not in accepted:
                return False
        if self.timed:
            if key is None:
                return False
            if self.since is not None and key < self.since:
                return False
            if self.until is not None and key >= self.until:
                return False
        return True


def _category_records(
    files: list[tuple[EventFile, OpenFile | None]], flt: Filter, report: Report
) -> Iterator[Record]:
    """The matching events of one category's files, in file order, streaming.

    An event without a readable timestamp takes its predecessor's key (it stays
    where it was found); it never matches a time filter.
    """
    seq = 0
    last_key = ""
    loads, maybe, matches, block_test = orjson.loads, flt.maybe, flt.matches, flt.block_test
    filtering = bool(flt.fields) or flt.timed
    for f, opened in files:

        def too_long(offset: int, length: int, f: EventFile = f) -> None:
            report.long_line(f, offset)

        try:
            fh = opened if opened is not None else open_event_file(f)
            with fh:
                for offset, line in scan_lines(fh, block_test, too_long):
                    if not maybe(line):
                        continue
                    try:
                        event = loads(line)
                    except orjson.JSONDecodeError:
                        report.bad_line(f, offset)
                        continue
                    if type(event) is not dict:
                        report.bad_line(f, offset)
                        continue
                    key = event.get("timestamp")
                    if not (type(key) is str and len(key) == 32 and key[26:] == "+00:00"):
                        key = timestamp_key(key)  # not the library's own form
                    if key is not None:
                        last_key = key
                    elif flt.timed:
                        continue
                    if filtering and not matches(event, key):
                        continue
                    seq += 1
                    yield key or last_key, seq, line, event
        except FileNotFoundError as exc:
            if not f.twin:  # a plain file beside its .gz: gzipped since it was listed
                report.cannot_read(f.path, exc)
        except OSError as exc:
            report.cannot_read(f.path, exc)


def reordered(
    records: Iterable[Record], window: int = REORDER_WINDOW
) -> Generator[Record, None, None]:
    """``records`` sorted by timestamp when none is ``window`` or more places out of order.

    Holds at most ``2 * window`` records: when that many are held they are sorted
    (Timsort: near-linear on nearly sorted lines) and the oldest ``window`` are let
    out; every record that belongs before them has been read by then. A record
    further out of place comes out late, near where it was found. Ties keep file
    order.
    """
    held: list[Record] = []
    for record in records:
        held.append(record)
        if len(held) >= 2 * window:
            held.sort()
            yield from held[:window]
            del held[:window]
    held.sort()
    yield from held


def query(
    log_dir: Path, flt: Filter, report: Report, window: int = REORDER_WINDOW
) -> Generator[Record, None, None]:
    """Matching events of current, rotated and gzipped files, in time order, streaming.

    Per category the files are read one after the other (oldest first) through a
    reorder window, and the categories are merged by timestamp (``heapq.merge``).
    Current files are opened at once, so a rotation while the query runs changes
    nothing it reads. Files that cannot hold a line after ``--since`` are skipped.
    """
    opened: list[OpenFile] = []
    streams: list[Generator[Record, None, None]] = []
    try:
        for category, files in listing(log_dir, report).items():
            if flt.categories is not None and category not in flt.categories:
                continue
            chosen: list[tuple[EventFile, OpenFile | None]] = []
            for f in files:
                fh: OpenFile | None = None
                try:
                    if f.current:
                        fh = open_event_file(f)
                        opened.append(fh)
                        mtime = os.fstat(fh.fileno()).st_mtime
                    else:
                        mtime = _mtime(f)
                except FileNotFoundError as exc:
                    if not f.twin:
                        report.cannot_read(f.path, exc)
                    continue
                except OSError as exc:
                    report.cannot_read(f.path, exc)
                    continue
                if flt.wants_file(f, mtime):
                    chosen.append((f, fh))
            if chosen:
                streams.append(reordered(_category_records(chosen, flt, report), window))
        if len(streams) == 1:
            yield from streams[0]
        else:
            yield from heapq.merge(*streams, key=itemgetter(0))
    finally:
        for stream in streams:
            stream.close()
        for fh in opened:
            fh.close()


def _mtime(f: EventFile) -> float:
    try:
        return os.stat(f.path, follow_symlinks=False).st_mtime
    except FileNotFoundError:
        if f.compressed or f.twin:
            raise
        gzipped = f.path.with_name(f.path.name + ".gz")  # gzipped since
        return os.stat(gzipped, follow_symlinks=False).st_mtime


def _filter_of(args: argparse.Namespace, now: float | None = None) -> Filter:
    since = None if args.since is None else parse_time(args.since, now)
    until = None if args.until is None else parse_time(args.until, now)
    fields = {
        event_field: getattr(args, option)
        for option, event_field in _FIELD_OPTIONS.items()
        if getattr(args, option)
    }
    return Filter(args.category, fields, since, until)


def _run_query(args: argparse.Namespace) -> int:
    flt = _filter_of(args)
    log_dir = checked_log_dir(args.log_dir)
    report = Report()
    printer = Printer(as_json=args.format == "jsonl")
    found = query(log_dir, flt, report)
    try:
        for record in found if args.limit is None else islice(found, args.limit):
            printer(record)
    finally:
        found.close()
        printer.flush()
    warn_missing_categories(log_dir, args.category)
    report.finish()
    return EXIT_OK


def _add_query_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    g = p.add_argument_group(
        "filters", "Every filter given must hold; one given several times matches any value."
    )
    g.add_argument(
        "-c", "--category", action="extend", type=category_list, metavar="CATEGORY",
        help="the category (auth, injection, tool_blocks, data_access, api_audit, audit, yours)",
    )  # fmt: skip
    g.add_argument(
        "-t", "--type", dest="event_type", action="extend", type=names, metavar="TYPE",
        help="the event_type (login_attempt, tool_path_blocked, api_access, ...)",
    )  # fmt: skip
    g.add_argument("--outcome", action="extend", type=names, help="success, failed, blocked, ...")
    g.add_argument("--ip", action="append", metavar="IP", help="the ip_address")
    g.add_argument("--agent", action="append", metavar="ID", help="the agent_id")
    g.add_argument("--request-id", action="append", metavar="ID", help="the request_id")
    g.add_argument("--user", action="append", metavar="ID", help="the user_id")
    g.add_argument("--since", metavar="TIME", help="at or after TIME (ISO, or 15m, 2h, 7d ago)")
    g.add_argument("--until", metavar="TIME", help="before TIME (ISO, or 15m, 2h, 7d ago)")
    p.add_argument("--limit", type=whole_number, metavar="N", help="print at most N events")
    p.add_argument(
        "--format",
        choices=("jsonl", "table"),
        default="jsonl",
        help="jsonl: the lines as written (default); table: one readable line per event",
    )


_QUERY_EPILOG: Final = f"""\
Reads current, rotated and gzipped files and prints the matching events in time
order, streaming. Lines of several processes may be slightly out of order in a
file: each category is re-sorted within a window of {REORDER_WINDOW} lines. Times
without an offset are UTC; a relative time (30s, 15m, 2h, 7d) means that long ago.

examples:
  asgi-audit query --category auth --outcome failed --since 2h
  asgi-audit query --ip 203.0.113.7 --since 2026-11-28T10:00 --until 2026-11-28T11:00
  asgi-audit query --type tool_path_blocked,injection_attempt --agent agent-7 --format table
  asgi-audit query /var/log/app/security --request-id 71a0c16237044d08bb21a3b612ccc82e
"""


QUERY: Final = Command(
    "query",
    "find events by category, type, outcome, ip, agent, user, request id and time",
    "Print the events that match every filter given, in time order.",
    _QUERY_EPILOG,
    _add_query_arguments,
    _run_query,
)
