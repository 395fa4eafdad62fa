"""A DuckDB database over a checked trail, for ``asgi-audit sql`` and ``export``.

IO. DuckDB is an optional dependency (``pip install 'asgi-audit[sql]'``): it is
imported here, when a command needs it, never by the library. The database is in
memory; it holds one table, ``log_files`` (every file of the trail: name,
category, path read, current, compressed, verified, problem), and one view,
``events`` (:mod:`.sqlview`), over the files chosen: the verified ones, or all
(``--unverified flag``). :func:`lock_down` then leaves the database able to read
those files and nothing else: no other file, no network, no extension, no setting
changed back.

:func:`report_check` says on stderr what the check found and gives the exit
status it means, as ``asgi-audit verify`` would.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from ..proof.keycheck import KEY_ENV
from ..proof.keymatch import KEY_MISMATCH
from ..proof.schemes import UNKEYED
from ..store.opening import MAX_LINE
from .checked import ATTEMPTS, CheckedTrail, TrailFile, checked_trail
from .common import (
    EXIT_ALTERED,
    EXIT_KEY_MISMATCH,
    EXIT_OK,
    EXIT_UNKEYED,
    CliError,
    checked_log_dir,
    warn,
)
from .output import shown
from .sqlview import events_view, string_literal
from .verify import format_break, key_hint, keys_of

__all__ = (
    "FILES_TABLE",
    "UNVERIFIED",
    "duckdb_module",
    "lock_down",
    "open_database",
    "report_check",
)

#: The table of the trail's files.
FILES_TABLE: Final = "log_files"
#: How many files that do not verify, and breaks that name no file read, are named
#: on stderr (a trail checked with another key has one per file and per record).
_SHOWN: Final = 20
#: What ``--unverified`` may say: leave the files that do not verify out, or read
#: them with ``verified = false``.
UNVERIFIED: Final = ("refuse", "flag")


def duckdb_module() -> ModuleType:
    """The ``duckdb`` module.

    Raises:
        CliError: DuckDB is not installed (the message says how to install it).
    """
    try:
        return importlib.import_module("duckdb")
    except ImportError:
        raise CliError(
            "this command needs DuckDB, an optional dependency: pip install 'asgi-audit[sql]'"
        ) from None


def chosen(trail: CheckedTrail, unverified: str) -> list[TrailFile]:
    """The files the ``events`` view reads."""
    return [f for f in trail.files if f.verified is not False or unverified == "flag"]


def open_database(trail: CheckedTrail, unverified: str, spill: Path) -> Any:
    """An in-memory DuckDB connection with ``log_files`` and ``events``.

    ``spill`` is a private directory where DuckDB may spill what does not fit in
    memory (a large sort).
    """
    duckdb = duckdb_module()
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {string_literal(str(spill))}")
    con.execute(
        f"CREATE TEMP TABLE {FILES_TABLE} (name VARCHAR, category VARCHAR, path VARCHAR, "
        "current BOOLEAN, compressed BOOLEAN, verified BOOLEAN, problem VARCHAR)"
    )
    rows = [
        (f.name, f.category, str(f.path), f.current, f.compressed, f.verified, f.problem)
        for f in trail.files
    ]
    if rows:
        insert = f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 (a constant)
        con.executemany(insert, rows)
    paths = [str(f.path) for f in chosen(trail, unverified)]
    con.execute(events_view(paths, FILES_TABLE, MAX_LINE))
    return con


def lock_down(con: Any, readable: list[str], spill: Path) -> None:
    """Leave ``con`` able to read the files at ``readable`` (and to spill into
    ``spill``) and nothing else, for good."""
    duckdb = duckdb_module()
    listed = "[" + ", ".join(string_literal(p) for p in readable) + "]"
    try:
        con.execute(f"SET allowed_paths = {listed}")
        con.execute(f"SET allowed_directories = [{string_literal(str(spill))}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:  # a DuckDB before 1.2: no allowed_paths
        raise CliError(
            f"DuckDB {duckdb.__version__} cannot be held to the trail's files ({exc}): "
            "pip install 'duckdb>=1.2'"
        ) from None


def execute(
    trail: CheckedTrail, unverified: str, spill: Path, statement: str, *, lock: bool
) -> tuple[Any, Any]:
    """Open the database over ``trail`` and execute ``statement`` (after
    :func:`lock_down` when ``lock``): the connection and its cursor.

    A plain rotated file gzipped meanwhile is followed to its ``.gz``
    (:meth:`~.checked.CheckedTrail.follow_compression`) and the statement run
    again, up to :data:`~.checked.ATTEMPTS` times.

    Raises:
        CliError: the statement failed (DuckDB's message), or the files kept moving.
    """
    duckdb = duckdb_module()
    for attempt in range(ATTEMPTS):
        trail.follow_compression()
        con = None
        try:
            con = open_database(trail, unverified, spill)
            if lock:
                lock_down(con, [str(f.path) for f in chosen(trail, unverified)], spill)
            return con, con.execute(statement)
        except duckdb.IOException as exc:
            if con is not None:
                con.close()
            if attempt + 1 < ATTEMPTS and trail.follow_compression():
                continue
            raise CliError(f"cannot read the trail: {exc}") from None
        except duckdb.Error as exc:
            if con is not None:
                con.close()
            raise CliError(f"the query failed: {exc}") from None
    raise AssertionError("unreachable")


def report_moved(trail: CheckedTrail) -> bool:
    """Name on stderr the files that were not read as checked; whether any was."""
    changed = trail.changed()
    for name in changed:
        warn(f"{shown(name, 255)} changed while it was read: its rows may not be what was checked")
    for name, what in trail.moved_off.items():
        warn(f"{shown(name, 255)} was {what}: its rows are not read")
    return bool(changed or trail.moved_off)


@contextlib.contextmanager
def checked_for(args: argparse.Namespace) -> Iterator[tuple[CheckedTrail, Path, int]]:
    """The trail the arguments of ``sql`` or ``export`` name, checked as they say
    (:func:`~.checked.checked_trail`), a private directory for DuckDB to spill into,
    and the check's exit status (said on stderr: :func:`report_check`)."""
    log_dir = checked_log_dir(args.log_dir)
    key, verification, _ = (None, None, "") if args.no_verify else keys_of(args, log_dir)
    env_name: str = args.key_env or KEY_ENV
    with (
        checked_trail(log_dir, key, verification, verify=not args.no_verify) as trail,
        tempfile.TemporaryDirectory(prefix="asgi-audit-spill-") as spill,
    ):
        status = report_check(trail, args.unverified, args.accept_unkeyed, env_name)
        yield trail, Path(spill), status


def report_check(trail: CheckedTrail, unverified: str, accept_unkeyed: bool, env_name: str) -> int:
    """Say on stderr what the check found; the exit status it means (0, or 1 an
    alteration, 3 lines not sealed with the key given, 4 an unkeyed trail)."""
    result = trail.result
    if result is None:
        warn("not verified (--no-verify): the column verified is NULL in every row")
        return EXIT_OK
    what = "its rows are left out" if unverified == "refuse" else "its rows say verified = false"
    refused = [f for f in trail.files if f.verified is False]
    for f in refused[:_SHOWN]:
        warn(f"{shown(f.name, 255)} does not verify ({shown(f.problem, 300)}): {what}")
    if len(refused) > _SHOWN:
        warn(
            f"and {len(refused) - _SHOWN:,} more files that do not verify: the table "
            f"{FILES_TABLE} lists them all"
        )
    for b in trail.elsewhere[:_SHOWN]:
        warn(format_break(b))
    if len(trail.elsewhere) > _SHOWN:
        warn(f"and {len(trail.elsewhere) - _SHOWN:,} more breaks: asgi-audit verify lists them")
    if any(f.verified is False for f in trail.files) and unverified == "refuse":
        warn("--unverified flag reads them too, marked; asgi-audit verify says more")
    key_hint(result, env_name)
    if result.altered:
        return EXIT_ALTERED
    if any(b.kind == KEY_MISMATCH for b in result.breaks):
        return EXIT_KEY_MISMATCH
    if result.scheme == UNKEYED and not accept_unkeyed:
        warn(
            "this log was sealed without a key (sealing='unkeyed'): anyone who could write "
            "the files could have rewritten it; --accept-unkeyed to exit 0 anyway"
        )
        return EXIT_UNKEYED
    return EXIT_OK
