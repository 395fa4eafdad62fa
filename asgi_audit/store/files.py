"""Per-category append files shared by every process writing to one directory.

IO: blocking calls, run by the writer in its thread, never on the event loop.

* Every batch of a category is one ``write()`` on an ``O_APPEND`` descriptor,
  short writes finished, under an exclusive ``flock`` on the category's lock file
  (``.<file>.lock``). So lines of several processes (``uvicorn --workers``,
  gunicorn) never interleave, at any size, and a write that fails half-way is
  cut back (``ftruncate``) to where it began: the file only ever holds whole
  lines of whole batches.
* Rotation takes the same lock, so no process writes into a file after it was
  rotated; every process checks the file's inode under the lock before it
  writes and reopens a rotated file.
* Files are created ``0600`` in a ``0700`` directory, opened without following
  symlinks; new files fsync their directory.
* With the compiled core, an append that finds everything as it left it (the
  same lock file, the same file, no rotation due) runs its five system calls in
  one call of the core without the GIL (``asgi_audit_native.append_locked``);
  anything else is left to :meth:`AppendFile.append` here, which checks again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..record.engine import compiled_module
from ..record.events import category_filename

__all__ = (
    "AppendFile",
    "InsecureDirectoryError",
    "LogDirectory",
    "RotateCheck",
    "fsync_directory",
    "locked",
    "rotate_file",
)

_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _CLOEXEC | os.O_NOFOLLOW


class InsecureDirectoryError(PermissionError):
    """The log directory is a symlink or writable by others (see ``allow_insecure_dir``)."""


def fsync_directory(path: Path) -> None:
    """Flush a directory entry change (a new file, a rename) to stable storage."""
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class LogDirectory:
    """The log directory and the permissions of what is created in it.

    Args:
        path: the directory (created with its parents if missing).
        dir_mode: mode of a directory this creates (default ``0o700``).
        file_mode: mode of a file this creates (default ``0o600``).
        allow_insecure: accept a directory that is a symlink or writable by others.
        sync_dir: fsync the directory after a file is created or renamed.
    """

    path: Path
    dir_mode: int = 0o700
    file_mode: int = 0o600
    allow_insecure: bool = False
    sync_dir: bool = True

    def prepare(self) -> None:
        """Create the directory if missing; refuse one that is unsafe.

        Raises:
            NotADirectoryError: the path exists and is not a directory.
            InsecureDirectoryError: it is a symlink or writable by others, and
                ``allow_insecure`` is off.
        """
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            self._create()
            return
        if stat.S_ISLNK(st.st_mode) and not self.allow_insecure:
            raise InsecureDirectoryError(
                f"Audit log directory is a symlink: '{self.path}' (pass allow_insecure_dir=True"
                " to accept it)"
            )
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(self.path)
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(f"Audit log directory is not a directory: '{self.path}'")
        if st.st_mode & 0o002 and not self.allow_insecure:
            raise InsecureDirectoryError(
                f"Audit log directory is writable by others: '{self.path}' (mode "
                f"{stat.S_IMODE(st.st_mode):o}; chmod o-w it, or pass allow_insecure_dir=True)"
            )

    def _create(self) -> None:
        missing: list[Path] = []
        parent = self.path
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            # Every directory created here gets dir_mode exactly (mkdir's mode is
            # filtered by the umask, and parents=True would use 0o777).
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=self.dir_mode)
                os.chmod(directory, self.dir_mode)
        if self.sync_dir:
            fsync_directory(self.path.parent)

    def file(self, category: str) -> AppendFile:
        """The append file of ``category`` (not opened yet)."""
        return AppendFile(self, self.path / category_filename(category))


@contextlib.contextmanager
def locked(path: Path, mode: int = 0o600) -> Iterator[int]:
    """Hold the exclusive lock of the file ``path`` (its ``.<name>.lock`` sibling)."""
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT | _CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


#: Decides, under the lock, whether the file is rotated before an append:
#: called with the file's size, the size of the data to append and its mtime.
#: One with a ``bounds()`` method (as
#: :meth:`~asgi_audit.store.rotation.RotationPolicy.bounds`) lets the compiled
#: core append without calling it when it cannot be due; any other is called.
RotateCheck = Callable[[int, int, float], bool]


def _native_append() -> Callable[..., tuple[int, int]] | None:
    # The core's locked append, when the core is in use and has it.
    module: Any = compiled_module()
    return getattr(module, "append_locked", None) if module is not None else None


#: The most buffers one ``writev`` takes (``IOV_MAX`` on Linux).
_IOV_MAX: Final = 1024


def _rest(pieces: list[bytes], done: int) -> list[memoryview]:
    """What is left of ``pieces`` once ``done`` bytes of them are written: at most
    ``_IOV_MAX`` buffers, the first cut where the write stopped."""
    rest: list[memoryview] = []
    for piece in pieces:
        if done >= len(piece):
            done -= len(piece)
            continue
        rest.append(memoryview(piece)[done:])
        done = 0
        if len(rest) == _IOV_MAX:
            break
    return rest


class AppendFile:
    """One category's file: locked appends, reopened after rotation or deletion."""

    __slots__ = (
        "_fd",
        "_ident",
        "_lock_fd",
        "_lock_ident",
        "_native",
        "_paths",
        "directory",
        "path",
        "sync_error",
    )

    def __init__(self, directory: LogDirectory, path: Path) -> None:
        self.directory = directory
        self.path = path
        self._native = _native_append()
        self._paths = (os.fsencode(_lock_path(path)), os.fsencode(path))
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._lock_fd: int | None = None
        self._lock_ident: tuple[int, int] | None = None
        #: An fsync that failed when the file was left for a rotated one.
        self.sync_error: OSError | None = None

    # ------------------------------------------------------------------ opening

    def _open(self) -> tuple[int, os.stat_result]:
        mode = self.directory.file_mode
        try:
            fd = os.open(self.path, _OPEN_FLAGS | os.O_EXCL, mode)
            created = True
        except FileExistsError:
            fd = os.open(self.path, _OPEN_FLAGS, mode)
            created = False
        except FileNotFoundError:
            # The directory itself is gone (deleted under us): make it again.
            self.directory.prepare()
            fd = os.open(self.path, _OPEN_FLAGS, mode)
            created = True
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & ~mode:
                os.fchmod(fd, mode)  # an existing file with looser permissions
            if created and self.directory.sync_dir:
                fsync_directory(self.path.parent)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self._ident = (st.st_dev, st.st_ino)
        return fd, st

    def _current(self) -> tuple[int, os.stat_result]:
        # The open file and its status, one system call when nothing changed: the
        # path's stat() is the open file's own when it names the same inode.
        fd = self._fd
        if fd is None:
            return self._open()
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._ident:
                return fd, st
        except FileNotFoundError:
            pass
        # Rotated (here or in another process) or deleted: reopen, after making
        # what this process wrote to the old file durable.
        self._sync_before_close()
        self.close()
        return self._open()

    def _lock(self) -> int:
        path = _lock_path(self.path)
        while True:
            if self._lock_fd is None:
                try:
                    fd = os.open(
                        path,
                        os.O_RDWR | os.O_CREAT | _CLOEXEC | os.O_NOFOLLOW,
                        self.directory.file_mode,
                    )
                except FileNotFoundError:
                    self.directory.prepare()  # the directory was deleted: make it again
                    continue
                self._lock_fd = fd
                held = os.fstat(fd)
                self._lock_ident = (held.st_dev, held.st_ino)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            # The lock file may have been deleted (with its directory) meanwhile;
            # a lock on an unlinked file excludes nobody, so take the new one. An
            # open file keeps its inode: its identity is the one read at open.
            try:
                st = os.stat(path)
                if (st.st_dev, st.st_ino) == self._lock_ident:
                    return self._lock_fd
            except FileNotFoundError:
                pass
            self._drop_lock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ writing

    def core_args(self, rotate: RotateCheck | None) -> tuple[Any, ...] | None:
        """What the compiled core's append takes for this file (its descriptors,
        paths and identities, and ``rotate``'s bounds), as :meth:`append` passes
        them; None when only :meth:`append` can write it now (not open yet, or a
        rotation check without bounds)."""
        bounded = None if rotate is None else getattr(rotate, "bounds", None)
        if self._fd is None or self._lock_fd is None or (rotate is not None and bounded is None):
            return None
        lock_path, path = self._paths
        bounds = None if bounded is None else bounded()
        return self._lock_fd, lock_path, self._lock_ident, self._fd, path, self._ident, bounds

    def append(
        self, data: bytes | list[bytes], rotate: RotateCheck | None = None
    ) -> tuple[int, Path | None]:
        """Append ``data`` (one batch: bytes, or pieces written in order with
        ``writev``, never joined) whole, or not at all; return the file size after
        it and the rotated file's path if ``rotate`` asked for a rotation first.

        Raises:
            OSError: the write failed; the file was cut back to its size before it.
        """
        native = self._native
        # A check without bounds must be called: only the method below calls it.
        args = None if native is None else self.core_args(rotate)
        if native is not None and args is not None:
            lock_fd, lock_path, lock_ident, fd, path, ident, bounds = args
            status, value = native(lock_fd, lock_path, lock_ident, fd, path, ident, data, bounds)
            if status == 0:
                return value, None
            if status == 2:
                raise OSError(value, os.strerror(value))
        try:
            self._lock()
        except OSError:
            self._drop_lock()
            raise
        try:
            # Five system calls when nothing changed (flock, the lock's stat, the
            # file's stat, write, unlock); each lets the GIL go once, and the writer's
            # thread may wait a switch interval to take it back from a busy loop.
            fd, st = self._current()
            size = st.st_size
            pieces = [data] if isinstance(data, bytes) else data
            length = sum(map(len, pieces))
            rotated: Path | None = None
            if rotate is not None and size > 0 and rotate(size, length, st.st_mtime):
                rotated = self._rotate_locked()
                fd, _ = self._open()
                size = 0
            done = 0
            try:
                while done < length:
                    done += os.writev(fd, _rest(pieces, done))
            except OSError:
                if done:
                    # Never leave half a batch: under the lock nobody wrote after us.
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                raise
            return size + done, rotated
        finally:
            self._unlock()

    def _rotate_locked(self) -> Path:
        target = rotate_file(self.path)
        self._sync_before_close()
        self.close()
        if self.directory.sync_dir:
            fsync_directory(self.path.parent)
        return target

    def _sync_before_close(self) -> None:
        if self._fd is not None and self.directory.sync_dir:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                # Kept for the writer to report and count; the file is left anyway.
                self.sync_error = exc

    def fsync(self) -> None:
        """Flush the file to stable storage, if it is open."""
        if self._fd is not None:
            os.fsync(self._fd)

    def _drop_lock(self) -> None:
        fd, self._lock_fd, self._lock_ident = self._lock_fd, None, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """Close the file (a later append reopens it)."""
        fd, self._fd, self._ident = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        """Close the file and its lock."""
        self.close()
        self._drop_lock()


def _rotated_names(path: Path, now: float) -> Iterator[Path]:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(now))
    # Start above every name of this second still present (plain or gzipped): a
    # name freed by compression or retention is never handed out again.
    prefix = f"{path.name}.{stamp}."
    first = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix):
                head = entry.name[len(prefix) :].split(".", 1)[0]
                if head == "rotated":
                    first = max(first, 1)
                elif head.isascii() and head.isdigit():  # not "²" or "٣": ours are ASCII
                    first = max(first, int(head) + 1)
    for n in range(first, 10_000):
        yield path.with_name(f"{prefix}rotated" if n == 0 else f"{prefix}{n}.rotated")


def rotate_file(path: Path, now: float | None = None) -> Path:
    """Rename ``path`` to ``<name>.<UTC YYYYmmdd_HHMMSS>[.N].rotated``; never overwrite.

    The new name is claimed with ``link()``, which fails if it exists, so two
    rotations in the same second (or in two processes) take different names.
    Rename only, never copy-and-truncate, so log shippers follow the file. The
    caller holds the file's lock when writers may be running.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FileExistsError: 10,000 rotated names of that second are taken.
    """
    moment = time.time() if now is None else now
    for target in _rotated_names(path, moment):
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            # No hard links on this filesystem: fall back to a checked rename.
            if target.exists() or target.with_name(target.name + ".gz").exists():
                continue
            os.rename(path, target)
            return target
        if target.with_name(target.name + ".gz").exists():
            # An earlier rotation of that name was compressed (the .gz is made
            # before the plain file goes): give the name back and take the next.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            continue
        os.unlink(path)
        return target
    raise FileExistsError(f"No free rotated name left for '{path}'")
