"""Percent-encoded text, read for secrets without being rewritten.

PURE: no event loop, no file. A secret can hide behind percent-encoding
(``next=%2Flogin%3Fpassword%3Dhunter2``, ``sig%3DAbC%2B...``): the redactor scans a
decoded *view* of the text and masks the matching bytes of the text as it is, so
everything else stays exactly as it was written, percent-encoding included.

The view decodes each ``%XX`` escape of an ASCII character (``%00``-``%7F``, in
either case of hex digit); other escapes and ``+`` stay as written (``+`` may be a
space in a form, but is a literal in a path and in base64, where a secret can
hold it). :func:`decoded_view` gives the view and, for each of its characters,
where that character starts in the text.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ("decoded_view", "extend_to_token")

_ESCAPE: Final = re.compile(r"%[0-7][0-9A-Fa-f]")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_TOKEN: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def decoded_view(text: str) -> tuple[str, list[int]] | None:
    """``(view, starts)``: ``text`` with its ASCII escapes decoded, and for each
    index ``i`` of the view (and ``len(view)``), the index in ``text`` where that
    character starts; None when ``text`` has no such escape."""
    pieces: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        at = m.start()
        pieces.append(text[pos:at])
        starts.extend(range(pos, at))
        pieces.append(chr(int(text[at + 1 : at + 3], 16)))
        starts.append(at)
        pos = m.end()
    if not pieces:
        return None
    pieces.append(text[pos:])
    starts.extend(range(pos, len(text) + 1))
    return "".join(pieces), starts


def extend_to_token(text: str, start: int, end: int) -> tuple[int, int]:
    """The span ``start:end`` grown over the token characters ``[A-Za-z0-9_-]``
    around it, so that a mask never leaves a fragment of the token it lands in;
    never into or across a ``%XX`` escape."""
    while start > 0 and text[start - 1] in _TOKEN:
        if (
            start >= 3
            and text[start - 3] == "%"
            and text[start - 2] in _HEX
            and (text[start - 1] in _HEX)
        ):
            break
        start -= 1
    size = len(text)
    while end < size and text[end] in _TOKEN:
        end += 1
    return start, end
