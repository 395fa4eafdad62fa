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

__all__ = ("CoreLane", "LaneGroup")

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


class CoreLane:
    """One writer's lane on the compiled core (see the module).

    Args:
        pipeline: the writer's pipeline; its core makes the jobs.
        lane: the core's ``Lane``.
    """

    __slots__ = ("_job", "_lane", "_pipeline")

    def __init__(self, pipeline: Pipeline, lane: Any) -> None:
        self._pipeline = pipeline
        self._lane = lane
        self._job: Any = None

    @classmethod
    def open(cls, pipeline: Pipeline) -> CoreLane | None:
        """The lane of ``pipeline``'s core; None without one (no core, or a core
        built before the lane)."""
        core = pipeline.core
        lane_type = None if core is None else getattr(type(core), "start_grouped", None)
        module = pipeline.core_module
        if lane_type is None or module is None or not hasattr(module, "Lane"):
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
        """``chunk`` encoded, sealed and appended to ``files`` on the lane:
        ``(groups, durable)``; or, when an event or a chain is the reference's,
        every line sealed and nothing written. ``ids`` replaces the drawn ids
        (for the tests)."""
        pipeline = self._pipeline
        prepared = pipeline.prepare_core(chunk, chain_for)
        if prepared is None:  # a chain the reference seals (a core without Sealer)
            return pipeline.encode_batch(chunk, chain_for)
        core, slots, chains, stamps, states = prepared
        job = core.start_grouped(
            self._lane, list(chunk), slots, stamps, states, max(real, 0), files, ids
        )
        self._job = job
        lane = self._lane
        fd = lane.fileno()
        # A byte may be left from a job whose waiter was cancelled: wait until this one.
        while not job.done():
            await anyio.wait_readable(fd)
            lane.drain()
        self._job = None
        try:
            out = job.finish()
        except RuntimeError:  # a bug in the core: nothing written, the reference encodes
            return pipeline.complete_core(chunk, slots, chains, pipeline.draw_ids(chunk, ids))
        if isinstance(out, list):
            return pipeline.complete_core(chunk, slots, chains, out)
        groups, macs, durable = out
        for slot, (chain, mac) in enumerate(zip(chains, macs, strict=True)):
            chain.advanced(slots.count(slot), mac)
        return [
            LaneGroup(category, data, size, count, first, real_lines)
            for category, data, size, count, first, real_lines, _, _ in groups
        ], durable

    def busy(self) -> bool:
        """Whether the core's thread still runs a job whose waiter was cancelled (a
        writer given up at the shutdown deadline): its files' descriptors must stay
        open, since it writes to them by number."""
        job = self._job
        return job is not None and not job.done()

    def close(self) -> None:
        """Let the core's thread end once its jobs are done."""
        self._lane.close()
