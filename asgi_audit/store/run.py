"""A run of batches on the compiled core's lane: each chunk started behind the
last, each finished in order.

IO level (the writer's), no I/O of its own. The writer's task reads a chunk on the
loop and starts it on the lane (:meth:`.lane.CoreLane.start`); the core's thread
works through the started chunks one after the other, carrying each stream's
chain from one to the next. A busy caller lets the loop run only at its
hand-offs, so a writer that started one chunk and waited for it would leave that
thread idle from the chunk's end to the next hand-off, and the one after (the
pipe's readiness reaches the task a loop turn later): more than half of a burst,
measured. In a run, the chunks a burst queues meanwhile are started while the
thread still works, and it goes from one to the next.

A chunk given back to the reference (an event only it encodes, a core that
failed) breaks the run: the loop seals it with its own copy of the chains, the
chunks started behind it are skipped by the core's thread, untouched, and
:class:`LaneRun` starts them again, the first from the chains as the loop has
them then.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..record.events import RawEvent
from .batches import Encoded

if TYPE_CHECKING:
    from .appending import Appender
    from .lane import CoreLane, LaneGroup, LaneJob

__all__ = ("AHEAD", "LaneRun")

#: The most chunks started on the lane at once: one at work and the next ready
#: keep its thread busy; more would only hold more events read into the core
#: (their copies) while a write is stuck.
AHEAD: Final = 3


@dataclass(slots=True)
class _Taken:
    """A batch in the run: its lines left for the thread, and how many of its
    chunks are not finished yet."""

    rest: Encoded
    left: int


@dataclass(slots=True)
class _Chunk:
    """A chunk of a batch: where it starts in the batch, and how many of the
    batch's events from there on are the stream's (the rest are
    ``events_dropped`` lines)."""

    taken: _Taken
    events: Sequence[RawEvent]
    start: int
    real: int
    ids: list[str] | None
    job: LaneJob | None = None


class LaneRun:
    """The batches of one run on the lane, in the order they were taken.

    Args:
        lane: the writer's lane.
        files: the writer's files; ``direct``: the lane appends what it may to
            them, else it appends nothing and every line comes back.
        size: the most events of a chunk.
    """

    __slots__ = ("_direct", "_files", "_lane", "_size", "_started", "_todo", "unwritten")

    def __init__(self, lane: CoreLane, files: Appender, *, direct: bool, size: int) -> None:
        self._lane = lane
        self._files = files
        self._direct = direct
        self._size = size
        self._todo: deque[_Chunk] = deque()
        self._started: deque[_Chunk] = deque()
        #: The run's batches not complete yet (their lines, for the thread).
        self.unwritten: list[Encoded] = []

    def busy(self) -> bool:
        """Whether a chunk is still to start or to finish."""
        return bool(self._todo or self._started)

    def in_lane(self) -> int:
        """How many chunks are started and not finished yet."""
        return len(self._started)

    def ready(self) -> bool:
        """Whether the oldest started chunk is done (:meth:`finish` waits for nothing)."""
        if not self._started:
            return False
        job = self._started[0].job
        assert job is not None
        return job.done()

    def add(
        self, batch: list[RawEvent], base: int, real: int, ids: list[str] | None = None
    ) -> Encoded:
        """A taken batch (its first ``real`` events the stream's, from ``base``)
        into the run, to start behind the rest; its lines. ``ids`` replaces the
        drawn ids (for the tests)."""
        rest = Encoded(base, real)
        self.unwritten.append(rest)
        size = self._size
        starts = range(0, len(batch), size)
        taken = _Taken(rest, len(starts))
        self._todo.extend(
            _Chunk(
                taken,
                batch[start : start + size],
                start,
                real - start,
                None if ids is None else ids[start : start + size],
            )
            for start in starts
        )
        return rest

    def start(self) -> None:
        """Start the chunks that can be, behind those started, up to
        :data:`AHEAD` at once. None appends to the file of a category with lines
        left for the thread by a batch of the run (the core's thread also leaves
        alone those its jobs gave back)."""
        files, lane, todo, started = self._files, self._lane, self._todo, self._started
        skip = {category for rest in self.unwritten for category in rest.lines}
        while todo and len(started) < AHEAD:
            chunk = todo[0]
            job = lane.start(
                chunk.events,
                files.chain,
                chunk.real,
                files.core_files(skip) if self._direct else [],
                continues=bool(started),
                ids=chunk.ids,
            )
            if job is None:  # only once those before it are finished
                return
            todo.popleft()
            chunk.job = job
            started.append(chunk)
            if job.lines is not None:
                # Sealed by the reference on the loop, past the chains the
                # core's thread carries: what follows starts a run of its own.
                return

    async def finish(self) -> Encoded | None:
        """Finish the oldest started chunk: its batch's lines when that batch is
        now complete (its chains noted), else None."""
        chunk = self._started.popleft()
        assert chunk.job is not None
        out = await self._lane.finish(chunk.job)
        if out is None or (isinstance(out, list) and self._started):
            # Skipped, or given back with chunks started behind it, which the
            # core's thread skips: they start again, in order.
            again = list(self._started) if out is not None else [chunk, *self._started]
            self._started.clear()
            self._todo.extendleft(reversed(again))
            if out is None:
                return None
        taken = chunk.taken
        rest = taken.rest
        if isinstance(out, list):
            for offset, (raw, line) in enumerate(zip(chunk.events, out, strict=True), chunk.start):
                rest.place(offset, raw, line)
        else:
            groups, durable = out
            rest.durable = rest.durable or durable
            for group in groups:
                self._group(rest, group, chunk.start)
        taken.left -= 1
        if taken.left:
            return None
        proof = self._files.proof
        rest.close(proof.chains if proof is not None else None)
        return rest

    def written(self, rest: Encoded) -> None:
        """``rest``'s batch is complete and written: no longer the run's."""
        self.unwritten.remove(rest)

    def _group(self, rest: Encoded, group: LaneGroup, start: int) -> None:
        # One category's lines of a chunk: counted if the lane wrote them, else
        # left for the thread.
        category = group.category
        if group.data is not None:
            rest.add(category, group.data, group.count, start + group.first, group.real)
            return
        files = self._files
        chain = files.chain(category)
        files.appended(category, group.count, group.size, None if chain is None else chain.end())
        files.batch_written += group.real
