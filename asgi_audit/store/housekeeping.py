"""What the Auditor does to its directory besides writing: recovery and retention.

IO, run in a thread. At start, a partial last line left by a crash is moved
aside in every file of ours (and the checkpoints), and the end of each file's
last stream is read, so the new stream can name it. Later, rotated files are
compressed and retired by the retention policy, each deletion recorded first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

from ..proof.checkpoints import Ledger
from ..proof.integrity import CHECKPOINT_FILE
from ..proof.readback import IndexEntry, file_digest, file_size_digest, ledger_index
from ..proof.schemes import Sealer
from ..record.events import CATEGORY_FILES, category_filename
from .files import LogDirectory, fsync_directory, locked
from .reporting import report
from .rotation import RotationPolicy, apply_retention

_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
#: How long a rotated file may stay unrecorded before retention reports it.
_SETTLE_S: Final = 600.0

__all__ = ("category_of", "recover_directory", "recover_partial_line", "retain")


def recover_directory(
    directory: LogDirectory,
) -> tuple[list[tuple[str, Path, int]], dict[str, Path]]:
    """Move partial last lines aside; return what was moved (category, .partial
    file, bytes) and each category's current file."""
    recovered: list[tuple[str, Path, int]] = []
    ends: dict[str, Path] = {}
    checkpoints = directory.path / CHECKPOINT_FILE
    if checkpoints.is_file() and recover_partial_line(checkpoints) is not None:
        report(f"a partial last line of '{checkpoints}' was moved aside")
    for path in sorted(directory.path.glob("*.jsonl")):
        category = category_of(path)
        if category is None or not path.is_file() or path.is_symlink():
            continue  # not a file of ours: leave it alone
        moved = recover_partial_line(path, directory.file_mode)
        if moved is not None:
            report(f"a partial last line of '{path}' was moved to '{moved[0]}'")
            recovered.append((category, *moved))
        ends[category] = path
    return recovered, ends


def retain(
    directory: LogDirectory,
    policy: RotationPolicy,
    sealer: Sealer | None,
    *,
    now: float | None = None,
) -> None:
    """Compress and delete rotated files as ``policy`` says, in every category.

    With integrity on (a ``sealer``), only files the ledger recorded at rotation
    and whose bytes are still those it recorded are touched, their age is the
    recorded rotation time (never the mtime), and each compression and deletion
    is recorded first: the app never vouches for a file it did not write.

    Args:
        now: the moment ages are measured at (default: the current time).
    """
    ledger = Ledger(directory, sealer) if sealer is not None else None
    index = ledger_index(directory.path / CHECKPOINT_FILE) if ledger is not None else {}
    refused: set[str] = set()

    def vouch(path: Path) -> float | None:
        entry = index.get(path.name)
        if entry is not None and file_digest(path) == entry.sha256:
            return entry.time
        if path.name not in refused and _settled(path):
            refused.add(path.name)
            report(
                f"'{path}' is not a rotated file the ledger recorded (or its bytes changed): "
                "left alone by compression and retention"
            )
        return None

    def compressed(plain: Path, gz: Path) -> None:
        assert ledger is not None
        entry = index[plain.name]
        size, digest = file_size_digest(gz)
        ledger.append(
            [("compressed", {"file": gz.name, "from": plain.name, "size": size, "sha256": digest})]
        )
        index[gz.name] = IndexEntry(entry.n, digest, entry.time)

    def retire(path: Path) -> None:
        assert ledger is not None
        entry = index[path.name]
        ledger.append([("retired", {"file": path.name, "sha256": entry.sha256, "record": entry.n})])

    try:
        for name in sorted({*CATEGORY_FILES.values(), *_jsonl_names(directory.path)}):
            try:
                apply_retention(
                    directory.path / name,
                    policy,
                    now=now,
                    before_delete=None if ledger is None else retire,
                    vouch=None if ledger is None else vouch,
                    after_compress=None if ledger is None else compressed,
                )
            except OSError as exc:
                report(f"retention of '{name}' rotated files failed: {exc}")
    finally:
        if ledger is not None:
            ledger.close()


def _settled(path: Path) -> bool:
    # A file rotated a moment ago by another worker may not be recorded yet:
    # only one that stayed unrecorded for a while is worth a report.
    try:
        return time.time() - path.stat().st_mtime > _SETTLE_S
    except OSError:
        return False


def _jsonl_names(directory: Path) -> list[str]:
    # Current files, and categories known only by their rotated files.
    if not directory.is_dir():
        return []
    names = {p.name for p in directory.glob("*.jsonl")}
    names.update(p.name.split(".jsonl.", 1)[0] + ".jsonl" for p in directory.glob("*.jsonl.*"))
    return sorted(names)


def recover_partial_line(path: Path, mode: int = 0o600) -> tuple[Path, int] | None:
    """Move a partial last line (left by a crash) into a ``.partial`` file.

    Under the file's lock: the bytes after the last newline are written to a new
    ``<file>.<UTC YYYYmmdd_HHMMSS>.partial`` (with a random part when that name is
    taken), fsynced, and only then cut from the file. Returns that path and the
    byte count, or None when the file ends in a whole line.
    """
    with locked(path, mode):
        try:
            fd = os.open(path, os.O_RDWR | _CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        try:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return None
            cut = _last_newline(fd, size) + 1
            tail = os.pread(fd, size - cut, cut)
            stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
            partial, out = _open_partial(path, stamp, mode)
            try:
                os.write(out, tail)
                os.fsync(out)
            finally:
                os.close(out)
            # The .partial file's entry must be durable before the tail is cut.
            fsync_directory(path.parent)
            os.ftruncate(fd, cut)
            os.fsync(fd)
            return partial, len(tail)
        finally:
            os.close(fd)


def _open_partial(path: Path, stamp: str, mode: int) -> tuple[Path, int]:
    """Create the ``.partial`` file, new, never through a planted name.

    Whoever can write the directory can predict ``<file>.<stamp>.partial`` and
    plant something there first: a symlink (the tail would go wherever it
    points), a hard link to another file, a FIFO (the open would block the
    restart) or a directory. The file is therefore always created with
    ``O_EXCL``, which refuses every existing name; a name that is taken is
    passed over for one with a random part.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
    partial = path.with_name(f"{path.name}.{stamp}.partial")
    try:
        return partial, os.open(partial, flags, mode)
    except FileExistsError:
        partial = path.with_name(f"{path.name}.{stamp}.{os.urandom(4).hex()}.partial")
        return partial, os.open(partial, flags, mode)


def _last_newline(fd: int, size: int) -> int:
    """Offset of the last ``\\n`` before ``size``, or -1."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        chunk = os.pread(fd, end - start, start)
        pos = chunk.rfind(b"\n")
        if pos >= 0:
            return start + pos
        end = start
    return -1


def category_of(path: Path) -> str | None:
    """The category whose file ``path`` is, or None for a file of no category."""
    for category, name in CATEGORY_FILES.items():
        if name == path.name:
            return category
    category = path.name[: -len(".jsonl")]
    try:
        return category if category_filename(category) == path.name else None
    except ValueError:
        return None
