"""``asgi-audit tail``: the last events of the chosen categories, and with ``-f``
the new ones as their lines complete, across rotations, until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from collections import deque
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from ..record.events import category_filename
from ..store.following import Follower
from ..store.opening import NotRegularFile
from ..store.reading import EventFile, event_files, iter_lines, open_event_file
from .common import (
    EXIT_OK,
    Command,
    Record,
    Report,
    add_log_dir,
    category_list,
    checked_log_dir,
    listing,
    parse_event,
    seconds,
    timestamp_key,
    warn_missing_categories,
    whole_number,
)
from .output import Printer

__all__ = ("POLL_INTERVAL", "TAIL")

POLL_INTERVAL: Final = 0.2
_RESCAN_INTERVAL: Final = 1.0


def _last_records(
    category: str, follower: Follower, files: list[EventFile], n: int, report: Report
) -> list[Record]:
    """The last ``n`` events of a category, oldest first: its current file read
    backwards, then its rotated files, newest first, as far as needed."""
    found: list[tuple[bytes, dict[str, Any]]] = []  # newest first
    for line in follower.last_lines(lambda length: report.long_line(follower.path)):
        if len(found) >= n:
            break
        event = parse_event(line)
        if event is None:
            report.bad_line(follower.path)
        else:
            found.append((line, event))
    for f in reversed([f for f in files if not f.current]):
        if len(found) >= n:
            break

        def too_long(number: int, length: int, f: EventFile = f) -> None:
            report.long_line(f, number=number)

        try:
            with open_event_file(f) as fh:
                lines = iter_lines(fh, too_long)
                last = deque((line for _, line in lines), maxlen=n - len(found))
        except FileNotFoundError as exc:
            if not f.twin:  # a plain file beside its .gz: gzipped since it was listed
                report.cannot_read(f.path, exc)
            continue
        except OSError as exc:
            report.cannot_read(f.path, exc)
            continue
        for line in reversed(last):
            event = parse_event(line)
            if event is None:
                report.bad_line(f)
            else:
                found.append((line, event))
    records: list[Record] = []
    key = ""
    for i, (line, event) in enumerate(found):
        key = timestamp_key(event.get("timestamp")) or key
        records.append((key, -i, line, event))
    return records[::-1]


def _run_tail(args: argparse.Namespace) -> int:
    log_dir = checked_log_dir(args.log_dir)
    report = Report()
    listed = listing(log_dir, report)
    chosen = list(dict.fromkeys(args.category)) if args.category else list(listed)
    followers = {c: _follower(log_dir / category_filename(c)) for c in chosen}
    printer = Printer(as_json=args.json)
    try:
        if args.lines:
            last: list[Record] = []
            for category, follower in followers.items():
                last += _last_records(
                    category, follower, listed.get(category, []), args.lines, report
                )
            last.sort(key=itemgetter(0))
            for record in last[-args.lines :]:
                printer(record)
        printer.flush()
        if args.follow:
            _follow(log_dir, followers, fixed=bool(args.category), args=args, report=report)
    except KeyboardInterrupt:
        if not args.follow:
            raise
        # Ctrl-C is how following ends: a clean stop, wherever it lands.
    finally:
        for follower in followers.values():
            follower.close()
    if not args.follow:
        warn_missing_categories(log_dir, args.category)
    report.finish()
    return EXIT_OK


def _follower(path: Path) -> Follower:
    """A follower from the end of ``path``; from the start of whatever regular file
    comes there, if it is not one now (the listing said so)."""
    try:
        return Follower.at_end(path)
    except NotRegularFile:
        return Follower(path)


def _follow(
    log_dir: Path,
    followers: dict[str, Follower],
    *,
    fixed: bool,
    args: argparse.Namespace,
    report: Report,
) -> None:
    """Print new events as their lines complete, until Ctrl-C (or the test options)."""
    printer = Printer(as_json=args.json)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    scanned = time.monotonic()
    keys: dict[str, str] = {}
    seq = 0
    try:
        while True:
            if not fixed and time.monotonic() - scanned >= _RESCAN_INTERVAL:
                scanned = time.monotonic()
                for category in _new_categories(log_dir, followers, report):
                    followers[category] = Follower(log_dir / category_filename(category))
            batch: list[Record] = []
            for category, follower in followers.items():
                try:
                    lines = follower.poll()
                except OSError as exc:
                    report.cannot_read(follower.path, exc)
                    continue
                for _ in range(follower.dropped):
                    report.bad_line(follower.path)  # cut short in a file rotated away
                for _ in range(follower.too_long):
                    report.long_line(follower.path)
                follower.dropped = follower.too_long = 0
                for line in lines:
                    event = parse_event(line)
                    if event is None:
                        report.bad_line(follower.path)
                        continue
                    key = timestamp_key(event.get("timestamp")) or keys.get(category, "")
                    keys[category] = key
                    seq += 1
                    batch.append((key, seq, line, event))
            batch.sort(key=itemgetter(0, 1))
            for record in batch:
                printer(record)
                if args.max_events is not None and printer.count >= args.max_events:
                    printer.flush()
                    return
            if batch:
                printer.flush()
            if deadline is not None and time.monotonic() >= deadline:
                return
            if not any(follower.behind for follower in followers.values()):
                time.sleep(args.poll_interval)
    except KeyboardInterrupt:
        printer.flush()


def _new_categories(log_dir: Path, followers: dict[str, Follower], report: Report) -> list[str]:
    try:
        found = event_files(log_dir)
    except OSError:
        return []
    report.listed(log_dir, found)  # what is refused, once
    return sorted(c for c, files in found.categories.items() if c not in followers and files)


def _add_tail_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    p.add_argument(
        "-c",
        "--category",
        action="extend",
        type=category_list,
        metavar="CATEGORY",
        help="only this category (repeat, or separate with commas; default: all)",
    )
    p.add_argument(
        "-n", "--lines", type=whole_number, default=10, metavar="N", help="how many (default: 10)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON lines as written")
    # For tests and scripts: end -f by itself.
    p.add_argument("--max-events", type=whole_number, default=None, help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=seconds, default=None, help=argparse.SUPPRESS)
    p.add_argument("--poll-interval", type=seconds, default=POLL_INTERVAL, help=argparse.SUPPRESS)


_TAIL_EPILOG: Final = """\
Each event is one line: time (UTC), category, event_type, outcome, ip address,
then its most telling fields. With -f, new events are printed as their lines
complete, also across rotations; Ctrl-C stops.

examples:
  asgi-audit tail                             # the last 10 events of every category
  asgi-audit tail -f -c auth -c injection     # follow logins and injection attempts
  asgi-audit tail /var/log/app/security -n 50 --json | jq .event_type
"""


TAIL: Final = Command(
    "tail",
    "the last events, and new ones with -f",
    "The last N events of the chosen categories in time order.",
    _TAIL_EPILOG,
    _add_tail_arguments,
    _run_tail,
)
