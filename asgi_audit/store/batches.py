"""What the writer carries between its steps: an encoded batch, and lines held after a
failed write.

IO level (the writer's), no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..proof.integrity import Chain, Sealed
from ..record.events import RawEvent

__all__ = ("SLICE", "Encoded", "Held")


@dataclass(slots=True)
class Held:
    """A category's lines whose write failed, with its retry schedule."""

    data: bytes
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
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    first_seq: dict[str, int] = field(default_factory=dict)
    real_count: dict[str, int] = field(default_factory=dict)
    ends: dict[str, Sealed | None] = field(default_factory=dict)  # each chain after the batch
    durable: bool = False

    def place(self, offset: int, raw: RawEvent, line: bytes) -> None:
        """The line of the batch's event at ``offset`` into its category's lines."""
        category = raw.category
        chunk = self.lines.get(category)
        if chunk is None:
            chunk = self.lines[category] = []
            self.first_seq[category] = self.base + offset
            self.real_count[category] = 0
        if offset < self.real:
            self.real_count[category] += 1
        chunk.append(line)
        if raw.durable:
            self.durable = True

    def close(self, chains: Mapping[str, Chain] | None) -> None:
        """Note where each category's chain stands after the batch (None: unsealed)."""
        for category in self.lines:
            chain = chains.get(category) if chains is not None else None
            self.ends[category] = chain.end() if chain is not None else None


# On the compiled core, a caller that never lets the event loop run lets it run
# once every HANDOFF events it records, so the writer can take them as a batch to
# its thread, where the core encodes them beside the loop (see
# EventStream.hands_off).
HANDOFF: Final = 256
# The most events the core copies at once (the writer's thread encodes a larger
# batch chunk by chunk): the memory a stalled writer holds stays the queue's.
CHUNK: Final = 1024
# Events encoded between two checkpoints of the writer task (about a millisecond).
SLICE = 32
