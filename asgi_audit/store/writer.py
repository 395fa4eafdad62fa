"""The writer task: batches from the stream, lines into the files, off the event loop.

IO. One task per Auditor. It takes everything queued as one batch and hands it
to one worker thread, which runs the pure pipeline for each event and appends
each category's lines with one ``writev()`` per file (under the file's lock,
rotating first when the policy says so). Then, by the durability policy, it
fsyncs: every batch (``always``), at most every N ms (``interval``, also in quiet
periods), never (``never``); a batch with a ``durable=True`` event is always
fsynced before those callers return.

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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio

from ..proof.integrity import Chain, Sealed
from ..record.events import RawEvent, dropped_events
from .batches import HANDOFF, encode_in_thread, encode_on_loop
from .batches import Encoded as _Encoded
from .batches import Held as _Held
from .reporting import CategoryStats, report
from .worker import WorkerThread

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from ..proof.session import ProofSession
    from ..record.pipeline import Pipeline
    from .files import AppendFile, LogDirectory
    from .rotation import RotationPolicy
    from .stream import EventStream

__all__ = ("FsyncPolicy", "Writer")

# A category's lines in at most this many pieces are written as they are (the
# core's: one piece per chunk of a batch); more (the reference's: one per line)
# are joined first.
_PIECES: Final = 64

FsyncPolicy = Literal["always", "interval", "never"]


class Writer:
    """Drains one :class:`EventStream` into one directory's category files.

    Args:
        stream: where captured events wait.
        pipeline: turns a captured event into a line.
        directory: where the category files live.
        fsync: the durability policy.
        fsync_interval: seconds between fsyncs under ``interval``.
        batch_interval: the least time between two batches taken under steady
            load, unless the stream hastens the writer (see
            :meth:`EventStream.lingering`); 0 takes each batch at once.
        rotation: when files rotate and what happens to rotated files.
        on_rotated: called (in the worker thread) with each rotated file's path.
        on_written: called (in the worker thread) after each successful append.
        proof: seals lines into per-category chains and writes the ledger
            (None: no integrity).
        retry_initial: first backoff after a failed write, in seconds.
        retry_max: the longest backoff.
    """

    def __init__(
        self,
        *,
        stream: EventStream,
        pipeline: Pipeline,
        directory: LogDirectory,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        batch_interval: float = 0.0,
        rotation: RotationPolicy | None = None,
        on_rotated: Callable[[Path], object] | None = None,
        on_written: Callable[[], object] | None = None,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        proof: ProofSession | None = None,
    ) -> None:
        self.stream = stream
        self._pipeline = pipeline
        self._directory = directory
        self._fsync = fsync
        self._fsync_interval = fsync_interval
        self._batch_interval = batch_interval
        self._rotation = rotation if rotation is not None and rotation.rotates else None
        self._on_rotated = on_rotated
        self._on_written = on_written
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._worker = WorkerThread(stream.call_on_loop)
        self._files: dict[str, AppendFile] = {}
        self._stats: dict[str, CategoryStats] = {}
        self._dirty: set[str] = set()
        self._held: dict[str, _Held] = {}
        self._proof = proof
        self._written_end: dict[str, tuple[Sealed, str]] = {}
        self._checkpoint_interval = proof.interval if proof is not None else None
        self._last_checkpoint = time.monotonic()
        #: Events of the batch in the worker thread that already reached a file.
        self.batch_written = 0
        self._last_sync = time.monotonic()
        self.batches = 0
        self._abandoned = False
        self.done = anyio.Event()

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop: one batch at a time until closed and drained."""
        stream = self.stream
        stream.bind_loop()
        if self._proof is not None:
            await self._worker.run(self._start_proof)
        if self._pipeline.native:
            # The core runs beside the loop: a caller that never lets the loop
            # run still hands the writer a batch every HANDOFF events.
            stream.handoff = HANDOFF
        task_status.started()
        try:
            while True:
                taken = stream.take()
                if taken is None:
                    if not self._held:
                        break
                    taken = anyio.Event()  # closing, but held lines still to write
                if isinstance(taken, anyio.Event):
                    await self._idle(taken)
                    if self._held and not taken.is_set():
                        await self._retry_held()
                    continue
                taken_at = time.monotonic()
                upto, synced, error = await self._write(*taken)
                # Nothing here holds the batch any more: events kept alive across
                # the linger would outlive the garbage collector's young
                # generations, and its full collections would walk them.
                taken = None
                self.batches += 1
                stream.advance(upto, synced, error, self._held_count())
                if self._batch_interval:
                    await self._linger(taken_at + self._batch_interval)
            await self._worker.run(self.final_checkpoint)
            if self._dirty and self._fsync != "never":
                await self._worker.run(self._sync_dirty)
        finally:
            self._worker.stop()
            self.done.set()

    async def _write(
        self, batch: list[RawEvent], base: int, drops: dict[str, list[int]]
    ) -> tuple[int, bool, BaseException | None]:
        # One taken batch, encoded and stored; (written up to, synced, fsync error).
        real = len(batch)
        batch.extend(dropped_events(drops))
        if self._pipeline.native:
            # One trip to the thread: the core encodes without the GIL.
            return await self._worker.run(self._encode_and_store, batch, base, real)
        chains = self._proof.chains if self._proof is not None else None
        encoded = await encode_on_loop(self._pipeline, batch, base, real, self._chain, chains)
        return await self._worker.run(self._store_batch, encoded)

    async def _linger(self, until: float) -> None:
        # Under steady load, the next batch waits for the interval: each batch
        # costs the loop a few GIL hand-overs to the worker thread, whatever
        # its size. Whoever waits for the writer cuts the wait short.
        delay = until - time.monotonic()
        if delay <= 0:
            return
        hurry = self.stream.lingering()
        if hurry is None:
            return
        with anyio.move_on_after(delay):
            await hurry.wait()

    async def _retry_held(self) -> None:
        upto, synced, error = await self._worker.run(self._write_held)
        self.stream.advance(upto, synced, error, self._held_count())

    def _held_count(self) -> int:
        return sum(h.real for h in self._held.values())

    async def _idle(self, wakeup: anyio.Event) -> None:
        # Wake up for new events, or in time to retry held lines, or to fsync
        # unsynced lines under "interval" even when nothing more comes.
        deadlines = []
        if self._held:
            deadlines.append(min(h.retry_at for h in self._held.values()))
        if self._dirty and self._fsync == "interval":
            deadlines.append(self._last_sync + self._fsync_interval)
        if self._checkpoint_interval is not None:
            deadlines.append(self._last_checkpoint + self._checkpoint_interval)
        if not deadlines:
            await wakeup.wait()
            return
        with anyio.move_on_after(max(min(deadlines) - time.monotonic(), 0)):
            await wakeup.wait()
        if wakeup.is_set():
            return
        overdue = time.monotonic() - self._last_sync >= self._fsync_interval
        if self._dirty and self._fsync == "interval" and overdue:
            await self._worker.run(self._sync_dirty)
        # A quiet period still gets its checkpoint: it proves nothing was written.
        await self._worker.run(self._checkpoint_if_due)

    def abandon(self) -> int:
        """Stop retrying (the shutdown deadline passed); return how many held events are lost."""
        self._abandoned = True
        lost = self._held_count()
        self._held.clear()
        return lost

    # --------------------------------------------------------- the worker thread

    def _encode_and_store(
        self, batch: list[RawEvent], base: int, real: int
    ) -> tuple[int, bool, BaseException | None]:
        # The batch on the compiled core, then written: in the worker thread.
        chains = self._proof.chains if self._proof is not None else None
        return self._store_batch(
            encode_in_thread(self._pipeline, batch, base, real, self._chain, chains)
        )

    def _store_batch(self, encoded: _Encoded) -> tuple[int, bool, BaseException | None]:
        """Write one encoded batch (in the thread); return (every event up to this
        sequence number is written, whether they are fsynced, the fsync error if any)."""
        base, real = encoded.base, encoded.real
        lines, count, first_seq = encoded.lines, encoded.count, encoded.first_seq
        real_count = encoded.real_count
        durable = encoded.durable
        self.batch_written = 0
        for category, chunk in lines.items():
            held = self._held.get(category)
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
                    del self._held[category]
                continue
            held = _Held(
                pieces,
                count[category],
                real_count[category],
                min(first_seq[category], base + real),
                end,
            )
            if self._try_write(category, held):
                self.batch_written += held.real
            else:
                self._held[category] = held
        # Sequence numbers are the stream's: the events_dropped lines after the
        # ``real`` events have none of their own.
        return self._finish(base + real - 1, durable)

    def _write_held(self) -> tuple[int, bool, BaseException | None]:
        now = time.monotonic()
        for category, held in list(self._held.items()):
            if held.retry_at <= now and self._try_write(category, held):
                del self._held[category]
        return self._finish(self.stream.taken, False)

    def _finish(self, last: int, durable: bool) -> tuple[int, bool, BaseException | None]:
        self._checkpoint_if_due()
        # Events are complete up to just before the oldest held line.
        upto = min([h.first_seq - 1 for h in self._held.values()] + [last])
        if self._fsync == "always" or durable:
            synced, error = self._sync_dirty()
            return upto, synced, error
        if self._fsync == "interval" and time.monotonic() - self._last_sync >= self._fsync_interval:
            self._sync_dirty()
        return upto, False, None

    def _sync_dirty(self) -> tuple[bool, BaseException | None]:
        """fsync every file written since the last fsync; (all synced, first error)."""
        failure: BaseException | None = None
        for category in list(self._dirty):
            file = self._files[category]
            try:
                file.fsync()
            except OSError as exc:
                self._fsync_failed(category, exc)
                failure = failure or exc
        self._dirty.clear()
        self._last_sync = time.monotonic()
        return failure is None, failure

    def _fsync_failed(self, category: str, exc: OSError) -> None:
        stats = self._stats[category]
        stats.fsync_errors += 1
        stats.last_error = f"fsync: {type(exc).__name__}: {exc}"
        report(
            f"fsync of '{self._files[category].path}' failed: {type(exc).__name__}: {exc}; "
            "lines written since the last fsync may not be on disk (not retried: a second "
            "fsync after a failed one proves nothing)"
        )

    def _file(self, category: str) -> AppendFile:
        file = self._files.get(category)
        if file is None:
            file = self._files[category] = self._directory.file(category)
            self._stats.setdefault(category, CategoryStats(str(file.path)))
        return file

    def _try_write(self, category: str, held: _Held) -> bool:
        """One attempt to append a category's lines; on failure report, count and
        schedule a retry with backoff (the lines stay held, other categories go on)."""
        if self._abandoned:
            return False
        file = self._file(category)
        stats = self._stats[category]
        before = self._written_end.get(category)
        try:
            if self._proof is not None and held.end is not None:
                # The stream is in the ledger before its first line is in a file.
                self._proof.announce(category, file.path.name)
            _, rotated = file.append(held.data, self._rotation)
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
        if file.sync_error is not None:
            self._fsync_failed(category, file.sync_error)
            file.sync_error = None
        if held.failing is not None:
            report(f"writing to '{file.path}' works again; {held.count} held events written")
        stats.written += held.count
        stats.bytes += sum(map(len, held.data))
        self._dirty.add(category)
        if held.end is not None:
            self._written_end[category] = (held.end, file.path.name)
        if rotated is not None:
            stats.rotations += 1
            self._record_rotation(category, rotated, before)
            if self._on_rotated is not None:
                self._on_rotated(rotated)
        if self._on_written is not None:
            self._on_written()
        return True

    def _chain(self, category: str) -> Chain | None:
        return None if self._proof is None else self._proof.chain(category)

    def _start_proof(self) -> None:
        if self._proof is not None:
            self._proof.try_start()

    def _record_rotation(
        self, category: str, rotated: Path, before: tuple[Sealed, str] | None
    ) -> None:
        # The rotated file ends where this stream stood before the append.
        if self._proof is not None:
            end = None if before is None else (before[0], rotated.name)
            self._proof.try_rotated(category, rotated, end)

    def _checkpoint_if_due(self) -> None:
        proof = self._proof
        if proof is None:
            return
        interval = self._checkpoint_interval
        if interval is not None and time.monotonic() - self._last_checkpoint >= interval:
            self._last_checkpoint = time.monotonic()
            proof.try_checkpoint("interval", dict(self._written_end))
        else:
            proof.roll_if_due(dict(self._written_end))

    def final_checkpoint(self) -> None:
        """The shutdown checkpoint of every stream and ``stop`` (blocking; call
        from a thread)."""
        if self._proof is not None:
            self._proof.try_checkpoint("shutdown", dict(self._written_end))

    # ------------------------------------------------------------------- stats

    def category_stats(self) -> dict[str, dict[str, Any]]:
        """Counters per category written so far."""
        return {name: s.as_dict() for name, s in list(self._stats.items())}

    def close_files(self) -> None:
        """Close every descriptor and lock (blocking; call from a thread)."""
        if self._proof is not None:
            with contextlib.suppress(OSError):
                self._proof.close()
        for file in self._files.values():
            try:
                file.close_all()
            except OSError as exc:
                report(f"closing '{file.path}' failed: {exc}")
