"""A trail checked before it is read: which files verify, which do not and why, and
the bytes that were checked, held still for the reader that comes next.

IO. Used by ``asgi-audit sql`` and ``asgi-audit export``. :func:`checked_trail`:

1. copies the ledger, lists the files, then copies each current file's whole lines,
   into a private temporary directory (0700; the copies 0600): the files that still
   grow are read from these copies, by the check and by the reader after it, so both
   see the same bytes. A current file rotated between its listing and its copy (the
   copy would miss the lines of the file listed) makes it start again, up to three
   times;
2. takes a :class:`~asgi_audit.store.snapshot.Fingerprint` of every rotated file
   listed (they are read where they are: they never change);
3. verifies the directory with the copies in place of the files they copy, and the
   rotated files listed then, no other (a file rotated since holds lines a copy
   holds too): :func:`~asgi_audit.proof.verify.verify_directory`;
4. gives each file read its verdict (:class:`TrailFile`): verified when no break
   names it and its streams were sealed with the key given.

:meth:`CheckedTrail.follow_compression` follows a plain rotated file gzipped since
to its ``.gz``; :meth:`CheckedTrail.changed` tells, after the reading, which rotated
files are no longer what was checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..proof.forward import VerificationKey
from ..proof.integrity import CHECKPOINT_FILE
from ..proof.keymatch import KEY_MISMATCH
from ..proof.sources import file_hashes
from ..proof.verification import Break
from ..proof.verify import VerifyResult, verify_directory
from ..store.listing import EventFile, list_event_files
from ..store.opening import NotRegularFile
from ..store.snapshot import Fingerprint, copy_whole_lines, fingerprint
from .common import CliError

__all__ = ("ATTEMPTS", "CheckedTrail", "TrailFile", "checked_trail")

#: How many times the check starts again when a rotation moves a current file under it.
ATTEMPTS: Final = 3

#: Why a file of a stream not sealed with the key given is not verified, by the
#: stream's mismatch (every one of ``keymatch.MISMATCH_CLASSES``).
_NOT_CHECKED: Final = {
    "unkeyed": "sealed without a key, checked with one",
    "keyed": "sealed with a key, checked without one",
    "other key": "sealed with another key",
    "unknown key": "not sealed with the key given",
}


@dataclass(frozen=True, slots=True)
class TrailFile:
    """One event file of a checked trail."""

    #: Its name in the log directory.
    name: str
    category: str
    #: What to read: the file itself, or (a current file) the copy that was checked.
    path: Path
    current: bool
    compressed: bool
    #: Every line of it verified (None: not checked).
    verified: bool | None
    #: Why it did not verify: its first break (``modified at line 12: ...``).
    problem: str | None = None


@dataclass(slots=True)
class CheckedTrail:
    """The files of a trail, each with its verdict, and what the check found."""

    files: list[TrailFile]
    #: The check's result (None when the trail was not checked).
    result: VerifyResult | None
    #: The breaks that name no file read here (the ledger, a file that is missing).
    elsewhere: list[Break] = field(default_factory=list)
    #: The rotated files read in place, as they were when the check began.
    pinned: dict[Path, Fingerprint] = field(default_factory=dict)
    #: Files no longer read as they were checked: gzipped since into other bytes
    #: than were checked, or gone (name -> what happened).
    moved_off: dict[str, str] = field(default_factory=dict)

    def follow_compression(self) -> bool:
        """Read the ``.gz`` of each plain rotated file gzipped since the check, when
        it holds the bytes that were checked; a file gzipped into other bytes, or
        gone, is no longer read (:attr:`moved_off`). Whether any file moved."""
        hashes = {} if self.result is None else self.result.file_hashes
        kept: list[TrailFile] = []
        moved = False
        for f in self.files:
            if f.current or f.compressed or f.path.exists():
                kept.append(f)
                continue
            moved = True
            gz = f.path.with_name(f.path.name + ".gz")
            checked = hashes.get(f.name)
            now = file_hashes(EventFile(gz, f.category, compressed=True))
            if now is None:
                self.moved_off[f.name] = "deleted since it was checked"
            elif f.verified is not None and (checked is None or now[2] != checked[2]):
                self.moved_off[f.name] = "gzipped since it was checked, into other bytes"
            else:
                kept.append(dataclasses.replace(f, path=gz, compressed=True))
                with contextlib.suppress(OSError):
                    self.pinned[gz] = fingerprint(gz)
        self.files = kept
        return moved

    def changed(self) -> list[str]:
        """The rotated files read in place that changed (or went) since the check
        began: the rows read from them may not be what was checked."""
        moved = []
        for path, before in self.pinned.items():
            try:
                now = fingerprint(path)
            except FileNotFoundError:
                continue  # a plain file removed once its .gz was made: never rewritten
            except OSError:
                moved.append(path.name)
                continue
            if now != before:
                moved.append(path.name)
        return moved


def _copy_changing_files(
    log_dir: Path, into: Path
) -> tuple[dict[str, Path], dict[str, EventFile]] | None:
    """Copy the ledger, list the files, copy the current ones; the copies and the
    files listed, or None when a file was rotated after the listing (a copy may then
    miss lines that are in no file listed)."""
    snapshot: dict[str, Path] = {}
    ledger = log_dir / CHECKPOINT_FILE
    try:
        copy_whole_lines(ledger, into / CHECKPOINT_FILE)
        snapshot[CHECKPOINT_FILE] = into / CHECKPOINT_FILE
    except FileNotFoundError:
        pass  # no ledger (yet): read as absent
    except NotRegularFile:
        snapshot[CHECKPOINT_FILE] = ledger  # verify names what it is, and never opens it
    listed = _listed(log_dir)
    for f in listed:
        if f.current:
            with contextlib.suppress(FileNotFoundError, NotRegularFile):
                copy_whole_lines(f.path, into / f.path.name)
                snapshot[f.path.name] = into / f.path.name
    rotated = {f.path.name for f in listed if not f.current}
    known = rotated | {f"{name}.gz" for name in rotated}
    if any(not f.current and f.path.name not in known for f in _listed(log_dir)):
        return None
    return snapshot, {f.path.name: f for f in listed}


def _pinned(files: dict[str, EventFile]) -> dict[Path, Fingerprint]:
    pinned: dict[Path, Fingerprint] = {}
    for f in files.values():
        if not f.current:
            with contextlib.suppress(OSError):
                pinned[f.path] = fingerprint(f.path)
    return pinned


def _problems(result: VerifyResult) -> dict[str, str]:
    """File name -> why it did not verify: its first alteration, else its first line
    or stream not sealed with the key given."""
    problems: dict[str, str] = {}
    ordered = [*result.altered, *(b for b in result.breaks if b.kind == KEY_MISMATCH)]
    for b in ordered:
        line = f" at line {b.line:,}" if b.line else ""
        problems.setdefault(b.file, f"{b.kind}{line}: {b.detail}")
    for s in result.mismatched:
        for name in s.files:
            problems.setdefault(name, _NOT_CHECKED[str(s.mismatch)])
    return problems


def _read_from_gz(f: EventFile, hashed: dict[str, tuple[int, str, str]]) -> bool:
    """Whether the check read a plain rotated file from its ``.gz``: it was gzipped
    between the check's listing and its hashing of the file, so no hash of the plain
    file was taken, and the reader opened the ``.gz`` in its place."""
    return not (f.current or f.compressed or f.path.name in hashed or f.path.exists())


def _listed(log_dir: Path) -> list[EventFile]:
    return [f for files in list_event_files(log_dir).categories.values() for f in files]


@contextlib.contextmanager
def checked_trail(
    log_dir: Path,
    key: bytes | None,
    verification_key: VerificationKey | None,
    *,
    verify: bool = True,
) -> Iterator[CheckedTrail]:
    """The trail in ``log_dir``, checked (unless not ``verify``: then every file is
    read where it is, and none has a verdict); the copies live while the context does.

    Raises:
        CliError: a rotation moved a current file under the check every time.
        OSError: the directory cannot be read.
    """
    if not verify:
        files = [
            TrailFile(f.path.name, f.category, f.path, f.current, f.compressed, None)
            for f in _listed(log_dir)
        ]
        yield CheckedTrail(files, None)
        return
    with tempfile.TemporaryDirectory(prefix="asgi-audit-") as tmp:
        for attempt in range(ATTEMPTS):
            into = Path(tmp) / str(attempt)
            into.mkdir(mode=0o700)
            copies = _copy_changing_files(log_dir, into)
            if copies is not None:
                break
        else:
            raise CliError(
                f"{str(log_dir)!r} rotated while it was copied, {ATTEMPTS} times: try again"
            )
        snapshot, before = copies
        pinned = _pinned(before)
        rotated = [name for name, f in before.items() if not f.current]
        result = verify_directory(log_dir, key, verification_key=verification_key,
                                  snapshot=snapshot, rotated=rotated)  # fmt: skip
        # What verify read, in its order; a file that appeared during the check (a
        # .gz made meanwhile) is known from a listing after it.
        known = {**{f.path.name: f for f in _listed(log_dir)}, **before}
        problems = _problems(result)
        files = []
        for name in result.files:
            f = known.get(name)
            if f is None or (f.current and name not in snapshot):
                continue
            path, compressed = (snapshot[name] if f.current else f.path), f.compressed
            if _read_from_gz(f, result.file_hashes):
                path, compressed = f.path.with_name(f"{name}.gz"), True
            if path not in pinned and not f.current:
                with contextlib.suppress(OSError):
                    pinned[path] = fingerprint(path)
            problem = problems.get(name)
            ok = problem is None
            files.append(TrailFile(name, f.category, path, f.current, compressed, ok, problem))
        shown = {f.name for f in files}
        elsewhere = [b for b in result.breaks if b.file not in shown]
        yield CheckedTrail(
            files,
            result,
            elsewhere,
            {f.path: pinned[f.path] for f in files if f.path in pinned},
        )
