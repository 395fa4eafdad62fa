"""A nested field (``details`` and the like) made safe in one walk.

PURE: no event loop, no file. :func:`redact_capped` gives what the three steps the
pipeline runs on a nested value give one after the other,

    caps.nested(redactor.redact(to_jsonable(value), key))

for a value made of plain JSON types (``dict`` with ``str`` keys, ``list``, ``str``,
``int``, ``float``, ``bool``, None, exactly those types), in one walk instead of
three copies. Anything else (a tuple, a set, bytes, a subclass, an object) raises
:class:`NotPlain` and the pipeline runs the three steps. A property test holds the
two alike.
"""

from __future__ import annotations

from typing import Any, Final

from .encoding import INT_MAX, INT_MIN, Caps, clean_str, truncate
from .redaction import Redactor

__all__ = ("NotPlain", "redact_capped")

_DEPTH: Final = 12


class NotPlain(Exception):
    """The value holds something other than plain JSON types."""


def redact_capped(
    value: dict[str, Any] | list[Any], redactor: Redactor, caps: Caps
) -> tuple[Any, bool]:
    """``(caps.nested(redactor.redact(to_jsonable(value))), changed)`` for a plain
    ``value`` whose own key is not secret.

    Raises:
        NotPlain: ``value`` holds another type.
    """
    return _walk(value, _DEPTH, set(), redactor, caps)


def _text(text: str, redactor: Redactor, caps: Caps) -> tuple[str, bool]:
    return _capped(redactor.redact_text(text), caps)


def _walk(
    value: Any, depth: int, path: set[int], redactor: Redactor, caps: Caps
) -> tuple[Any, bool]:
    t = type(value)
    if t is str:
        return _text(clean_str(value), redactor, caps)
    if value is None or t is bool or t is float:
        return value, False
    if t is int:
        if INT_MIN <= value <= INT_MAX:
            return value, False
        return _text(str(value), redactor, caps)
    if t is not dict and t is not list:
        raise NotPlain
    if depth <= 0:
        return _text("[depth limit]", redactor, caps)
    ident = id(value)
    if ident in path:
        return _text("[cycle]", redactor, caps)
    path.add(ident)
    try:
        if t is list:
            return _list(value, depth, path, redactor, caps)
        return _dict(value, depth, path, redactor, caps)
    finally:
        path.discard(ident)


def _list(
    value: list[Any], depth: int, path: set[int], redactor: Redactor, caps: Caps
) -> tuple[Any, bool]:
    limit = caps.max_items
    items = []
    changed = len(value) > limit
    # The items past the cap are dropped whatever they hold.
    for v in value[:limit]:
        item, c = _walk(v, depth - 1, path, redactor, caps)
        items.append(item)
        changed = changed or c
    if len(value) > limit:
        items.append(f"[{len(value) - limit} more items]")
    return items, changed


def _dict(
    value: dict[Any, Any], depth: int, path: set[int], redactor: Redactor, caps: Caps
) -> tuple[Any, bool]:
    out: dict[str, Any] = {}
    flags: dict[str, bool] = {}
    mask = redactor.mask
    for k, v in list(value.items()):
        if type(k) is not str:
            raise NotPlain
        if clean_str(k) is not k:
            # A key with a lone surrogate: two such keys can clean to one, and the
            # three steps then keep another of their values.
            raise NotPlain
        if redactor.is_secret_key(k):
            # Masked whole, whatever it holds (None stays None); the mask is a
            # nested string like any other.
            item: Any = None
            c = False
            if v is not None:
                item, c = _capped(mask, caps)
        else:
            item, c = _walk(v, depth - 1, path, redactor, caps)
        name = redactor.redact_text(k)
        # Two keys that redact alike: the later value, at the earlier place.
        out[name] = item
        flags[name] = c
    limit = caps.max_items
    if len(out) <= limit:
        return out, any(flags.values())
    kept: dict[str, Any] = {}
    for i, (name, item) in enumerate(out.items()):
        if i >= limit:
            kept["…"] = f"[{len(out) - limit} more items]"
            break
        kept[name] = item
    return kept, True


def _capped(text: str, caps: Caps) -> tuple[str, bool]:
    if len(text) > caps.default_chars:
        return truncate(text, caps.default_chars), True
    return text, False
