"""Request and response bodies, as the audit policy's ``request_response`` level records them.

PURE: no event loop, no file. A captured body (at most the rule's
``max_body_bytes``, the rest only counted) becomes a JSON value the writer then
redacts like any field: a JSON body that arrived whole is parsed, so a secret
under a secret key (``{"password": ...}``) is masked by its key at any depth; a
form body becomes a mapping of its fields for the same reason; other text is kept
as text (its pairs and shapes redacted); binary and unknown types are described,
never stored.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

import orjson

__all__ = ("BodyTap", "content_kind", "render_body")

_FORM: Final = "application/x-www-form-urlencoded"


def content_kind(content_type: str | None) -> str | None:
    """``"json"``, ``"form"``, ``"text"`` or None (not recorded) for a Content-Type."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return "json"
    if media == _FORM:
        return "form"
    if media.startswith("text/"):
        return "text"
    return None


class BodyTap:
    """Keeps the first ``limit`` bytes of a body that passes through, counts the rest."""

    __slots__ = ("_chunks", "kept", "limit", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.kept = 0
        self._chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.limit - self.kept
        if room > 0 and chunk:
            part = chunk[:room]
            self._chunks.append(part)
            self.kept += len(part)

    @property
    def data(self) -> bytes:
        return b"".join(self._chunks)


def render_body(data: bytes, size: int, content_type: str | None, limit: int) -> Any:
    """The recorded form of a body: ``data`` is its first bytes, ``size`` its whole length.

    Never raises; the result is a JSON value (the writer redacts and caps it).
    """
    data = data[:limit]
    whole = len(data) >= size
    kind = content_kind(content_type)
    if size == 0:
        return None
    if kind is None:
        media = (content_type or "unknown type").split(";", 1)[0].strip()[:100]
        return f"[{media} body of {size} bytes not recorded]"
    if whole and kind == "json":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # recorded as text below
    if whole and kind == "form":
        fields: dict[str, Any] = {}
        for key, value in parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True):
            old = fields.get(key)
            if old is None:
                fields[key] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                fields[key] = [old, value]
        return fields
    text = data.decode("utf-8", "replace")
    if not whole:
        text += f"…[truncated: {size} bytes in all]"
    return text
