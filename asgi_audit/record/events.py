"""Event categories, outcomes and the construction of one event dict.

PURE: no event loop, no file. The request path builds a :class:`RawEvent` (one
clock read, the request context, the caller's fields); the writer turns it into
the dict that is redacted, capped and encoded, with :func:`build_event`.
"""

from __future__ import annotations

import os
import re
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .vocabulary import event_action, resource

if TYPE_CHECKING:
    from .context import RequestContext

__all__ = (
    "API_AUDIT",
    "AUTH",
    "CATEGORY_FILES",
    "DATA_ACCESS",
    "DATA_ACCESS_OUTCOMES",
    "DATA_ACTIONS",
    "HEADER_FIELDS",
    "INJECTION",
    "INJECTION_OUTCOMES",
    "INTEGRITY_FIELDS",
    "LOGIN_OUTCOMES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "SEVERITY_RISK",
    "TOOL_BLOCKED_OUTCOMES",
    "TOOL_BLOCKS",
    "UNKNOWN_OUTCOME",
    "RawEvent",
    "Uuid7Generator",
    "build_event",
    "category_filename",
    "check_choice",
    "dropped_events",
    "format_timestamp",
    "new_raw",
    "validate_category",
    "validate_login_outcome",
)

#: Bumped when a field changes meaning or shape; readers can branch on it.
SCHEMA_VERSION: Final = 1

AUTH: Final = "auth"
INJECTION: Final = "injection"
TOOL_BLOCKS: Final = "tool_blocks"
API_AUDIT: Final = "api_audit"
#: Who read, exported, changed or deleted which records (``data_access``): a
#: category of its own, in ``data_access.jsonl`` (no file of the system this
#: replaces, so it follows the ``<category>.jsonl`` rule).
DATA_ACCESS: Final = "data_access"

#: The four files of the system this replaces; their names are kept.
CATEGORY_FILES: Final[Mapping[str, str]] = {
    AUTH: "auth-events.jsonl",
    INJECTION: "injection-events.jsonl",
    TOOL_BLOCKS: "tool-blocks.jsonl",
    API_AUDIT: "api-audit.jsonl",
}

# The documented closed sets of the event methods. A value outside its set is
# refused where the method is called, so a typo never reaches the file as a
# value no SIEM rule matches (and a severity never silently loses its risk).
#: ``login_attempt`` outcomes.
LOGIN_OUTCOMES: Final = ("success", "failed", "rate_limited", "blocked")
#: The outcome of an event recorded without one (``emit`` without ``outcome=``):
#: ECS's ``event.outcome`` value for the same case, so a query for a missing
#: outcome is a query for a value, and no line lacks the field.
UNKNOWN_OUTCOME: Final = "unknown"
#: ``tool_blocked`` outcomes.
TOOL_BLOCKED_OUTCOMES: Final = ("blocked", "requires_approval")
#: ``injection_attempt`` outcomes: recorded only, let through with a warning, stopped.
INJECTION_OUTCOMES: Final = ("logged", "warned", "blocked")
#: ``data_access`` actions: what was done with the records.
DATA_ACTIONS: Final = ("read", "export", "update", "delete")
#: ``data_access`` outcomes: done, refused by the app's authorization, attempted and failed.
DATA_ACCESS_OUTCOMES: Final = ("success", "denied", "failed")

#: Base risk per severity, as the original injection guard scored them.
SEVERITY_RISK: Final[Mapping[str, float]] = {
    "LOW": 0.2,
    "WARNING": 0.3,
    "MEDIUM": 0.4,
    "HIGH": 0.7,
    "CRITICAL": 1.0,
}
#: ``injection_attempt`` severities, from the least to the most severe.
SEVERITIES: Final = tuple(SEVERITY_RISK)

# A category becomes a file name, so it may hold no separator, no dot and no
# space: nothing that can leave the log directory or hide a file.
_CATEGORY_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")

_KEPT_FILES: Final = frozenset(CATEGORY_FILES.values())

# Keys of an event that the library owns; a caller's field of the same name is
# kept under details instead of overwriting them.
#: The fields every event starts with.
HEADER_FIELDS: Final = frozenset(
    {"timestamp", "epoch_ms", "event_id", "event_type", "category", "outcome", "schema_version"}
)
#: The fields the writer adds to seal a line (see asgi_audit.proof.integrity).
INTEGRITY_FIELDS: Final = frozenset(
    {"stream", "seq", "mac", "prev_stream", "prev_seq", "prev_mac", "mac_key_id"}
)
#: The same, in the order an output profile writes them (``mac`` last: see
#: asgi_audit.proof.integrity). Not a closed set of a method: kept out of __all__.
INTEGRITY_ORDER: Final = (
    "stream",
    "seq",
    "prev_stream",
    "prev_seq",
    "prev_mac",
    "mac_key_id",
    "mac",
)
_RESERVED: Final = (HEADER_FIELDS - {"outcome"}) | INTEGRITY_FIELDS

# The order of the leading keys in every line; the rest follow in call order.
_CONTEXT_FIELDS: Final = (
    "ip_address",
    "ip_address_rejected",
    "user_agent",
    "session_id",
    "request_id",
    "agent_id",
    "user_id",
    "request_path",
    "method",
    "trace_id",
    "span_id",
)


def validate_category(category: str) -> str:
    """Return ``category`` if it can name a log file, else raise.

    Raises:
        ValueError: the name is empty, too long, or holds anything but lower-case
            letters, digits, ``_`` and ``-`` (so no ``/``, ``\\``, ``.`` or ``..``).
    """
    if not isinstance(category, str) or not _CATEGORY_RE.match(category):
        raise ValueError(
            f"Invalid audit category: {category!r} (use 1-64 of a-z, 0-9, '_' and '-',"
            " starting with a letter or digit)"
        )
    if category + ".jsonl" in _KEPT_FILES:
        raise ValueError(
            f"Invalid audit category: {category!r} names the file of a built-in category;"
            " use the built-in name instead"
        )
    return category


def category_filename(category: str) -> str:
    """The file name of a category.

    The kept names for the four built-ins, else ``<category>.jsonl``.
    """
    validate_category(category)
    return CATEGORY_FILES.get(category) or category + ".jsonl"


def check_choice(method: str, argument: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed`` (exactly, case included).

    The message names the method and the argument, quotes the value and lists
    what to write instead: ``Invalid tool_blocked outcome: 'denied' (expected
    one of 'blocked', 'requires_approval')``.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"Invalid {method} {argument}: {value!r}"
            f" (expected one of {', '.join(map(repr, allowed))})"
        )


def validate_login_outcome(outcome: str) -> str:
    """Return ``outcome`` if it is one of :data:`LOGIN_OUTCOMES`, else raise ``ValueError``."""
    check_choice("login_attempt", "outcome", outcome, LOGIN_OUTCOMES)
    return outcome


def format_timestamp(time_ns: int) -> str:
    """ISO 8601 UTC with microseconds, from nanoseconds since the epoch (no float rounding)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    cached = _second_prefix
    if cached[0] != seconds:
        # Events come in bursts within one second: the date and time part is
        # made once per second, the microseconds per event.
        prefix = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cached = (seconds, prefix)
        _cache_prefix(cached)
    return f"{cached[1]}.{nanos // 1000:06d}+00:00"


_second_prefix: tuple[int, str] = (-1, "")


def _cache_prefix(entry: tuple[int, str]) -> None:
    global _second_prefix  # one tuple, replaced whole: safe between threads
    _second_prefix = entry


_POOL_BYTES: Final = 4096
_RAND_MASK: Final = 0x3FFF_FFFF_FFFF_FFFF
_VARIANT: Final = 0b10 << 62
_forks = 0  # bumped in a forked child: the parent's random pool must not be reused


def _after_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Uuid7Generator:
    """RFC 9562 UUIDv7 strings, time-ordered and unique across processes and hosts.

    48 bits of Unix milliseconds, then 12 bits of sub-millisecond time (method 3
    of the RFC), then 62 random bits from ``os.urandom``. Within one generator the
    ids are strictly increasing even when the clock stands still or steps back: the
    last value is kept and bumped. Across processes and hosts uniqueness rests on the
    62 random bits (a collision needs ~2**31 ids in the same 244 ns tick).
    The random bits are read from ``os.urandom`` 4 KiB at a time; a forked child
    throws the parent's unread bytes and its last id away, so parent and child
    never share them.
    Thread-safe.
    """

    __slots__ = ("_fork", "_last", "_lock", "_pool", "_pos")

    def __init__(self) -> None:
        self._last = (0, 0)
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0
        self._fork = _forks

    def _next(self, time_ns: int) -> tuple[int, int]:
        # (when, rand): 60 bits of time (48 of ms, 12 of sub-ms fraction) and 62
        # random bits; ids order as these pairs do.
        millis, sub = divmod(time_ns, 1_000_000)
        # 12 bits of the sub-millisecond fraction: sub * 4096 // 1_000_000.
        when = ((millis & 0xFFFF_FFFF_FFFF) << 12) | ((sub * 4096) // 1_000_000)
        with self._lock:
            pos = self._pos
            if pos >= len(self._pool) or self._fork != _forks:
                if self._fork != _forks:
                    # A forked child starts its own order: bumping the parent's
                    # last id would give both processes the same next ids.
                    self._last = (0, 0)
                self._pool, pos, self._fork = os.urandom(_POOL_BYTES), 0, _forks
            self._pos = pos + 8
            rand = int.from_bytes(self._pool[pos : pos + 8], "big") & _RAND_MASK
            last_when, last_rand = self._last
            if when < last_when or (when == last_when and rand <= last_rand):
                # Same tick or a clock step back: stay ordered by bumping the last
                # id's random part; when those 62 bits are all ones, the 60 time
                # bits (ms and sub-ms fraction) move on instead.
                when, rand = last_when, last_rand + 1
                if rand > _RAND_MASK:
                    when, rand = when + 1, 0
            self._last = (when, rand)
        return when, rand

    def new_int(self, time_ns: int) -> int:
        """The 128-bit value of a new id for the moment ``time_ns``."""
        when, rand = self._next(time_ns)
        return ((when >> 12) << 80) | (0x7 << 76) | ((when & 0xFFF) << 64) | (0b10 << 62) | rand

    def new(self, time_ns: int) -> str:
        """A new id for ``time_ns`` in the canonical 8-4-4-4-12 form."""
        when, rand = self._next(time_ns)
        t = f"{when >> 12:012x}"
        r = f"{rand | _VARIANT:016x}"
        return f"{t[:8]}-{t[8:]}-7{when & 0xFFF:03x}-{r[:4]}-{r[4:]}"


class RawEvent(NamedTuple):
    """What the request path captures: one clock read, the context, the raw fields.

    Nothing here is redacted, capped or encoded yet; that is the writer's work.
    A named tuple: the compiled core reads its fields by index, without an
    attribute lookup each (see :func:`new_raw` for the fastest way to make one).
    """

    category: str
    event_type: str
    outcome: str | None
    time_ns: int
    context: RequestContext | None
    fields: dict[str, Any]
    exception: BaseException | None = None
    durable: bool = False


#: ``new_raw(RawEvent, (category, event_type, outcome, time_ns, context, fields,
#: exception, durable))``: a :class:`RawEvent` with every field given, without
#: the keyword handling of its constructor (the request path's form).
new_raw: Final = tuple.__new__


def _stack_trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def build_event(raw: RawEvent, event_id: str) -> dict[str, Any]:
    """The event dict of one captured event, before redaction and caps.

    Key order: the fixed header (``timestamp``, ``epoch_ms``, ``event_id``,
    ``event_type``, ``category``, ``outcome``, ``schema_version``), then the
    request context, then the caller's fields. A field given explicitly wins over
    the context's value. Fields whose value is None are left out, except
    ``outcome``: every event has one, :data:`UNKNOWN_OUTCOME` when none was given.
    ``stack_trace`` comes only from a real exception; the ``NoneType: None`` text
    that ``traceback.format_exc()`` gives outside an exception is dropped.
    """
    event: dict[str, Any] = {
        "timestamp": format_timestamp(raw.time_ns),
        "epoch_ms": raw.time_ns // 1_000_000,
        "event_id": event_id,
        "event_type": raw.event_type,
        "category": raw.category,
        "outcome": UNKNOWN_OUTCOME if raw.outcome is None else raw.outcome,
        "schema_version": SCHEMA_VERSION,
    }
    fields = raw.fields
    ctx = raw.context
    if ctx is not None:
        for name in _CONTEXT_FIELDS:
            if fields.get(name) is None:
                value = getattr(ctx, name)
                if value is not None:
                    event[name] = value
    extra: dict[str, Any] | None = None
    for name, value in fields.items():
        if value is None:
            continue
        if name in _RESERVED:
            if extra is None:
                extra = {}
            extra[name] = value
            continue
        event[name] = value
    trace = event.get("stack_trace")
    if isinstance(trace, str) and trace.strip() in ("NoneType: None", ""):
        del event["stack_trace"]
    if raw.exception is not None and "stack_trace" not in event:
        event["stack_trace"] = _stack_trace(raw.exception)
    if extra:
        details = event.get("details")
        if isinstance(details, dict):
            event["details"] = {**details, **extra}
        else:
            event["details"] = extra if details is None else {"value": details, **extra}
    # The standard names (see vocabulary.py); a caller's own value is kept.
    if "event_action" not in event:
        action = event_action(raw.event_type, raw.outcome, event)
        if action is not None:
            event["event_action"] = action
    if "resource" not in event:
        affected = resource(raw.event_type, event)
        if affected is not None:
            event["resource"] = affected
    return event


def dropped_events(drops: dict[str, list[int]]) -> list[RawEvent]:
    """One ``events_dropped`` event per category: ``{category: [count, first_ns, last_ns]}``."""
    # One events_dropped event per category that shed events since the last
    # batch, written into that category's own file.
    return [
        RawEvent(
            category,
            "events_dropped",
            "dropped",
            time.time_ns(),
            None,
            {
                "dropped_count": count,
                "first_dropped_at": format_timestamp(first),
                "last_dropped_at": format_timestamp(last),
            },
        )
        for category, (count, first, last) in drops.items()
    ]
