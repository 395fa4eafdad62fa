"""``asgi-audit verify``: prove that no line of a log directory was changed, removed,
inserted or reordered, through :func:`asgi_audit.proof.verify.verify_directory`.

The key is read from an environment variable (``$ASGI_AUDIT_KEY`` unless
``--key-env`` names another), never from the command line, where other users
could read it; unset or empty means unkeyed SHA-256 chains.
"""

from __future__ import annotations

import argparse
import os
import zlib
from pathlib import Path
from typing import Final

from ..auditor import KEY_ENV
from ..proof.keycheck import WeakKeyError, check_key
from ..proof.verification import Break, StreamSummary
from ..proof.verify import VerifyResult, verify_directory
from .common import (
    EXIT_ALTERED,
    EXIT_OK,
    CliError,
    Command,
    add_log_dir,
    checked_log_dir,
    warn,
)
from .output import dump, shown

__all__ = ("VERIFY", "format_break", "format_stream", "read_key")

_UNKNOWN_KEY: Final = "unknown key"


def read_key(env_name: str) -> bytes | None:
    """The key in the environment variable ``env_name`` (utf-8), or None if unset or empty.

    Raises:
        CliError: the key is too short or too weak to be anyone's deployment key
            (see :mod:`asgi_audit.proof.keycheck`).
    """
    value = os.environ.get(env_name)
    if not value:
        return None
    key = value.encode("utf-8", "surrogateescape")
    try:
        return check_key(key, f"${env_name}")
    except WeakKeyError as exc:
        raise CliError(str(exc)) from None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def format_stream(s: StreamSummary) -> str:
    """``stream <id> <category>: <n> lines, seq <first>..<last>, files <a>, <b>``"""
    first = "-" if s.first_seq is None else s.first_seq
    files = ", ".join(shown(f, 255) for f in s.files)
    return (
        f"stream {shown(s.stream, 64)} {shown(s.category or '-', 64)}: "
        f"{_plural(s.lines, 'line')}, seq {first}..{s.last_seq}, "
        f"{'file' if len(s.files) == 1 else 'files'} {files}"
    )


def format_break(b: Break) -> str:
    """``<file>:<line>: <kind> (stream <id>): <detail>``"""
    stream = "no stream" if b.stream is None else f"stream {shown(b.stream, 64)}"
    return f"{shown(b.file, 255)}:{b.line}: {b.kind} ({stream}): {shown(b.detail, 1000)}"


def _summary(result: VerifyResult) -> str:
    if result.ok:
        how = "hmac-sha256" if result.keyed else "sha256, unkeyed: not tamper-proof"
        return (
            f"OK: {_plural(len(result.streams), 'stream')}, "
            f"{_plural(result.lines, 'line')} in {_plural(len(result.files), 'file')}, "
            f"every chain holds ({how})"
        )
    return (
        f"ALTERED: {_plural(len(result.breaks), 'break')} "
        f"in {_plural(len(result.streams), 'stream')}"
    )


def _key_hint(result: VerifyResult, env_name: str) -> None:
    if not any(b.kind == _UNKNOWN_KEY for b in result.breaks):
        return
    if result.keyed:
        warn(f"some streams were not sealed with the key in ${env_name}")
    else:
        warn(
            f"some streams were sealed with a key: set ${env_name} to it "
            "(or name another variable with --key-env)"
        )


def _run_verify(args: argparse.Namespace) -> int:
    log_dir: Path = checked_log_dir(args.log_dir)
    env_name: str = args.key_env or KEY_ENV
    key = read_key(env_name)
    if key is None and args.key_env is not None:
        warn(f"${env_name} is not set or empty: checking unkeyed sha256 chains")
    try:
        result = verify_directory(log_dir, key)
    except (EOFError, zlib.error) as exc:
        raise CliError(f"cannot verify {str(log_dir)!r}: damaged gzip data ({exc})") from None
    except OSError as exc:
        where = str(log_dir) if exc.filename is None else str(exc.filename)
        raise CliError(f"cannot verify {where!r}: {exc.strerror or exc}") from None
    if args.json:
        dump(result.as_dict())
    elif not result.files and result.ok:
        print(f"nothing to verify: no event files in {str(log_dir)!r}")
    else:
        for stream in result.streams:
            print(format_stream(stream))
        for b in result.breaks:
            print(format_break(b))
        print(_summary(result))
    _key_hint(result, env_name)
    return EXIT_OK if result.ok else EXIT_ALTERED


def _env_name(value: str) -> str:
    if not value or "=" in value or "\0" in value:
        raise argparse.ArgumentTypeError(f"not an environment variable name: {value!r}")
    return value


def _add_verify_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.add_argument(
        "--key-env",
        type=_env_name,
        default=None,
        metavar="NAME",
        help=f"the environment variable that holds the key (default: {KEY_ENV}); "
        "unset or empty: unkeyed sha256",
    )


_VERIFY_EPILOG: Final = f"""\
Reads every event file (current, rotated, gzipped) and the signed checkpoints,
follows each stream's chain of MACs and names every break by file and line:
modified, deleted, inserted, reordered, truncated, unknown key, bad checkpoint.
The key is the deployment key the apps ran with, read from ${KEY_ENV} (or
the variable --key-env names), never from the command line. Without a key the
SHA-256 chains show accidents, not tampering: anyone can recompute them.

Exit status: 0 every chain holds, 1 something was altered, 2 an error.

examples:
  ASGI_AUDIT_KEY=... asgi-audit verify /var/log/app/security
  asgi-audit verify --key-env AUDIT_KEY_2026 /srv/archive/security
  asgi-audit verify --json | jq '.breaks[] | "\\(.file):\\(.line) \\(.kind)"'
"""

VERIFY: Final = Command(
    "verify",
    "prove no line was changed, removed, inserted or reordered",
    "Check the MAC chain of every stream and the signed checkpoints; print each\n"
    "stream checked, every break by file and line, and OK or ALTERED.",
    _VERIFY_EPILOG,
    _add_verify_arguments,
    _run_verify,
)
