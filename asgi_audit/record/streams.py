"""Which stream each event of a batch is sealed into, as the compiled core takes it.

PURE: no event loop, no file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .events import RawEvent

if TYPE_CHECKING:
    from ..proof.integrity import Chain

__all__ = ("batch_streams",)


def batch_streams(
    raws: Sequence[RawEvent], chain_for: Callable[[str], Chain | None]
) -> tuple[list[int | None], list[Chain], list[tuple[str, int, dict[str, Any]]]]:
    """For the core: each event's stream (an index in the chains, None: unsealed),
    the chains, and each chain's stamp (stream id, last seq, what Chain.stamp adds
    to a stream's first line besides stream and seq)."""
    by_category: dict[str, int | None] = {}
    chains: list[Chain] = []
    stamps: list[tuple[str, int, dict[str, Any]]] = []
    slots: list[int | None] = []
    for raw in raws:
        category = raw.category
        if category in by_category:
            slots.append(by_category[category])
            continue
        chain = chain_for(category)
        slot = None
        if chain is not None:
            slot = next((i for i, c in enumerate(chains) if c is chain), None)
            if slot is None:
                slot = len(chains)
                chains.append(chain)
                first: dict[str, Any] = {}
                chain.stamp(first, 1)
                del first["stream"], first["seq"]
                stamps.append((chain.stream, chain.last.seq, first))
        by_category[category] = slot
        slots.append(slot)
    return slots, chains, stamps
