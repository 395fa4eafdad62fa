"""The OpenTelemetry trace and span of the moment, when OpenTelemetry is there.

ADAPT. If the ``opentelemetry`` API is installed and a span is recording,
:func:`trace_ids` gives its ``trace_id`` (32 hex) and ``span_id`` (16 hex), the
W3C forms every tracing backend shows, so an audit line and a trace can be joined.
Without OpenTelemetry it costs one check of a module variable. The middleware
takes them once per request (the server span, when the OpenTelemetry ASGI
middleware is outside it); an event recorded outside any request takes them at
the call.
"""

from __future__ import annotations

from typing import Any

__all__ = ("trace_ids",)

_get_current_span: Any
try:
    from opentelemetry.trace import get_current_span as _get_current_span
except ImportError:  # pragma: no cover - without the optional package
    _get_current_span = None


def trace_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` of the current span, or ``(None, None)``."""
    if _get_current_span is None:
        return None, None
    try:
        context = _get_current_span().get_span_context()
    except Exception:  # a broken tracer must not break auditing
        return None, None
    if not context.is_valid:
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
