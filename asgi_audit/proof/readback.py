"""What the app reads back from its own directory before it vouches for anything.

IO. The app never signs what it did not write: a restart names where the last
stream of a file ended only if that line's MAC holds (:func:`checked_end`), and
retention acts only on files the ledger recorded at rotation, whose bytes still
match (:func:`ledger_index`, :func:`file_digest`).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from ..store.opening import open_file
from ..store.reading import iter_lines
from .checkpoints import TAIL_LIMIT, last_newline
from .integrity import Sealed, chain_root, compute_mac, seal_fields, split_mac
from .records import field_problem, split_sig
from .schemes import FORWARD, Sealer

__all__ = (
    "IndexEntry",
    "checked_end",
    "file_digest",
    "file_size_digest",
    "ledger_index",
    "parse_timestamp",
)

_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def checked_end(path: Path, sealer: Sealer) -> Sealed | None:
    """Where the stream of a file's last line stood, if that line's MAC holds
    under the key sealing now; else None (a new stream then names nothing).

    A restart must not vouch for what it did not check: a cut or forged last
    line would otherwise be named, signed, by the next stream. Only a line
    sealed with the current key (same epoch, or a static key) can be checked
    here; the ledger's checkpoints cover the rest.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        size = os.fstat(fd).st_size
        end = last_newline(fd, size, size)
        if end < 0:
            return None
        start = last_newline(fd, end, TAIL_LIMIT)
        if start < -1:
            return None
        before = last_newline(fd, start, TAIL_LIMIT) if start > 0 else -1
        last = os.pread(fd, end - start - 1, start + 1)
        previous = (
            os.pread(fd, start - before - 1, before + 1) if start > 0 and before >= -1 else b""
        )
    finally:
        os.close(fd)
    split = split_mac(last)
    label = sealer.line_label()
    if split is None or split[1] != label:
        return None
    body, _, mac = split
    try:
        event = seal_fields(orjson.loads(body), last)
    except ValueError:
        return None
    if event is None:
        return None
    stream, seq = event.get("stream"), event.get("seq")
    if not isinstance(stream, str) or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    key = sealer.line_key()
    if seq == 1:
        prev = chain_root(None if sealer.scheme == FORWARD else key, stream)
    else:
        split_prev = split_mac(previous) if previous else None
        if split_prev is None:
            return None
        try:
            event_prev = seal_fields(orjson.loads(split_prev[0]), previous)
        except ValueError:
            return None
        if event_prev is None:
            return None
        if event_prev.get("stream") != stream or event_prev.get("seq") != seq - 1:
            return None
        prev = split_prev[2]
    if not hmac.compare_digest(compute_mac(key, prev, body), mac):
        return None
    return Sealed(stream, seq, mac, label)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A rotated (or compressed) file as the ledger first recorded it."""

    n: int  # the record that names it (for a .gz: the rotated record's)
    sha256: str
    time: float  # when it was rotated (the record's timestamp)


def ledger_index(path: Path) -> dict[str, IndexEntry]:
    """Per file name, the first ``rotated`` or ``compressed`` record naming it.

    Signatures are not checked here (the host cannot check an ended epoch's):
    retention only acts where the file's bytes match, records each act naming
    the record it relied on, and verify accepts a deletion only when that record
    verifies. The first record wins: one planted later cannot take a name over.
    """
    index: dict[str, IndexEntry] = {}
    try:
        fh = open_file(path, compressed=False)
    except OSError:
        return index
    with fh:
        for _, raw in iter_lines(fh, cap=TAIL_LIMIT):
            split = split_sig(raw)
            if split is None:
                continue
            try:
                record = orjson.loads(split[0])
            except ValueError:
                continue
            if not isinstance(record, dict) or field_problem(record) is not None:
                continue
            kind, name = record["type"], str(record.get("file"))
            if kind == "rotated" and name not in index:
                moment = parse_timestamp(record["timestamp"])
                if moment is not None:
                    index[name] = IndexEntry(record["n"], record["sha256"], moment)
            elif kind == "compressed" and name not in index:
                source = index.get(record["from"])
                if source is not None:
                    index[name] = IndexEntry(source.n, record["sha256"], source.time)
    return index


def parse_timestamp(value: str) -> float | None:
    """Seconds since the epoch of a record's ``timestamp`` (ISO 8601 UTC), or None."""
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def file_size_digest(path: Path) -> tuple[int, str]:
    """A regular file's size and SHA-256, read without following a link."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: '{path}'")
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def file_digest(path: Path) -> str | None:
    """A regular file's SHA-256, or None if it cannot be read."""
    try:
        return file_size_digest(path)[1]
    except OSError:
        return None
