"""The forward-secure key files: the host's sealing key and the verification keys.

IO. ``sealing.key`` (see :class:`~asgi_audit.proof.forward.SealingState`) lives in
the key directory (:mod:`asgi_audit.proof.keydir`), ``0600``; one readable by others
is refused. It is read under a shared ``flock`` of ``sealing.lock`` beside it and
replaced under the exclusive one: written to a new file with a random name
(``O_EXCL``, ``0600``), fsynced, renamed over the old one, and the directory fsynced.
It never moves back: when the file already holds a later epoch (another worker moved
on), it is kept. The old seed's bytes may stay in freed disk blocks after the
rename: what is erased is the name, not the blocks (full-disk encryption covers the
rest). Verification keys are written once, never replaced.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import time
from pathlib import Path
from typing import Final

from .forward import Deployment, KeyFormatError, SealingState, VerificationKey
from .keydir import (
    CLOEXEC,
    FILE_MODE,
    InsecureKeyError,
    absolute,
    check_placement,
    fsync_dir,
    locked,
    open_key_dir,
    read_all,
    resolved,
    write_all,
)

__all__ = (
    "DEFAULT_EPOCH_SECONDS",
    "PUBLIC_KEY_FILE",
    "SEALING_KEY_FILE",
    "VERIFICATION_KEY_FILE",
    "KeyMismatchError",
    "init_keys",
    "load_state",
    "read_verification_key",
    "store_state",
    "write_verification_key",
)

SEALING_KEY_FILE: Final = "sealing.key"
VERIFICATION_KEY_FILE: Final = "verification.key"
PUBLIC_KEY_FILE: Final = "verification.pub"
DEFAULT_EPOCH_SECONDS: Final = 900
_PUBLIC_MODE: Final = 0o644


class KeyMismatchError(ValueError):
    """A sealing key of another deployment, seed or log directory than the one expected."""


def _read_state(dir_fd: int, key_dir: Path) -> SealingState:
    path = key_dir / SEALING_KEY_FILE
    try:
        fd = os.open(SEALING_KEY_FILE, os.O_RDONLY | os.O_NOFOLLOW | CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no sealing key in {str(key_dir)!r} (make one with 'asgi-audit keys init')"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InsecureKeyError(f"the sealing key {str(path)!r} is not a regular file")
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise InsecureKeyError(
                f"the sealing key {str(path)!r} can be read by others (mode "
                f"{stat.S_IMODE(st.st_mode):o}): it may have leaked; chmod 600 it, and "
                "consider making a new key"
            )
        data = read_all(fd)
    finally:
        os.close(fd)
    try:
        return SealingState.from_json(data)
    except KeyFormatError as exc:
        raise KeyFormatError(f"the sealing key {str(path)!r} is damaged: {exc}") from None


def _write_temporary(dir_fd: int, data: bytes) -> str:
    """A new ``0600`` file in the directory holding ``data``, fsynced; its name."""
    name = f".{SEALING_KEY_FILE}.{os.getpid()}.{os.urandom(8).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC
    fd = os.open(name, flags, FILE_MODE, dir_fd=dir_fd)
    try:
        os.fchmod(fd, FILE_MODE)
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(name, dir_fd=dir_fd)
        raise
    os.close(fd)
    return name


# ---------------------------------------------------------------------------- the sealing key


def init_keys(
    log_dir: str | os.PathLike[str],
    key_dir: str | os.PathLike[str],
    *,
    epoch_seconds: int = DEFAULT_EPOCH_SECONDS,
    now: float | None = None,
    force: bool = False,
) -> tuple[SealingState, VerificationKey]:
    """Make a deployment's keys: ``sealing.key`` in ``key_dir`` (created ``0700``), and
    the secret verification key, returned for the caller to put off the host.

    Epoch 0 starts at ``now`` (default: the clock), cut to whole seconds.

    Raises:
        FileExistsError: ``key_dir`` already holds a sealing key and ``force`` is off.
        InsecureKeyError: the key directory is unsafe or inside the log directory.
        ValueError: ``epoch_seconds`` is out of range.
    """
    log_abs = resolved(log_dir)
    keys = absolute(key_dir)
    check_placement(keys, log_abs)
    moment = time.time() if now is None else now
    deployment = Deployment(os.urandom(8).hex(), math.floor(moment), epoch_seconds)
    seed = os.urandom(32)
    state = SealingState(deployment, 0, seed, os.urandom(32), str(log_abs))
    verification = VerificationKey.from_seed(deployment, seed)
    with open_key_dir(keys, create=True) as dir_fd, locked(dir_fd, exclusive=True):
        if not force and _exists(dir_fd, SEALING_KEY_FILE):
            raise FileExistsError(
                f"a sealing key already exists in {str(keys)!r}: it seals that log directory "
                "now; making a new one (force) means the old verification key checks only "
                "what was sealed before"
            )
        name = _write_temporary(dir_fd, state.to_json())
        try:
            if force:
                os.replace(name, SEALING_KEY_FILE, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            else:
                # link() never replaces a file: of two racing inits, one wins.
                os.link(name, SEALING_KEY_FILE, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
        os.fsync(dir_fd)
    return state, verification


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def load_state(
    key_dir: str | os.PathLike[str], *, log_dir: str | os.PathLike[str] | None = None
) -> SealingState:
    """The sealing state in ``key_dir``, read under the shared lock.

    Raises:
        FileNotFoundError: there is no key directory or no sealing key in it.
        InsecureKeyError: the key directory or file is unsafe (see the module's doc).
        KeyFormatError: the file is damaged (the message never holds the seed).
        KeyMismatchError: ``log_dir`` is given and the key is bound to another one.
    """
    keys = absolute(key_dir)
    with open_key_dir(keys, create=False) as dir_fd, locked(dir_fd, exclusive=False):
        state = _read_state(dir_fd, keys)
    if log_dir is not None:
        log_abs = resolved(log_dir)
        check_placement(keys, log_abs)
        if state.log_dir != str(log_abs):
            state.erase()
            raise KeyMismatchError(
                f"the sealing key in {str(keys)!r} is bound to the log directory "
                f"{state.log_dir!r}, not {str(log_abs)!r}"
            )
    return state


def store_state(key_dir: str | os.PathLike[str], state: SealingState) -> int:
    """Save ``state`` to ``key_dir``'s ``sealing.key``, never moving it backwards.

    Under the exclusive lock: when the file holds a later epoch than ``state`` it is
    kept (another worker moved on first; the schedule makes both agree), else it is
    replaced (new file, fsync, rename, fsync of the directory). A ``genesis`` known
    to either side is kept. Returns the epoch the file holds afterwards.

    Raises:
        KeyMismatchError: the file is another deployment's or another seed's, or its
            ``genesis`` differs from the state's.
        FileNotFoundError, InsecureKeyError, KeyFormatError: as :func:`load_state`.
    """
    keys = absolute(key_dir)
    with open_key_dir(keys, create=False) as dir_fd, locked(dir_fd, exclusive=True):
        current = _read_state(dir_fd, keys)
        try:
            if not current.agrees_with(state):
                raise KeyMismatchError(
                    f"the sealing key in {str(keys)!r} is not this state's: another "
                    f"deployment ({current.deployment.deployment}, not "
                    f"{state.deployment.deployment}), seed or log directory"
                )
            if None not in (current.genesis, state.genesis) and current.genesis != state.genesis:
                raise KeyMismatchError(
                    f"the sealing key in {str(keys)!r} names another genesis record"
                )
            genesis = current.genesis or state.genesis
            if state.epoch <= current.epoch and genesis == current.genesis:
                return current.epoch
            target = state.copy() if state.epoch > current.epoch else current.copy()
            target.genesis = genesis
            try:
                name = _write_temporary(dir_fd, target.to_json())
            finally:
                target.erase()
            try:
                os.replace(name, SEALING_KEY_FILE, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(name, dir_fd=dir_fd)
                raise
            os.fsync(dir_fd)
            return target.epoch
        finally:
            current.erase()


# ---------------------------------------------------------------------------- verification keys


def write_verification_key(path: str | os.PathLike[str], key: VerificationKey) -> None:
    """Write a verification key file that does not exist yet: ``0600`` when it is the
    secret one, ``0644`` when public. An existing file is never replaced: an old
    verification key still checks what was sealed before it.

    Raises:
        FileExistsError: the file exists.
    """
    target = Path(path)
    mode = FILE_MODE if key.is_secret else _PUBLIC_MODE
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC
    fd = os.open(target, flags, mode)
    try:
        os.fchmod(fd, mode)
        write_all(fd, key.to_json())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(target)
        raise
    os.close(fd)
    fsync_dir(target.absolute().parent)


def read_verification_key(path: str | os.PathLike[str]) -> VerificationKey:
    """A verification key file, secret or public.

    Raises:
        OSError: it cannot be read or is not a regular file.
        KeyFormatError: it is not a well-formed verification key (the message names
            the file, never a secret value).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: {os.fspath(path)!r}")
        data = read_all(fd)
    finally:
        os.close(fd)
    try:
        return VerificationKey.from_json(data)
    except KeyFormatError as exc:
        raise KeyFormatError(f"{os.fspath(path)!r}: {exc}") from None
