"""An event's fields taken at the call: the caller's containers copied.

PURE: no event loop, no file. The caller may change a dict or a list it passed
once the call has returned, and the writer reads the event later, so every
container among the fields is copied at the call: an exact ``dict``, ``list``,
``tuple``, ``set`` or ``frozenset``, down to a depth of 8. Dicts stay dicts, the
others become lists (JSON has no other sequence), and the leaves are shared (a
string or a number cannot change; any other object is the encoder's to render).
A subclass of a container is a leaf, rendered later as the encoder renders it.

This runs on every event, on the caller. :data:`named_fields` and
:data:`own_fields` are the compiled core's when it is installed (and
``ASGI_AUDIT_PURE`` was unset or empty at import), else this module's
functions, which are the reference: ``tests/test_capture.py`` holds the two
alike. The one difference: a dict changed while it is copied (by a key's
``__hash__``, or by another thread between two steps of the reference) is copied
by the core from its items as they were, where the reference may raise
``RuntimeError`` or copy one container before the change and the next after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .engine import compiled_module

__all__ = (
    "DEPTH",
    "named_fields",
    "own_fields",
    "reference_named_fields",
    "reference_own_fields",
    "snapshot",
    "untrack_event",
)

#: How deep containers are copied; deeper ones are shared.
DEPTH: Final = 8
_CONTAINERS: Final = frozenset({dict, list, tuple, set, frozenset})

Fields = dict[str, Any]


def snapshot(value: Any, depth: int = DEPTH) -> Any:
    """``value`` with its containers copied down to ``depth`` levels."""
    if depth <= 0:
        return value
    t = type(value)
    if t is dict:
        if _CONTAINERS.isdisjoint(map(type, value.values())):
            return value.copy()  # nothing below to copy: one copy in C
        return {k: snapshot(v, depth - 1) for k, v in value.items()}
    if t is list or t is tuple or t is set or t is frozenset:
        if _CONTAINERS.isdisjoint(map(type, value)):
            return list(value)
        return [snapshot(v, depth - 1) for v in value]
    return value


def reference_own_fields(fields: Fields) -> Fields:
    """``fields`` itself, each container value replaced by its copy."""
    if _CONTAINERS.isdisjoint(map(type, fields.values())):
        return fields  # no container to copy (the common case), told in C
    for key, value in fields.items():
        if type(value) in _CONTAINERS:
            fields[key] = snapshot(value)
    return fields


def reference_named_fields(fields: Fields, named: Fields, details: Any) -> Fields:
    """A method's fields: the caller's extra ``fields`` first, then the method's
    own (``named``), then ``details``, as ``fields.update(named, details=details)``
    would order them, each container copied. ``fields`` and ``named`` are the
    call's own dicts, changed in place."""
    if fields:
        fields.update(named)
        named = fields
    if not _CONTAINERS.isdisjoint(map(type, named.values())):
        reference_own_fields(named)
    named["details"] = None if details is None else snapshot(details)
    return named


# A core built before these functions existed lacks them: the reference then.
_core: Any = compiled_module()
#: :func:`reference_named_fields`, compiled when the core is installed.
named_fields: Final[Callable[[Fields, Fields, Any], Fields]] = getattr(
    _core, "named_fields", reference_named_fields
)
#: :func:`reference_own_fields`, compiled when the core is installed.
own_fields: Final[Callable[[Fields], Fields]] = getattr(_core, "own_fields", reference_own_fields)


def _stays_tracked(raw: object) -> None:
    """Without the core an event stays in the garbage collector's sight: Python
    has no way to take it out."""


#: Takes a queued event (a ``RawEvent``) and its fields dict out of the garbage
#: collector's sight, where the core is installed; nothing for an event with an
#: exception. See ``untrack_event`` in the core's ``capture.rs`` for why that is
#: safe. What it saves: the collector's young and middle collections no longer
#: walk the waiting events, nor move them to its oldest generation.
untrack_event: Final[Callable[[object], None]] = getattr(_core, "untrack_event", _stays_tracked)
