"""What the writer carries between its steps: an encoded batch, and lines held after a
failed write; and the two ways a batch is encoded.

IO level (the writer's), no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio.lowlevel

from ..proof.integrity import Chain, Sealed
from ..record.events import RawEvent

if TYPE_CHECKING:
    from ..record.pipeline import Pipeline

__all__ = (
    "CHUNK",
    "GATHER_CHUNK",
    "GATHER_FROM",
    "HANDOFF",
    "SLICE",
    "Encoded",
    "Held",
    "encode_in_thread",
    "encode_on_loop",
)

ChainFor = Callable[[str], Chain | None]


@dataclass(slots=True)
class Held:
    """A category's lines whose write failed, with its retry schedule."""

    data: list[bytes]  # the lines, in pieces written in order (AppendFile.append)
    count: int
    real: int  # how many of them are the stream's events (not events_dropped lines)
    first_seq: int  # sequence number of its oldest event
    end: Sealed | None  # where the category's chain stands after these lines
    failing: str | None = None
    retry_at: float = 0.0
    delay: float = 0.0


@dataclass(slots=True)
class Encoded:
    """A batch's lines per category, made on the loop and written in the thread."""

    base: int  # sequence number of the batch's first event
    real: int  # how many of its events are the stream's (the rest are events_dropped)
    lines: dict[str, list[bytes]] = field(default_factory=dict)  # joined, they are the data
    count: dict[str, int] = field(default_factory=dict)  # how many lines
    first_seq: dict[str, int] = field(default_factory=dict)
    real_count: dict[str, int] = field(default_factory=dict)
    ends: dict[str, Sealed | None] = field(default_factory=dict)  # each chain after the batch
    durable: bool = False

    def place(self, offset: int, raw: RawEvent, line: bytes) -> None:
        """The line of the batch's event at ``offset`` into its category's lines."""
        self.add(raw.category, line, 1, offset, int(offset < self.real))
        if raw.durable:
            self.durable = True

    def add(self, category: str, data: bytes, count: int, first: int, real: int) -> None:
        """``count`` lines of ``category`` (``data``, joined), the first of them the
        batch's event at offset ``first``, ``real`` of them the stream's."""
        chunk = self.lines.get(category)
        if chunk is None:
            chunk = self.lines[category] = []
            self.first_seq[category] = self.base + first
            self.real_count[category] = self.count[category] = 0
        chunk.append(data)
        self.count[category] += count
        self.real_count[category] += real

    def close(self, chains: Mapping[str, Chain] | None) -> None:
        """Note where each category's chain stands after the batch (None: unsealed)."""
        for category in self.lines:
            chain = chains.get(category) if chains is not None else None
            self.ends[category] = chain.end() if chain is not None else None


# On the compiled core, a caller that never lets the event loop run lets it run
# once every HANDOFF events it records, so the writer can take them as a batch to
# its thread, where the core encodes them beside the loop (see
# EventStream.hands_off). The hand-off calls are the slow ones of such a caller: one
# in 1,024 keeps them out of its p99 (one in 256 made them two fifths of it).
HANDOFF: Final = 1024
# The most events the core copies at once (the writer's thread encodes a larger
# batch chunk by chunk): the memory a stalled writer holds stays the queue's.
CHUNK: Final = 1024
# While the writer's thread writes lines the lane gave back, the writer takes the
# next batch for the lane only once this many events wait: a burst, whose lines
# then follow in the thread's next trip. Fewer, and it waits for the thread (the
# trip is short when the loop lets the GIL go) and the lane appends again.
GATHER_FROM: Final = CHUNK // 4
# Meanwhile the lane takes chunks this large: the loop hears of a chunk's end only
# when the burst's caller lets it run, so a small chunk leaves the lane idle
# between two (its copy is still bounded: the events are out of the queue already).
GATHER_CHUNK: Final = 4 * CHUNK
# Events encoded between two checkpoints of the writer task (about a millisecond).
SLICE = 32


async def encode_on_loop(
    pipeline: Pipeline,
    batch: list[RawEvent],
    base: int,
    real: int,
    chain_for: ChainFor,
    chains: Mapping[str, Chain] | None,
) -> Encoded:
    """Redact, cap, encode and seal a batch on the reference pipeline, on the loop.

    The reference is pure Python: in the writer's thread it would only fight the
    event loop for the GIL (each of the loop's system calls hands the GIL over, and
    getting it back can take a switch interval). It runs on the loop instead, in
    slices with a checkpoint between them, so that requests interleave with it and
    the thread is left with what really blocks: write() and fsync().
    """
    encoded = Encoded(base, real)
    encode = pipeline.encode
    for offset, raw in enumerate(batch):
        if offset and not offset % SLICE:
            await anyio.lowlevel.checkpoint()
        encoded.place(offset, raw, encode(raw, chain_for(raw.category)))
    encoded.close(chains)
    return encoded


def encode_in_thread(
    pipeline: Pipeline,
    batch: list[RawEvent],
    base: int,
    real: int,
    chain_for: ChainFor,
    chains: Mapping[str, Chain] | None,
) -> Encoded:
    """The same on the compiled core (``Pipeline.native``), in the worker thread: the
    core holds the GIL only to read a chunk's events, then encodes, seals and joins
    each category's lines without it, so it runs beside the event loop. In chunks
    of CHUNK events, so that the core's copy of the events is never more."""
    encoded = Encoded(base, real)
    for start in range(0, len(batch), CHUNK):
        chunk = batch[start : start + CHUNK]
        out = pipeline.encode_grouped(chunk, chain_for, real - start)
        if isinstance(out, tuple):
            groups, durable = out
            for category, data, count, first, real_lines in groups:
                encoded.add(category, data, count, start + first, real_lines)
            encoded.durable = encoded.durable or durable
            continue
        for offset, (raw, line) in enumerate(zip(chunk, out, strict=True), start):
            encoded.place(offset, raw, line)
    encoded.close(chains)
    return encoded
