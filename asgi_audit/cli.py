"""The ``asgi-audit`` command: look into a log directory from a shell.

    asgi-audit stats  [LOG_DIR] [--json]
    asgi-audit rotate [LOG_DIR] [--max-size-mb N] [--json]
    asgi-audit tail   [LOG_DIR] [-f] [-c CATEGORY]... [-n N] [--json]
    asgi-audit query  [LOG_DIR] [filters] [--limit N] [--format jsonl|table]

``LOG_DIR`` defaults to ``logs/security``. Everything here only reads, except
``rotate`` (which takes each file's lock, like the writers). Event files are found
and read by :mod:`asgi_audit.reading`; lines that are not JSON objects are skipped
and counted in one warning on stderr at the end.

Exit status: 0 on success, 1 when ``verify`` finds an alteration, 2 on a usage
error, a missing or unreadable log directory, a time that cannot be read, or an
operation that failed; the reason is one line on stderr (``asgi-audit: ...``).

Subcommands are the entries of :data:`_COMMANDS`: a new one (``verify``) is one
more :class:`Command` there, with its own arguments and its handler.
"""

from __future__ import annotations

import argparse
import heapq
import io
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from . import __version__
from .events import CATEGORY_FILES, category_filename
from .reading import (
    EventFile,
    Follower,
    category_of_file,
    complete_end,
    event_files,
    iter_lines,
    open_event_file,
    read_backward,
    read_forward,
)
from .rotation import count_lines, rotate_audit_logs

__all__ = ("EXIT_ALTERED", "EXIT_ERROR", "EXIT_OK", "CliError", "Command", "main")

EXIT_OK: Final = 0
#: ``verify`` found a line or file that was altered, removed or inserted.
EXIT_ALTERED: Final = 1
#: A usage error, a missing or unreadable directory, a bad time, a failed operation.
EXIT_ERROR: Final = 2

DEFAULT_LOG_DIR: Final = "logs/security"
#: Lines of several processes may be slightly out of order in a file: query re-sorts
#: each category's lines within a window of this many lines.
REORDER_WINDOW: Final = 4096
POLL_INTERVAL: Final = 0.2
_RESCAN_INTERVAL: Final = 1.0
_TIME_HELP: Final = "use an ISO time or 15m, 2h, 7d"
_RELATIVE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])\Z")
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: ``(timestamp key, order within its stream, raw line, parsed event)``
Record = tuple[str, int, bytes, dict[str, Any]]


class CliError(Exception):
    """A failure reported as ``asgi-audit: <message>`` with exit status 2."""


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
        seconds = float(relative[1]) * _UNITS[relative[2]]
        return datetime.fromtimestamp(moment - seconds, timezone.utc)
    try:
        return _parse_iso(text)
    except ValueError:
        raise CliError(f"cannot parse time from: {value!r} ({_TIME_HELP})") from None


def _parse_iso(text: str) -> datetime:
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _canonical(moment: datetime) -> str:
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
        return _canonical(_parse_iso(value))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- reading


@dataclass
class Report:
    """What could not be read, reported on stderr at the end."""

    bad_lines: int = 0
    first_bad: str | None = None
    unreadable: set[str] = field(default_factory=set)

    def bad_line(self, path: Path, number: int) -> None:
        self.bad_lines += 1
        if self.first_bad is None:
            self.first_bad = f"{path}:{number}"

    def cannot_read(self, path: Path, exc: OSError) -> None:
        if str(path) not in self.unreadable:
            self.unreadable.add(str(path))
            _warn(f"cannot read {str(path)!r}: {exc.strerror or exc}")

    def finish(self) -> None:
        if self.bad_lines:
            lines = "line" if self.bad_lines == 1 else "lines"
            _warn(
                f"skipped {self.bad_lines} {lines} that are not JSON objects "
                f"(the first at {self.first_bad})"
            )


def _warn(message: str) -> None:
    print(f"asgi-audit: warning: {message}", file=sys.stderr)


def _log_dir(value: str) -> Path:
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


def _listing(log_dir: Path) -> dict[str, list[EventFile]]:
    try:
        return event_files(log_dir)
    except OSError as exc:
        raise CliError(f"cannot read log directory: {str(log_dir)!r} ({exc.strerror})") from None


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


# ---------------------------------------------------------------------------- output

_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
#: Shown after the fixed columns when present, most telling first.
_TELLING: Final = (
    "rule_name",
    "severity",
    "blocked_path",
    "blocked_reason",
    "tool_name",
    "method",
    "request_path",
    "status_code",
    "duration_ms",
    "user_id",
    "agent_id",
    "error_message",
    "matched_text",
    "risk_score",
    "dropped_count",
    "partial_file",
)
_MAX_FIELDS: Final = 7
_MAX_VALUE: Final = 60


def _shown(value: object, width: int = _MAX_VALUE) -> str:
    """A value for a terminal: shortened, control and bidi characters escaped."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _shown_time(key: str | None) -> str:
    return f"{key[:10]} {key[11:23]}Z" if key else "-"


def format_event(key: str | None, event: dict[str, Any]) -> str:
    """One readable line: time, category, event_type, outcome, ip, telling fields."""
    category = _shown(event.get("category", "-"), 16)
    event_type = _shown(event.get("event_type", "-"), 32)
    outcome = _shown(event.get("outcome", "-"), 16)
    ip = _shown(event.get("ip_address", "-"), 45)
    head = f"{_shown_time(key)}  {category:<11}  {event_type:<18}  {outcome:<8}  {ip:<15}"
    extra = []
    for name in _TELLING:
        value = event.get(name)
        if value is not None and value != "":
            text = _shown(value)
            extra.append(f"{name}={_quoted(text)}")
            if len(extra) == _MAX_FIELDS:
                break
    return f"{head}  {' '.join(extra)}".rstrip()


def _quoted(text: str) -> str:
    return f'"{text}"' if (" " in text or not text) else text


class _Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.count = 0

    def __call__(self, record: Record, out: TextIO) -> None:
        key, _, line, event = record
        if self.as_json:
            out.write(line.decode("utf-8", "replace"))
            out.write("\n")
        else:
            out.write(format_event(key or None, event))
            out.write("\n")
        self.count += 1


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _dump(obj: object) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


# ---------------------------------------------------------------------------- stats


def _first_last(path: Path) -> tuple[int, str | None, str | None]:
    """Size, first and last timestamp of a plain file (its first/last dozens of lines)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        first = _first_key(read_forward(fd))
        last = _first_key(islice(read_backward(fd, complete_end(fd, size)), 64))
    finally:
        os.close(fd)
    return size, first, last


def _first_key(lines: Iterable[bytes]) -> str | None:
    for line in lines:
        event = _parse(line)
        key = None if event is None else timestamp_key(event.get("timestamp"))
        if key is not None:
            return key
    return None


def _category_stats(category: str, files: list[EventFile], current: Path) -> dict[str, Any]:
    size, count, first, last, exists = 0, 0, None, None, False
    try:
        size, first, last = _first_last(current)
        count = count_lines(current) if size else 0
        exists = True
    except FileNotFoundError:
        pass
    rotated = []
    for f in files:
        if not f.current:
            try:
                rotated.append({"file": str(f.path), "size_bytes": f.path.stat().st_size})
            except FileNotFoundError:
                continue
    return {
        "file": str(current),
        "exists": exists,
        "size_bytes": size,
        "size_kb": round(size / 1024, 2),
        "event_count": count,
        "first_timestamp": first,
        "last_timestamp": last,
        "rotated": {
            "count": len(rotated),
            "size_bytes": sum(r["size_bytes"] for r in rotated),
            "files": rotated,
        },
    }


def _run_stats(args: argparse.Namespace) -> int:
    log_dir = _log_dir(args.log_dir)
    listing = _listing(log_dir)
    categories: dict[str, Any] = {}
    for category in [*(c for c in CATEGORY_FILES if c not in listing), *listing]:
        current = log_dir / category_filename(category)
        try:
            categories[category] = _category_stats(category, listing.get(category, []), current)
        except OSError as exc:
            raise CliError(f"cannot read {str(current)!r}: {exc.strerror or exc}") from None
    order = {c: i for i, c in enumerate(CATEGORY_FILES)}
    categories = dict(sorted(categories.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
    totals = {
        "size_bytes": sum(c["size_bytes"] for c in categories.values()),
        "event_count": sum(c["event_count"] for c in categories.values()),
        "rotated_count": sum(c["rotated"]["count"] for c in categories.values()),
        "rotated_size_bytes": sum(c["rotated"]["size_bytes"] for c in categories.values()),
    }
    if args.json:
        _dump({"log_dir": str(log_dir), "categories": categories, "totals": totals})
        return EXIT_OK
    rows = [("CATEGORY", "FILE", "SIZE", "EVENTS", "FIRST", "LAST", "ROTATED")]
    for category, s in categories.items():
        rot = s["rotated"]
        rows.append(
            (
                category,
                Path(s["file"]).name if s["exists"] else f"({Path(s['file']).name})",
                _size(s["size_bytes"]),
                str(s["event_count"]),
                _shown_time(s["first_timestamp"]),
                _shown_time(s["last_timestamp"]),
                f"{rot['count']} ({_size(rot['size_bytes'])})" if rot["count"] else "-",
            )
        )
    rows.append(
        (
            "total",
            "",
            _size(totals["size_bytes"]),
            str(totals["event_count"]),
            "",
            "",
            f"{totals['rotated_count']} ({_size(totals['rotated_size_bytes'])})",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3}
    print(f"log directory: {log_dir}")
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    return EXIT_OK


# ---------------------------------------------------------------------------- rotate


def _run_rotate(args: argparse.Namespace) -> int:
    log_dir = _log_dir(args.log_dir)
    try:
        rotated = rotate_audit_logs(log_dir, max_size_mb=args.max_size_mb)
    except OSError as exc:
        raise CliError(f"cannot rotate in {str(log_dir)!r}: {exc}") from None
    if args.json:
        _dump({"log_dir": str(log_dir), "max_size_mb": args.max_size_mb, "rotated": rotated})
    elif not rotated:
        print(f"nothing to rotate: no file in {str(log_dir)!r} is over {args.max_size_mb:g} MB")
    else:
        for category, path in rotated.items():
            print(f"rotated {category}: {path}")
    return EXIT_OK


# ---------------------------------------------------------------------------- query

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
    """Bytes that any line holding ``value`` as a JSON string (or number) holds; None
    when the writer could have escaped part of it (then only the parsed event says)."""
    if any(c < " " or c in '"\\\x7f\u0085\u2028\u2029' for c in value):
        return None
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return raw if _NUMBER.match(value) else b'"' + raw + b'"'


class Filter:
    """What ``query`` keeps: every given filter must hold, any of its values.

    :meth:`maybe` looks at the raw line bytes first (a cheap test without false
    negatives: the value's JSON form must be in the line, the library's timestamp
    must be in range); :meth:`matches` decides on the parsed event.
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
        self.since = None if since is None else _canonical(since)
        self.until = None if until is None else _canonical(until)
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
    files: list[tuple[EventFile, io.BufferedIOBase | None]], flt: Filter, report: Report
) -> Iterator[Record]:
    """The matching events of one category's files, in file order, streaming.

    An event without a readable timestamp takes its predecessor's key (it stays
    where it was found); it never matches a time filter.
    """
    seq = 0
    last_key = ""
    loads, maybe, matches = orjson.loads, flt.maybe, flt.matches
    for f, opened in files:
        try:
            fh = opened if opened is not None else open_event_file(f)
            with fh:
                for number, line in iter_lines(fh):
                    if not maybe(line):
                        continue
                    try:
                        event = loads(line)
                    except orjson.JSONDecodeError:
                        report.bad_line(f.path, number)
                        continue
                    if type(event) is not dict:
                        report.bad_line(f.path, number)
                        continue
                    key = timestamp_key(event.get("timestamp"))
                    if key is not None:
                        last_key = key
                    elif flt.timed:
                        continue
                    if not matches(event, key):
                        continue
                    seq += 1
                    yield key or last_key, seq, line, event
        except OSError as exc:
            report.cannot_read(f.path, exc)


def reordered(
    records: Iterable[Record], window: int = REORDER_WINDOW
) -> Generator[Record, None, None]:
    """``records`` sorted by timestamp when none is more than ``window`` places out of order.

    Holds at most ``window`` records: the oldest one is let out as each new one
    comes in. A record further out of place comes out where it was found.
    """
    heap: list[Record] = []
    for record in records:
        if len(heap) < window:
            heapq.heappush(heap, record)
        else:
            yield heapq.heappushpop(heap, record)
    while heap:
        yield heapq.heappop(heap)


def query(
    log_dir: Path, flt: Filter, report: Report, window: int = REORDER_WINDOW
) -> Generator[Record, None, None]:
    """Matching events of current, rotated and gzipped files, in time order, streaming.

    Per category the files are read one after the other (oldest first) through a
    reorder window, and the categories are merged by timestamp (``heapq.merge``).
    Current files are opened at once, so a rotation while the query runs changes
    nothing it reads. Files that cannot hold a line after ``--since`` are skipped.
    """
    opened: list[io.BufferedIOBase] = []
    streams: list[Generator[Record, None, None]] = []
    try:
        for category, files in _listing(log_dir).items():
            if flt.categories is not None and category not in flt.categories:
                continue
            chosen: list[tuple[EventFile, io.BufferedIOBase | None]] = []
            for f in files:
                fh: io.BufferedIOBase | None = None
                try:
                    if f.current:
                        fh = open_event_file(f)
                        opened.append(fh)
                        mtime = os.fstat(fh.fileno()).st_mtime
                    else:
                        mtime = _mtime(f)
                except OSError as exc:
                    report.cannot_read(f.path, exc)
                    continue
                if flt.wants_file(f, mtime):
                    chosen.append((f, fh))
            if chosen:
                streams.append(reordered(_category_records(chosen, flt, report), window))
        yield from heapq.merge(*streams, key=itemgetter(0))
    finally:
        for stream in streams:
            stream.close()
        for fh in opened:
            fh.close()


def _mtime(f: EventFile) -> float:
    try:
        return f.path.stat().st_mtime
    except FileNotFoundError:
        if f.compressed:
            raise
        return f.path.with_name(f.path.name + ".gz").stat().st_mtime  # gzipped since


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
    log_dir = _log_dir(args.log_dir)
    report = Report()
    printer = _Printer(as_json=args.format == "jsonl")
    out = sys.stdout
    found = query(log_dir, flt, report)
    try:
        for record in found if args.limit is None else islice(found, args.limit):
            printer(record, out)
    finally:
        found.close()
    out.flush()
    _no_files(log_dir, args.category)
    report.finish()
    return EXIT_OK


def _no_files(log_dir: Path, categories: list[str] | None) -> None:
    if categories:
        listing = _listing(log_dir)
        for category in dict.fromkeys(categories):
            if category not in listing:
                _warn(f"no files of category {category!r} in {str(log_dir)!r}")


# ---------------------------------------------------------------------------- tail


def _last_records(
    category: str, follower: Follower, files: list[EventFile], n: int, report: Report
) -> list[Record]:
    """The last ``n`` events of a category, oldest first: its current file read
    backwards, then its rotated files, newest first, as far as needed."""
    found: list[tuple[bytes, dict[str, Any]]] = []  # newest first
    for line in follower.last_lines():
        if len(found) >= n:
            break
        event = _parse(line)
        if event is None:
            report.bad_line(follower.path, 0)
        else:
            found.append((line, event))
    for f in reversed([f for f in files if not f.current]):
        if len(found) >= n:
            break
        try:
            with open_event_file(f) as fh:
                last = deque((line for _, line in iter_lines(fh)), maxlen=n - len(found))
        except OSError as exc:
            report.cannot_read(f.path, exc)
            continue
        for line in reversed(last):
            event = _parse(line)
            if event is None:
                report.bad_line(f.path, 0)
            else:
                found.append((line, event))
    records: list[Record] = []
    key = ""
    for i, (line, event) in enumerate(found):
        key = timestamp_key(event.get("timestamp")) or key
        records.append((key, -i, line, event))
    return records[::-1]


def _run_tail(args: argparse.Namespace) -> int:
    log_dir = _log_dir(args.log_dir)
    listing = _listing(log_dir)
    chosen = list(dict.fromkeys(args.category)) if args.category else list(listing)
    followers = {c: Follower.at_end(log_dir / category_filename(c)) for c in chosen}
    report = Report()
    printer = _Printer(as_json=args.json)
    try:
        if args.lines:
            last: list[Record] = []
            for category, follower in followers.items():
                last += _last_records(
                    category, follower, listing.get(category, []), args.lines, report
                )
            last.sort(key=itemgetter(0))
            for record in last[-args.lines :]:
                printer(record, sys.stdout)
        sys.stdout.flush()
        if args.follow:
            _follow(log_dir, followers, fixed=bool(args.category), args=args, report=report)
    finally:
        for follower in followers.values():
            follower.close()
    if not args.follow:
        _no_files(log_dir, args.category)
    report.finish()
    return EXIT_OK


def _follow(
    log_dir: Path,
    followers: dict[str, Follower],
    *,
    fixed: bool,
    args: argparse.Namespace,
    report: Report,
) -> None:
    """Print new events as their lines complete, until Ctrl-C (or the test options)."""
    printer = _Printer(as_json=args.json)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    scanned = time.monotonic()
    keys: dict[str, str] = {}
    seq = 0
    try:
        while True:
            if not fixed and time.monotonic() - scanned >= _RESCAN_INTERVAL:
                scanned = time.monotonic()
                for category in _new_categories(log_dir, followers):
                    followers[category] = Follower(log_dir / category_filename(category))
            batch: list[Record] = []
            for category, follower in followers.items():
                try:
                    lines = follower.poll()
                except OSError as exc:
                    report.cannot_read(follower.path, exc)
                    continue
                for line in lines:
                    event = _parse(line)
                    if event is None:
                        report.bad_line(follower.path, 0)
                        continue
                    key = timestamp_key(event.get("timestamp")) or keys.get(category, "")
                    keys[category] = key
                    seq += 1
                    batch.append((key, seq, line, event))
            batch.sort(key=itemgetter(0, 1))
            for record in batch:
                printer(record, sys.stdout)
                if args.max_events is not None and printer.count >= args.max_events:
                    sys.stdout.flush()
                    return
            if batch:
                sys.stdout.flush()
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(args.poll_interval)
    except KeyboardInterrupt:
        sys.stdout.flush()


def _new_categories(log_dir: Path, followers: dict[str, Follower]) -> list[str]:
    try:
        with os.scandir(log_dir) as entries:
            names = [e.name for e in entries]
    except OSError:
        return []
    found = (category_of_file(name) for name in names if not name.startswith("."))
    return sorted({c for c in found if c is not None and c not in followers})


# ---------------------------------------------------------------------------- parser


def _category(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        try:
            category_filename(name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError("expected a category name")
    return names


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a value")
    return names


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def _megabytes(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of MB >= 0, got {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {value!r}")
    return number


def _add_log_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "log_dir",
        nargs="?",
        default=DEFAULT_LOG_DIR,
        metavar="LOG_DIR",
        help=f"the log directory (default: {DEFAULT_LOG_DIR})",
    )


def _add_stats_arguments(p: argparse.ArgumentParser) -> None:
    _add_log_dir(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")


def _add_rotate_arguments(p: argparse.ArgumentParser) -> None:
    _add_log_dir(p)
    p.add_argument(
        "--max-size-mb",
        type=_megabytes,
        default=100.0,
        metavar="N",
        help="rotate every file larger than N MB; 0 rotates every non-empty file (default: 100)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")


def _add_tail_arguments(p: argparse.ArgumentParser) -> None:
    _add_log_dir(p)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    p.add_argument(
        "-c",
        "--category",
        action="extend",
        type=_category,
        metavar="CATEGORY",
        help="only this category (repeat, or separate with commas; default: all)",
    )
    p.add_argument(
        "-n", "--lines", type=_count, default=10, metavar="N", help="how many (default: 10)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON lines as written")
    # For tests and scripts: end -f by itself.
    p.add_argument("--max-events", type=_count, default=None, help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=_seconds, default=None, help=argparse.SUPPRESS)
    p.add_argument("--poll-interval", type=_seconds, default=POLL_INTERVAL, help=argparse.SUPPRESS)


def _add_query_arguments(p: argparse.ArgumentParser) -> None:
    _add_log_dir(p)
    g = p.add_argument_group(
        "filters", "Every filter given must hold; one given several times matches any value."
    )
    g.add_argument(
        "-c", "--category", action="extend", type=_category, metavar="CATEGORY",
        help="the category (auth, injection, tool_blocks, api_audit, audit, yours)",
    )  # fmt: skip
    g.add_argument(
        "-t", "--type", dest="event_type", action="extend", type=_names, metavar="TYPE",
        help="the event_type (login_attempt, tool_path_blocked, api_access, ...)",
    )  # fmt: skip
    g.add_argument("--outcome", action="extend", type=_names, help="success, failed, blocked, ...")
    g.add_argument("--ip", action="append", metavar="IP", help="the ip_address")
    g.add_argument("--agent", action="append", metavar="ID", help="the agent_id")
    g.add_argument("--request-id", action="append", metavar="ID", help="the request_id")
    g.add_argument("--user", action="append", metavar="ID", help="the user_id")
    g.add_argument("--since", metavar="TIME", help="at or after TIME (ISO, or 15m, 2h, 7d ago)")
    g.add_argument("--until", metavar="TIME", help="before TIME (ISO, or 15m, 2h, 7d ago)")
    p.add_argument("--limit", type=_count, metavar="N", help="print at most N events")
    p.add_argument(
        "--format",
        choices=("jsonl", "table"),
        default="jsonl",
        help="jsonl: the lines as written (default); table: one readable line per event",
    )


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


_STATS_EPILOG: Final = """\
examples:
  asgi-audit stats                    # logs/security
  asgi-audit stats /var/log/app/security --json | jq '.totals'
"""
_ROTATE_EPILOG: Final = """\
Safe while apps write: each file is rotated under its lock, and every writer
reopens the new file before its next batch.

examples:
  asgi-audit rotate --max-size-mb 100          # files over 100 MB
  asgi-audit rotate /var/log/app/security --max-size-mb 0 --json   # every non-empty file
"""
_TAIL_EPILOG: Final = """\
Each event is one line: time (UTC), category, event_type, outcome, ip address,
then its most telling fields. With -f, new events are printed as their lines
complete, also across rotations; Ctrl-C stops.

examples:
  asgi-audit tail                             # the last 10 events of every category
  asgi-audit tail -f -c auth -c injection     # follow logins and injection attempts
  asgi-audit tail /var/log/app/security -n 50 --json | jq .event_type
"""
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

#: The subcommands, in ``--help`` order. ``verify`` comes here.
_COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "stats",
        "size, event count and time range of each category file",
        "Per category: the file, its size, its events (whole lines), the first and last "
        "timestamp, and its rotated files (count and total size).",
        _STATS_EPILOG,
        _add_stats_arguments,
        _run_stats,
    ),
    Command(
        "rotate",
        "rotate the files over a size now",
        "Rotate every category file larger than --max-size-mb to "
        "<file>.<UTC stamp>.rotated and print what was rotated.",
        _ROTATE_EPILOG,
        _add_rotate_arguments,
        _run_rotate,
    ),
    Command(
        "tail",
        "the last events, and new ones with -f",
        "The last N events of the chosen categories in time order.",
        _TAIL_EPILOG,
        _add_tail_arguments,
        _run_tail,
    ),
    Command(
        "query",
        "find events by category, type, outcome, ip, agent, user, request id and time",
        "Print the events that match every filter given, in time order.",
        _QUERY_EPILOG,
        _add_query_arguments,
        _run_query,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``asgi-audit`` parser, one subparser per entry of :data:`_COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="asgi-audit",
        description="Look into an asgi_audit log directory: stats, rotate, tail, query.",
        epilog="Run 'asgi-audit COMMAND --help' for a command's options and examples.\n"
        "Exit status: 0 success, 1 an alteration found, 2 an error (message on stderr).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        p = sub.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``asgi-audit`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or argparse's usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        status: int = args.run(args)
    except CliError as exc:
        print(f"asgi-audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (| head): not an error; keep Python quiet at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"asgi-audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return status


if __name__ == "__main__":
    raise SystemExit(main())
