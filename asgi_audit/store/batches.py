"""What the writer carries between its steps: an encoded batch, and lines held after a
failed write.

IO level (the writer's), no I/O of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ..proof.integrity import Sealed

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


# On the compiled core, a caller that never lets the event loop run lets it run
# once every HANDOFF events it records, so the writer can take them as a batch to
# its thread, where the core encodes them beside the loop (one in 256 calls: the
# caller's p99 never sees it).
HANDOFF: Final = 256
# The most events the core copies at once (the writer's thread encodes a larger
# batch chunk by chunk): the memory a stalled writer holds stays the queue's.
CHUNK: Final = 1024
# Events encoded between two checkpoints of the writer task (about a millisecond).
SLICE = 32
