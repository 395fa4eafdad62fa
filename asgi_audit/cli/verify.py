"""``asgi-audit verify``: prove that no line of a log directory was changed, removed,
inserted or reordered, through :func:`asgi_audit.proof.verify.verify_directory`.

The key is read from an environment variable (``$ASGI_AUDIT_KEY`` unless
``--key-env`` names another), never from the command line, where other users
could read it; unset or empty means unkeyed SHA-256 chains, and a weak key is
refused (exit status 2).

Lines sealed without the key given (without a key, with another one, or with a
key when none was given) are no alteration: they are reported apart, with the
key ids involved and what to do, and alone they give exit status 3
(:data:`~asgi_audit.cli.common.EXIT_KEY_MISMATCH`), not 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import zlib
from collections import Counter
from pathlib import Path
from typing import Final

from ..proof.forward import VerificationKey
from ..proof.integrity import CHECKPOINT_FILE
from ..proof.keycheck import KEY_ENV, WeakKeyError, check_key
from ..proof.keydir import default_key_dir
from ..proof.keyfiles import PUBLIC_KEY_FILE, VERIFICATION_KEY_FILE, read_verification_key
from ..proof.keymatch import KEY_MISMATCH, MISMATCH_CLASSES
from ..proof.schemes import FS_LABEL
from ..proof.verification import Break, StreamSummary
from ..proof.verify import VerifyResult, verify_directory
from ..store.opening import MAX_LINE
from .common import (
    EXIT_ALTERED,
    EXIT_KEY_MISMATCH,
    EXIT_OK,
    EXIT_UNKEYED,
    CliError,
    Command,
    add_log_dir,
    checked_log_dir,
    last_record,
    warn,
)
from .output import dump, shown

__all__ = (
    "VERIFICATION_KEY_ENV",
    "VERIFY",
    "add_key_arguments",
    "format_break",
    "format_stream",
    "key_hint",
    "keys_of",
    "read_key",
)

#: The environment variable naming the verification key file.
VERIFICATION_KEY_ENV: Final = "ASGI_AUDIT_VERIFICATION_KEY"


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


#: How each mismatch class (keymatch.MISMATCH_CLASSES) reads in the summary.
_SEALED: Final = {
    "unkeyed": "sealed without a key",
    "keyed": "sealed with a key",
    "other key": "sealed with another key",
    "unknown key": "not verified by the key given",
}


def _not_checked(streams: list[StreamSummary], counted: bool) -> str:
    """``3 sealed without a key, 1 sealed with another key (key id ...)``."""
    parts = []
    for kind in MISMATCH_CLASSES:
        of_kind = [s for s in streams if s.mismatch == kind]
        if not of_kind:
            continue
        ids = sorted({shown(s.key_id, 64) for s in of_kind if s.key_id})
        named = f" (key id{'s' if len(ids) > 1 else ''} {', '.join(ids)})" if ids else ""
        part = _SEALED[kind] + (named if counted else "")
        parts.append(f"{len(of_kind):,} {part}" if counted else part)
    return ", ".join(parts)


def _summary(result: VerifyResult, env_name: str, source: str = "") -> str:
    if result.ok:
        public = source.endswith(".pub") or "public" in source
        how = {
            "forward-secure": f"forward-secure, verification key {result.key_id}"
            + (": the ledger and Merkle roots; line MACs need the secret key" if public else ""),
            "static": "hmac-sha256, static key",
        }.get(result.scheme, "sha256, unkeyed: not tamper-proof")
        return (
            f"OK: {_plural(len(result.streams), 'stream')}, "
            f"{_plural(result.lines, 'line')} in {_plural(len(result.files), 'file')}, "
            f"{_plural(result.ledger_records, 'ledger record')}, every chain holds ({how})"
        )
    mismatched = result.mismatched
    lines = _plural(sum(s.lines for s in mismatched), "line")
    if result.altered:
        text = (
            f"ALTERED: {_plural(len(result.altered), 'break')} "
            f"in {_plural(len(result.streams), 'stream')}"
        )
        if mismatched:
            text += (
                f"; {_plural(len(mismatched), 'stream')} ({lines}) not checked: "
                + _not_checked(mismatched, counted=False)
            )
        return text
    if mismatched:
        total = len(result.streams)
        streams = (
            f"{len(mismatched):,} of {_plural(total, 'stream')}"
            if len(mismatched) < total
            else _plural(total, "stream")
        )
        what = f"{streams} ({lines}) not checked: {_not_checked(mismatched, counted=True)}"
    else:  # only checkpoint records of another key
        records = [b for b in result.breaks if b.kind == KEY_MISMATCH]
        details = ", ".join(dict.fromkeys(shown(b.detail, 200) for b in records))
        what = f"{_plural(len(records), 'checkpoint record')} not checked: {details}"
    given = (
        f"verification key {result.key_id}"
        if result.checked_with == "forward-secure"
        else f"the key in ${env_name} (key id {result.key_id})"
        if result.keyed
        else f"no key (${env_name} is not set or empty)"
    )
    return f"KEY MISMATCH: {what}; checked with {given}"


def key_hint(result: VerifyResult, env_name: str) -> None:
    """What to do about lines not sealed with the key given, on stderr."""
    if not any(b.kind == KEY_MISMATCH for b in result.breaks):
        return
    if not result.keyed:
        if any((s.sealed or "").startswith(FS_LABEL) for s in result.mismatched):
            warn(
                "the log is sealed forward-secure: give its verification key with "
                f"--verification-key FILE (or ${VERIFICATION_KEY_ENV})"
            )
        else:
            warn(
                f"some streams were sealed with a key: set ${env_name} to it "
                "(or name another variable with --key-env)"
            )
        return
    kinds = {s.mismatch for s in result.mismatched}
    if "unkeyed" in kinds:
        warn(
            f"some streams were sealed without a key: unset ${env_name} to check their "
            "sha256 chains; if the app ran with this key when they were written, "
            "they were rewritten"
        )
    if kinds - {"unkeyed"} or not kinds:
        warn(
            f"some streams were not sealed with the key in ${env_name}: set it to the key "
            "the app ran with (or name the variable that holds it with --key-env); "
            "if the app ran with this key, they were rewritten"
        )


def _print_breaks(breaks: list[Break]) -> None:
    """Every break; of the checkpoint records of another key, the first of each kind
    and how many more (a long-running log has thousands)."""
    repeats: Counter[tuple[str, str]] = Counter()
    for b in breaks:
        if b.kind == KEY_MISMATCH and b.file == CHECKPOINT_FILE:
            repeats[(b.file, b.detail)] += 1
            if repeats[(b.file, b.detail)] > 1:
                continue
        print(format_break(b))
    for (file, detail), count in repeats.items():
        if count > 1:
            more = _plural(count - 1, "more record")
            print(f"{shown(file, 255)}: {more}: {KEY_MISMATCH}: {shown(detail, 1000)}")


def _verification_key(
    args: argparse.Namespace, log_dir: Path
) -> tuple[VerificationKey | None, str]:
    """The forward-secure verification key to check with, and where it came from."""
    named = args.verification_key or os.environ.get(VERIFICATION_KEY_ENV) or None
    candidates: list[Path] = []
    if named:
        candidates.append(Path(named))
    else:
        with contextlib.suppress(OSError, ValueError):
            where = default_key_dir(log_dir)
            candidates += [where / VERIFICATION_KEY_FILE, where / PUBLIC_KEY_FILE]
    for path in candidates:
        if not named and not path.exists():
            continue
        try:
            return read_verification_key(path), str(path)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the verification key {str(path)!r}: {exc}") from None
    return None, ""


def keys_of(
    args: argparse.Namespace, log_dir: Path
) -> tuple[bytes | None, VerificationKey | None, str]:
    """The static key (from the environment) or the forward-secure verification key
    the arguments of :func:`add_key_arguments` name, and where the latter came from.

    Raises:
        CliError: a weak static key, or a verification key that cannot be read.
    """
    env_name: str = args.key_env or KEY_ENV
    key = read_key(env_name)
    if key is None and args.key_env is not None:
        warn(f"${env_name} is not set or empty")
    verification, source = (None, "") if key is not None else _verification_key(args, log_dir)
    return key, verification, source


def _run_verify(args: argparse.Namespace) -> int:
    log_dir: Path = checked_log_dir(args.log_dir)
    env_name: str = args.key_env or KEY_ENV
    key, verification, source = keys_of(args, log_dir)
    anchor = None if args.anchor is None else last_record(args.anchor, "anchor")
    try:
        result = verify_directory(
            log_dir,
            key,
            verification_key=verification,
            anchor=anchor,
            anchor_source=args.anchor or "anchor",
        )
    except (EOFError, zlib.error) as exc:
        raise CliError(f"cannot verify {str(log_dir)!r}: damaged gzip data ({exc})") from None
    except OSError as exc:
        where = str(log_dir) if exc.filename is None else str(exc.filename)
        raise CliError(f"cannot verify {where!r}: {exc.strerror or exc}") from None
    if args.json:
        dump({**result.as_dict(), "verification_key": source or None})
    else:
        for stream in result.streams:
            print(format_stream(stream))
        _print_breaks(result.breaks)
        for caveat in result.caveats:
            print(f"note: {caveat}")
        print(
            _summary(
                result,
                env_name,
                "public" if verification and not verification.is_secret else source,
            )
        )
    key_hint(result, env_name)
    if result.verdict == "unkeyed" and not args.accept_unkeyed:
        warn(
            "this log was sealed without a key (sealing='unkeyed'): anyone who could write "
            "the files could have rewritten it; --accept-unkeyed to exit 0 anyway"
        )
        return EXIT_UNKEYED
    return _EXIT[result.verdict]


_EXIT: Final = {
    "ok": EXIT_OK,
    "unkeyed": EXIT_OK,
    "altered": EXIT_ALTERED,
    "key mismatch": EXIT_KEY_MISMATCH,
}


def _env_name(value: str) -> str:
    if not value or "=" in value or "\0" in value:
        raise argparse.ArgumentTypeError(f"not an environment variable name: {value!r}")
    return value


def add_key_arguments(p: argparse._ActionsContainer) -> None:
    """``--key-env`` and ``--verification-key``: the key to check with (see :func:`keys_of`)."""
    p.add_argument(
        "--key-env",
        type=_env_name,
        default=None,
        metavar="NAME",
        help=f"the environment variable that holds a static key (default: {KEY_ENV})",
    )
    p.add_argument(
        "--verification-key",
        default=None,
        metavar="FILE",
        help="the forward-secure verification key (secret: every line; public: the ledger); "
        f"default ${VERIFICATION_KEY_ENV}, else the one beside the directory's sealing key",
    )


def _add_verify_arguments(p: argparse.ArgumentParser) -> None:
    add_log_dir(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")
    add_key_arguments(p)
    p.add_argument(
        "--anchor",
        default=None,
        metavar="FILE",
        help="a ledger record that left the host (shipped, or saved earlier): truncation "
        "and rollback since it are named",
    )
    p.add_argument(
        "--accept-unkeyed",
        action="store_true",
        help="exit 0 on an unkeyed log in which nothing is altered",
    )


_VERIFY_EPILOG: Final = f"""\
Reads the ledger (checkpoints.log) and every event file (current, rotated,
gzipped); follows the ledger (numbered, linked, signed records) and each
stream's chain of MACs and Merkle roots; names every break by file and line:
modified, deleted, inserted, reordered, truncated, unknown key, bad checkpoint,
ledger gap, ledger missing, foreign stream, missing stream, missing file,
renamed file, copied file, wrong file, wrong category, rolled back (with
--anchor); and what it does not read: not a regular file (a symlink, a FIFO, ...
at an event file's name), bad file name, unreadable, line too long (over
{MAX_LINE >> 20} MiB). The note: lines say what it could not rule out.

The key: the forward-secure verification key (--verification-key, or
${VERIFICATION_KEY_ENV}, or the one beside the directory's sealing key), or a
static key read from ${KEY_ENV} (or the variable --key-env names), never from
the command line.

Exit status: 0 everything holds, 1 something was altered or is missing, 2 an
error (a weak key too), 3 nothing altered, but lines or records not sealed with
the key given, 4 nothing altered in a log sealed without a key (sealing=
"unkeyed"; 0 with --accept-unkeyed).

examples:
  asgi-audit verify --verification-key app1.verification.key /var/log/app/security
  asgi-audit verify --verification-key app1.verification.pub --anchor head.jsonl /srv/copy
  ASGI_AUDIT_KEY=... asgi-audit verify /var/log/app/security
  asgi-audit verify --json | jq '.breaks[] | "\\(.file):\\(.line) \\(.kind)"'
"""

VERIFY: Final = Command(
    "verify",
    "prove no line was changed, removed, inserted or reordered",
    "Check the ledger, the MAC chain and Merkle roots of every stream, and what is\n"
    "missing; print each stream checked, every break by file and line, what could not\n"
    "be ruled out, and OK, ALTERED or KEY MISMATCH.",
    _VERIFY_EPILOG,
    _add_verify_arguments,
    _run_verify,
)
