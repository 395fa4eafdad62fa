"""What ``data_access`` records: its arguments checked, and a list of ids split
into parts that each fit one line whole.

PURE: no event loop, no file. The method itself is in :mod:`asgi_audit.methods`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from .capture import named_fields
from .events import DATA_ACCESS, DATA_ACTIONS, RawEvent, check_choice, new_raw

if TYPE_CHECKING:
    from .context import RequestContext

__all__ = ("DEFAULT_ID_BUDGET", "access_events", "access_fields", "split_ids")

#: The most ids one ``data_access`` event holds (the writer's ``max_items``), and
#: the bytes they may take: half the default ``max_event_bytes`` (16 KiB).
DEFAULT_ID_BUDGET: Final = (256, 8 * 1024)


def _id_bytes(value: Any) -> int:
    # What an id takes in the line, from above: its JSON text and a comma. A
    # character that is not ASCII takes at most 6 bytes (U+2028 escaped); an
    # ASCII quote, backslash or control character is escaped in more bytes than
    # counted here, which only hostile ids carry (the writer's caps bound those).
    if type(value) is int:
        return len(str(value)) + 1
    text = value if type(value) is str else str(value)
    return (len(text) if text.isascii() else 6 * len(text)) + 3


def split_ids(ids: Sequence[Any], most: int, budget: int) -> list[list[Any]]:
    """``ids`` in consecutive parts of at most ``most`` ids and about ``budget``
    bytes each (an id larger than the budget alone is a part of its own)."""
    parts: list[list[Any]] = []
    part: list[Any] = []
    size = 1  # the brackets, and no comma after the last id
    for value in ids:
        cost = _id_bytes(value)
        if part and (len(part) >= most or size + cost > budget):
            parts.append(part)
            part, size = [], 1
        part.append(value)
        size += cost
    if part or not parts:
        parts.append(part)
    return parts


def access_fields(
    resource_type: Any,
    resource_id: Any,
    ids: Iterable[Any] | None,
    action: Any,
    record_count: Any,
    purpose: Any,
    user_id: Any,
) -> dict[str, Any]:
    """The method's own fields of a ``data_access``, in the line's order; ``ids``
    as a list or tuple (or None; any other iterable read into a list of its own,
    the caller's list or tuple as it is, for the capture to copy), ``record_count``
    filled in.

    Raises:
        ValueError: an empty ``resource_type``, an ``action`` outside
            :data:`~asgi_audit.record.events.DATA_ACTIONS`, or a negative
            ``record_count``.
        TypeError: ``ids`` given as one string or bytes, or a ``record_count``
            that is not an int.
    """
    if not resource_type or not isinstance(resource_type, str):
        raise ValueError(f"Invalid data_access resource_type: {resource_type!r}")
    check_choice("data_access", "action", action, DATA_ACTIONS)
    id_list: Sequence[Any] | None = None
    if ids is not None:
        if isinstance(ids, (str, bytes, bytearray)):
            raise TypeError(
                "data_access ids must be an iterable of ids, not one string:"
                f" {ids[:40]!r}; pass resource_id= for a single record"
            )
        # A list or tuple is copied once, by named_fields, as any container is.
        id_list = ids if type(ids) is list or type(ids) is tuple else list(ids)
    if record_count is None:
        if id_list is not None:
            record_count = len(id_list)
        elif resource_id is not None:
            record_count = 1
    elif isinstance(record_count, bool) or not isinstance(record_count, int):
        raise TypeError(f"data_access record_count must be an int, got {record_count!r}")
    elif record_count < 0:
        raise ValueError(f"Invalid data_access record_count: {record_count!r}")
    return {
        "user_id": user_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "ids": id_list,
        "record_count": record_count,
        "purpose": purpose,
    }


def access_events(
    parts: list[list[Any]],
    named: dict[str, Any],
    fields: dict[str, Any],
    details: Any,
    outcome: str,
    context: RequestContext | None,
    time_ns: int,
    durable: bool,
) -> list[RawEvent]:
    """One access whose ids are split in ``parts``: one event per part, linked by
    an ``access_id``, each with the whole ``record_count``, the same moment and
    context. Only the last is ``durable``: the stream syncs its events in order."""
    access_id, count = secrets.token_hex(16), len(parts)
    return [
        new_raw(
            RawEvent,
            (
                DATA_ACCESS,
                "data_access",
                outcome,
                time_ns,
                context,
                named_fields(
                    dict(fields),
                    {**named, "ids": part, "access_id": access_id, "part": n, "parts": count},
                    details,
                ),
                None,
                durable and n == count,
            ),
        )
        for n, part in enumerate(parts, 1)
    ]
