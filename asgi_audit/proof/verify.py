"""Verify a log directory: every file's chains and the signed checkpoints.

IO. Reads current, rotated and gzipped files of every category (oldest first),
streaming line by line, and the checkpoints file, and hands them to the pure
:class:`~asgi_audit.proof.verification.Verifier`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ..store.rotation import rotated_files
from .completeness import anchor_breaks, caveats, file_breaks
from .forward import VerificationKey
from .integrity import CHECKPOINT_FILE, derive_chain_key, key_id
from .keymatch import KEY_MISMATCH
from .ledger import LedgerCheck, LedgerFacts, RecordKeys
from .records import field_problem, record_hash, split_sig
from .schemes import (
    FORWARD,
    STATIC,
    UNKEYED,
    ForwardRecords,
    StaticRecords,
    UnkeyedRecords,
)
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
    scheme: str = UNKEYED  # how the log says it was sealed (else what the key given checks)
    caveats: list[str] = field(default_factory=list)  # what verify cannot rule out
    ledger_records: int = 0

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
        """``ok``, ``altered`` (an alteration was found), ``key mismatch`` (only
        lines or records sealed with another key, or none, or a key when none was
        given), or ``unkeyed`` (nothing altered, but sealed without a key: proves
        nothing against anyone who could write the files)."""
        if self.ok:
            return "unkeyed" if self.scheme == UNKEYED else "ok"
        return "altered" if self.altered else "key mismatch"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "keyed": self.keyed,
            "key_id": self.key_id,
            "scheme": self.scheme,
            "caveats": self.caveats,
            "ledger_records": self.ledger_records,
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


def _file_hash(path: Path) -> tuple[int, str, str]:
    """A file's size and SHA-256, and the SHA-256 of its content (of what a ``.gz``
    holds; the same hash for a plain file)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    if not path.name.endswith(".gz"):
        return size, digest.hexdigest(), digest.hexdigest()
    content = hashlib.sha256()
    with gzip.open(path, "rb") as gz:
        for chunk in iter(lambda: gz.read(1 << 20), b""):
            content.update(chunk)
    return size, digest.hexdigest(), content.hexdigest()


def _first_record(path: Path) -> dict[str, Any] | None:
    for _, raw in _lines(path):
        with contextlib.suppress(ValueError):
            record = orjson.loads(raw)
            if isinstance(record, dict):
                return record
        return None
    return None


def _scheme_of(key: bytes | None, verification_key: VerificationKey | None) -> str:
    if verification_key is not None:
        return FORWARD
    return STATIC if key is not None else UNKEYED


def verify_directory(
    log_dir: str | os.PathLike[str],
    key: bytes | None,
    *,
    verification_key: VerificationKey | None = None,
    anchor: bytes | None = None,
    anchor_source: str = "anchor",
) -> VerifyResult:
    """Check every chain in ``log_dir`` and the ledger that says what should exist.

    Args:
        log_dir: the log directory.
        key: a static deployment key (None: none).
        verification_key: the forward-secure verification key (secret or public).
        anchor: one ledger record that left the host (shipped, or saved earlier):
            the ledger must still hold it, so a cut or a rollback since shows.
        anchor_source: where the anchor came from, for the break.

    Raises:
        FileNotFoundError: ``log_dir`` does not exist.
    """
    root = Path(log_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such log directory: '{root}'")
    scheme = _scheme_of(key, verification_key)
    records: RecordKeys
    forward: ForwardRecords | None = None
    deployment: str | None = None
    chain_key = derive_chain_key(key)
    if verification_key is not None:
        records = forward = ForwardRecords(verification_key)
        deployment = verification_key.deployment.deployment
    elif chain_key is not None:
        records = StaticRecords(chain_key)
        deployment = key_id(chain_key)
    else:
        records = UnkeyedRecords()
    ledger_path = root / CHECKPOINT_FILE
    check = LedgerCheck(records, deployment, ledger_path.name)
    if ledger_path.is_file() and not ledger_path.is_symlink():
        for number, raw in _lines(ledger_path):
            check.feed(number, raw)
    facts = check.finish()
    ledger_breaks = facts.breaks
    first = _first_record(ledger_path) if ledger_path.is_file() else None
    claimed = first.get("scheme") if first else None
    named = first.get("deployment") if first else None
    other = isinstance(claimed, str) and claimed != scheme
    other_key = deployment is not None and isinstance(named, str) and named != deployment
    if facts.verified == 0 and (other or other_key):
        # Nothing verifies, and the ledger says it was sealed another way or by
        # another key: a key mismatch, not an alteration (still a failure: nothing
        # is proven, and the whole ledger may as well have been replaced).
        why = (
            f"sealed {str(claimed)[:40]}; the key given checks {scheme}"
            if other
            else f"sealed by deployment {str(named)[:40]}; the key given is {deployment}'s"
        )
        ledger_breaks = [Break(ledger_path.name, 1, KEY_MISMATCH, None, f"the ledger was {why}")]
    verifier = Verifier(chain_key, forward)
    if verification_key is not None:
        verifier.key_id = verification_key.key_id
    verifier.use_ledger(facts, ledger_path.name)
    files = event_files(root)
    present: dict[str, tuple[int, str, str]] = {}
    for path in files:
        number = 0
        try:
            if ".jsonl." in path.name:
                present[path.name] = _file_hash(path)
            for number, raw in _lines(path):
                verifier.feed(path.name, number, raw)
        except (OSError, EOFError, zlib.error) as exc:
            # A damaged (cut or corrupted) gzip file: what follows is unreadable.
            verifier.breaks.append(
                Break(path.name, number + 1, "modified", None, f"unreadable: {exc}")
            )
    streams, breaks = verifier.finish()
    breaks = [*ledger_breaks, *breaks, *file_breaks(facts, present, ledger_path.name)]
    if anchor is not None:
        breaks += _anchor(anchor, records, facts, ledger_path.name, anchor_source)
    return VerifyResult(
        [p.name for p in files],
        verifier.lines,
        streams,
        breaks,
        scheme != UNKEYED,
        verifier.key_id,
        scheme=facts.scheme or scheme,
        caveats=caveats(facts, anchor is not None),
        ledger_records=facts.records,
    )


def _anchor(
    anchor: bytes, records: RecordKeys, facts: LedgerFacts, ledger_file: str, source: str
) -> list[Break]:
    line = anchor.strip()
    split = split_sig(line)
    record: Any = None
    if split is not None:
        with contextlib.suppress(ValueError):
            record = orjson.loads(split[0])
    if not isinstance(record, dict) or field_problem(record) is not None or split is None:
        return [Break(source, 1, "bad anchor", None, "not a ledger record")]
    if records.check(record, *split) != "ok":
        return [Break(source, 1, "bad anchor", None, "its signature does not hold")]
    return anchor_breaks(facts, record["n"], record_hash(line), ledger_file, source)
