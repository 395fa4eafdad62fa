"""The writer's batches on the compiled core's lane: runs of chunks, and the lane
beside the writer's thread's trips.

IO. The part of :class:`~.writer.Writer` that writes a batch through the core's
lane (:mod:`.lane`, :mod:`.run`): the loop reads each chunk and a thread of the
core's encodes, seals and appends it without the GIL; while that thread works,
the batches a burst queues meanwhile are taken, read and started behind it, so
that it never waits for the loop between two of them. What the lane gives back,
and the fsync and checkpoint that are due, go to the writer's own thread
(:mod:`.appending`) once the lane is done; while that thread's trip lasts, the
next batches of a burst go through the lane with nothing to append, and their
lines follow in its next trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ..record.events import RawEvent, dropped_events
from .appending import Appender, Outcome
from .batches import CHUNK, GATHER_CHUNK, GATHER_FROM, Encoded
from .run import LaneRun

if TYPE_CHECKING:
    from .lane import CoreLane
    from .stream import EventStream
    from .worker import WorkerThread

__all__ = ("LaneWriting",)


class LaneWriting:
    """What :class:`~.writer.Writer` does on the core's lane (its attributes below)."""

    stream: EventStream
    batches: int
    _files: Appender
    _worker: WorkerThread
    _wake: anyio.Event | None  # what the writer waits on, on the lane

    def _woken(self) -> None:
        # A job on the lane is done, or the thread's trip is over: wake the writer
        # if it waits for that.
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.set()

    async def _until(self, run: LaneRun, *, take: bool, stop: anyio.Event | None = None) -> None:
        # Until the run's oldest chunk is done, or (``take``) a burst's worth
        # waits in the stream or someone waits for the writer, or ``stop`` is set
        # (its setter wakes the writer too). A caller that keeps the loop busy
        # lets the writer run only at its hand-offs, every 1,024 events, which
        # is when the stream's queue reaches its urgent length: the writer then
        # starts what waits behind the lane's work, whether or not a job is done.
        wake = self._wake = anyio.Event()
        if run.ready() or (stop is not None and stop.is_set()):
            return
        stream = self.stream
        if take and stream.lingering(wake) is None and stream.queued():
            return
        await wake.wait()

    async def _write_on_lane(
        self, lane: CoreLane, batch: list[RawEvent], base: int, real: int
    ) -> Outcome:
        # A run on the core's lane (.run): the batch's chunks started at once,
        # and, each time one is finished, the batches a burst queued meanwhile
        # started behind the rest, so that the core's thread goes from one to
        # the next. Each batch is complete once its chunks are finished, in
        # order. One that needs the thread (lines given back, an fsync or a
        # checkpoint due) ends the run: nothing more is taken, and once the lane
        # is done, the thread writes it and those after it, in order.
        files, stream = self._files, self.stream
        run = LaneRun(lane, files, direct=True, size=CHUNK)
        rest = run.add(batch, base, real)
        waiting: list[Encoded] = []
        while run.busy():
            run.start()
            if not run.ready():
                if not waiting and self._burst_waits():
                    self._take_into(run)
                else:
                    await self._until(run, take=not waiting)
                continue
            done = await run.finish()
            if done is None:
                continue
            rest = done
            if waiting or rest.lines or files.due(rest.durable):
                waiting.append(rest)
            elif run.busy():
                # Complete while the run goes on.
                last = rest.base + rest.real - 1
                upto = files.upto(last)
                stream.advance(upto, False, None, files.held_count(), stream.taken - last)
                files.batch_written = 0
                run.written(rest)
        if any(done.lines for done in waiting):
            return await self._overlapped(lane, waiting)
        if waiting:
            return await self._worker.run(files.store_all, waiting)
        return files.upto(rest.base + rest.real - 1), False, None

    def _burst_waits(self) -> bool:
        # Whether the stream holds a burst's worth, or someone waits for the writer.
        stream = self.stream
        queued = stream.queued()
        return bool(queued) and (queued >= GATHER_FROM or stream.lingering() is None)

    def _take_into(self, run: LaneRun) -> None:
        # What the stream holds, into the run.
        taken = self.stream.take()
        if isinstance(taken, tuple):
            batch, base, drops = taken
            real = len(batch)
            batch.extend(dropped_events(drops))
            self.batches += 1
            run.add(batch, base, real)

    async def _overlapped(self, lane: CoreLane, batches: list[Encoded]) -> Outcome:
        # Lines for the writer's thread: a category's first batch (its file to
        # open, its stream to announce), held lines, a rotation, a failed write.
        # That thread needs the GIL after each system call; a caller that keeps
        # the loop busy lets it have it only at the switch interval, so its trip
        # can last the whole burst. Meanwhile the lane goes on with the batches
        # the burst queues, appending nothing itself: their lines go to the
        # thread's next trip, after these, so each file keeps its order. No
        # checkpoint is taken in such a trip: it may end the key's epoch, whose
        # last checkpoint must cover every line sealed with its key, and the
        # loop is sealing more with it. One that is due waits for a trip with
        # nothing sealed beside it.
        files, stream = self._files, self.stream
        pending = batches
        while True:
            if files.checkpoint_due():
                return await self._worker.run(files.store_all, pending)
            stored = anyio.Event()
            box: list[Outcome | Exception] = []
            gathered: list[Encoded] = []
            run = LaneRun(lane, files, direct=False, size=GATHER_CHUNK)
            async with anyio.create_task_group() as group:
                group.start_soon(self._store_beside, pending, box, stored)
                while True:
                    if not stored.is_set() and self._burst_waits():
                        self._take_into(run)
                    elif not run.busy():
                        if stored.is_set():
                            break
                        # Until a burst's worth waits, or the trip is over
                        # (_store_beside wakes the writer).
                        await self._until(run, take=True, stop=stored)
                        continue
                    run.start()
                    if not run.ready():
                        # Until the oldest chunk is done; while the trip lasts,
                        # also until it is over or a burst's worth waits. A trip
                        # already over must not end the wait at once: the loop
                        # would spin, holding the GIL, until the lane is done.
                        trip = None if stored.is_set() else stored
                        await self._until(run, take=trip is not None, stop=trip)
                        continue
                    done = await run.finish()
                    if done is not None:
                        gathered.append(done)
                await stored.wait()
            outcome = box[0]
            if isinstance(outcome, BaseException):
                raise outcome
            if not gathered:
                return outcome
            upto, synced, error = outcome
            taken_after = stream.taken - (pending[-1].base + pending[-1].real - 1)
            stream.advance(upto, synced, error, files.held_count(), taken_after)
            files.batch_written = 0
            pending = gathered

    async def _store_beside(
        self, batches: list[Encoded], box: list[Outcome | Exception], stored: anyio.Event
    ) -> None:
        # The thread's trip of _overlapped, without a checkpoint; its outcome or
        # its error into ``box`` (re-raised there, not as an exception group).
        try:
            box.append(await self._worker.run(self._files.store_all, batches, False))
        except Exception as exc:
            box.append(exc)
        finally:
            stored.set()
            self._woken()
