"""Verify a log directory: every file's chains and the signed checkpoints.

IO. Reads current, rotated and gzipped files of every category (oldest first),
streaming line by line, and the checkpoints file, and hands them to the pure
:class:`~asgi_audit.proof.verification.Verifier`. The files are the ones every
tool lists (:mod:`asgi_audit.store.listing`), opened as every tool opens them
(:mod:`asgi_audit.store.opening`); what cannot be read is a break of its own:

``not a regular file``
    an entry with an event file's (or the checkpoints file's) name that is a
    symlink, a FIFO, a device, a socket or a directory: never opened;
``bad file name``
    a name like a rotated file's that does not parse (a stamp in other digits
    than ASCII ones, ...): never read;
``unreadable``
    a file that cannot be opened or read;
``line too long``
    a line longer than :data:`~asgi_audit.store.opening.MAX_LINE` (skipped, not held).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from ..record.events import category_filename
from ..store.listing import BAD_NAME, EventFile, Listing, Refused, list_event_files
from ..store.opening import MAX_LINE, NotRegularFile, open_file
from ..store.reading import ByteReader, iter_lines, open_event_file
from .integrity import CHECKPOINT_FILE, derive_chain_key
from .keymatch import KEY_MISMATCH
from .verification import Break, StreamSummary, Verifier

__all__ = (
    "BAD_FILE_NAME",
    "LINE_TOO_LONG",
    "NOT_REGULAR",
    "UNREADABLE",
    "VerifyResult",
    "event_files",
    "verify_directory",
)

#: The kinds of break for what could not be read (see the module's docstring).
NOT_REGULAR: Final = "not a regular file"
BAD_FILE_NAME: Final = "bad file name"
UNREADABLE: Final = "unreadable"
LINE_TOO_LONG: Final = "line too long"
_BAD_CHECKPOINT: Final = "bad checkpoint"


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
    """Every event file of a directory: per category (by its current file's name),
    rotated oldest first, then current."""
    return [f.path for f in _in_order(list_event_files(log_dir))]


def _in_order(listing: Listing) -> list[EventFile]:
    # By the current file's name, as verify always went.
    by_name = sorted(listing.categories.items(), key=lambda kv: category_filename(kv[0]))
    return [f for _, files in by_name for f in files]


def _refused(refused: Refused) -> Break:
    kind = {BAD_NAME: BAD_FILE_NAME, UNREADABLE: UNREADABLE}.get(refused.reason, NOT_REGULAR)
    return Break(refused.name, 0, kind, None, f"{refused.what}: not read")


def _too_long(name: str, breaks: list[Break]) -> Callable[[int, int], None]:
    def tell(number: int, length: int) -> None:
        detail = f"{length:,} bytes, over the {MAX_LINE:,} a line may have: not read"
        breaks.append(Break(name, number, LINE_TOO_LONG, None, detail))

    return tell


def _lines(fh: ByteReader, name: str, breaks: list[Break]) -> Iterator[tuple[int, bytes]]:
    """The non-empty lines of a file (a partial last one too), with their numbers."""
    for number, line in iter_lines(fh, _too_long(name, breaks), partial=True):
        if line:
            yield number, line


def _checkpoints(root: Path, verifier: Verifier) -> None:
    name = CHECKPOINT_FILE
    try:
        fh = open_file(root / name, compressed=False)
    except FileNotFoundError:
        return
    except NotRegularFile as exc:
        verifier.breaks.append(_refused(Refused(name, exc.reason)))
        return
    except OSError as exc:
        verifier.breaks.append(Break(name, 0, UNREADABLE, None, str(exc.strerror or exc)))
        return
    number = 0
    with fh:
        try:
            for number, raw in _lines(fh, name, verifier.breaks):
                try:
                    record = orjson.loads(raw)
                except ValueError:
                    verifier.breaks.append(Break(name, number, _BAD_CHECKPOINT, None, "not JSON"))
                    continue
                if not isinstance(record, dict):
                    detail = "not a JSON object"
                    verifier.breaks.append(Break(name, number, _BAD_CHECKPOINT, None, detail))
                    continue
                verifier.add_checkpoint(name, number, record)
        except OSError as exc:
            detail = f"unreadable: {exc.strerror or exc}"
            verifier.breaks.append(Break(name, number + 1, UNREADABLE, None, detail))


def _feed(f: EventFile, verifier: Verifier) -> bool:
    """Feed a file's lines to the verifier; False if it was not there to read."""
    name = f.path.name
    try:
        fh = open_event_file(f)
    except FileNotFoundError:
        return False  # gone since it was listed (gzipped, or deleted by retention)
    except NotRegularFile as exc:
        verifier.breaks.append(_refused(Refused(name, exc.reason)))
        return False
    except OSError as exc:
        verifier.breaks.append(Break(name, 0, UNREADABLE, None, str(exc.strerror or exc)))
        return False
    number = 0
    with fh:
        try:
            for number, raw in _lines(fh, name, verifier.breaks):
                verifier.feed(name, number, raw)
        except OSError as exc:
            # A damaged (cut or corrupted) gzip file: what follows is unreadable.
            detail = f"unreadable: {exc.strerror or exc}"
            verifier.breaks.append(Break(name, number + 1, "modified", None, detail))
    return True


def verify_directory(log_dir: str | os.PathLike[str], key: bytes | None) -> VerifyResult:
    """Check every chain in ``log_dir`` with the deployment ``key`` (None: unkeyed).

    Raises:
        FileNotFoundError: ``log_dir`` does not exist.
    """
    root = Path(log_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such log directory: '{root}'")
    verifier = Verifier(derive_chain_key(key))
    _checkpoints(root, verifier)
    listing = list_event_files(root)
    verifier.breaks.extend(_refused(r) for r in listing.refused)
    files = [f.path.name for f in _in_order(listing) if _feed(f, verifier)]
    streams, breaks = verifier.finish()
    return VerifyResult(
        files,
        verifier.lines,
        streams,
        breaks,
        key is not None,
        verifier.key_id,
    )
