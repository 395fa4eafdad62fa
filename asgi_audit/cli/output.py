"""What the ``asgi-audit`` commands print: events as readable lines or as written,
sizes, JSON, and any text from a log made safe for a terminal."""

from __future__ import annotations

import re
import sys
from typing import Any, Final, TextIO

import orjson

from ..record.events import HEADER_FIELDS, INTEGRITY_FIELDS
from .common import Record

__all__ = ("Printer", "dump", "format_event", "human_size", "shown", "shown_time")

_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
#: Shown after the fixed columns when present, most telling first.
_TELLING: Final = (
    "rule_name",
    "severity",
    "blocked_path",
    "blocked_reason",
    "tool_name",
    "method",
    "request_path",
    "status_code",
    "duration_ms",
    "user_id",
    "agent_id",
    "error_message",
    "matched_text",
    "risk_score",
    "dropped_count",
    "partial_file",
)
#: Not shown as extra fields: in the fixed columns, or bookkeeping.
_PLAIN: Final = (
    HEADER_FIELDS
    | INTEGRITY_FIELDS
    | frozenset(
        {
            "ip_address",
            "user_agent",
            "session_id",
            "request_id",
            "truncated",
            "truncated_fields",
            "stack_trace",
            "raw_input",
            *_TELLING,
        }
    )
)
_MAX_FIELDS: Final = 7
_MAX_VALUE: Final = 60


def shown(value: object, width: int = _MAX_VALUE) -> str:
    """A value for a terminal: shortened, control and bidi characters escaped."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def shown_time(key: str | None) -> str:
    """A timestamp key as ``YYYY-MM-DD HH:MM:SS.mmmZ``, or ``-``."""
    return f"{key[:10]} {key[11:23]}Z" if key else "-"


def format_event(key: str | None, event: dict[str, Any]) -> str:
    """One readable line: time, category, event_type, outcome, ip, telling fields."""
    category = shown(event.get("category", "-"), 16)
    event_type = shown(event.get("event_type", "-"), 32)
    outcome = shown(event.get("outcome", "-"), 16)
    ip = shown(event.get("ip_address", "-"), 45)
    head = f"{shown_time(key)}  {category:<11}  {event_type:<18}  {outcome:<8}  {ip:<15}"
    extra = []
    names = [*_TELLING, *(name for name in event if name not in _PLAIN)]
    for name in names:
        value = event.get(name)
        if value is not None and value != "":
            extra.append(f"{shown(name, 32)}={_quoted(shown(value))}")
            if len(extra) == _MAX_FIELDS:
                break
    return f"{head}  {' '.join(extra)}".rstrip()


def _quoted(text: str) -> str:
    return f'"{text}"' if (" " in text or not text) else text


class Printer:
    """Prints records to stdout: the lines as written (bytes as they are, when
    stdout has a binary buffer), or one readable line each."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.count = 0
        self._text: TextIO = sys.stdout
        self._raw: Any = getattr(self._text, "buffer", None) if as_json else None
        if self._raw is not None:
            self._text.flush()

    def __call__(self, record: Record) -> None:
        key, _, line, event = record
        if self._raw is not None:
            self._raw.write(line + b"\n")
        elif self.as_json:
            self._text.write(line.decode("utf-8", "replace") + "\n")
        else:
            self._text.write(format_event(key or None, event) + "\n")
        self.count += 1

    def flush(self) -> None:
        if self._raw is not None:
            self._raw.flush()
        self._text.flush()


def human_size(n: int) -> str:
    """``n`` bytes as ``123 B``, ``4.5 KiB``, ``6.7 MiB`` or ``8.9 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def dump(obj: object) -> None:
    """``obj`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")
