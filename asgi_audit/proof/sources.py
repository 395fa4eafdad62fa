"""Reading a log directory for verify: the ledger, the event files, their hashes.

IO. The files are the ones every tool lists (:mod:`asgi_audit.store.listing`),
opened as every tool opens them (:mod:`asgi_audit.store.opening`): regular files
only, without following links or blocking, a cap per line and bounded
decompression. What cannot be read is a break of its own:

``not a regular file``
    an entry with an event file's (or the ledger's) name that is a symlink, a
    FIFO, a device, a socket or a directory: never opened;
``bad file name``
    a name like a rotated file's that does not parse (a stamp in other digits
    than ASCII ones, ...): never read;
``unreadable``
    a file that cannot be opened or read;
``line too long``
    a line longer than :data:`~asgi_audit.store.opening.MAX_LINE` (skipped, not held).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from ..record.events import category_filename
from ..store.listing import BAD_NAME, EventFile, Listing, Refused
from ..store.opening import MAX_LINE, NotRegularFile, open_file
from ..store.reading import ByteReader, iter_lines, open_event_file
from .findings import Break
from .integrity import CHECKPOINT_FILE
from .ledger import LedgerCheck
from .verification import Verifier

__all__ = (
    "BAD_FILE_NAME",
    "LINE_TOO_LONG",
    "NOT_REGULAR",
    "UNREADABLE",
    "feed_file",
    "feed_ledger",
    "file_hashes",
    "in_order",
    "refused_break",
)

#: The kinds of break for what could not be read (see the module's docstring).
NOT_REGULAR: Final = "not a regular file"
BAD_FILE_NAME: Final = "bad file name"
UNREADABLE: Final = "unreadable"
LINE_TOO_LONG: Final = "line too long"


def in_order(listing: Listing) -> list[EventFile]:
    """Event files by their current file's name, each category's oldest first."""
    by_name = sorted(listing.categories.items(), key=lambda kv: category_filename(kv[0]))
    return [f for _, files in by_name for f in files]


def refused_break(refused: Refused) -> Break:
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


def feed_ledger(path: Path, check: LedgerCheck, breaks: list[Break]) -> None:
    """Feed the lines of the ledger at ``path`` to ``check``; what cannot be read is
    a break (named as the ledger, wherever ``path`` is)."""
    name = CHECKPOINT_FILE
    try:
        fh = open_file(path, compressed=False)
    except FileNotFoundError:
        return
    except NotRegularFile as exc:
        breaks.append(refused_break(Refused(name, exc.reason)))
        return
    except OSError as exc:
        breaks.append(Break(name, 0, UNREADABLE, None, str(exc.strerror or exc)))
        return
    number = 0
    with fh:
        try:
            for number, raw in _lines(fh, name, breaks):
                check.feed(number, raw)
        except OSError as exc:
            detail = f"unreadable: {exc.strerror or exc}"
            breaks.append(Break(name, number + 1, UNREADABLE, None, detail))


def file_hashes(f: EventFile) -> tuple[int, str, str] | None:
    """A rotated file's size and SHA-256, and the SHA-256 of what it holds (of a
    ``.gz``: its content, read through the bounded reader); None if unreadable."""
    raw_digest, content = hashlib.sha256(), hashlib.sha256()
    size = 0
    try:
        with open_file(f.path, compressed=False) as fh:
            while chunk := fh.read(1 << 16):
                raw_digest.update(chunk)
                size += len(chunk)
        if not f.compressed:
            return size, raw_digest.hexdigest(), raw_digest.hexdigest()
        with open_file(f.path, compressed=True) as gz:
            while chunk := gz.read(1 << 16):
                content.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return size, raw_digest.hexdigest(), content.hexdigest()


def feed_file(f: EventFile, verifier: Verifier) -> bool:
    """Feed a file's lines to the verifier; False if it was not there to read (a
    plain rotated file gzipped since it was listed is read from its ``.gz``:
    :func:`~asgi_audit.store.reading.open_event_file`)."""
    name = f.path.name
    try:
        fh = open_event_file(f)
    except FileNotFoundError:
        return False  # gone since it was listed (gzipped, or deleted by retention)
    except NotRegularFile as exc:
        verifier.breaks.append(refused_break(Refused(name, exc.reason)))
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
