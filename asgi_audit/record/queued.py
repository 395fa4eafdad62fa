"""How a captured event waits for the writer: one flat, exact tuple of plain values.

PURE: no event loop, no file. A :class:`~asgi_audit.record.events.RawEvent` and its
:class:`~asgi_audit.record.context.RequestContext` are objects the garbage
collector tracks. Under steady load an event waits in the stream up to the
writer's batch interval (100 ms by default), long enough to be alive at a
collection of the collector's middle generation, which moves it to the oldest;
enough of those start a full collection, which walks every object of the process
and stops the event loop while it does (about 25 ms for a small FastAPI app).

So the stream keeps :func:`freeze`'s form instead (:data:`Queued`). CPython stops
tracking an exact tuple at the first collection that finds in it only objects that
cannot be tracked (strings, numbers, None); a dict, even one it does not track,
keeps a tuple tracked, and a tuple inside one is untracked a collection later, so
the form is flat. A waiting event then never reaches the older generations. An
event with a container among its fields' values, or an exception, stays tracked.

The compiled core reads this form directly; :func:`thaw` gives the
``RawEvent`` back where the reference pipeline needs one.
"""

from __future__ import annotations

import itertools
from typing import Any, Final

from .context import CONTEXT_FIELDS, RequestContext, build_context, context_values
from .events import RawEvent

__all__ = ("CATEGORY", "DURABLE", "Queued", "category_of", "freeze", "thaw")

#: A frozen event, one flat tuple: ``(category, event_type, outcome, time_ns,
#: exception, durable, marker, *context, *fields)``. ``marker`` is True when the
#: 11 values after it are a ``RequestContext``'s fields in their declared order,
#: None when the event has no context (the 11 are then None), or the context
#: itself when it is of another type; the caller's fields follow as key, value,
#: key, value, ...
Queued = tuple[Any, ...]
#: Where a frozen event holds its category and its durable flag.
CATEGORY: Final = 0
DURABLE: Final = 5
_MARKER: Final = 6
_FIELDS: Final = _MARKER + 1 + len(CONTEXT_FIELDS)
_NO_CONTEXT: Final = (None,) * len(CONTEXT_FIELDS)
_flat: Final = itertools.chain.from_iterable


def freeze(raw: RawEvent) -> Queued:
    """``raw`` as the stream keeps it."""
    context: Any = raw.context
    if type(context) is RequestContext:
        values = context_values(context)
        marker: Any = True
    else:
        values = _NO_CONTEXT
        marker = context
    return (
        raw.category,
        raw.event_type,
        raw.outcome,
        raw.time_ns,
        raw.exception,
        raw.durable,
        marker,
        *values,
        *_flat(raw.fields.items()),
    )


def thaw(item: Queued | RawEvent) -> RawEvent:
    """The ``RawEvent`` of a frozen event (a ``RawEvent`` as it is)."""
    if isinstance(item, RawEvent):
        return item
    marker = item[_MARKER]
    context = build_context(*item[_MARKER + 1 : _FIELDS]) if marker is True else marker
    pairs = item[_FIELDS:]
    fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return RawEvent(item[0], item[1], item[2], item[3], context, fields, item[4], item[DURABLE])


def category_of(item: Queued | RawEvent) -> str:
    """The category of a frozen event or of a ``RawEvent``."""
    if isinstance(item, RawEvent):
        return item.category
    category: str = item[CATEGORY]
    return category
