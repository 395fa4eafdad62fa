"""Writing the ledger (``checkpoints.log``): one signed, numbered chain per directory.

IO. Every process writing to a directory appends its records to the same chain,
each under the ledger's lock: it reads the last record, and the new one takes
the next ``n`` and the last line's hash as ``prev`` (see
:mod:`asgi_audit.proof.records`). A writer records:

* ``genesis`` once, when the directory's ledger starts (sealed with the key of
  epoch 0); ``reset`` instead when the sealing key says a ledger was started
  before and it is gone;
* ``start`` and ``stop`` for each writer process, and a ``stream`` record for each
  stream before its first line;
* a ``checkpoint`` of its streams every interval (also when it has none: a
  heartbeat), at each epoch's end, at rotation and at shutdown;
* ``key`` at each epoch's end: the next epoch's public key, certified by the key
  about to be erased;
* ``rotated``, ``compressed`` and ``retired`` when files are rotated, gzipped or
  deleted by retention, with their names, sizes and hashes.

Each append is one ``write()`` and an fsync: a record is on disk before the
writer goes on. Checkpoints are strongest when shipped off the host as they are
written (see the security model).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from ..record.events import format_timestamp
from ..store.files import LogDirectory, fsync_directory, locked
from ..store.opening import MAX_LINE, open_file
from ..store.reading import ByteReader, iter_lines
from .integrity import CHECKPOINT_FILE, Sealed, seal_fields, split_mac
from .records import build_body, record_hash, seal_record
from .schemes import Sealer

__all__ = (
    "TAIL_LIMIT",
    "Ledger",
    "Transaction",
    "file_facts",
    "first_record",
    "head",
    "last_newline",
    "read_last_record",
)

_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_N_RE: Final = re.compile(rb'\A\{"n":([0-9]{1,18}),')
#: How far back from the end a last record is looked for (a checkpoint of
#: thousands of streams is long).
TAIL_LIMIT: Final = 8 << 20


def read_last_record(path: Path) -> tuple[int, str] | None:
    """``(n, hash)`` of the ledger's last whole line, or None when it has none.

    ``n`` is read from the line's start (-1 when it has none: not a record of
    ours, which the next record still links to, and verify names). A partial
    last line (a crash mid-append, moved aside at the next start) is passed
    over; a last line longer than any record is not read whole: the next record
    then cannot link to it, and verify names the break.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        end = last_newline(fd, size, size)
        if end < 0:
            return None
        start = last_newline(fd, end, TAIL_LIMIT) + 1
        if start < 0 or end - start > TAIL_LIMIT:
            return -1, "0" * 64
        last = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    match = _N_RE.match(last)
    return (int(match[1]) if match else -1), record_hash(last)


def last_newline(fd: int, before: int, limit: int) -> int:
    """Offset of the last newline before ``before`` (-1: none at all; -2: none
    within ``limit`` bytes)."""
    end = before
    while end > 0:
        if before - end > limit:
            return -2
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


class Ledger:
    """Appends this process's records to a directory's ledger.

    Args:
        directory: the log directory.
        sealer: what signs (its epoch goes into each record).
    """

    __slots__ = ("_directory", "_host", "_pid", "path", "sealer")

    def __init__(self, directory: LogDirectory, sealer: Sealer) -> None:
        self._directory = directory
        self.path = directory.path / CHECKPOINT_FILE
        self.sealer = sealer
        self._host = socket.gethostname()
        self._pid = os.getpid()

    def _write(self, data: bytes, created: bool) -> None:
        """Append ``data`` whole (or not at all) and fsync; the caller holds the lock."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | _CLOEXEC
        fd = os.open(self.path, flags, self._directory.file_mode)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"the ledger is not a regular file: '{self.path}'")
            view, done = memoryview(data), 0
            try:
                while done < len(view):
                    done += os.write(fd, view[done:])
            except OSError:
                if done:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, st.st_size)
                raise
            os.fsync(fd)
        finally:
            os.close(fd)
        if created and self._directory.sync_dir:
            fsync_directory(self.path.parent)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the ledger's lock; records written through the transaction follow
        its last record, in one ``write()`` and an fsync at the end.

        Raises:
            OSError: the ledger could not be read or written (nothing of it was).
        """
        directory = self._directory
        with locked(self.path, directory.file_mode):
            last = read_last_record(self.path)
            tx = Transaction(self, last)
            yield tx
            if tx.lines:
                self._write(b"".join(tx.lines), created=last is None)

    def append(self, records: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Append ``records`` (type, fields) as the chain's next records, fsynced.

        Raises:
            OSError: the ledger could not be written (nothing of it was).
        """
        with self.transaction() as tx:
            tx.write(records)

    def seal(self, kind: str, fields: Mapping[str, Any], n: int, prev: str) -> bytes:
        """Record ``n`` (its line and newline), signed by the sealer's current epoch."""
        sealer = self.sealer
        common: dict[str, Any] = {
            "n": n,
            "prev": prev,
            "type": kind,
            "timestamp": format_timestamp(time.time_ns()),
            "deployment": sealer.deployment,
            "host": self._host,
            "pid": self._pid,
        }
        epoch = sealer.epoch()
        if epoch is not None:
            common["epoch"] = epoch
        body = build_body(common, fields)
        return seal_record(body, sealer.sign(body))

    def close(self) -> None:
        """Nothing stays open between transactions."""


class Transaction:
    """Records to append after the ledger's last one, under its lock."""

    __slots__ = ("_ledger", "empty", "head", "lines", "n")

    def __init__(self, ledger: Ledger, last: tuple[int, str] | None) -> None:
        self._ledger = ledger
        #: Whether the ledger had no record when the lock was taken.
        self.empty = last is None
        self.n, self.head = (0, "") if last is None else (max(last[0], -1) + 1, last[1])
        self.lines: list[bytes] = []

    def write(self, records: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Seal ``records`` now (with the sealer's current epoch); written at the end."""
        for kind, fields in records:
            line = self._ledger.seal(kind, fields, self.n, self.head)
            self.lines.append(line)
            self.head = record_hash(line[:-1])
            self.n += 1


def head(end: Sealed, file_name: str) -> dict[str, Any]:
    """A stream's entry in a checkpoint record."""
    return {
        "seq": end.seq,
        "mac": f"{end.label}:{end.mac.hex()}",
        "root": end.root.hex(),
        "file": file_name,
    }


def file_facts(path: Path) -> dict[str, Any]:
    """What a ``rotated`` or ``compressed`` record says of a file: its size, its
    SHA-256 and, per stream in it (not of a ``.gz``), its first and last ``seq`` and
    last MAC. One pass over the file: the digest is of the bytes as they are read."""
    ranges: dict[str, dict[str, Any]] = {}
    with open_file(path, compressed=False) as raw:
        reader = _Hashing(raw)
        if not path.name.endswith(".gz"):
            for _, raw_line in iter_lines(reader, cap=MAX_LINE):
                _count(ranges, raw_line)
        while reader.read(1 << 20):
            pass  # the rest: a last line without its newline, or the whole .gz
    facts: dict[str, Any] = {"size": reader.size, "sha256": reader.digest.hexdigest()}
    if not path.name.endswith(".gz"):
        facts["streams"] = ranges
    return facts


class _Hashing:
    """A reader that hashes and counts what is read through it."""

    __slots__ = ("_raw", "digest", "size")

    def __init__(self, raw: ByteReader) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size) or b""
        self.digest.update(data)
        self.size += len(data)
        return data


def _count(ranges: dict[str, dict[str, Any]], raw_line: bytes) -> None:
    split = split_mac(raw_line)
    if split is None:
        return
    try:
        event = seal_fields(orjson.loads(split[0]), raw_line)
    except ValueError:
        return
    if event is None:
        return
    stream, seq = event.get("stream"), event.get("seq")
    if not isinstance(stream, str) or not isinstance(seq, int) or isinstance(seq, bool):
        return
    label = f"{split[1]}:{split[2].hex()}"
    entry = ranges.setdefault(stream, {"first_seq": seq, "last_seq": seq, "last_mac": ""})
    entry["first_seq"] = min(entry["first_seq"], seq)
    if seq >= entry["last_seq"]:
        entry["last_seq"] = seq
        entry["last_mac"] = label


def first_record(path: Path) -> dict[str, Any] | None:
    """The ledger's first line, parsed without any check (what it claims), or None
    when there is no ledger or its first line is no JSON object.

    Raises:
        OSError: the ledger is there but cannot be read (not a regular file, ...).
    """
    try:
        with open_file(path, compressed=False) as fh:
            head = fh.read(1 << 16) or b""
    except FileNotFoundError:
        return None
    try:
        record = orjson.loads(head.split(b"\n", 1)[0])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
