"""One HTTP request/response exchange, watched through its ``receive`` and ``send``.

ADAPT. :class:`HttpExchange` wraps the two ASGI callables of a request without
buffering anything the app or the client waits for: every message passes
through at once (streaming responses still arrive chunk by chunk, the app still
reads its own body). It notes the status, the bytes of response body sent,
whether the response completed, whether the client went away first, and, when
the policy asks for bodies, keeps a capped copy of each body.
"""

from __future__ import annotations

from contextvars import Token
from typing import TYPE_CHECKING

from ..record.context import ContextCell, reset_cell, set_cell
from .bodies import BodyTap

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

__all__ = ("HttpExchange", "header_value", "route_template", "send_internal_error")


class HttpExchange:
    """State of one exchange; ``receive`` and ``send`` are what the app gets."""

    __slots__ = (
        "_cell",
        "_extra_header",
        "_header_name",
        "_receive",
        "_send",
        "bytes_sent",
        "complete",
        "disconnected",
        "request_body",
        "request_type",
        "response_body",
        "response_type",
        "status",
        "token",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        header: tuple[bytes, bytes],
        body_limit: int,
        request_type: str | None,
        cell: ContextCell,
    ) -> None:
        self._receive = receive
        self._send = send
        self._header_name = header[0]
        self._extra_header = header
        self.status = 0
        self.bytes_sent = 0
        self.complete = False
        self.disconnected = False
        self.request_type = request_type
        self.response_type: str | None = None
        self.request_body = BodyTap(body_limit) if body_limit else None
        self.response_body = BodyTap(body_limit) if body_limit else None
        self._cell = cell
        #: The token of the request's cell in the ContextVar (:meth:`enter`).
        self.token: Token[ContextCell | None] | None = None

    def enter(self) -> None:
        """Make the request's cell current (:meth:`leave` undoes it)."""
        self.token = set_cell(self._cell)

    def leave(self) -> None:
        """Restore what was current before :meth:`enter`."""
        token, self.token = self.token, None
        if token is not None:
            reset_cell(token)

    async def receive(self) -> Message:
        message = await self._receive()
        kind = message["type"]
        if kind == "http.request":
            tap = self.request_body
            if tap is not None:
                tap.feed(message.get("body", b""))
        elif kind == "http.disconnect" and not self.complete:
            self.disconnected = True
        return message

    async def send(self, message: Message) -> None:
        stepped_out = False
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            self.bytes_sent += len(body)
            if self.response_body is not None:
                self.response_body.feed(body)
            if not message.get("more_body", False):
                self.complete = True
                stepped_out = self._step_out()
        elif kind == "http.response.start":
            self.status = message["status"]
            headers = message.get("headers", ())
            if type(headers) is not list and type(headers) is not tuple:
                headers = list(headers)  # any iterable, read once
                message = {**message, "headers": headers}
            name = self._header_name
            for key, _ in headers:
                if key.lower() == name:  # the app's own request id header stands
                    break
            else:
                # A copy: the app may send the same headers (or message) again.
                message = {**message, "headers": [*headers, self._extra_header]}
            if self.response_body is not None:
                for key, value in headers:
                    if key.lower() == b"content-type":
                        self.response_type = value.decode("latin-1")
        try:
            await self._send(message)
        except OSError:
            # The server says the client is gone (ASGI 2.4: send raises OSError).
            self.disconnected = True
            self.complete = False
            raise
        finally:
            if stepped_out:
                self.token = set_cell(self._cell)

    def _step_out(self) -> bool:
        # The response's last message is sent with the request's cell out of the
        # ContextVar: a server schedules its keep-alive timer inside that send, and
        # a timer keeps a copy of the context until its time comes (5 s in uvicorn)
        # or, cancelled, until the loop purges its cancelled timers, so the cell and
        # its request context would outlive the request and reach the garbage
        # collector's oldest generation. What runs after it (background tasks) has the cell again.
        token = self.token
        if token is None:
            return False
        try:
            reset_cell(token)
        except ValueError:  # sent from another context (a child task): left alone
            return False
        return True


def route_template(scope: Scope) -> str | None:
    """The route template of a routed request (``/items/{item_id}``), or None."""
    # FastAPI leaves the matched route in the scope; a plain Starlette router
    # leaves the endpoint, whose route is looked up among the app's routes.
    route = scope.get("route")
    if route is None:
        endpoint = scope.get("endpoint")
        app = scope.get("app")
        if endpoint is None or app is None:
            return None
        for candidate in getattr(app, "routes", ()):
            if getattr(candidate, "endpoint", None) is endpoint:
                route = candidate
                break
        else:
            return None
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else None


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower-case bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_internal_error(send: Send, rid_header: tuple[bytes, bytes]) -> None:
    """Send a plain 500 carrying the request id header; a client already gone is ignored."""
    body = b"Internal Server Error"
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    # The server closes the connection after an exception;
                    # say so, or a keep-alive client reuses a dead socket.
                    (b"connection", b"close"),
                    rid_header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
    except Exception:  # noqa: S110 - the client is gone; the record still happens
        pass
