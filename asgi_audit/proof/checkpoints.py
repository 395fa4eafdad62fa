"""Signed checkpoints of every writer stream, in ``checkpoints.log``.

IO. The writer records, for each of its streams (one per category), the last
``seq`` and MAC it wrote: at an interval (also when nothing new was written: a
checkpoint with no new events proves nothing was written then), when a file is
rotated (naming the rotated file), and at shutdown. Retention records which
streams' lines it deletes with a rotated file (``retired``), so a verifier can
tell a file deleted by policy from one deleted by an intruder. Every record is
signed (see :func:`asgi_audit.proof.integrity.sign_checkpoint`); the file is appended
under its lock like a category file. Checkpoints are strongest when shipped off
the machine as they are written (see the README).
"""

from __future__ import annotations

import gzip
import os
import socket
import time
from pathlib import Path
from typing import Any

import orjson

from ..record.encoding import encode_line
from ..record.events import format_timestamp
from ..store.files import AppendFile, LogDirectory
from .integrity import (
    CHECKPOINT_FILE,
    KEY_ID_FIELD,
    Sealed,
    algorithm,
    key_id,
    sign_checkpoint,
    split_mac,
)

__all__ = ("Checkpointer", "last_line_end", "stream_ranges")


class Checkpointer:
    """Appends signed checkpoint records for one process's streams."""

    __slots__ = ("_file", "_host", "_key", "_named")

    def __init__(self, directory: LogDirectory, key: bytes | None) -> None:
        self._file = AppendFile(directory, directory.path / CHECKPOINT_FILE)
        self._key = key
        self._host = socket.gethostname()
        # Which key signs, for a verifier holding another (see integrity.key_id).
        kid = key_id(key)
        self._named: dict[str, str] = {} if kid is None else {KEY_ID_FIELD: kid}

    def record(self, reason: str, ends: dict[str, tuple[Sealed, str]]) -> None:
        """One record per stream: ``ends`` maps category to (where its stream
        stands, the file its last line is in).

        Raises:
            OSError: the checkpoint file could not be written.
        """
        now = time.time_ns()
        lines = []
        for category, (end, file_name) in sorted(ends.items()):
            record = {
                "timestamp": format_timestamp(now),
                "type": "checkpoint",
                "reason": reason,
                "category": category,
                "file": file_name,
                "stream": end.stream,
                "seq": end.seq,
                "mac": f"{algorithm(self._key)}:{end.mac.hex()}",
                "pid": os.getpid(),
                "host": self._host,
                **self._named,
            }
            lines.append(encode_line(sign_checkpoint(self._key, record)))
        if lines:
            self._file.append(b"".join(lines))

    def retire(self, path: Path) -> None:
        """Record which stream ranges a rotated file holds, before retention deletes it."""
        ranges = stream_ranges(path)
        if not ranges:
            return
        record = {
            "timestamp": format_timestamp(time.time_ns()),
            "type": "retired",
            "file": path.name,
            "streams": ranges,
            "pid": os.getpid(),
            "host": self._host,
            **self._named,
        }
        self._file.append(encode_line(sign_checkpoint(self._key, record)))

    def close(self) -> None:
        """Close the checkpoint file and its lock."""
        self._file.close_all()


def stream_ranges(path: Path) -> dict[str, Any]:
    """Per stream in a file: its first and last ``seq`` and last MAC (hex)."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    ranges: dict[str, Any] = {}
    with opener(path, "rb") as fh:
        for raw in fh:
            split = split_mac(raw.rstrip(b"\n"))
            if split is None:
                continue
            body, _, mac = split
            try:
                event = orjson.loads(body)
            except ValueError:
                continue
            stream, seq = event.get("stream"), event.get("seq")
            if not isinstance(stream, str) or not isinstance(seq, int):
                continue
            entry = ranges.setdefault(stream, {"first_seq": seq, "last_seq": seq, "last_mac": ""})
            entry["first_seq"] = min(entry["first_seq"], seq)
            if seq >= entry["last_seq"]:
                entry["last_seq"] = seq
                entry["last_mac"] = mac.hex()
    return ranges


def last_line_end(path: Path) -> Sealed | None:
    """Where the stream of a file's last whole line stood (for a new stream to name)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - 65536)
            fh.seek(start)
            tail = fh.read()
    except OSError:
        return None
    lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
    split = split_mac(lines[-1]) if lines and lines[-1] else None
    if split is None:
        return None
    body, _, mac = split
    try:
        event = orjson.loads(body)
    except ValueError:
        return None
    stream, seq = event.get("stream"), event.get("seq")
    if not isinstance(stream, str) or not isinstance(seq, int):
        return None
    return Sealed(stream, seq, mac)
