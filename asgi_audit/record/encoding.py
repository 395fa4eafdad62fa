"""An event dict becomes exactly one safe JSON line.

PURE: no event loop, no file. Three steps, in the writer, after redaction:

1. :func:`to_jsonable` turns anything a caller passed (bytes, sets, datetimes,
   exceptions, arbitrary objects, cycles, deep nesting, lone surrogates) into plain
   JSON values, never raising.
2. :meth:`Caps.apply` cuts strings to their caps and the whole event to its byte
   cap; every cut is visible (a marker in the value, ``"truncated": true`` and the
   original lengths under ``truncated_fields``).
3. :func:`encode_line` serialises with orjson and escapes the three characters
   orjson leaves raw that some readers split lines on (U+2028, U+2029, U+0085).
   orjson already escapes every other control character, so a line holds exactly
   one ``\\n``: its end.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from .events import HEADER_FIELDS, INTEGRITY_FIELDS

__all__ = (
    "DEFAULT_FIELD_CAPS",
    "INT_MAX",
    "INT_MIN",
    "Caps",
    "clean_str",
    "encode_line",
    "mark_cuts",
    "to_jsonable",
    "truncate",
)

_SURROGATES: Final = re.compile("[\ud800-\udfff]")
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1

#: Per-field caps in characters (``raw_input`` keeps the original's 500).
DEFAULT_FIELD_CAPS: Final[Mapping[str, int]] = {
    "raw_input": 500,
    "matched_text": 500,
    "user_agent": 512,
    "request_path": 2048,
    "blocked_path": 2048,
    "error_message": 2048,
    "stack_trace": 8192,
    # Bodies are cut by the audit policy's max_body_bytes first, with a marker
    # naming their full size; this only bounds a policy set above the default.
    "request_body": 8192,
    "response_body": 8192,
}


def clean_str(text: str) -> str:
    # orjson refuses lone surrogates; replace them instead of losing the event.
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def to_jsonable(value: Any, *, max_depth: int = 12) -> Any:
    """A copy of ``value`` made of dict/list/str/int/float/bool/None only.

    Bytes are decoded as UTF-8 with replacement, sets become sorted lists,
    datetimes ISO strings, exceptions ``"Type: message"``, anything else its
    ``repr``. A container met again on the path down becomes ``"[cycle]"``; one
    deeper than ``max_depth`` becomes ``"[depth limit]"``. Never raises.
    """
    return _jsonable(value, max_depth, set())


def _jsonable(value: Any, depth: int, path: set[int]) -> Any:
    if value is None or value is True or value is False:
        return value
    t = type(value)
    if t is str:
        return clean_str(value)
    if t is int:
        return value if INT_MIN <= value <= INT_MAX else str(value)
    if t is float:
        return value
    if isinstance(value, (dict, list, tuple, set, frozenset, Mapping)):
        if depth <= 0:
            return "[depth limit]"
        ident = id(value)
        if ident in path:
            return "[cycle]"
        path.add(ident)
        try:
            if isinstance(value, Mapping):
                return {_key(k): _jsonable(v, depth - 1, path) for k, v in list(value.items())}
            items = list(value)
            if isinstance(value, (set, frozenset)):
                items = _sorted_safely(items)
            return [_jsonable(v, depth - 1, path) for v in items]
        except Exception as exc:  # a container subclass whose iteration raises
            return f"[unrepresentable {type(value).__name__}: {type(exc).__name__}]"
        finally:
            path.discard(ident)
    return _scalar(value)


def _scalar(value: Any) -> Any:
    try:
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, enum.Enum):
            return _scalar(value.value)
        if isinstance(value, str):
            return clean_str(str(value))
        if isinstance(value, int):
            return _jsonable(int(value), 1, set())
        if isinstance(value, float):
            return float(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return clean_str(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, BaseException):
            return clean_str(f"{type(value).__name__}: {value}")
        return clean_str(repr(value))
    except Exception as exc:  # a hostile __repr__ or __str__ must not lose the event
        return f"[unrepresentable {type(value).__name__}: {type(exc).__name__}]"


def _key(key: Any) -> str:
    if isinstance(key, str):
        return clean_str(key)
    result = _scalar(key)
    return result if isinstance(result, str) else str(result)


def _sorted_safely(items: list[Any]) -> list[Any]:
    # A set has no order; sorting makes the line reproducible when it can.
    try:
        return sorted(items)
    except Exception:
        try:
            return sorted(items, key=lambda v: repr(_scalar(v)))
        except Exception:
            return items


def _marker(dropped: int) -> str:
    return f"…[truncated {dropped} chars]"


@dataclass(frozen=True, slots=True)
class Caps:
    """Size caps, applied after redaction.

    Args:
        fields: caps in characters for named top-level fields.
        default_chars: the cap of any other string, top-level or nested.
        max_event_bytes: the cap of the whole encoded line. An event over it loses
            its largest strings first, down to a floor, and is still written.
        max_items: the cap on the items of one list or dict in ``details`` and
            other nested values.
    """

    fields: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_FIELD_CAPS))
    default_chars: int = 4096
    max_event_bytes: int = 16 * 1024
    max_items: int = 256

    def __post_init__(self) -> None:
        for name, cap in self.fields.items():
            if cap < 16:
                raise ValueError(f"Cap for {name!r} must be at least 16 characters, got {cap}")
        if self.default_chars < 16:
            raise ValueError(f"default_chars must be at least 16, got {self.default_chars}")
        if self.max_event_bytes < 1024:
            raise ValueError(f"max_event_bytes must be at least 1024, got {self.max_event_bytes}")
        if self.max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {self.max_items}")

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        """Cap ``event`` in place (strings, then nested sizes) and return it."""
        cut: dict[str, int] = {}
        for name, value in event.items():
            if type(value) is str:
                cap = self.fields.get(name, self.default_chars)
                if len(value) > cap:
                    event[name] = truncate(value, cap)
                    cut[name] = len(value)
            elif isinstance(value, (dict, list)):
                capped, changed = self.nested(value)
                if changed:
                    event[name] = capped
                    cut[name] = -1
        if cut:
            mark_cuts(event, cut)
        return event

    def nested(self, value: Any) -> tuple[Any, bool]:
        if type(value) is str:
            if len(value) > self.default_chars:
                return truncate(value, self.default_chars), True
            return value, False
        if isinstance(value, dict):
            changed = len(value) > self.max_items
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(value.items()):
                if i >= self.max_items:
                    out["…"] = f"[{len(value) - self.max_items} more items]"
                    break
                out[k], c = self.nested(v)
                changed = changed or c
            return out, changed
        if isinstance(value, list):
            changed = len(value) > self.max_items
            items = []
            for v in value[: self.max_items]:
                nv, c = self.nested(v)
                items.append(nv)
                changed = changed or c
            if len(value) > self.max_items:
                items.append(f"[{len(value) - self.max_items} more items]")
            return items, changed
        return value, False

    def fit(self, event: dict[str, Any], line: bytes, limit: int | None = None) -> bytes:
        """Shrink an encoded event over ``max_event_bytes`` until it fits.

        The largest strings and nested values are cut first; the fixed header
        fields are never touched.
        """
        limit = self.max_event_bytes if limit is None else limit
        cut: dict[str, int] = dict(event.get("truncated_fields") or {})
        for _ in range(64):
            if len(line) <= limit:
                return line
            excess = len(line) - limit
            name, size = _largest(event)
            if name is None:
                break
            value = event[name]
            if isinstance(value, str):
                # Aim for the excess in bytes; a character is at most 4 bytes.
                keep = max(0, len(value) - max(excess, size // 4) - 64)
                event[name] = truncate(value, keep)
                cut.setdefault(name, len(value))
            else:
                event[name] = f"[{type(value).__name__} of {size} bytes removed: too large]"
                cut.setdefault(name, -1)
            mark_cuts(event, cut)
            line = encode_line(event)
        if len(line) > limit:
            # Only the header remains over the cap: keep it alone.
            slim = {k: v for k, v in event.items() if k in _HEADER}
            slim["truncated"] = True
            line = encode_line(slim)
        return line


# Never cut: the fixed header, and the integrity fields a verifier needs.
_HEADER: Final = HEADER_FIELDS | INTEGRITY_FIELDS


def _largest(event: dict[str, Any]) -> tuple[str | None, int]:
    best: str | None = None
    best_size = 64  # nothing smaller is worth cutting
    for name, value in event.items():
        if name in _HEADER or name in ("truncated", "truncated_fields"):
            continue
        if isinstance(value, str):
            size = len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, (dict, list)):
            size = len(orjson.dumps(value))
        else:
            continue
        if size > best_size:
            best, best_size = name, size
    return best, best_size


def truncate(text: str, keep: int) -> str:
    dropped = len(text) - keep
    return text[:keep] + _marker(dropped)


def mark_cuts(event: dict[str, Any], cut: dict[str, int]) -> None:
    event["truncated"] = True
    event["truncated_fields"] = {k: v for k, v in cut.items() if v >= 0} or None
    if event["truncated_fields"] is None:
        del event["truncated_fields"]


_LS: Final = "\u2028".encode()
_PS: Final = "\u2029".encode()
_NEL: Final = "\u0085".encode()


def encode_line(event: Mapping[str, Any]) -> bytes:
    """One JSON object and one trailing newline; no other line break, for any reader."""
    line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
    if line.isascii():
        # The usual case, checked word by word: the two searches below cost
        # about a nanosecond a byte each.
        return line
    # These bytes can only occur inside JSON strings (UTF-8 lead bytes never
    # appear inside another character), so a byte replace is exact.
    if b"\xe2\x80" in line:
        line = line.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
    if _NEL in line:
        line = line.replace(_NEL, b"\\u0085")
    return line
