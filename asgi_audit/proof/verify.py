"""Verify a log directory: the ledger, every file's chains, and what is missing.

IO. Reads the ledger (``checkpoints.log``) into the pure
:class:`~asgi_audit.proof.ledger.LedgerCheck`, then current, rotated and gzipped
files of every category (oldest first), streaming line by line through the
shared lister and opener (:mod:`asgi_audit.proof.sources`), into the pure
:class:`~asgi_audit.proof.verification.Verifier`; then compares what the ledger
says should exist with what is there (:mod:`asgi_audit.proof.completeness`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from ..store.listing import EventFile, list_event_files, parse_rotated
from .checkpoints import first_record
from .completeness import (
    anchor_breaks,
    caveats,
    copied_files,
    file_breaks,
    renamed_files,
    unrecorded,
)
from .forward import MAX_EPOCH, VerificationKey
from .integrity import CHECKPOINT_FILE, derive_chain_key, key_id
from .keymatch import KEY_MISMATCH
from .ledger import LEDGER_MISSING, LedgerCheck, LedgerFacts, RecordKeys
from .records import field_problem, record_hash, split_sig
from .schemes import (
    FORWARD,
    STATIC,
    UNKEYED,
    ForwardRecords,
    StaticRecords,
    UnkeyedRecords,
)
from .sources import feed_file, feed_ledger, file_hashes, in_order, refused_break
from .verification import Break, StreamSummary, Verifier

__all__ = ("CLOCK_SLACK_S", "VerifyResult", "event_files", "verify_directory")

#: How far the host's clock may run ahead of the verifier's: an epoch that begins
#: within this much of the verifier's now may have been sealed in.
CLOCK_SLACK_S: Final = 86400.0


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
    checked_with: str = UNKEYED  # what the key given checks: forward-secure, static, unkeyed
    caveats: list[str] = field(default_factory=list)  # what verify cannot rule out
    ledger_records: int = 0
    #: Each rotated file read: its size, the SHA-256 of its bytes and of what it
    #: holds (of a ``.gz``: its content), as hex.
    file_hashes: dict[str, tuple[int, str, str]] = field(default_factory=dict)

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
            "checked_with": self.checked_with,
            "caveats": self.caveats,
            "ledger_records": self.ledger_records,
            "files": self.files,
            "lines": self.lines,
            "streams": [s.as_dict() for s in self.streams],
            "breaks": [b.as_dict() for b in self.breaks],
        }


def event_files(log_dir: Path) -> list[Path]:
    """Every event file of a directory: per category (by its current file's name),
    rotated oldest first, then current."""
    return [f.path for f in in_order(list_event_files(log_dir))]


def _as_recorded(files: list[EventFile], renamed: dict[str, str]) -> list[EventFile]:
    """``files`` with each renamed rotated file read where its recorded name puts it:
    the ledger names the rename, and its lines follow the stream in their order."""
    if not renamed:
        return files
    moved: dict[str, EventFile] = {}
    for recorded, now in renamed.items():
        parsed = parse_rotated(recorded)
        if parsed is not None:
            moved[now] = EventFile(Path(), "", parsed[1], parsed[2], parsed[3])
    order: list[EventFile] = []
    for category in dict.fromkeys(f.category for f in files):
        mine = [f for f in files if f.category == category]

        def when(f: EventFile) -> tuple[bool, float, int, bool]:
            at = moved.get(f.path.name, f)
            return (f.current, at.rotated_at or 0.0, at.index, not at.compressed)

        order += sorted(mine, key=when)
    return order


def _as_snapshot(
    files: list[EventFile], snapshot: Mapping[str, Path], rotated: Collection[str] | None
) -> list[EventFile]:
    """``files`` as the snapshot has them (see :func:`verify_directory`)."""
    names = {f.path.name for f in files}
    kept = []
    for f in files:
        name = f.path.name
        if f.current:
            if name in snapshot:
                kept.append(dataclasses.replace(f, path=snapshot[name]))
        elif rotated is None or name in rotated:
            kept.append(f)
        elif f.compressed and name[:-3] in rotated and name[:-3] not in names:
            kept.append(f)  # gzipped since the copies were made
    return kept


def _scheme_of(key: bytes | None, verification_key: VerificationKey | None) -> str:
    if verification_key is not None:
        return FORWARD
    return STATIC if key is not None else UNKEYED


def _latest_epoch(key: VerificationKey, now: float | None) -> int:
    """The last epoch that can have been sealed in by ``now`` (the clock by default)."""
    moment = time.time() if now is None else now
    try:
        return key.deployment.epoch_at(moment + CLOCK_SLACK_S)
    except ValueError:
        return MAX_EPOCH


def verify_directory(
    log_dir: str | os.PathLike[str],
    key: bytes | None,
    *,
    verification_key: VerificationKey | None = None,
    anchor: bytes | None = None,
    anchor_source: str = "anchor",
    now: float | None = None,
    snapshot: Mapping[str, Path] | None = None,
    rotated: Collection[str] | None = None,
) -> VerifyResult:
    """Check every chain in ``log_dir`` and the ledger that says what should exist.

    Args:
        log_dir: the log directory.
        key: a static deployment key (None: none).
        verification_key: the forward-secure verification key (secret or public).
        anchor: one ledger record that left the host (shipped, or saved earlier):
            the ledger must still hold it, so a cut or a rollback since shows.
        anchor_source: where the anchor came from, for the break.
        now: the verifier's time (default: the clock); no epoch that begins more
            than :data:`CLOCK_SLACK_S` after it can have been sealed in.
        snapshot: copies to read in place of the ledger and the current files, by
            name (rotated files never change, and are read where they are): what a
            caller checks is then exactly what it reads next. A name without its
            copy is read as absent (a ledger or current file that appeared after
            the copies were made), and a copy that does not exist as absent too.
        rotated: with ``snapshot``, the rotated files to read, by name: those there
            when the copies were made (a file rotated since holds lines a copy holds
            too). A plain one gzipped since is read from its ``.gz``.

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
        records = forward = ForwardRecords(verification_key, _latest_epoch(verification_key, now))
        deployment = verification_key.deployment.deployment
    elif chain_key is not None:
        records = StaticRecords(chain_key)
        deployment = key_id(chain_key)
    else:
        records = UnkeyedRecords()
    ledger_path = root / CHECKPOINT_FILE
    ledger_read = ledger_path if snapshot is None else snapshot.get(CHECKPOINT_FILE)
    check = LedgerCheck(records, deployment, ledger_path.name)
    read_breaks: list[Break] = []
    if ledger_read is not None:
        feed_ledger(ledger_read, check, read_breaks)
    facts = check.finish()
    ledger_breaks = facts.breaks
    try:
        first = None if ledger_read is None else first_record(ledger_read)
    except OSError:
        first = None  # the readers name what they cannot read
    claimed = first.get("scheme") if first else None
    named = first.get("deployment") if first else None
    other = isinstance(claimed, str) and claimed != scheme
    other_key = deployment is not None and isinstance(named, str) and named != deployment
    # No record verifies, and the ledger says it was sealed another way or by another key.
    foreign = facts.verified == 0 and (other or other_key)
    verifier = Verifier(chain_key, forward)
    if verification_key is not None:
        verifier.key_id = verification_key.key_id
    verifier.use_ledger(facts, ledger_path.name)
    listing = list_event_files(root)
    verifier.breaks.extend(refused_break(r) for r in listing.refused)
    verifier.breaks.extend(read_breaks)
    ordered = in_order(listing)
    if snapshot is not None:
        ordered = _as_snapshot(ordered, snapshot, rotated)
    present: dict[str, tuple[int, str, str]] = {}
    for f in ordered:
        hashes = None if f.current else file_hashes(f)
        if hashes is not None:
            present[f.path.name] = hashes
    copies = copied_files(facts, present)
    verifier.breaks.extend(copies.values())
    files: list[str] = []
    for f in _as_recorded(ordered, renamed_files(facts, present)):
        if f.path.name not in copies and feed_file(f, verifier):
            files.append(f.path.name)
    streams, breaks = verifier.finish(foreign_ledger=foreign)
    if foreign:
        why = (
            f"sealed {str(claimed)[:40]}; the key given checks {scheme}"
            if other
            else f"sealed by deployment {str(named)[:40]}; the key given is {deployment}'s"
        )
        if not verifier.lines_verified:
            # Nor does any line: a key mismatch, not an alteration (still a failure:
            # nothing is proven, and the whole ledger may as well have been replaced).
            ledger_breaks = [
                Break(ledger_path.name, 1, KEY_MISMATCH, None, f"the ledger was {why}")
            ]
        else:
            # Lines here verify with the key given: they are its, the ledger is not.
            # A ledger rewritten to claim another key cannot hide a cut.
            detail = (
                f"the ledger was {why}, but lines here verify with the key given: the "
                "ledger was replaced, and nothing it vouched for is proven"
            )
            ledger_breaks = [Break(ledger_path.name, 1, LEDGER_MISSING, None, detail)]
    spans = {
        s.stream: (s.first_seq, s.last_seq)
        for s in streams
        if s.first_seq is not None and s.lines >= s.last_seq - s.first_seq + 1
    }

    def covered(stream: str, first: int, last: int) -> bool:
        span = spans.get(stream)
        return span is not None and span[0] <= first and last <= span[1]

    merged: list[str] = []
    found = file_breaks(facts, present, ledger_path.name, covered, merged)
    breaks = [*ledger_breaks, *breaks, *found]
    if anchor is not None:
        breaks += _anchor(anchor, records, facts, ledger_path.name, anchor_source)
    return VerifyResult(
        files,
        verifier.lines,
        streams,
        breaks,
        scheme != UNKEYED,
        verifier.key_id,
        scheme=facts.scheme or scheme,
        checked_with=scheme,
        caveats=[
            *caveats(facts, anchor is not None, time.time() if now is None else now),
            *unrecorded(facts, present),
            *(
                [
                    f"{len(merged)} rotated file(s) the ledger recorded are not here by name, "
                    "but every line of them is (a shipped copy that merges a category's "
                    "files): their names and bytes are not checked"
                ]
                if merged
                else []
            ),
        ],
        ledger_records=facts.records,
        file_hashes={name: present[name] for name in files if name in present},
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
    if isinstance(records, ForwardRecords):
        verdict = records.check(record, *split, alone=True)
    else:
        verdict = records.check(record, *split)
    if verdict == "bad":
        return [Break(source, 1, "bad anchor", None, "its signature does not hold")]
    if verdict == "uncertified":
        # The public key learns later epochs' keys from the ledger only: an anchor of
        # an epoch the ledger no longer reaches is compared as it was given.
        source = f"{source}, signed in epoch {record.get('epoch')}, unchecked"
    return anchor_breaks(facts, record["n"], record_hash(line), ledger_file, source)
