"""Fail closed: a request whose record matters more than the request itself.

ADAPT. For a request whose audit policy rule says ``fail_closed=True``, the
middleware first writes the request's ``request_received`` record as a durable
event (written and fsynced, with every event before it) and waits for it, at
most the policy's ``fail_closed_timeout``. Only then does the app run. When the
record cannot be made durable in time (the disk is full or refuses the write,
its fsync failed, the writer is stalled, the stream stays full, the Auditor is
not running), the client gets a ``503 Service Unavailable`` and the app never
runs, so nothing the route would do happens unrecorded: Kubernetes'
blocking-strict audit mode, auditd's ``disk_full_action=halt``.

What each fail-closed request leaves in the trail:

* its ``request_received`` record (``fail_closed: true``), on disk before the app
  ran, or else no app run at all;
* its ``response_complete`` (or ``exception``, ``disconnected``) record, as any
  request's: written after the response, on the Auditor's fsync policy;
* when refused, a best-effort ``api_access`` record with ``status_code`` 503,
  ``stage`` ``fail_closed`` and the ``fail_closed_reason`` (``timeout``,
  ``write_error``, ``queue_full``, ``not_running``). It is offered without
  waiting (the writer is what failed): when the stream has no room it is
  counted in ``events_dropped`` instead.

A route that records its own events with ``durable=True`` and lets the
resulting ``AuditWriteError`` (or ``AuditQueueFull``) escape before it
responded gets a 503 too, instead of a 500.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import anyio

from ..record.events import API_AUDIT, RawEvent
from ..store.waiting import AuditorNotRunning, AuditQueueFull, AuditWriteError

if TYPE_CHECKING:
    from starlette.types import Send

    from ..auditor import Auditor
    from ..record.context import ContextCell

__all__ = ("AUDIT_FAILURES", "record_arrival", "record_refusal", "refused", "send_unavailable")

#: What the event methods raise when the trail cannot take an event.
AUDIT_FAILURES: Final = (AuditWriteError, AuditQueueFull, AuditorNotRunning)
_REASONS: Final[dict[type[BaseException], str]] = {
    AuditWriteError: "write_error",
    AuditQueueFull: "queue_full",
    AuditorNotRunning: "not_running",
}
_BODY: Final = b"Service Unavailable: the audit trail cannot record this request"


async def record_arrival(
    auditor: Auditor, cell: ContextCell, fields: dict[str, Any], within: float
) -> str | None:
    """Write the request's arrival durably, waiting ``within`` seconds at most;
    None once it is on disk, else why not."""
    raw = RawEvent(
        API_AUDIT,
        "api_access",
        "received",
        time.time_ns(),
        cell.context,
        {"stage": "request_received", "fail_closed": True, **fields},
        None,
        True,
    )
    try:
        with anyio.fail_after(within):
            await auditor._put(raw)
    except TimeoutError:
        return "timeout"
    except AUDIT_FAILURES as exc:
        return _REASONS[type(exc)]
    return None


def refused(cell: ContextCell, start_ns: int, sent: int, why: str) -> RawEvent:
    """The record of a request refused because its arrival could not be recorded;
    ``start_ns`` is its ``perf_counter_ns`` when it arrived."""
    elapsed = (time.perf_counter_ns() - start_ns + 500) // 1000
    fields = {
        "status_code": 503,
        "duration_ms": elapsed / 1000,
        "response_bytes": sent,
        "stage": "fail_closed",
        "fail_closed_reason": why,
    }
    return RawEvent(API_AUDIT, "api_access", "error", time.time_ns(), cell.context, fields)


def record_refusal(auditor: Auditor, raw: RawEvent) -> None:
    """Offer the record of a refused request without waiting; count it as dropped
    when the stream has no room (or is not running)."""
    if auditor._taps:
        auditor._tap(raw)
        return
    stream = auditor._stream
    if stream is None or not stream.accepting:
        return
    try:
        if not stream.offer(raw):
            stream.drop(raw)
    except AuditorNotRunning:  # stopped in between
        return


async def send_unavailable(
    send: Send, rid_header: tuple[bytes, bytes], *, close: bool = False
) -> int:
    """Send the 503 of a refused request; the bytes of its body (0 when the client
    left). ``close``: the app raised, and the server closes the connection after."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_BODY)).encode()),
        (b"retry-after", b"5"),
        rid_header,
    ]
    if close:
        headers.append((b"connection", b"close"))
    try:
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})
    except Exception:  # the client is gone; the record still happens
        return 0
    return len(_BODY)
