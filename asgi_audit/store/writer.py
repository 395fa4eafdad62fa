"""The writer task: batches from the stream, lines into the files, off the event loop.

IO. One task per Auditor. It takes everything queued as one batch. On the
compiled core's lane the batch goes as :mod:`.onlane` says (a thread of the
core's encodes, seals and appends it without the GIL, in runs of chunks; what the
lane gives back goes to the writer's own thread, :mod:`.appending`).
Without the lane, the core encodes the batch in that thread,
or the pure-Python reference encodes it on the loop in slices, and the thread
writes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..record.events import RawEvent, dropped_events
from .appending import Appender, FsyncPolicy, Outcome
from .batches import (
    HANDOFF,
    encode_in_thread,
    encode_on_loop,
)
from .lane import CoreLane
from .onlane import LaneWriting
from .reporting import report
from .worker import WorkerThread

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from ..proof.session import ProofSession
    from ..record.pipeline import Pipeline
    from .files import LogDirectory
    from .rotation import RotationPolicy
    from .stream import EventStream

__all__ = ("FsyncPolicy", "Writer")


class Writer(LaneWriting):
    """Drains one :class:`EventStream` into one directory's category files.

    Args:
        stream: where captured events wait.
        pipeline: turns a captured event into a line.
        directory: where the category files live.
        batch_interval: the least time between two batches taken under steady
            load, unless the stream hastens the writer (see
            :meth:`EventStream.lingering`); 0 takes each batch at once.

    The other arguments are :class:`~.appending.Appender`'s: the durability
    policy, rotation and its callback, ``on_written``, the integrity session and
    the retry backoff.
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
        self._batch_interval = batch_interval
        self._files = Appender(
            directory=directory,
            fsync=fsync,
            fsync_interval=fsync_interval,
            rotation=rotation,
            on_rotated=on_rotated,
            on_written=on_written,
            retry_initial=retry_initial,
            retry_max=retry_max,
            proof=proof,
        )
        self._worker = WorkerThread(stream.call_on_loop)
        self._lane: CoreLane | None = None
        self._wake: anyio.Event | None = None  # what the writer waits on, on the lane
        self.batches = 0
        self.done = anyio.Event()

    @property
    def batch_written(self) -> int:
        """Events of the batch being written that already reached a file."""
        return self._files.batch_written

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop: one batch at a time until closed and drained."""
        stream, files = self.stream, self._files
        stream.bind_loop()
        if files.proof is not None:
            await self._worker.run(files.start_proof)
        if self._pipeline.native:
            # The core runs beside the loop: a caller that never lets the loop
            # run still hands the writer a batch every HANDOFF events.
            stream.handoff = HANDOFF
            self._lane = CoreLane.open(self._pipeline)
        task_status.started()
        try:
            lane = self._lane
            if lane is None:
                await self._batches()
            else:
                # One task waits on the lane's pipe for the writer's whole life,
                # and wakes whatever the writer waits on when a job is done.
                async with anyio.create_task_group() as group:
                    group.start_soon(lane.watch, self._woken)
                    await self._batches()
                    group.cancel_scope.cancel()
            await self._worker.run(files.final_checkpoint)
            if files.dirty and files.fsync != "never":
                await self._worker.run(files.sync_dirty)
        finally:
            self._worker.stop()
            if self._lane is not None:
                self._lane.close()
            self.done.set()

    async def _batches(self) -> None:
        # One batch at a time until closed and drained.
        stream, files = self.stream, self._files
        while True:
            taken = stream.take()
            if taken is None:
                if not files.held:
                    return
                taken = anyio.Event()  # closing, but held lines still to write
            if isinstance(taken, anyio.Event):
                await self._idle(taken)
                if files.held and not taken.is_set():
                    await self._retry_held()
                continue
            taken_at = time.monotonic()
            upto, synced, error = await self._write(*taken)
            # Nothing here holds the batch any more: events kept alive across
            # the linger would outlive the garbage collector's young
            # generations, and its full collections would walk them.
            taken = None
            self.batches += 1
            stream.advance(upto, synced, error, files.held_count())
            if self._batch_interval:
                await self._linger(taken_at + self._batch_interval)

    async def _write(
        self, batch: list[RawEvent], base: int, drops: dict[str, list[int]]
    ) -> Outcome:
        # One taken batch, encoded and stored; (written up to, synced, fsync error).
        real = len(batch)
        batch.extend(dropped_events(drops))
        files = self._files
        files.batch_written = 0
        chains = files.proof.chains if files.proof is not None else None
        if self._lane is not None:
            return await self._write_on_lane(self._lane, batch, base, real)
        if self._pipeline.native:
            # One trip to the thread: the core encodes without the GIL.
            return await self._worker.run(self._encode_and_store, batch, base, real)
        encoded = await encode_on_loop(self._pipeline, batch, base, real, files.chain, chains)
        return await self._worker.run(files.store, encoded)

    def _encode_and_store(self, batch: list[RawEvent], base: int, real: int) -> Outcome:
        # The batch on the compiled core, then written: in the worker thread.
        files = self._files
        chains = files.proof.chains if files.proof is not None else None
        return files.store(encode_in_thread(self._pipeline, batch, base, real, files.chain, chains))

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
        files = self._files
        upto, synced, error = await self._worker.run(files.write_held, self.stream.taken)
        self.stream.advance(upto, synced, error, files.held_count())

    async def _idle(self, wakeup: anyio.Event) -> None:
        # Wake up for new events, or in time to retry held lines, or to fsync
        # unsynced lines under "interval" even when nothing more comes.
        files = self._files
        deadlines = []
        if files.held:
            deadlines.append(min(h.retry_at for h in files.held.values()))
        if files.dirty and files.fsync == "interval":
            deadlines.append(files.last_sync + files.fsync_interval)
        if files.checkpoint_interval is not None:
            deadlines.append(files.last_checkpoint + files.checkpoint_interval)
        if not deadlines:
            await wakeup.wait()
            return
        with anyio.move_on_after(max(min(deadlines) - time.monotonic(), 0)):
            await wakeup.wait()
        if wakeup.is_set():
            return
        if files.dirty and files.interval_over():
            await self._worker.run(files.sync_dirty)
        # A quiet period still gets its checkpoint: it proves nothing was written.
        await self._worker.run(files.checkpoint_if_due)

    def abandon(self) -> int:
        """Stop retrying (the shutdown deadline passed); return how many held events are lost."""
        return self._files.abandon()

    def category_stats(self) -> dict[str, dict[str, Any]]:
        """Counters per category written so far."""
        return self._files.category_stats()

    def final_checkpoint(self) -> None:
        """The shutdown checkpoint of every stream and ``stop`` (blocking; call
        from a thread)."""
        self._files.final_checkpoint()

    def close_files(self) -> None:
        """Close every descriptor and lock (blocking; call from a thread). Where the
        core's thread still writes a batch given up at the shutdown deadline, the
        category files stay open: closed, their numbers could be given to another
        file of the process, which that thread would then write to."""
        lane = self._lane
        if lane is not None and lane.busy():
            report(
                "the compiled core's thread still writes a batch given up at the shutdown "
                "deadline: the category files stay open until the process exits"
            )
            self._files.close_files(keep_open=True)
            return
        self._files.close_files()
