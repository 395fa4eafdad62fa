"""The OpenTelemetry trace and span of the moment, when OpenTelemetry is there.

ADAPT. If the ``opentelemetry`` API is installed and a span is recording,
:func:`trace_ids` gives its ``trace_id`` (32 hex) and ``span_id`` (16 hex), the
W3C forms every tracing backend shows, so an audit line and a trace can be joined.
Without OpenTelemetry it costs one check of a module variable; with it, and nothing
in the current OpenTelemetry context, one read of that context. The middleware
takes them once per request (the server span, when the OpenTelemetry ASGI
middleware is outside it); an event recorded outside any request takes them at
the call.
"""

from __future__ import annotations

from typing import Any

__all__ = ("trace_ids",)

_get_current_span: Any
_current_context: Any
try:
    from opentelemetry.context import get_current as _current_context
    from opentelemetry.trace import get_current_span as _get_current_span
except ImportError:  # pragma: no cover - without the optional package
    _get_current_span = _current_context = None


def trace_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` of the current span, or ``(None, None)``."""
    if _get_current_span is None:
        return None, None
    try:
        current = _current_context()
        if not current:
            # Nothing set in this context, so no span either: a fifth of the
            # cost of asking for the span (outside a request, on every event).
            return None, None
        context = _get_current_span(current).get_span_context()
    except Exception:  # a broken tracer must not break auditing
        return None, None
    if not context.is_valid:
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
