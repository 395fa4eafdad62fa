"""``asgi-audit export --parquet``: the trail's events as a Parquet archive, after
the trail is checked.

The rows are the ``events`` view of ``asgi-audit sql`` (:mod:`.sqlview`), streamed
file by file (not sorted: sorting a large trail would hold it all in memory): its
columns, each line as written (``event``, so a line's seal can be checked again
against it), its file and whether it verified. The files that do not verify are
left out (``--unverified refuse``, the default) or written with ``verified =
false``. The archive says how it was checked in its key-value metadata
(``asgi_audit.check``: the verdict, the scheme, the key id, the files and their
problems), is written with zstd, and is created for its owner alone (0600; a
directory of partitions 0700).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from .checked import CheckedTrail
from .common import (
    EXIT_ALTERED,
    CliError,
    Command,
    add_log_dir,
    canonical,
    category_list,
    parse_time,
    warn,
)
from .database import checked_for, chosen, duckdb_module, execute, report_moved
from .output import shown
from .sql import add_check_arguments
from .sqlview import quoted, string_literal

__all__ = ("EXPORT", "METADATA_KEY", "check_metadata")

#: The key of the archive's metadata that says how the trail was checked.
METADATA_KEY: Final = "asgi_audit.check"
_PARTITIONS: Final = ("category", "day")


def check_metadata(trail: CheckedTrail, unverified: str) -> dict[str, Any]:
    """What the archive says about the check: verdict, scheme, key id, files."""
    result = trail.result
    return {
        "verified": result is not None,
        "verdict": None if result is None else result.verdict,
        "scheme": None if result is None else result.scheme,
        "key_id": None if result is None else result.key_id,
        "unverified": unverified,
        "files": [
            {"name": f.name, "verified": f.verified, "problem": f.problem} for f in trail.files
        ],
        "elsewhere": [b.as_dict() for b in trail.elsewhere],
    }


def _where(args: argparse.Namespace) -> str:
    tests = []
    if args.category:
        tests.append("category IN (" + ", ".join(string_literal(c) for c in args.category) + ")")
    if args.since is not None:
        since = canonical(parse_time(args.since))
        tests.append(f"timestamp >= {string_literal(since)}::TIMESTAMPTZ")
    if args.until is not None:
        until = canonical(parse_time(args.until))
        tests.append(f"timestamp < {string_literal(until)}::TIMESTAMPTZ")
    return " WHERE " + " AND ".join(tests) if tests else ""


@contextlib.contextmanager
def _private() -> Iterator[None]:
    """What is created meanwhile is its owner's alone (umask 077)."""
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def _run_export(args: argparse.Namespace) -> int:
    duckdb_module()  # before anything else: say what to install
    out = Path(args.parquet)
    if out.exists() or out.is_symlink():
        raise CliError(f"{str(out)!r} exists: an export never overwrites one")
    where = _where(args)
    with checked_for(args) as (trail, spill, status):
        options = ["FORMAT parquet", "COMPRESSION zstd"]
        select = "SELECT *"
        if args.partition_by:
            if "day" in args.partition_by:
                select += ", CAST(timestamp AS DATE) AS day"
            parts = ", ".join(quoted(p) for p in args.partition_by)
            options += [f"PARTITION_BY ({parts})", "WRITE_PARTITION_COLUMNS true"]
        # The metadata is made when the files to read are final (after the moves).
        trail.follow_compression()
        metadata = orjson.dumps(check_metadata(trail, args.unverified)).decode()
        options.append(
            f"KV_METADATA {{{string_literal(METADATA_KEY)}: {string_literal(metadata)}}}"
        )
        statement = (
            f"COPY ({select} FROM events{where}) "
            f"TO {string_literal(str(out))} ({', '.join(options)})"
        )
        with _private():
            con, cursor = execute(trail, args.unverified, spill, statement, lock=False)
        try:
            rows = cursor.fetchone()
        finally:
            con.close()
        if trail.changed():  # it may hold bytes that were not checked: not kept
            report_moved(trail)
            _remove(out)
            warn(f"{shown(str(out), 255)} was not kept")
            return EXIT_ALTERED
        written = rows[0] if rows else 0
        files = len(chosen(trail, args.unverified))
        print(f"{written:,} events from {files:,} files into {shown(str(out), 255)}")
        return EXIT_ALTERED if report_moved(trail) else status


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _partitions(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in _PARTITIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"partition by {', '.join(_PARTITIONS)} (or both: category,day), not {value!r}"
        )
    return list(dict.fromkeys(names))


def _add_export_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument(
        "--parquet",
        required=True,
        metavar="PATH",
        help="the Parquet file to write (a directory of them with --partition-by)",
    )
    p.add_argument(
        "--partition-by",
        type=_partitions,
        metavar="category|day|category,day",
        help="write a directory of Parquet files, one per category and/or day (hive layout)",
    )
    p.add_argument(
        "-c", "--category", action="extend", type=category_list, metavar="CATEGORY",
        help="only these categories",
    )  # fmt: skip
    p.add_argument("--since", metavar="TIME", help="at or after TIME (ISO, or 15m, 2h, 7d ago)")
    p.add_argument("--until", metavar="TIME", help="before TIME (ISO, or 15m, 2h, 7d ago)")
    add_check_arguments(p)


_EXPORT_EPILOG: Final = f"""\
The archive's rows are the events table of asgi-audit sql, file by file (not
sorted: ORDER BY timestamp when you read it): its columns, each line as written
(event), its file (log_file) and verified. Its metadata ({METADATA_KEY}) says
how the trail was checked. Never overwrites a
file; creates the archive for its owner alone. Needs DuckDB: pip install
'asgi-audit[sql]'.

Exit status: as asgi-audit sql.

examples:
  asgi-audit export /var/log/app/security --parquet 2026-11.parquet \\
      --since 2026-11-01 --until 2026-12-01 --verification-key app1.verification.key
  asgi-audit export --parquet archive/ --partition-by category,day
  duckdb -c "SELECT category, count(*) FROM 'archive/**/*.parquet' GROUP BY 1"
"""  # noqa: S608 (help text; literals quoted by string_literal)

EXPORT: Final = Command(
    "export",
    "write the trail's events as a Parquet archive, its files checked first",
    "Verify the trail, then write its events (current, rotated and gzipped files)\n"
    "as Parquet: the files that do not verify are left out, or marked.",
    _EXPORT_EPILOG,
    _add_export_arguments,
    _run_export,
)
