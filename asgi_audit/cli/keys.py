"""``asgi-audit keys``: make a log directory's forward-secure keys, and show them.

    asgi-audit keys init   --log-dir DIR [--key-dir KDIR] [--epoch SECONDS] [--out FILE|-]
                           [--force]
    asgi-audit keys show   (--key-dir KDIR | --log-dir DIR) [--json]
    asgi-audit keys public VERIFICATION_KEY_FILE

``init`` writes the sealing key to the key directory (outside the log directory,
see :mod:`asgi_audit.proof.keyfiles`), the SECRET verification key to ``--out``
(default ``<key dir>/verification.key``; ``-`` is standard output) and the public one
to ``<key dir>/verification.pub``, and says loudly that the secret one must leave the
host. ``show`` prints what the sealing key holds that is not secret; ``public`` prints
the public form of a verification key file (``-``: standard input). Every failure is
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, TextIO

from ..proof.forward import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS, SealingState, VerificationKey
from ..proof.keydir import KEY_DIR_ENV, check_placement, default_key_dir
from ..proof.keyfiles import (
    DEFAULT_EPOCH_SECONDS,
    PUBLIC_KEY_FILE,
    SEALING_KEY_FILE,
    VERIFICATION_KEY_FILE,
    init_keys,
    load_state,
    read_verification_key,
    write_verification_key,
)
from ..proof.keyformat import MAX_KEY_FILE_BYTES
from .common import EXIT_OK, CliError, Command
from .output import dump, shown

__all__ = ("KEYS",)

_STDIO: Final = "-"


def _iso(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, timezone.utc).isoformat(timespec="seconds")


def _failed(what: str, exc: Exception) -> CliError:
    """``<what>: <reason>``: the message of our own errors, the system's reason and file
    of the others."""
    detail = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        detail = exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename!r}"
    return CliError(f"{what}: {detail}")


def _key_dir(args: argparse.Namespace) -> Path:
    if args.key_dir is not None:
        return Path(args.key_dir).absolute()
    try:
        return default_key_dir(args.log_dir)
    except (OSError, ValueError) as exc:
        raise _failed("no key directory", exc) from None


# ---------------------------------------------------------------------------- init


def _run_init(args: argparse.Namespace) -> int:
    key_dir = _key_dir(args)
    to_stdout = args.out == _STDIO
    secret_out = None if to_stdout else Path(args.out or key_dir / VERIFICATION_KEY_FILE)
    public_out = key_dir / PUBLIC_KEY_FILE
    try:
        check_placement(key_dir, args.log_dir)
        if secret_out is not None:
            where = secret_out.absolute().parent
            check_placement(where, args.log_dir, what="the verification key's directory")
    except (OSError, ValueError) as exc:
        raise _failed("cannot make keys", exc) from None
    if not args.force and (key_dir / SEALING_KEY_FILE).exists():
        raise CliError(
            f"a sealing key already exists in {str(key_dir)!r} (--force replaces it: the "
            "old verification key then checks only what was sealed before)"
        )
    if args.out and secret_out is not None and not secret_out.absolute().parent.is_dir():
        raise CliError(f"no such directory for --out: {str(secret_out.absolute().parent)!r}")
    for path in [*([] if secret_out is None else [secret_out]), public_out]:
        if path.exists() or path.is_symlink():
            raise CliError(
                f"{str(path)!r} exists: move it away first (an old verification key "
                "still checks what was sealed with its sealing key)"
            )
    try:
        state, key = init_keys(args.log_dir, key_dir, epoch_seconds=args.epoch, force=args.force)
    except FileExistsError as exc:
        raise CliError(f"{exc}; pass --force to replace it") from None
    except (OSError, ValueError) as exc:
        raise _failed("cannot make keys", exc) from None
    try:
        try:
            if secret_out is None:
                sys.stdout.buffer.write(key.to_json())
                sys.stdout.flush()
            else:
                write_verification_key(secret_out, key)
            write_verification_key(public_out, key.public())
        except OSError as exc:
            raise _failed(
                f"the sealing key is in {str(key_dir / SEALING_KEY_FILE)!r}, but a "
                "verification key could not be written (run again with --force)",
                exc,
            ) from None
        _report_init(sys.stderr if to_stdout else sys.stdout, state, key, key_dir, secret_out)
    finally:
        state.erase()
    return EXIT_OK


def _report_init(
    out: TextIO, state: SealingState, key: VerificationKey, key_dir: Path, secret: Path | None
) -> None:
    d = state.deployment
    secret_where = "standard output" if secret is None else str(secret)
    public = key_dir / PUBLIC_KEY_FILE
    lines = [
        f"made the keys of deployment {d.deployment} (key id {key.key_id}) for the log "
        f"directory {state.log_dir}",
        f"epochs of {d.epoch_seconds} s from {_iso(d.origin)}",
        "",
        f"sealing key:      {key_dir / SEALING_KEY_FILE}",
        "                  stays on this host (0600): the app seals with it",
        f"verification key: {secret_where}",
        "                  SECRET: checks every line and signature",
        f"public key:       {public}",
        "                  may be published: checks signatures and the ledger",
        "",
        "!" * 78,
        "!! The verification key is SECRET, and it does not belong on this host.",
        "!! Whoever holds it can forge every line of this log directory, past and future.",
        "!! Move it off this host now (a password manager, a vault, the auditor's",
        "!! machine)" + ("." if secret is None else f" and delete it here: {secret_where}"),
        f"!! {PUBLIC_KEY_FILE} may be published.",
        "!" * 78,
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


# ---------------------------------------------------------------------------- show


def _run_show(args: argparse.Namespace) -> int:
    key_dir = _key_dir(args)
    try:
        state = load_state(key_dir, log_dir=args.log_dir)
    except (OSError, ValueError) as exc:
        raise _failed("cannot read the sealing key", exc) from None
    try:
        info = _public_info(state, key_dir)
    finally:
        state.erase()
    if args.json:
        dump(info)
        return EXIT_OK
    print(f"key directory:  {shown(info['key_dir'], 4096)}")
    print(f"log directory:  {shown(info['log_dir'], 4096)}")
    print(f"deployment:     {info['deployment']}")
    print(f"epochs:         {info['epoch_seconds']} s from {_iso(info['origin'])}")
    print(f"epoch:          {info['epoch']} (from {_iso(info['epoch_start'])})")
    print(f"epoch now:      {info['epoch_now']}")
    print(f"public key:     {info['public_key']} (of epoch {info['epoch']})")
    print(f"genesis:        {info['genesis'] or '- (no ledger yet)'}")
    return EXIT_OK


def _public_info(state: SealingState, key_dir: Path) -> dict[str, Any]:
    d = state.deployment
    return {
        "key_dir": str(key_dir),
        "log_dir": state.log_dir,
        "deployment": d.deployment,
        "origin": d.origin,
        "epoch_seconds": d.epoch_seconds,
        "epoch": state.epoch,
        "epoch_start": d.epoch_start(state.epoch),
        "epoch_now": d.epoch_at(time.time()),
        "public_key": state.public_key().hex(),
        "genesis": state.genesis,
    }


# ---------------------------------------------------------------------------- public


def _run_public(args: argparse.Namespace) -> int:
    source: str = args.file
    try:
        if source == _STDIO:
            key = VerificationKey.from_json(sys.stdin.buffer.read(MAX_KEY_FILE_BYTES + 1))
        else:
            key = read_verification_key(source)
    except (OSError, ValueError) as exc:
        raise _failed("cannot read the verification key", exc) from None
    sys.stdout.buffer.write(key.public().to_json())
    sys.stdout.flush()
    return EXIT_OK


# ---------------------------------------------------------------------------- arguments


def _epoch_seconds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not MIN_EPOCH_SECONDS <= number <= MAX_EPOCH_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected whole seconds from {MIN_EPOCH_SECONDS} to {MAX_EPOCH_SECONDS}, got {value!r}"
        )
    return number


_KEY_DIR_HELP: Final = (
    f"the key directory (default: ${KEY_DIR_ENV}, else $XDG_STATE_HOME/asgi-audit, else "
    "~/.local/state/asgi-audit, then a subdirectory named after the log directory)"
)


def _add_init_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-dir", required=True, metavar="DIR", help="the log directory to seal")
    p.add_argument("--key-dir", metavar="KDIR", help=_KEY_DIR_HELP)
    p.add_argument(
        "--epoch",
        type=_epoch_seconds,
        default=DEFAULT_EPOCH_SECONDS,
        metavar="SECONDS",
        help=f"the length of an epoch (default: {DEFAULT_EPOCH_SECONDS})",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help=f"where the SECRET verification key goes; - for standard output "
        f"(default: KDIR/{VERIFICATION_KEY_FILE})",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing sealing key (the old verification key then checks only "
        "what was sealed before)",
    )


def _add_show_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--key-dir", metavar="KDIR", help="the key directory")
    where.add_argument(
        "--log-dir", metavar="DIR", help="the log directory, whose default key directory is read"
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")


def _add_public_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        metavar="VERIFICATION_KEY_FILE",
        help="a verification key file, secret or public; - for standard input",
    )


_ACTIONS: Final = (
    (
        "init",
        "make the keys of a log directory",
        _add_init_arguments,
        _run_init,
    ),
    (
        "show",
        "what the sealing key holds that is not secret",
        _add_show_arguments,
        _run_show,
    ),
    (
        "public",
        "print the public form of a verification key",
        _add_public_arguments,
        _run_public,
    ),
)


def _add_keys_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    for name, summary, add_arguments, run in _ACTIONS:
        action = sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
        add_arguments(action)
        action.set_defaults(keys_run=run)


def _run_keys(args: argparse.Namespace) -> int:
    status: int = args.keys_run(args)
    return status


_KEYS_EPILOG: Final = f"""\
Forward-secure sealing: the host holds the key of the current epoch only, and
each epoch's key is made from the last one, which is then overwritten. Whoever
takes the host later cannot forge what was sealed before.

  init    the sealing key ({SEALING_KEY_FILE}, in a 0700 key directory outside
          the log directory), the SECRET verification key (keep it off the host)
          and the public one ({PUBLIC_KEY_FILE}, may be published)
  show    the deployment, the current epoch and its public key (nothing secret)
  public  the public form of a verification key

examples:
  asgi-audit keys init --log-dir /var/log/app/security --out - | gpg -e -r auditor
  asgi-audit keys show --log-dir /var/log/app/security
  asgi-audit keys public verification.key > verification.pub
"""

KEYS: Final = Command(
    "keys",
    "make and show the forward-secure sealing keys",
    "Make a log directory's forward-secure keys (init), show what the host holds\n"
    "(show), print a verification key's public form (public).",
    _KEYS_EPILOG,
    _add_keys_arguments,
    _run_keys,
)
