"""The ``asgi-audit`` command: look into a log directory from a shell.

    asgi-audit stats  [LOG_DIR] [--json]
    asgi-audit rotate [LOG_DIR] [--max-size-mb N] [--json]
    asgi-audit tail   [LOG_DIR] [-f] [-c CATEGORY]... [-n N] [--json]
    asgi-audit query  [LOG_DIR] [filters] [--limit N] [--format jsonl|table]
    asgi-audit sql    QUERY [LOG_DIR] [--format table|jsonl] [--unverified refuse|flag]
    asgi-audit export [LOG_DIR] --parquet PATH [--partition-by category,day] [filters]
    asgi-audit verify [LOG_DIR] [--json] [--key-env NAME]
    asgi-audit keys   init --log-dir DIR [--key-dir KDIR] [--epoch SECONDS] [--out FILE|-]
    asgi-audit keys   show (--key-dir KDIR | --log-dir DIR) [--json]
    asgi-audit keys   public VERIFICATION_KEY_FILE
    asgi-audit prove  EVENT_ID | --since FILE | --check FILE --verification-key FILE
    asgi-audit redact [TEXT] [--file FILE] [--explain [--json]] [--rules RULES.json]
    asgi-audit routes MODULE:ATTRIBUTE [--app-dir DIR] [--factory] [--json] [--check]

The same command runs as ``python -m asgi_audit`` (or ``python -m asgi_audit.cli``)
where the console script is not on ``PATH``.

``LOG_DIR`` defaults to ``logs/security``. Every command on a log directory that holds
a trail records itself in that trail's ``audit.jsonl`` before it runs and when it
ends (:mod:`.access`: who, what, when). Beyond that, everything here only reads, except
``rotate`` (which takes each file's lock, like the writers) and ``keys init`` (which
writes keys, never into the log directory). Event files are found
and read by :mod:`asgi_audit.store.reading` and :mod:`asgi_audit.store.following` (``verify``:
by :mod:`asgi_audit.proof.verify`); lines that are not JSON objects are skipped and
counted in one warning on stderr at the end.

Exit status: 0 on success, 1 when ``verify`` finds an alteration, 2 on a usage
error, a missing or unreadable log directory, a time that cannot be read, a weak
key, or an operation that failed (the reason is one line on stderr,
``asgi-audit: ...``), 3 when ``verify`` finds nothing altered but lines sealed
without the key given (without a key, with another one, or with one when none was
given).

Subcommands are the entries of :data:`_COMMANDS`, each declared in its own
module: :mod:`.stats` (stats and rotate), :mod:`.tail`, :mod:`.query`,
:mod:`.verify`, :mod:`.keys`, :mod:`.prove`, :mod:`.redact`. What they share is in
:mod:`.common` (errors and exit codes, times, the log directory, argument types)
and :mod:`.output` (what they print). A new subcommand is one more
:class:`Command` there, with its arguments and its handler.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Final

from .. import __version__
from .access import AccessNotRecorded, recorded_access
from .common import EXIT_ALTERED, EXIT_ERROR, EXIT_KEY_MISMATCH, EXIT_OK, CliError, Command
from .export import EXPORT
from .keys import KEYS
from .prove import PROVE
from .query import QUERY
from .redact import REDACT
from .routes import ROUTES
from .sql import SQL
from .stats import ROTATE, STATS
from .tail import TAIL
from .verify import VERIFY

__all__ = (
    "EXIT_ALTERED",
    "EXIT_ERROR",
    "EXIT_KEY_MISMATCH",
    "EXIT_OK",
    "CliError",
    "Command",
    "build_parser",
    "main",
)

#: The subcommands, in ``--help`` order.
_COMMANDS: Final[tuple[Command, ...]] = (
    STATS,
    ROTATE,
    TAIL,
    QUERY,
    SQL,
    EXPORT,
    VERIFY,
    KEYS,
    PROVE,
    REDACT,
    ROUTES,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``asgi-audit`` parser, one subparser per entry of :data:`_COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="asgi-audit",
        description="Look into an asgi_audit log directory: stats, rotate, tail, query, verify;\n"
        "make and show its forward-secure keys: keys.",
        epilog="Run 'asgi-audit COMMAND --help' for a command's options and examples.\n"
        "Exit status: 0 success, 1 an alteration found, 2 an error (message on stderr),\n"
        "3 (verify) lines not sealed with the key given.",
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
    command = args.command
    if command == "keys":
        command += f" {args.keys_action}"
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The audit of the audit trail: recorded before the command runs, and at its end.
    try:
        with recorded_access(command, arguments, _trail_dir(args)) as outcome:
            outcome.status = _run(args)
    except AccessNotRecorded as exc:
        print(f"asgi-audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return outcome.status


def _trail_dir(args: argparse.Namespace) -> Path | None:
    """The log directory a command reads or changes, if it has one."""
    if args.command in ("redact", "routes") or getattr(args, "keys_action", None) == "public":
        return None
    if args.command == "prove":
        if args.check is not None:
            return None
        if args.since is not None and args.event_id is not None:
            return Path(args.event_id)  # prove --since FILE LOG_DIR
    log_dir = getattr(args, "log_dir", None)
    return None if log_dir is None else Path(log_dir)


def _run(args: argparse.Namespace) -> int:
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
