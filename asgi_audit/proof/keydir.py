"""Where the forward-secure keys live on the host, and the checks on that directory.

IO. The sealing key lives in a key directory OUTSIDE the log directory: someone who
copies or is given the log directory learns nothing secret. By default that is
``$ASGI_AUDIT_KEY_DIR``, else ``$XDG_STATE_HOME/asgi-audit``, else
``~/.local/state/asgi-audit``, then a subdirectory named after the log directory
(16 hex digits of the SHA-256 of its resolved absolute path), so two apps never
share a key (:func:`default_key_dir`).

The key directory is made ``0700`` (its missing parents too); one that is a symlink,
writable by its group or others, or owned by another user (root aside) is refused,
and so is one inside the log directory or equal to it (:class:`InsecureKeyError`).
Everything in it is opened relative to the directory's descriptor, checked once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from .keyformat import MAX_KEY_FILE_BYTES

__all__ = (
    "CLOEXEC",
    "FILE_MODE",
    "KEY_DIR_ENV",
    "LOCK_FILE",
    "InsecureKeyError",
    "absolute",
    "check_placement",
    "default_key_dir",
    "fsync_dir",
    "locked",
    "open_key_dir",
    "read_all",
    "resolved",
    "write_all",
)

KEY_DIR_ENV: Final = "ASGI_AUDIT_KEY_DIR"
#: The lock file beside the sealing key: shared to read it, exclusive to replace it.
LOCK_FILE: Final = "sealing.lock"
CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600


class InsecureKeyError(PermissionError):
    """A key directory or key file that others could read, replace or copy with the logs."""


# ---------------------------------------------------------------------------- where


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` absolute, every symlink in it followed: where it really is."""
    return Path(os.path.realpath(os.fspath(path)))


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute without following a symlink (which is then refused)."""
    return Path(os.path.abspath(os.fspath(path)))


def default_key_dir(
    log_dir: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> Path:
    """The key directory of ``log_dir`` when none is named (see the module's doc).

    Raises:
        InsecureKeyError: it would be inside the log directory.
    """
    env = os.environ if environ is None else environ
    log_abs = resolved(log_dir)
    xdg = env.get("XDG_STATE_HOME", "")
    if env.get(KEY_DIR_ENV):
        base = Path(env[KEY_DIR_ENV])
    elif os.path.isabs(xdg):  # the XDG spec: a relative path is invalid, ignore it
        base = Path(xdg) / "asgi-audit"
    else:
        home = env.get("HOME") or str(Path.home())
        base = Path(home) / ".local" / "state" / "asgi-audit"
    key_dir = absolute(base) / hashlib.sha256(os.fsencode(str(log_abs))).hexdigest()[:16]
    check_placement(key_dir, log_abs)
    return key_dir


def check_placement(
    key_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    *,
    what: str = "the key directory",
) -> None:
    """Refuse a key directory inside the log directory, or the log directory itself.

    Raises:
        InsecureKeyError: naming both.
    """
    keys, logs = resolved(key_dir), resolved(log_dir)
    if keys == logs or logs in keys.parents:
        raise InsecureKeyError(
            f"{what} {str(keys)!r} is inside the log directory {str(logs)!r}: "
            "nothing secret may live there (whoever gets a copy of the logs would get the "
            f"key); choose a key directory elsewhere (--key-dir, ${KEY_DIR_ENV})"
        )


# ---------------------------------------------------------------------------- the directory


def _make_dirs(path: Path) -> None:
    missing: list[Path] = []
    parent = path
    while not os.path.lexists(parent):
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    if missing:
        fsync_dir(missing[-1].parent)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a new file, a rename) to stable storage."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_key_dir(key_dir: Path, *, create: bool) -> Iterator[int]:
    """The key directory open (its descriptor), once it is known to be safe."""
    if create:
        _make_dirs(key_dir)
    try:
        st = os.lstat(key_dir)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such key directory: {str(key_dir)!r}") from None
    if stat.S_ISLNK(st.st_mode):
        raise InsecureKeyError(
            f"the key directory {str(key_dir)!r} is a symlink: name the real directory"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"the key directory {str(key_dir)!r} is not a directory")
    fd = os.open(key_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | CLOEXEC)
    try:
        st = os.fstat(fd)  # the directory opened, whatever happened to the name since
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o022:
            raise InsecureKeyError(
                f"the key directory {str(key_dir)!r} is writable by others (mode {mode:o}): "
                "chmod 700 it"
            )
        if st.st_uid not in (os.geteuid(), 0):
            raise InsecureKeyError(
                f"the key directory {str(key_dir)!r} belongs to another user (uid {st.st_uid})"
            )
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(dir_fd: int, *, exclusive: bool) -> Iterator[None]:
    """Hold the ``flock`` of :data:`LOCK_FILE` in the key directory, shared or exclusive."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | CLOEXEC
    fd = os.open(LOCK_FILE, flags, FILE_MODE, dir_fd=dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_all(fd: int) -> bytes:
    """What ``fd`` holds, up to one byte more than a key file may (the parser refuses it)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_KEY_FILE_BYTES:
        chunk = os.read(fd, MAX_KEY_FILE_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    """``data`` written to ``fd``, short writes finished."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
