"""A websocket session, audited: ``websocket_connect`` and ``websocket_close``.

ADAPT. :class:`WebsocketSession` wraps a websocket scope's ``receive`` and
``send``: it counts messages and bytes each way, notes which close code ended
the session (from the app's ``websocket.close`` or denial response, or the
client's ``websocket.disconnect``), and, when the
policy's level is ``request_response``, keeps the first messages each way
(capped; the writer redacts them). Messages pass through untouched. Whether the
app accepted or refused is recorded by ``websocket_connect``, at its first answer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..record.authorization import authorization_fields
from ..record.context import ContextCell, RequestContext, reset_context, set_context
from .dependencies import SCOPE_KEY, RequestAudit
from .exchange import route_template

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from ..auditor import Auditor
    from .policy import AuditPolicy, Decision

__all__ = ("WebsocketHost", "WebsocketSession", "audit_websocket")

#: Messages kept each way at the ``request_response`` level.
KEPT_MESSAGES: Final = 20


class WebsocketHost(Protocol):
    """What the websocket half needs of the middleware that runs it.

    ``AuditMiddleware`` is one; naming the parts here keeps the import one way
    (the middleware imports this module, never the reverse).
    """

    app: ASGIApp
    auditor: Auditor
    policy: AuditPolicy

    def _selected(self, path: str) -> bool: ...

    def _context(self, scope: Scope) -> RequestContext: ...

    def _decide(self, scope: Scope, cell: ContextCell, category: str = ...) -> Decision: ...

    def _identify(self, scope: Scope, cell: ContextCell) -> None: ...

    def _request_fields(self, scope: Scope, decision: Decision) -> dict[str, Any]: ...

    async def _put(
        self,
        scope: Scope,
        cell: ContextCell,
        outcome: str,
        fields: dict[str, Any],
        exc: BaseException | None,
        event_type: str = ...,
    ) -> None: ...


class WebsocketSession:
    """Counters and samples of one websocket session (see the module doc)."""

    __slots__ = (
        "_receive",
        "_send",
        "bytes_in",
        "bytes_out",
        "close_code",
        "closed_by",
        "keep",
        "limit",
        "messages_in",
        "messages_out",
        "samples",
        "start",
    )

    def __init__(self, receive: Receive, send: Send, *, keep: bool, limit: int) -> None:
        self._receive = receive
        self._send = send
        self.start = time.perf_counter()
        self.messages_in = self.messages_out = 0
        self.bytes_in = self.bytes_out = 0
        self.close_code: int | None = None
        self.closed_by: str | None = None
        self.keep = keep
        self.limit = limit
        self.samples: list[dict[str, Any]] = []

    def _sample(self, direction: str, message: Message) -> None:
        # KEPT_MESSAGES each way: a chatty client cannot crowd out the server's side.
        sent = self.messages_in if direction == "in" else self.messages_out
        if sent > KEPT_MESSAGES:
            return
        text = message.get("text")
        if text is not None:
            body: Any = text[: self.limit]
        else:
            data = message.get("bytes") or b""
            body = f"[{len(data)} bytes of binary data]"
        self.samples.append({"direction": direction, "message": body})

    async def receive(self) -> Message:
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            self.messages_in += 1
            self.bytes_in += _size(message)
            if self.keep:
                self._sample("in", message)
        elif kind == "websocket.disconnect" and self.close_code is None:
            self.close_code = message.get("code", 1005)
            self.closed_by = "client"
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            self.messages_out += 1
            self.bytes_out += _size(message)
            if self.keep:
                self._sample("out", message)
        elif kind == "websocket.close" and self.close_code is None:
            self.close_code = message.get("code", 1000)
            self.closed_by = "server"
        elif kind == "websocket.http.response.start":
            self.close_code = message.get("status", 403)
            self.closed_by = "server"
        await self._send(message)

    def close_fields(self) -> dict[str, Any]:
        """The fields of the ``websocket_close`` record."""
        fields: dict[str, Any] = {
            "close_code": self.close_code,
            "closed_by": self.closed_by,
            "duration_ms": round((time.perf_counter() - self.start) * 1000, 3),
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }
        if self.keep and self.samples:
            fields["messages"] = self.samples
        return fields


def _size(message: Message) -> int:
    text = message.get("text")
    if text is not None:
        return len(text.encode("utf-8", "surrogatepass"))
    data = message.get("bytes")
    return len(data) if data else 0


_WS_ANSWERS: Final = frozenset(
    {"websocket.accept", "websocket.close", "websocket.http.response.start"}
)


async def audit_websocket(mw: WebsocketHost, scope: Scope, receive: Receive, send: Send) -> None:
    """Run a websocket scope through the app, recording its session (see the module doc)."""
    cell = scope[SCOPE_KEY] = RequestAudit(mw.auditor, mw._context(scope))
    if not mw._selected(scope.get("path", "")):
        # Not recorded (``exclude``), but the context is there for the app.
        token = set_context(cell)
        try:
            await mw.app(scope, receive, send)
        finally:
            reset_context(token)
        return
    early = mw._decide(scope, cell) if not mw.policy.needs_identity else None
    keep = early is not None and early.at_least("request_response")
    limit = early.max_body_bytes if early is not None and keep else 0
    session = WebsocketSession(receive, send, keep=keep, limit=limit)
    token = set_context(cell)
    try:
        await mw.app(scope, session.receive, _connect_then(mw, scope, cell, session))
    except Exception as exc:
        await _close_record(mw, scope, cell, session, exc)
        raise
    finally:
        reset_context(token)
    await _close_record(mw, scope, cell, session, None)


def _connect_then(
    mw: WebsocketHost, scope: Scope, cell: ContextCell, session: WebsocketSession
) -> Send:
    # websocket_connect is recorded when the app accepts or refuses.
    recorded = False

    async def send(message: Message) -> None:
        nonlocal recorded
        await session.send(message)
        if not recorded and message["type"] in _WS_ANSWERS:
            recorded = True
            mw._identify(scope, cell)
            decision = mw._decide(scope, cell)
            if decision.records:
                accepted = message["type"] == "websocket.accept"
                fields: dict[str, Any] = {"accepted": accepted, "stage": "connect"}
                if decision.level != "metadata":
                    fields["audit_level"] = decision.level
                if not accepted:
                    fields["status_code"] = message.get("status", 403)
                fields.update(authorization_fields(cell.authorization, fields.get("status_code")))
                template = route_template(scope)
                if template is not None:
                    fields["resource"] = template
                fields.update(mw._request_fields(scope, decision))
                outcome = "success" if accepted else "denied"
                await mw._put(scope, cell, outcome, fields, None, "websocket_connect")

    return send


async def _close_record(
    mw: WebsocketHost,
    scope: Scope,
    cell: ContextCell,
    session: WebsocketSession,
    exc: BaseException | None,
) -> None:
    mw._identify(scope, cell)
    decision = mw._decide(scope, cell)
    if not decision.records:
        return
    fields = session.close_fields()
    fields["stage"] = "exception" if exc is not None else "close"
    if decision.level != "metadata":
        fields["audit_level"] = decision.level
    template = route_template(scope)
    if template is not None:
        fields["resource"] = template
    if exc is not None:
        fields["exception_type"] = type(exc).__name__
        fields["error_message"] = str(exc)
    outcome = "error" if exc is not None else "success"
    await mw._put(scope, cell, outcome, fields, exc, "websocket_close")
