"""Per-category append files: open, append, reopen after rotation; stats and rotation.

IO: blocking calls, run by the writer in its thread, never on the event loop.
Every batch of a category is one ``write()`` on an ``O_APPEND`` descriptor with
short writes finished, so lines from several processes never interleave. A file
renamed away (rotation) is noticed by its inode before the next batch, and the
writer goes on in a fresh file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .events import CATEGORY_FILES, category_filename

__all__ = (
    "AppendFile",
    "LogDirectory",
    "count_lines",
    "get_audit_stats",
    "load_or_create_key",
    "rotate_audit_logs",
    "rotate_file",
)

_OPEN_FLAGS: Final = (
    os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | os.O_NOFOLLOW
)
_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class LogDirectory:
    """The log directory and the permissions of what is created in it.

    Args:
        path: the directory (created with its parents if missing).
        dir_mode: mode of a directory this creates (default ``0o700``).
        file_mode: mode of a log file this creates (default ``0o600``).
    """

    path: Path
    dir_mode: int = 0o700
    file_mode: int = 0o600

    def prepare(self) -> None:
        """Create the directory if missing; refuse a path that is not a directory.

        Raises:
            NotADirectoryError: the path exists and is not a directory.
            OSError: it cannot be created.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            missing: list[Path] = []
            parent = self.path
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for directory in reversed(missing):
                # Every directory created here gets dir_mode exactly (mkdir's mode
                # is filtered by the umask, and parents=True would use 0o777).
                with contextlib.suppress(FileExistsError):
                    directory.mkdir(mode=self.dir_mode)
                    os.chmod(directory, self.dir_mode)
            return
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(f"Audit log directory is not a directory: '{self.path}'")

    def file(self, category: str) -> AppendFile:
        """The append file of ``category`` (not opened yet)."""
        return AppendFile(self.path / category_filename(category), self.file_mode)


class AppendFile:
    """One category's file, opened ``O_APPEND`` without following symlinks."""

    __slots__ = ("_fd", "_ident", "mode", "path")

    def __init__(self, path: Path, mode: int = 0o600) -> None:
        self.path = path
        self.mode = mode
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None

    def _open(self) -> int:
        fd = os.open(self.path, _OPEN_FLAGS, self.mode)
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & ~self.mode:
                # An existing file with looser permissions is tightened.
                os.fchmod(fd, self.mode)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self._ident = (st.st_dev, st.st_ino)
        return fd

    def _current_fd(self) -> int:
        fd = self._fd
        if fd is None:
            return self._open()
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._ident
        except FileNotFoundError:
            same = False
        if not same:
            # Renamed away by a rotation (here or in another process): reopen.
            self.close()
            return self._open()
        return fd

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data`` with one ``write()`` (finishing short writes); return bytes written.

        On an error the bytes already written are reported in ``OSError.written``
        (set as an attribute) so that a retry goes on from there.
        """
        fd = self._current_fd()
        view = memoryview(data)
        total = len(view)
        done = 0
        try:
            while done < total:
                done += os.write(fd, view[done:])
        except OSError as exc:
            exc.written = done  # type: ignore[attr-defined]
            raise
        return done

    def fsync(self) -> None:
        """Flush the file to stable storage, if it is open."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the descriptor (a later write reopens)."""
        fd, self._fd, self._ident = self._fd, None, None
        if fd is not None:
            os.close(fd)


def count_lines(path: Path) -> int:
    """The number of complete lines in ``path`` (a partial last line is not counted)."""
    count = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            count += chunk.count(b"\n")
    return count


def _category_files(log_dir: Path) -> Iterator[tuple[str, Path]]:
    for category, name in CATEGORY_FILES.items():
        yield category, log_dir / name
    known = set(CATEGORY_FILES.values())
    if log_dir.is_dir():
        for path in sorted(log_dir.glob("*.jsonl")):
            if path.name not in known and path.is_file():
                yield path.name[: -len(".jsonl")], path


def get_audit_stats(log_dir: str | os.PathLike[str] = "logs/security") -> dict[str, Any]:
    """Per category: ``file``, ``size_bytes``, ``size_kb``, ``event_count``.

    The shape of the system this replaces. The four built-in categories are
    always present (zeros when their file does not exist yet); custom categories
    appear once they have a file. ``event_count`` counts whole lines only.
    """
    root = Path(log_dir)
    stats: dict[str, Any] = {}
    for category, path in _category_files(root):
        try:
            size = path.stat().st_size
            count = count_lines(path) if size else 0
        except FileNotFoundError:
            size, count = 0, 0
        stats[category] = {
            "file": str(path),
            "size_bytes": size,
            "size_kb": round(size / 1024, 2),
            "event_count": count,
        }
    return stats


def _rotated_name(path: Path, now: float) -> Iterator[Path]:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(now))
    yield path.with_name(f"{path.name}.{stamp}.rotated")
    for n in range(1, 10_000):
        yield path.with_name(f"{path.name}.{stamp}.{n}.rotated")


def rotate_file(path: Path, now: float | None = None) -> Path:
    """Rename ``path`` to ``<name>.<UTC YYYYmmdd_HHMMSS>[.N].rotated``; never overwrite.

    The new name is claimed with ``link()``, which fails if it exists, so two
    rotations in the same second (or in two processes) take different names.
    A writer holding the old file notices the inode change and reopens.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FileExistsError: 10,000 rotated names of that second are taken.
    """
    moment = time.time() if now is None else now
    for target in _rotated_name(path, moment):
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            # No hard links on this filesystem: fall back to a checked rename.
            if target.exists():
                continue
            os.rename(path, target)
            return target
        os.unlink(path)
        return target
    raise FileExistsError(f"No free rotated name left for '{path}'")


def rotate_audit_logs(
    log_dir: str | os.PathLike[str] = "logs/security", max_size_mb: float = 100
) -> dict[str, str]:
    """Rotate every category file larger than ``max_size_mb``; return ``{category: rotated_path}``.

    Safe while a writer runs: it goes on in a fresh file at its next batch.
    """
    if max_size_mb < 0:
        raise ValueError(f"max_size_mb must not be negative, got {max_size_mb!r}")
    limit = max_size_mb * 1024 * 1024
    rotated: dict[str, str] = {}
    for category, path in _category_files(Path(log_dir)):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size > limit:
            try:
                rotated[category] = str(rotate_file(path))
            except FileNotFoundError:
                continue
    return rotated


KEY_FILE: Final = ".asgi-audit-key"


def load_or_create_key(directory: LogDirectory) -> bytes:
    """The deployment's key kept in the log directory, created (0600) on first use.

    Every process writing to the directory reads the same key, so keyed hashes
    (session ids) correlate across workers and restarts. The key is written to a
    private temporary file and published with ``link()``, which never replaces an
    existing file: a reader sees either no key file or a whole one, and of two
    racing processes one publishes and the other reads.
    """
    path = directory.path / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = os.urandom(32)
    tmp = directory.path / f"{KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        os.unlink(tmp)
    return key


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        data = os.read(fd, 64)
    finally:
        os.close(fd)
    if len(data) != 32:
        raise OSError(f"Audit key file is damaged (expected 32 bytes): '{path}'")
    return data
