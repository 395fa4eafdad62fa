"""The event methods for sync code: ``def`` routes, threads, callbacks.

API. Thread-safe facades over an :class:`~asgi_audit.Auditor`; each call
captures on the calling thread and blocks while the stream is full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .methods import EventMethods
from .record.context import ContextCell, RequestContext, current_context, get_cell
from .record.events import RawEvent

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

    def _bound_cell(self) -> ContextCell | None:
        context = self._context
        if context is None:
            return get_cell()
        return context if isinstance(context, ContextCell) else None

    def _deliver(self, raw: RawEvent) -> None:
        self._auditor._put_blocking(raw)

    def _deliver_all(self, raws: list[RawEvent]) -> None:
        for raw in raws:
            self._auditor._put_blocking(raw)

    def _id_budget(self) -> tuple[int, int]:
        return self._auditor._id_budget()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded before the call is written; False on timeout."""
        return self._auditor._running_stream().flush_blocking(timeout)
