"""``asgi-audit sql``: one SQL query over the trail (current, rotated and gzipped
files), on DuckDB, after the trail is checked.

The trail is checked first (:mod:`.checked`); the files that do not verify are left
out (``--unverified refuse``, the default) or read with ``verified = false``
(``--unverified flag``), and either way named on stderr with their first break.
The query is one ``SELECT`` (or ``EXPLAIN``); it runs in a database that can read
the trail's files and nothing else (:func:`~.database.lock_down`). What it prints:
a table for a terminal (every value made safe for one), or one JSON object per row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

import orjson

from .common import EXIT_ALTERED, CliError, Command, add_log_dir
from .database import (
    FILES_TABLE,
    UNVERIFIED,
    checked_for,
    duckdb_module,
    execute,
    report_moved,
)
from .output import shown
from .verify import add_key_arguments

__all__ = ("SQL", "add_check_arguments", "json_row", "table")

#: The statement types a query may be: it reads, and changes nothing.
_READING: Final = ("SELECT", "EXPLAIN")
_BATCH: Final = 10_000


def _statement(query: str) -> None:
    """Refuse anything but one reading statement.

    Raises:
        CliError: not one statement, or one that is no SELECT or EXPLAIN, or no SQL.
    """
    duckdb = duckdb_module()
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise CliError(f"the query is not SQL DuckDB reads: {exc}") from None
    if len(statements) != 1:
        raise CliError(f"give one statement, not {len(statements)}")
    kind = str(statements[0].type).rsplit(".", 1)[-1]
    if kind not in _READING:
        raise CliError(f"the query may only read (SELECT or EXPLAIN), not {kind}")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _wide_ints_as_text(value: Any) -> Any:
    """``value`` with every integer JSON numbers cannot carry exactly (beyond 64 bits:
    a HUGEINT sum) as its decimal text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, dict):
        return {k: _wide_ints_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wide_ints_as_text(v) for v in value]
    return value


def json_row(names: Sequence[str], json_columns: Iterable[int], row: Sequence[Any]) -> bytes:
    """One row as a JSON object: a JSON column's value as the JSON it holds, an integer
    beyond 64 bits as its decimal text."""
    values = list(row)
    for i in json_columns:
        if isinstance(values[i], str):
            values[i] = orjson.Fragment(values[i])
    try:
        return orjson.dumps(dict(zip(names, values, strict=True)), default=_default)
    except orjson.JSONEncodeError:
        wide = dict(zip(names, _wide_ints_as_text(values), strict=True))
        return orjson.dumps(wide, default=_default)


def _cell(value: Any, width: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (dict, list)):
        value = orjson.dumps(value, default=_default).decode()
    return shown(value, width)


def table(names: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> list[str]:
    """Rows as aligned text lines under their names; every value shortened to
    ``width`` and made safe for a terminal (control and bidi characters escaped)."""
    head = [shown(n, width) for n in names]
    cells = [[_cell(v, width) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(head)]
    rule = "-+-".join("-" * w for w in widths)
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), rule]
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows):,} row{'' if len(rows) == 1 else 's'})")
    return [line.rstrip() for line in lines]


def _print_jsonl(cursor: Any) -> None:
    names = [d[0] for d in cursor.description]
    json_columns = [i for i, d in enumerate(cursor.description) if str(d[1]) == "JSON"]
    out = sys.stdout
    raw = getattr(out, "buffer", None)
    while rows := cursor.fetchmany(_BATCH):
        data = b"".join(json_row(names, json_columns, row) + b"\n" for row in rows)
        if raw is not None:
            out.flush()
            raw.write(data)
        else:
            out.write(data.decode())
    out.flush()


def run_query(args: argparse.Namespace) -> int:
    """Check the trail, run the query on what was checked, print."""
    duckdb = duckdb_module()
    _statement(args.query)
    with checked_for(args) as (trail, spill, status):
        con, cursor = execute(trail, args.unverified, spill, args.query, lock=True)
        try:
            if args.format == "jsonl":
                _print_jsonl(cursor)  # streaming: a file changed meanwhile is named after
            else:
                names = [d[0] for d in cursor.description]
                found = cursor.fetchall()
                if trail.changed():  # read, and not what was checked: nothing is shown
                    report_moved(trail)
                    return EXIT_ALTERED
                sys.stdout.write("\n".join(table(names, found, args.max_width)) + "\n")
        except duckdb.Error as exc:
            raise CliError(f"the query failed: {exc}") from None
        finally:
            con.close()
        return EXIT_ALTERED if report_moved(trail) else status


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    """How the trail is checked before it is read (``sql`` and ``export``)."""
    g = p.add_argument_group("the check", "The trail is verified first, as verify does.")
    g.add_argument(
        "--unverified",
        choices=UNVERIFIED,
        default="refuse",
        help="refuse: leave out the files that do not verify (default); flag: read them "
        "too, with verified = false",
    )
    g.add_argument(
        "--no-verify",
        action="store_true",
        help="do not check (every row's verified is NULL): quicker, proves nothing",
    )
    g.add_argument(
        "--accept-unkeyed",
        action="store_true",
        help="exit 0 on a trail sealed without a key in which nothing is altered",
    )
    add_key_arguments(g)


def _width(value: str) -> int:
    """A column width: an integer from 8 (room for a short value and its ``…``)."""
    try:
        width = int(value)
    except ValueError:
        width = 0
    if width < 8:
        raise argparse.ArgumentTypeError(f"expected a width of 8 or more, got {value!r}")
    return width


def _add_sql_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", metavar="QUERY", help="one SELECT (or EXPLAIN) over events, log_files")
    add_log_dir(p)
    p.add_argument(
        "--format",
        choices=("table", "jsonl"),
        default="table",
        help="table: aligned columns for a terminal (default); jsonl: one JSON object per row",
    )
    p.add_argument(
        "--max-width",
        type=_width,
        default=60,
        metavar="N",
        help="table: shorten every value to N characters (default 60)",
    )
    add_check_arguments(p)


_SQL_EPILOG: Final = f"""\
Tables:
  events     one row per line: timestamp, category, event_type, outcome,
             event_id, user_id, ip_address, user_agent, session_id, request_id,
             agent_id, method, request_path, status_code, duration_ms,
             tool_name, blocked_path, rule_name, severity, resource_type,
             resource_id, action, record_count, purpose, authz_decision,
             authz_reason, stream, seq; event (the line as written, JSON);
             log_file (its file's name); verified
  {FILES_TABLE}  every file: name, category, path (read), current, compressed,
             verified, problem

The columns read native, ECS and OCSF lines alike; any other field is in event
(event->>'$.field'). The query runs in a database that can read the trail's
files and nothing else. Needs DuckDB: pip install 'asgi-audit[sql]'.

Exit status: as verify (0 everything verified, 1 something altered or changed
while it was read, 3 lines not sealed with the key given, 4 an unkeyed trail
without --accept-unkeyed), or 2 an error (the query's too).

examples:
  asgi-audit sql "SELECT event_type, outcome, count(*) FROM events GROUP BY ALL ORDER BY 3 DESC"
  asgi-audit sql "SELECT ip_address, count(*) AS n FROM events WHERE event_type = 'login_attempt'
      AND outcome = 'failed' AND timestamp > now() - INTERVAL 1 DAY GROUP BY 1 ORDER BY n DESC
      LIMIT 10" /var/log/app/security --verification-key app1.verification.key
  asgi-audit sql "SELECT * FROM {FILES_TABLE} WHERE NOT verified" --unverified flag
  asgi-audit sql "SELECT event FROM events WHERE user_id = 'ann'" --format jsonl
"""  # noqa: S608 (help text; literals quoted by string_literal)

SQL: Final = Command(
    "sql",
    "run one SQL query over the trail (DuckDB), its files checked first",
    "Verify the trail, then run one SELECT over its events (current, rotated and\n"
    "gzipped files): the files that do not verify are left out, or marked.",
    _SQL_EPILOG,
    _add_sql_arguments,
    run_query,
)
