"""The writer's batches on the compiled core's lane: read on the event loop, then
encoded, sealed and appended by a thread of the core's that never takes the GIL.

IO. In the writer's Python thread, every step that needs the GIL (reading a
chunk, taking the lines back, each category's append) waits for the event loop to
let the GIL go; a loop that runs Python without a pause lets it go only at its
switch interval, or never, when it lets the GIL go and takes it back more often
than that (each poll of its selector does). During a burst the writer then fell
behind by whole batches, and wrote them after the burst. On the lane, the loop
reads the chunk (it holds the GIL anyway), the core's thread does the rest, and
one byte on a pipe tells the loop, which waits for it as for a socket.

What the core's thread does not take (a category whose file is not open yet, is
held after a failed write, has a stream not yet announced in the ledger, or that
the core's append gives back: a rotation that may be due, a file moved or
replaced, a failed write; an event only the reference encodes) comes back with
its lines, unwritten, and the writer's Python thread writes it as before.

A burst's chunks run one after the other (:meth:`CoreLane.start` with
``continues``): the loop reads the next chunk while the core's thread still
works on the last, and that thread carries each stream's chain from one to the
next (the loop's copy is advanced as each is finished, in order). A chunk given
back to the reference breaks the run: the chunks started after it are skipped
untouched, and started again once the loop has sealed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ..record.events import RawEvent
from .reporting import report

if TYPE_CHECKING:
    from ..proof.integrity import Chain
    from ..record.pipeline import Pipeline

__all__ = ("CoreLane", "LaneGroup", "LaneJob")

#: A category's open file for the core's append: ``(category, *AppendFile.core_args())``.
LaneFile = tuple[Any, ...]


@dataclass(slots=True)
class LaneGroup:
    """One category's lines of a chunk, and whether the core's thread wrote them."""

    category: str
    data: bytes | None  # the lines joined, for the thread to write; None: written
    size: int  # their length in bytes
    count: int
    first: int  # the offset in the chunk of its first event
    real: int  # how many are the stream's events


@dataclass(slots=True)
class LaneJob:
    """A chunk started on the lane (:meth:`CoreLane.start`), for :meth:`CoreLane.finish`."""

    chunk: Sequence[RawEvent]
    real: int  # how many of its events are the stream's
    slots: list[int | None]
    chains: list[Chain]
    ids: list[str] | None
    job: Any  # the core's Job; None when ``lines`` holds the reference's lines
    lines: list[bytes] | None = None

    def done(self) -> bool:
        """Whether the core's thread is done with it."""
        return self.lines is not None or bool(self.job.done())


class CoreLane:
    """One writer's lane on the compiled core (see the module).

    Args:
        pipeline: the writer's pipeline; its core makes the jobs.
        lane: the core's ``Lane``.
    """

    __slots__ = ("_lane", "_pipeline", "_started")

    def __init__(self, pipeline: Pipeline, lane: Any) -> None:
        self._pipeline = pipeline
        self._lane = lane
        self._started: list[Any] = []  # the core's jobs not finished here

    @classmethod
    def open(cls, pipeline: Pipeline) -> CoreLane | None:
        """The lane of ``pipeline``'s core; None without one (no core, or a core
        built before its lane carried the chains from job to job)."""
        core = pipeline.core
        lane_type = None if core is None else getattr(type(core), "start_grouped", None)
        module = pipeline.core_module
        if lane_type is None or module is None or getattr(module, "LANE", 1) < 2:
            return None
        try:
            lane = module.Lane()
        except OSError as exc:  # no thread or no pipe to be had: the writer's thread does it all
            report(f"the compiled core's writer lane could not start ({exc}); writing without it")
            return None
        return cls(pipeline, lane)

    async def run(
        self,
        chunk: Sequence[RawEvent],
        chain_for: Callable[[str], Chain | None],
        real: int,
        files: list[LaneFile],
        ids: list[str] | None = None,
    ) -> tuple[list[LaneGroup], bool] | list[bytes]:
        """``chunk`` encoded, sealed and appended to ``files`` on the lane, alone:
        ``(groups, durable)``; or, when an event or a chain is the reference's,
        every line sealed and nothing written. ``ids`` replaces the drawn ids
        (for the tests)."""
        job = self.start(chunk, chain_for, real, files, continues=False, ids=ids)
        assert job is not None  # a chunk that does not continue is always started
        out = await self.finish(job)
        assert out is not None  # nor skipped
        return out

    def start(
        self,
        chunk: Sequence[RawEvent],
        chain_for: Callable[[str], Chain | None],
        real: int,
        files: list[LaneFile],
        *,
        continues: bool,
        ids: list[str] | None = None,
    ) -> LaneJob | None:
        """``chunk`` read and started on the lane. ``continues``: the jobs started
        before it are not all finished, and it follows them (see the module);
        None when it cannot (a chain the reference seals: finish them first)."""
        pipeline = self._pipeline
        prepared = pipeline.prepare_core(chunk, chain_for)
        if prepared is None:  # a chain the reference seals (a core without Sealer)
            if continues:
                return None
            lines = pipeline.encode_batch(chunk, chain_for)
            return LaneJob(chunk, real, [], [], ids, None, lines)
        core, slots, chains, stamps, states = prepared
        job = core.start_grouped(
            self._lane, list(chunk), slots, stamps, states, max(real, 0), files, ids, continues
        )
        # Kept until done, for busy(): a job is also left unfinished here when it
        # continued a run that broke (it is skipped, and started again).
        self._started = [job for job in self._started if not job.done()]
        self._started.append(job)
        return LaneJob(chunk, real, slots, chains, ids, job)

    async def finish(self, started: LaneJob) -> tuple[list[LaneGroup], bool] | list[bytes] | None:
        """What became of a started chunk, once the core's thread is done with it
        (call in the order they were started): ``(groups, durable)``; or every
        line sealed, nothing written, when the reference had to encode some of
        it; or None when it continued a broken run and nothing was done."""
        if started.lines is not None:
            return started.lines
        job, chunk, slots, chains = started.job, started.chunk, started.slots, started.chains
        pipeline, lane = self._pipeline, self._lane
        fd = lane.fileno()
        # Each job writes a byte when done; one may be left from a job already
        # finished, or whose waiter was cancelled: wait until this one is done.
        while not job.done():
            await anyio.wait_readable(fd)
            lane.drain()
        try:
            out = job.finish()
        except RuntimeError:  # a bug in the core: nothing written, the reference encodes
            ids = pipeline.draw_ids(chunk, started.ids)
            return pipeline.complete_core(chunk, slots, chains, ids)
        if out is None:
            return None
        if isinstance(out, list):
            return pipeline.complete_core(chunk, slots, chains, out)
        groups, macs, durable = out
        for slot, (chain, mac) in enumerate(zip(chains, macs, strict=True)):
            chain.advanced(slots.count(slot), mac)
        return [
            LaneGroup(category, data, size, count, first, real_lines)
            for category, data, size, count, first, real_lines, _, _ in groups
        ], durable

    async def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` each time a job is done, until cancelled. While this
        runs, :meth:`finish` must be called only on jobs already done: one
        descriptor is waited on by one task at a time."""
        lane = self._lane
        fd = lane.fileno()
        while True:
            await anyio.wait_readable(fd)
            lane.drain()
            wake()

    def busy(self) -> bool:
        """Whether the core's thread still runs a job whose waiter was cancelled (a
        writer given up at the shutdown deadline): its files' descriptors must stay
        open, since it writes to them by number."""
        self._started = [job for job in self._started if not job.done()]
        return bool(self._started)

    def close(self) -> None:
        """Let the core's thread end once its jobs are done."""
        self._lane.close()
