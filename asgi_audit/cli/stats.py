"""``asgi-audit stats`` and ``asgi-audit rotate``: the category files as files, their
size, event count and time range, and rotating them by size."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any, Final

from ..record.events import CATEGORY_FILES, category_filename
from ..store.following import complete_end, read_backward, read_forward
from ..store.opening import open_regular
from ..store.reading import EventFile
from ..store.rotation import count_lines, rotate_audit_logs
from .common import (
    EXIT_OK,
    CliError,
    Command,
    Report,
    add_log_dir,
    checked_log_dir,
    listing,
    megabytes,
    parse_event,
    timestamp_key,
)
from .output import dump, human_size, shown_time

__all__ = ("ROTATE", "STATS")


# ---------------------------------------------------------------------------- stats


def _first_last(path: Path) -> tuple[int, str | None, str | None]:
    """Size, first and last timestamp of a plain file (its first/last dozens of lines)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        first = _first_key(read_forward(fd))
        last = _first_key(islice(read_backward(fd, complete_end(fd, size)), 64))
    finally:
        os.close(fd)
    return size, first, last


def _first_key(lines: Iterable[bytes]) -> str | None:
    for line in lines:
        event = parse_event(line)
        key = None if event is None else timestamp_key(event.get("timestamp"))
        if key is not None:
            return key
    return None


def _category_stats(files: list[EventFile], current: Path) -> dict[str, Any]:
    size, count, first, last, exists = 0, 0, None, None, False
    if files and files[-1].current:  # listed: a regular file (a refused one was warned of)
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
                size_bytes = os.stat(f.path, follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
            rotated.append({"file": str(f.path), "size_bytes": size_bytes})
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
    log_dir = checked_log_dir(args.log_dir)
    found = listing(log_dir, Report())
    categories: dict[str, Any] = {}
    for category in [*(c for c in CATEGORY_FILES if c not in found), *found]:
        current = log_dir / category_filename(category)
        try:
            categories[category] = _category_stats(found.get(category, []), current)
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
        dump({"log_dir": str(log_dir), "categories": categories, "totals": totals})
        return EXIT_OK
    rows = [("CATEGORY", "FILE", "SIZE", "EVENTS", "FIRST", "LAST", "ROTATED")]
    for category, s in categories.items():
        rot = s["rotated"]
        rows.append(
            (
                category,
                Path(s["file"]).name if s["exists"] else f"({Path(s['file']).name})",
                human_size(s["size_bytes"]),
                str(s["event_count"]),
                shown_time(s["first_timestamp"]),
                shown_time(s["last_timestamp"]),
                f"{rot['count']} ({human_size(rot['size_bytes'])})" if rot["count"] else "-",
            )
        )
    rows.append(
        (
            "total",
            "",
            human_size(totals["size_bytes"]),
            str(totals["event_count"]),
            "",
            "",
            f"{totals['rotated_count']} ({human_size(totals['rotated_size_bytes'])})",
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


def _add_stats_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")


# ---------------------------------------------------------------------------- rotate


def _run_rotate(args: argparse.Namespace) -> int:
    log_dir = checked_log_dir(args.log_dir)
    try:
        rotated = rotate_audit_logs(log_dir, max_size_mb=args.max_size_mb)
    except OSError as exc:
        raise CliError(f"cannot rotate in {str(log_dir)!r}: {exc}") from None
    if args.json:
        dump({"log_dir": str(log_dir), "max_size_mb": args.max_size_mb, "rotated": rotated})
    elif not rotated:
        print(f"nothing to rotate: no file in {str(log_dir)!r} is over {args.max_size_mb:g} MB")
    else:
        for category, path in rotated.items():
            print(f"rotated {category}: {path}")
    return EXIT_OK


def _add_rotate_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument(
        "--max-size-mb",
        type=megabytes,
        default=100.0,
        metavar="N",
        help="rotate every file larger than N MB; 0 rotates every non-empty file (default: 100)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")


# ---------------------------------------------------------------------------- commands

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

STATS: Final = Command(
    "stats",
    "size, event count and time range of each category file",
    "Per category: the file, its size, its events (whole lines), the first and last "
    "timestamp, and its rotated files (count and total size).",
    _STATS_EPILOG,
    _add_stats_arguments,
    _run_stats,
)
ROTATE: Final = Command(
    "rotate",
    "rotate the files over a size now",
    "Rotate every category file larger than --max-size-mb to "
    "<file>.<UTC stamp>.rotated and print what was rotated.",
    _ROTATE_EPILOG,
    _add_rotate_arguments,
    _run_rotate,
)
