"""AuditMiddleware: one ``api_access`` event per request, and the request's context.

ADAPT. A pure ASGI middleware (no ``BaseHTTPMiddleware``): it watches the status
by wrapping ``send`` and never buffers a body, so streaming responses stream.
Lifespan and websocket scopes pass straight through. It sets the request's
audit context in a ContextVar for ``audit_context`` and for code deeper in the
call, and returns the request id in a response header.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import cookie_parser

from .context import RequestContext, reset_context, set_context
from .dependencies import SCOPE_KEY, RequestAudit
from .events import API_AUDIT, RawEvent
from .methods import outcome_for_status
from .proxies import TrustedProxies

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .auditor import Auditor

__all__ = ("DEFAULT_EXCLUDE", "AuditMiddleware", "valid_request_id")

#: Paths not recorded by default: health checks and scrapers, which would drown
#: the file in noise. Glob patterns, matched against the whole path.
DEFAULT_EXCLUDE: Final = (
    "/health",
    "/healthz",
    "/livez",
    "/readyz",
    "/ping",
    "/metrics",
    "/favicon.ico",
)

# A kept request id: 8-128 of letters, digits and ``-_.:``. Nothing that can
# carry a newline, a quote or a secret-sized blob; anything else is replaced.
_REQUEST_ID_RE: Final = re.compile(r"[A-Za-z0-9._:-]{8,128}\Z")


def _new_request_id() -> str:
    # 128 random bits as 32 hex characters, the form uuid4().hex gave, without
    # building a UUID object per request.
    return os.urandom(16).hex()


def valid_request_id(value: str) -> bool:
    """Whether an incoming request id is kept (8-128 of ``A-Za-z0-9._:-``)."""
    return _REQUEST_ID_RE.match(value) is not None


def _compile(patterns: Iterable[str], option: str) -> re.Pattern[str] | None:
    if isinstance(patterns, str):
        raise TypeError(f"{option} takes a list of patterns, not the string {patterns!r}")
    parts = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"Invalid {option} pattern: {pattern!r}")
        parts.append(fnmatch.translate(pattern))
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts))


class AuditMiddleware:
    """Records every selected HTTP request as an ``api_access`` event.

    Args:
        app: the ASGI app.
        auditor: the running :class:`~asgi_audit.Auditor`.
        include: glob patterns of paths to record (default every path).
        exclude: glob patterns of paths not to record (default :data:`DEFAULT_EXCLUDE`);
            exclude wins over include. Excluded requests still get a context.
        trusted_proxies: IPs and CIDRs of proxies whose forwarding header is
            believed; none by default, so the client address is the TCP peer.
        forwarded_header: ``"x-forwarded-for"`` (default) or ``"forwarded"``.
        request_id_header: the request id header, read and returned.
        session_cookie: the cookie holding the session id (default ``"session"``).
        session_header: a header holding the session id instead, if any.
        agent_id_header: a header naming the acting AI agent, if any.
        send_500: when the app raises before responding, send the 500 here, so
            it carries the request id header (default True); the exception is
            re-raised either way.
        request_id_factory: makes new request ids (default 32 hex chars of a UUID4).
        record_query: record the query string as ``query_string`` (redacted in the
            writer like every field; default False).
        record_headers: names of request headers to record under
            ``request_headers`` (``"*"`` for all); secret ones such as
            ``Authorization`` and ``Cookie`` are masked by the redaction rules.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        auditor: Auditor,
        include: Iterable[str] = ("*",),
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        trusted_proxies: Iterable[str] | str = (),
        forwarded_header: str = "x-forwarded-for",
        request_id_header: str = "X-Request-ID",
        session_cookie: str | None = "session",
        session_header: str | None = None,
        agent_id_header: str | None = None,
        send_500: bool = True,
        request_id_factory: Callable[[], str] | None = None,
        record_query: bool = False,
        record_headers: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.auditor = auditor
        include = tuple(include) if not isinstance(include, str) else include
        include_re = _compile(include, "include")
        # An empty include list records nothing; "*" skips the regex.
        self._include_all = "*" in include
        self._include = include_re
        self._exclude = _compile(
            tuple(exclude) if not isinstance(exclude, str) else exclude, "exclude"
        )
        self._proxies = TrustedProxies(trusted_proxies, header=forwarded_header)
        self._forwarded_name = forwarded_header.lower().encode("latin-1")
        self._rid_name = request_id_header.lower().encode("latin-1")
        self._session_cookie = session_cookie
        self._session_name = session_header.lower().encode("latin-1") if session_header else None
        self._agent_name = agent_id_header.lower().encode("latin-1") if agent_id_header else None
        self._send_500 = send_500
        self._new_id = request_id_factory or _new_request_id
        if isinstance(record_headers, str):
            raise TypeError(f"record_headers takes a list of names, not {record_headers!r}")
        self._record_query = record_query
        self._record_headers = frozenset(h.lower() for h in record_headers)
        self._all_headers = "*" in self._record_headers

    def _selected(self, path: str) -> bool:
        if self._exclude is not None and self._exclude.match(path):
            return False
        return self._include_all or (self._include is not None and bool(self._include.match(path)))

    def _context(self, scope: Scope) -> RequestContext:
        user_agent = request_id = cookie = session = agent = None
        forwarded: list[str] = []
        rid_name, fwd_name = self._rid_name, self._forwarded_name
        session_name, agent_name = self._session_name, self._agent_name
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == rid_name:
                request_id = value.decode("latin-1")
            elif name == b"cookie":
                cookie = (
                    value.decode("latin-1")
                    if cookie is None
                    else f"{cookie}; {value.decode('latin-1')}"
                )
            elif name == fwd_name:
                forwarded.append(value.decode("latin-1"))
            elif name == session_name:
                session = value.decode("latin-1")
            elif name == agent_name:
                agent = value.decode("latin-1")
        if request_id is None or not valid_request_id(request_id):
            request_id = self._new_id()
        if session is None and cookie is not None and self._session_cookie:
            session = cookie_parser(cookie).get(self._session_cookie)
        client = scope.get("client")
        peer = client[0] if client else None
        ip = self._proxies.client_ip(peer, forwarded) if self._proxies else peer
        return RequestContext(
            ip_address=ip,
            user_agent=user_agent,
            session_id=session or None,
            request_id=request_id,
            request_path=scope.get("path"),
            method=scope.get("method"),
            agent_id=agent,
        )

    def _request_fields(self, scope: Scope) -> dict[str, Any]:
        # Only what the options ask for; the writer redacts it like any field.
        fields: dict[str, Any] = {}
        if self._record_query:
            query = scope.get("query_string", b"")
            if query:
                fields["query_string"] = query.decode("latin-1")
        if self._record_headers:
            headers: dict[str, str] = {}
            for raw_name, raw_value in scope["headers"]:
                name = raw_name.decode("latin-1").lower()
                if self._all_headers or name in self._record_headers:
                    value = raw_value.decode("latin-1")
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if headers:
                fields["request_headers"] = headers
        return fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        context = self._context(scope)
        assert context.request_id is not None
        rid_header = (self._rid_name, context.request_id.encode("latin-1"))
        rid_name = self._rid_name
        scope[SCOPE_KEY] = RequestAudit(self.auditor, context)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == rid_name for name, _ in headers):
                    headers.append(rid_header)
                message = {**message, "headers": headers}
            await send(message)

        token = set_context(context)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status == 0:
                if self._send_500:
                    await self._internal_error(send, rid_header)
                status = 500
            # After the response started, the status the client saw is kept and
            # the outcome says the request failed.
            await self._record(scope, context, status, start, "error")
            raise
        finally:
            reset_context(token)
        await self._record(scope, context, status, start)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A websocket gets the request's context (for Depends(audit_context) and
        # code below it) but no api_access record; messages are not touched.
        context = self._context(scope)
        scope[SCOPE_KEY] = RequestAudit(self.auditor, context)
        token = set_context(context)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_context(token)

    async def _internal_error(self, send: Send, rid_header: tuple[bytes, bytes]) -> None:
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
        except Exception:  # noqa: S110 - the client is gone; the record below still happens
            pass

    async def _record(
        self,
        scope: Scope,
        context: RequestContext,
        status: int,
        start: float,
        outcome: str | None = None,
    ) -> None:
        path = context.request_path or ""
        if not self._selected(path):
            return
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        fields: dict[str, Any] = {"status_code": status or None, "duration_ms": duration_ms}
        if self._record_query or self._record_headers:
            fields.update(self._request_fields(scope))
        if outcome is None:
            outcome = outcome_for_status(status) if status else "error"
        await self.auditor._put(
            RawEvent(API_AUDIT, "api_access", outcome, time.time_ns(), context, fields, None)
        )
