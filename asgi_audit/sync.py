"""The event methods for sync code: ``def`` routes, threads, callbacks.

API. Thread-safe facades over an :class:`~asgi_audit.Auditor`; each call
captures on the calling thread and blocks while the stream is full.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .methods import EventMethods
from .record.context import ContextCell, RequestContext, current_context
from .record.events import RawEvent
from .record.queued import frozen, thaw

if TYPE_CHECKING:
    from .auditor import Auditor

__all__ = ("SyncAuditor",)


class SyncAuditor(EventMethods[None]):
    """The event methods for sync code: FastAPI ``def`` routes, threads, callbacks.

    Thread-safe; a call blocks while the stream is full (``block`` policy). The
    request context of a ``def`` route is there (FastAPI copies it into the
    threadpool). On the event loop's own thread a full stream raises
    ``AuditQueueFull`` instead of blocking the loop that must drain it.
    """

    __slots__ = ("_auditor", "_context")

    def __init__(
        self, auditor: Auditor, context: RequestContext | ContextCell | None = None
    ) -> None:
        self._auditor = auditor
        self._context = context

    def _bound_context(self) -> RequestContext | None:
        context = self._context
        if context is None:
            return current_context()
        return context.context if isinstance(context, ContextCell) else context

    def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
        durable: bool,
    ) -> None:
        # As the Auditor's own: enqueued frozen at once when there is room, with no
        # RawEvent made; anything else (full, durable, captured) takes the blocking form.
        auditor = self._auditor
        stream = auditor._stream
        time_ns = time.time_ns()
        context = self._bound_context()
        if stream is not None and not durable and not auditor._taps:
            item = frozen(category, event_type, outcome, time_ns, context, fields, exception, False)
            if stream.enqueue(item):
                return
            raw = thaw(item)
        else:
            raw = RawEvent(
                category, event_type, outcome, time_ns, context, fields, exception, durable
            )
        auditor._put_blocking(raw)

    def _deliver(self, raw: RawEvent) -> None:
        self._auditor._put_blocking(raw)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded before the call is written; False on timeout."""
        return self._auditor._running_stream().flush_blocking(timeout)
