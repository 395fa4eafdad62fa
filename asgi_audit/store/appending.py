"""The writer's files: appends, held lines, fsync and checkpoints.

IO, blocking: everything here runs in the writer's thread, except the
bookkeeping of lines the compiled core's lane appended (:meth:`Appender.appended`,
on the event loop, while the thread has nothing to do).

Each category's lines are appended with one ``writev()`` per file, under the
file's lock, rotating first when the policy says so. Then, by the durability
policy, it fsyncs: every batch (``always``), at most every N ms (``interval``,
also in quiet periods), never (``never``); a batch with a ``durable=True`` event
is always fsynced before those callers return.

A failing write is reported once on stderr, counted, and retried with backoff;
its lines are held (the stream stays bounded, so callers wait instead of memory
growing) and written once the fault clears. A failed fsync is reported and
counted but not retried blindly: after a failed fsync the kernel may have
dropped the dirty pages, so a second fsync proves nothing; the durable callers
of that batch get ``AuditWriteError``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from .batches import Encoded, Held
from .reporting import CategoryStats, report

if TYPE_CHECKING:
    from ..proof.integrity import Chain, Sealed
    from ..proof.session import ProofSession
    from .files import AppendFile, LogDirectory
    from .rotation import RotationPolicy

__all__ = ("Appender", "FsyncPolicy", "Outcome")

FsyncPolicy = Literal["always", "interval", "never"]
#: A batch's end: every event up to this sequence number is written, whether they
#: are fsynced, and the fsync's error if it failed.
Outcome = tuple[int, bool, BaseException | None]

# A category's lines in at most this many pieces are written as they are (the
# core's: one piece per chunk of a batch); more (the reference's: one per line)
# are joined first.
_PIECES: Final = 64


class Appender:
    """One directory's category files, as one writer appends to them.

    Args:
        directory: where the category files live.
        fsync: the durability policy.
        fsync_interval: seconds between fsyncs under ``interval``.
        rotation: when files rotate and what happens to rotated files.
        on_rotated: called (in the worker thread) with each rotated file's path.
        on_written: called after each successful append (thread-safe).
        proof: seals lines into per-category chains and writes the ledger
            (None: no integrity).
        retry_initial: first backoff after a failed write, in seconds.
        retry_max: the longest backoff.
    """

    def __init__(
        self,
        *,
        directory: LogDirectory,
        fsync: FsyncPolicy,
        fsync_interval: float,
        rotation: RotationPolicy | None,
        on_rotated: Callable[[Path], object] | None,
        on_written: Callable[[], object] | None,
        retry_initial: float,
        retry_max: float,
        proof: ProofSession | None,
    ) -> None:
        self._directory = directory
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.rotation = rotation if rotation is not None and rotation.rotates else None
        self._on_rotated = on_rotated
        self._on_written = on_written
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self.files: dict[str, AppendFile] = {}
        self._stats: dict[str, CategoryStats] = {}
        self.dirty: set[str] = set()
        self.held: dict[str, Held] = {}
        self.proof = proof
        self._written_end: dict[str, tuple[Sealed, str]] = {}
        self.checkpoint_interval = proof.interval if proof is not None else None
        self.last_checkpoint = time.monotonic()
        self.last_sync = time.monotonic()
        #: Events of the current batch that already reached a file.
        self.batch_written = 0
        self.abandoned = False

    # ------------------------------------------------------------- the loop's

    def chain(self, category: str) -> Chain | None:
        """The category's chain (None: no integrity)."""
        return None if self.proof is None else self.proof.chain(category)

    def held_count(self) -> int:
        """How many of the stream's events wait for a failing write."""
        return sum(h.real for h in self.held.values())

    def upto(self, last: int) -> int:
        """Events are complete up to just before the oldest held line, else ``last``."""
        return min([h.first_seq - 1 for h in self.held.values()] + [last])

    def abandon(self) -> int:
        """Stop retrying (the shutdown deadline passed); return how many held events are lost."""
        self.abandoned = True
        lost = self.held_count()
        self.held.clear()
        return lost

    def due(self, durable: bool) -> bool:
        """Whether the end of a batch needs the thread: an fsync, a checkpoint, or a
        key to move to its next epoch."""
        if self._sync_waited(durable) or (self.dirty and self.interval_over()):
            return True
        return self.checkpoint_due()

    def _sync_waited(self, durable: bool) -> bool:
        # An fsync the batch's callers wait for: every batch's, or a durable event's.
        return self.fsync == "always" or durable

    def interval_over(self) -> bool:
        """Under ``interval``, whether the interval since the last fsync is over."""
        return self.fsync == "interval" and time.monotonic() - self.last_sync >= self.fsync_interval

    def checkpoint_due(self) -> bool:
        """Whether a checkpoint, or the key's move to its next epoch, is due."""
        proof = self.proof
        if proof is None:
            return False
        interval = self.checkpoint_interval
        if interval is not None and time.monotonic() - self.last_checkpoint >= interval:
            return True
        return proof.roll_due()

    def core_files(self, skip: Container[str]) -> list[tuple[object, ...]]:
        """The files the core's lane may append to: open, not held after a failed
        write, none of the ``skip`` categories (with lines left for the thread),
        and their stream already in the ledger."""
        if self.abandoned:
            return []
        proof = self.proof
        files = []
        for category, file in self.files.items():
            if category in self.held or category in skip:
                continue
            if proof is not None and not proof.announced(category):
                continue
            args = file.core_args(self.rotation)
            if args is not None:
                files.append((category, *args))
        return files

    def appended(self, category: str, count: int, size: int, end: Sealed | None) -> None:
        """``count`` lines of ``size`` bytes are in the category's file; its chain
        stands at ``end`` after them."""
        file = self.files[category]
        if file.sync_error is not None:
            self._fsync_failed(category, file.sync_error)
            file.sync_error = None
        stats = self._stats[category]
        stats.written += count
        stats.bytes += size
        self.dirty.add(category)
        if end is not None:
            self._written_end[category] = (end, file.path.name)
        if self._on_written is not None:
            self._on_written()

    def category_stats(self) -> dict[str, dict[str, Any]]:
        """Counters per category written so far."""
        return {name: s.as_dict() for name, s in list(self._stats.items())}

    # ------------------------------------------------------------ the thread's

    def store(self, encoded: Encoded) -> Outcome:
        """Write one encoded batch (in the thread), then fsync and checkpoint as due."""
        return self.store_all([encoded])

    def store_all(self, batches: list[Encoded], checkpoint: bool = True) -> Outcome:
        """Write encoded batches in order (in the thread), then fsync as due, and
        checkpoint as due unless ``checkpoint`` is False: while the loop seals the
        next batches meanwhile, a checkpoint could end the key's epoch before lines
        sealed with its key are written, and its last checkpoint would not cover
        them (see ``Writer._overlapped``)."""
        for encoded in batches:
            self._write_batch(encoded)
        last = batches[-1]
        durable = any(encoded.durable for encoded in batches)
        # Sequence numbers are the stream's: the events_dropped lines after the
        # ``real`` events have none of their own.
        return self.finish(last.base + last.real - 1, durable, checkpoint=checkpoint)

    def _write_batch(self, encoded: Encoded) -> None:
        base, real = encoded.base, encoded.real
        lines, count, first_seq = encoded.lines, encoded.count, encoded.first_seq
        real_count = encoded.real_count
        self._announce_all(encoded)
        for category, chunk in lines.items():
            held = self.held.get(category)
            # The core's pieces (one per chunk of the batch) are written as they
            # are, with writev: no copy of the batch. The reference's lines are
            # joined first, as many small buffers cost more than one copy.
            pieces = chunk if len(chunk) <= _PIECES else [b"".join(chunk)]
            end = encoded.ends[category]
            if held is not None:
                held.end = end
                # Keep the category's order: new lines go after the held ones,
                # and the whole is retried when its backoff is over.
                held.data.extend(pieces)
                held.count += count[category]
                held.real += real_count[category]
                if held.retry_at <= time.monotonic() and self._try_write(category, held):
                    del self.held[category]
                continue
            held = Held(
                pieces,
                count[category],
                real_count[category],
                min(first_seq[category], base + real),
                end,
            )
            if self._try_write(category, held):
                self.batch_written += held.real
            else:
                self.held[category] = held

    def _announce_all(self, encoded: Encoded) -> None:
        # The batch's new streams in the ledger in one append (a category's first
        # batch announces four streams at once); where that fails, each category's
        # own announce below fails again and its lines are held, as before.
        proof = self.proof
        if proof is None:
            return
        files = [
            (category, self._file(category).path.name)
            for category, end in encoded.ends.items()
            if end is not None and category not in self.held and not proof.announced(category)
        ]
        if len(files) > 1:
            with contextlib.suppress(OSError):
                proof.announce_all(files)

    def write_held(self, taken: int) -> Outcome:
        """Retry the held lines whose backoff is over (in the thread)."""
        now = time.monotonic()
        for category, held in list(self.held.items()):
            if held.retry_at <= now and self._try_write(category, held):
                del self.held[category]
        return self.finish(taken, False)

    def finish(self, last: int, durable: bool, *, checkpoint: bool = True) -> Outcome:
        """A batch's end (in the thread): the checkpoint (unless ``checkpoint`` is
        False) and fsync that are due."""
        if checkpoint:
            self.checkpoint_if_due()
        upto = self.upto(last)
        if self._sync_waited(durable):
            synced, error = self.sync_dirty()
            return upto, synced, error
        if self.interval_over():
            self.sync_dirty()
        return upto, False, None

    def sync_dirty(self) -> tuple[bool, BaseException | None]:
        """fsync every file written since the last fsync; (all synced, first error)."""
        failure: BaseException | None = None
        for category in list(self.dirty):
            file = self.files[category]
            try:
                file.fsync()
            except OSError as exc:
                self._fsync_failed(category, exc)
                failure = failure or exc
        self.dirty.clear()
        self.last_sync = time.monotonic()
        return failure is None, failure

    def _fsync_failed(self, category: str, exc: OSError) -> None:
        stats = self._stats[category]
        stats.fsync_errors += 1
        stats.last_error = f"fsync: {type(exc).__name__}: {exc}"
        report(
            f"fsync of '{self.files[category].path}' failed: {type(exc).__name__}: {exc}; "
            "lines written since the last fsync may not be on disk (not retried: a second "
            "fsync after a failed one proves nothing)"
        )

    def _file(self, category: str) -> AppendFile:
        file = self.files.get(category)
        if file is None:
            file = self.files[category] = self._directory.file(category)
            self._stats.setdefault(category, CategoryStats(str(file.path)))
        return file

    def _try_write(self, category: str, held: Held) -> bool:
        """One attempt to append a category's lines; on failure report, count and
        schedule a retry with backoff (the lines stay held, other categories go on)."""
        if self.abandoned:
            return False
        file = self._file(category)
        stats = self._stats[category]
        before = self._written_end.get(category)
        try:
            if self.proof is not None and held.end is not None:
                # The stream is in the ledger before its first line is in a file.
                self.proof.announce(category, file.path.name)
            _, rotated = file.append(held.data, self.rotation)
        except OSError as exc:
            stats.errors += 1
            reason = f"{type(exc).__name__}: {exc}"
            stats.last_error = reason
            if reason != held.failing:
                held.failing = reason
                report(
                    f"writing {held.count} {category} events to '{file.path}' failed: "
                    f"{reason}; holding them and retrying"
                )
            with contextlib.suppress(OSError):
                file.close()  # a broken descriptor is reopened on the next try
            held.delay = min(held.delay * 2, self._retry_max) if held.delay else self._retry_initial
            held.retry_at = time.monotonic() + held.delay
            return False
        if held.failing is not None:
            report(f"writing to '{file.path}' works again; {held.count} held events written")
        if rotated is not None:
            stats.rotations += 1
            self._record_rotation(category, rotated, before)
            if self._on_rotated is not None:
                self._on_rotated(rotated)
        self.appended(category, held.count, sum(map(len, held.data)), held.end)
        return True

    def start_proof(self) -> None:
        """Start the integrity session (blocking: the ledger)."""
        if self.proof is not None:
            self.proof.try_start()

    def _record_rotation(
        self, category: str, rotated: Path, before: tuple[Sealed, str] | None
    ) -> None:
        # The rotated file ends where this stream stood before the append.
        if self.proof is not None:
            end = None if before is None else (before[0], rotated.name)
            self.proof.try_rotated(category, rotated, end)

    def checkpoint_if_due(self) -> None:
        """The interval's checkpoint, or the key's move to its next epoch, when due."""
        proof = self.proof
        if proof is None:
            return
        interval = self.checkpoint_interval
        if interval is not None and time.monotonic() - self.last_checkpoint >= interval:
            self.last_checkpoint = time.monotonic()
            proof.try_checkpoint("interval", dict(self._written_end))
        else:
            proof.roll_if_due(dict(self._written_end))

    def final_checkpoint(self) -> None:
        """The shutdown checkpoint of every stream and ``stop`` (blocking)."""
        if self.proof is not None:
            self.proof.try_checkpoint("shutdown", dict(self._written_end))

    def close_files(self, *, keep_open: bool = False) -> None:
        """Close every descriptor and lock (blocking); ``keep_open``: the ledger's
        only, the category files' left open."""
        if self.proof is not None:
            with contextlib.suppress(OSError):
                self.proof.close()
        if keep_open:
            return
        for file in self.files.values():
            try:
                file.close_all()
            except OSError as exc:
                report(f"closing '{file.path}' failed: {exc}")
