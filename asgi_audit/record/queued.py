"""How a captured event waits for the writer: one flat, exact tuple of plain values.

PURE: no event loop, no file. A :class:`~asgi_audit.record.events.RawEvent` and its
:class:`~asgi_audit.record.context.RequestContext` are objects the garbage
collector tracks. Under steady load an event waits in the stream up to the
writer's batch interval (100 ms by default), long enough to be alive at a
collection of the collector's middle generation, which moves it to the oldest;
enough of those start a full collection, which walks every object of the process
and stops the event loop while it does (about 25 ms for a small FastAPI app).

So the stream keeps :func:`freeze`'s form instead (:data:`Queued`): exact tuples
of plain values. CPython stops tracking an exact tuple at a collection that finds
in it only objects it cannot track (strings, numbers, None, tuples it stopped
tracking); a dict, even one it does not track, keeps a tuple tracked. The tuples
inside are untracked at the first collection an event waits through and the
event's own tuple at the next, which is of the middle generation: it is untracked
there instead of being moved to the oldest, whose full collections walk every
object of the process. One level of nesting, not a flat tuple, because building a
flat one cost the caller twice as much (0.7 against 0.3-0.5 µs). An event with a
container among its fields' values, or an exception, waits as its ``RawEvent``: a
frozen form would stay tracked too, and only give the collector more to walk (a
burst of 20,000 such events doubled the awaited caller's p99 with it).

The compiled core reads this form directly; :func:`thaw` gives the
``RawEvent`` back where the reference pipeline needs one.
"""

from __future__ import annotations

from typing import Any, Final

from .context import RequestContext, build_context, context_values
from .events import RawEvent

__all__ = ("Queued", "category_of", "durable_of", "freeze", "frozen", "thaw")

#: A waiting event: frozen, ``(category, event_type, outcome, time_ns, context,
#: keys, values, exception, durable)``, where ``context`` is the tuple of a
#: ``RequestContext``'s fields in their declared order, None, or the context itself
#: when it is of another type, and ``keys`` and ``values`` are the tuples of the
#: fields' keys and values, in order; or the ``RawEvent`` itself when a field's
#: value is a container, or there is an exception: the collector would track the
#: frozen form anyway, and it would only add objects for it to walk.
Queued = tuple[Any, ...] | RawEvent
_CATEGORY: Final = 0
_DURABLE: Final = 8
_CONTAINERS: Final = frozenset({dict, list, tuple, set, frozenset})


def frozen(
    category: str,
    event_type: str,
    outcome: str | None,
    time_ns: int,
    context: Any,
    fields: dict[str, Any],
    exception: BaseException | None,
    durable: bool,
) -> Queued:
    """The waiting form of the ``RawEvent`` these would make (the awaited event
    methods' path: no ``RawEvent`` is made for a frozen one)."""
    values = tuple(fields.values())
    if exception is not None or not _CONTAINERS.isdisjoint(map(type, values)):
        return RawEvent(category, event_type, outcome, time_ns, context, fields, exception, durable)
    if type(context) is RequestContext:
        context = context_values(context)
    return (category, event_type, outcome, time_ns, context, tuple(fields), values, None, durable)


def freeze(raw: RawEvent) -> Queued:
    """``raw`` as the stream keeps it (``raw`` itself when it is not frozen)."""
    item = frozen(
        raw.category,
        raw.event_type,
        raw.outcome,
        raw.time_ns,
        raw.context,
        raw.fields,
        raw.exception,
        raw.durable,
    )
    return raw if isinstance(item, RawEvent) else item


def thaw(item: Queued) -> RawEvent:
    """The ``RawEvent`` of a frozen event (a ``RawEvent`` as it is)."""
    if isinstance(item, RawEvent):
        return item
    category, event_type, outcome, time_ns, context, keys, values, exception, durable = item
    if type(context) is tuple:
        context = build_context(*context)
    fields = dict(zip(keys, values, strict=True))
    return RawEvent(category, event_type, outcome, time_ns, context, fields, exception, durable)


def category_of(item: Queued) -> str:
    """The category of a waiting event."""
    if isinstance(item, RawEvent):
        return item.category
    category: str = item[_CATEGORY]
    return category


def durable_of(item: Queued) -> bool:
    """Whether a waiting event is durable."""
    if isinstance(item, RawEvent):
        return item.durable
    durable: bool = item[_DURABLE]
    return durable
