"""Verify a log directory: every file's chains and the signed checkpoints.

IO. Reads current, rotated and gzipped files of every category (oldest first),
streaming line by line, and the checkpoints file, and hands them to the pure
:class:`~asgi_audit.proof.verification.Verifier`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ..store.rotation import rotated_files
from .integrity import CHECKPOINT_FILE, derive_chain_key
from .keymatch import KEY_MISMATCH
from .verification import Break, StreamSummary, Verifier

__all__ = ("VerifyResult", "event_files", "verify_directory")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What ``verify`` found: the streams checked and every break."""

    files: list[str]
    lines: int
    streams: list[StreamSummary]
    breaks: list[Break]
    keyed: bool
    key_id: str | None = None  # the public name of the key given

    @property
    def ok(self) -> bool:
        """Whether everything holds."""
        return not self.breaks

    @property
    def altered(self) -> list[Break]:
        """The breaks that are alterations (every kind but ``unknown key``)."""
        return [b for b in self.breaks if b.kind != KEY_MISMATCH]

    @property
    def mismatched(self) -> list[StreamSummary]:
        """The streams not checked: not sealed with the key given."""
        return [s for s in self.streams if s.mismatch is not None]

    @property
    def verdict(self) -> str:
        """``ok``, ``altered`` (an alteration was found), or ``key mismatch`` (only
        lines or records sealed with another key, or none, or a key when none was given)."""
        if self.ok:
            return "ok"
        return "altered" if self.altered else "key mismatch"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "keyed": self.keyed,
            "key_id": self.key_id,
            "files": self.files,
            "lines": self.lines,
            "streams": [s.as_dict() for s in self.streams],
            "breaks": [b.as_dict() for b in self.breaks],
        }


def event_files(log_dir: Path) -> list[Path]:
    """Every event file of a directory: per category, rotated oldest first, then current."""
    current = sorted(p for p in log_dir.glob("*.jsonl") if p.is_file() and not p.is_symlink())
    names = {p.name for p in current}
    for rotated in log_dir.glob("*.jsonl.*"):
        # A category whose current file is gone still has its rotated files.
        base = rotated.name.split(".jsonl.", 1)[0] + ".jsonl"
        if rotated.name.endswith((".rotated", ".rotated.gz")):
            names.add(base)
    files: list[Path] = []
    for name in sorted(names):
        path = log_dir / name
        files.extend(rotated_files(path))
        if path.is_file():
            files.append(path)
    return files


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open(path) as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line:
                yield number, line


def verify_directory(log_dir: str | os.PathLike[str], key: bytes | None) -> VerifyResult:
    """Check every chain in ``log_dir`` with the deployment ``key`` (None: unkeyed).

    Raises:
        FileNotFoundError: ``log_dir`` does not exist.
    """
    root = Path(log_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such log directory: '{root}'")
    verifier = Verifier(derive_chain_key(key))
    checkpoints = root / CHECKPOINT_FILE
    if checkpoints.is_file():
        for number, raw in _lines(checkpoints):
            try:
                record = orjson.loads(raw)
            except ValueError:
                verifier.breaks.append(
                    Break(checkpoints.name, number, "bad checkpoint", None, "not JSON")
                )
                continue
            if isinstance(record, dict):
                verifier.add_checkpoint(checkpoints.name, number, record)
    files = event_files(root)
    for path in files:
        number = 0
        try:
            for number, raw in _lines(path):
                verifier.feed(path.name, number, raw)
        except (OSError, EOFError, zlib.error) as exc:
            # A damaged (cut or corrupted) gzip file: what follows is unreadable.
            verifier.breaks.append(
                Break(path.name, number + 1, "modified", None, f"unreadable: {exc}")
            )
    streams, breaks = verifier.finish()
    return VerifyResult(
        [p.name for p in files], verifier.lines, streams, breaks, key is not None, verifier.key_id
    )
