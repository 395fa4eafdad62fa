"""Rotation policy, retention, compression of rotated files, and the file stats.

IO. The writer asks :class:`RotationPolicy` under each file's lock whether to
rotate before a batch; rotation renames (never copies) so log shippers follow.
Compression and retention of rotated files run off the writer's path, in the
Auditor's maintenance task. :func:`get_audit_stats` and :func:`rotate_audit_logs`
keep the names and return shapes of the system this replaces. Which files are a
category's (current and rotated) is :mod:`asgi_audit.store.listing`'s to say.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from ..record.events import CATEGORY_FILES
from .files import fsync_directory, locked, rotate_file
from .listing import list_event_files, list_rotated
from .opening import NotRegularFile, open_regular

__all__ = (
    "RotationPolicy",
    "apply_retention",
    "compress_rotated",
    "count_lines",
    "get_audit_stats",
    "parse_interval",
    "rotate_audit_logs",
    "rotated_files",
)

_CHUNK: Final = 1 << 20
# How close to a period's boundary a mtime is left to RotationPolicy's own arithmetic.
_MARGIN: Final = 0.001
_INTERVALS: Final = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0}
_DURATION: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*\Z")
_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(value: str | float | None, option: str = "rotate_interval") -> float | None:
    """Seconds from ``"hourly"``, ``"daily"``, ``"weekly"``, ``"30m"``, ``"6h"``, ``"7d"``.

    A number is taken as seconds.

    Raises:
        ValueError: quoting the value that cannot be read.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().lower() in _INTERVALS:
        seconds = _INTERVALS[value.strip().lower()]
    elif isinstance(value, str) and (m := _DURATION.match(value.lower())):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(
            f"Cannot parse {option} from: {value!r} (use 'hourly', 'daily', 'weekly', "
            "'30m', '6h', '7d' or seconds)"
        )
    if seconds <= 0:
        raise ValueError(f"Cannot parse {option} from: {value!r} (it must be positive)")
    return seconds


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """When a category file is rotated, and what happens to rotated files.

    Args:
        max_bytes: rotate before a batch would take the file past this size.
        interval: rotate the first time a batch comes in a new UTC period of this
            many seconds (86400: at midnight UTC) after the file's last write.
        keep: keep at most this many rotated files per category (oldest go first).
        max_age: delete rotated files older than this many seconds.
        compress: gzip rotated files (off the writer's path).
    """

    max_bytes: int | None = None
    interval: float | None = None
    keep: int | None = None
    max_age: float | None = None
    compress: bool = False

    def __post_init__(self) -> None:
        if self.max_bytes is not None and self.max_bytes < 1024:
            raise ValueError(f"rotate_max_bytes must be at least 1024, got {self.max_bytes!r}")
        if self.keep is not None and self.keep < 0:
            raise ValueError(f"retain_count must not be negative, got {self.keep!r}")
        if self.max_age is not None and self.max_age <= 0:
            raise ValueError(f"retain_days must be positive, got {self.max_age!r}")

    @property
    def rotates(self) -> bool:
        """Whether the writer checks before each batch."""
        return self.max_bytes is not None or self.interval is not None

    @property
    def maintains(self) -> bool:
        """Whether rotated files need compression or retention."""
        return self.compress or self.keep is not None or self.max_age is not None

    def bounds(self) -> tuple[int, float, float]:
        """When this check may be due, for the compiled core's append:
        ``(max_bytes or -1, low, high)``. A file that fits
        in ``max_bytes`` and whose mtime is within ``[low, high)`` is not rotated
        now; anything else is decided by calling the check. The window is the
        current period, a millisecond narrower at each end: a mtime that close to
        a boundary is left to the check's own arithmetic."""
        max_bytes = -1 if self.max_bytes is None else self.max_bytes
        if self.interval is None:
            return max_bytes, -math.inf, math.inf
        start = int(time.time() // self.interval) * self.interval
        return max_bytes, start + _MARGIN, start + self.interval - _MARGIN

    def __call__(self, size: int, incoming: int, mtime: float) -> bool:
        if self.max_bytes is not None and size + incoming > self.max_bytes:
            return True
        if self.interval is not None:
            return int(time.time() // self.interval) != int(mtime // self.interval)
        return False


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of ``path`` (plain and gzipped), oldest first by name.

    Regular files only, named with ASCII digits (see :mod:`asgi_audit.store.listing`).
    A plain file whose ``.gz`` twin exists is left out: the twin is complete (it
    is linked into place only once written and fsynced), and the plain file is
    what a compression cut short by the process's exit left behind.
    """
    files, _ = list_rotated(path)
    return [f.path for f in files if not f.twin]


def _finish_compressions(path: Path) -> None:
    # Remove the plain files whose complete .gz twin exists (see rotated_files).
    for plain in path.parent.glob(f"{path.name}.*.rotated"):
        if plain.with_name(plain.name + ".gz").exists():
            with contextlib.suppress(FileNotFoundError):
                plain.unlink()


def compress_rotated(path: Path) -> Path:
    """Gzip one rotated file to ``<name>.gz`` (atomically), then remove the original.

    A file that still has a second name (a rotation in another process is moving
    it) is left for a later pass, and ``path`` itself is returned.
    """
    target = path.with_name(path.name + ".gz")
    # A temporary name of this call only: two processes compressing the same file
    # must not write into one inode.
    tmp = path.with_name(f".{path.name}.gz.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    with open(path, "rb") as src:
        st = os.fstat(src.fileno())
        if st.st_nlink != 1:
            # A rotation is still moving this file (it has a second name: the
            # current file's, or another rotated name it is about to take); a
            # copy made now would be made again under that other name. Later.
            return path
        return _compress(path, src, st, target, tmp)


def _compress(path: Path, src: BinaryIO, st: os.stat_result, target: Path, tmp: Path) -> Path:
    try:
        with open(tmp, "xb") as raw:
            with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, mtime=0) as gz:
                shutil.copyfileobj(src, gz, _CHUNK)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, st.st_mode & 0o777)
        # Keep the rotated file's age: retention measures it from the last write.
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        try:
            os.link(tmp, target)  # never replaces a .gz that exists
        except FileExistsError:
            # Another process compressed the same file first: never overwrite
            # its .gz (complete: linked only after fsync). The plain file goes,
            # here or in that process, whichever comes first.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return target
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    os.unlink(path)
    fsync_directory(path.parent)
    return target


def apply_retention(
    path: Path,
    policy: RotationPolicy,
    now: float | None = None,
    before_delete: Callable[[Path], object] | None = None,
    vouch: Callable[[Path], float | None] | None = None,
    after_compress: Callable[[Path, Path], object] | None = None,
) -> list[Path]:
    """Compress and delete the rotated files of ``path`` as ``policy`` says; return deleted.

    Args:
        path: a category's current file.
        policy: what to compress and delete.
        now: the time to measure ages from.
        before_delete: called with each file about to be deleted (the auditor
            records it in the ledger).
        vouch: when given, only the files it vouches for are compressed or
            deleted, and their age is measured from the time it returns (the
            rotation time the ledger recorded, not the file's mtime, which anyone
            who can write the directory can set); None means "not ours".
        after_compress: called with (plain, gzipped) after each compression.
    """
    moment = time.time() if now is None else now

    def rotated_at(rotated: Path) -> float | None:
        if vouch is None:
            with contextlib.suppress(FileNotFoundError):
                return rotated.stat().st_mtime
            return None
        return vouch(rotated)

    if policy.compress:
        _finish_compressions(path)
        for rotated in rotated_files(path):
            if rotated.name.endswith(".rotated") and rotated_at(rotated) is not None:
                with contextlib.suppress(FileNotFoundError):
                    target = compress_rotated(rotated)
                    if target != rotated and after_compress is not None:
                        after_compress(rotated, target)
    files = [(f, rotated_at(f)) for f in rotated_files(path)]
    ours = [(f, at) for f, at in files if at is not None]
    doomed: list[Path] = []
    if policy.keep is not None and len(ours) > policy.keep:
        doomed = [f for f, _ in ours[: len(ours) - policy.keep]]
    if policy.max_age is not None:
        for rotated, at in ours:
            if at is not None and moment - at > policy.max_age and rotated not in doomed:
                doomed.append(rotated)
    for rotated in doomed:
        with contextlib.suppress(FileNotFoundError):
            if before_delete is not None:
                before_delete(rotated)
            rotated.unlink()
    return doomed


def count_lines(path: Path) -> int:
    """The number of complete lines in ``path`` (a partial last line is not counted).

    Raises:
        NotRegularFile: ``path`` is a symlink, a FIFO, a device, ...
        OSError: it cannot be read.
    """
    count = 0
    with open(open_regular(path), "rb", closefd=True) as fh:
        while chunk := fh.read(_CHUNK):
            count += chunk.count(b"\n")
    return count


def _category_files(log_dir: Path) -> list[tuple[str, Path]]:
    """The built-in categories' current files (whether they exist or not), then the
    others that exist as regular files."""
    found = [(category, log_dir / name) for category, name in CATEGORY_FILES.items()]
    try:
        listed = list_event_files(log_dir).categories
    except OSError:  # missing, or not a directory: the built-ins alone, empty
        return found
    for category, files in listed.items():
        if category not in CATEGORY_FILES and files and files[-1].current:
            found.append((category, files[-1].path))
    return found


def get_audit_stats(log_dir: str | os.PathLike[str] = "logs/security") -> dict[str, Any]:
    """Per category: ``file``, ``size_bytes``, ``size_kb``, ``event_count``.

    The shape of the system this replaces. The four built-in categories are
    always present (zeros when their file does not exist yet); custom categories
    appear once they have a file. ``event_count`` counts whole lines only. A name
    that is not a regular file (a symlink, a FIFO, ...) is never opened: it counts
    as no file.
    """
    root = Path(log_dir)
    stats: dict[str, Any] = {}
    for category, path in _category_files(root):
        try:
            size = os.stat(path, follow_symlinks=False).st_size
            count = count_lines(path) if size else 0
        except FileNotFoundError:
            size, count = 0, 0
        except NotRegularFile:
            size, count = 0, 0  # never read (a symlink, a FIFO, ...): no events of ours
        stats[category] = {
            "file": str(path),
            "size_bytes": size,
            "size_kb": round(size / 1024, 2),
            "event_count": count,
        }
    return stats


def rotate_audit_logs(
    log_dir: str | os.PathLike[str] = "logs/security", max_size_mb: float = 100
) -> dict[str, str]:
    """Rotate every category file larger than ``max_size_mb``; return ``{category: rotated_path}``.

    Safe while apps are writing, in this process or others: each file is rotated
    under its lock, and every writer reopens the fresh file before its next batch.
    """
    if max_size_mb < 0:
        raise ValueError(f"max_size_mb must not be negative, got {max_size_mb!r}")
    limit = max_size_mb * 1024 * 1024
    rotated: dict[str, str] = {}
    for category, path in _category_files(Path(log_dir)):
        if not path.exists():
            continue
        with locked(path):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size > limit:
                rotated[category] = str(rotate_file(path))
                fsync_directory(path.parent)
    return rotated
