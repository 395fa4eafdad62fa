"""AuditMiddleware: who did what, request by request, as an audit policy says.

ADAPT. A pure ASGI middleware (no ``BaseHTTPMiddleware``): it watches a request
through its ``receive`` and ``send`` (see :mod:`asgi_audit.web.exchange`) and never
holds a message back, so streaming responses stream and the app reads its own
body. It sets the request's audit context for ``Depends(audit_context)`` and for
code deeper in the call, returns the request id in a response header, and writes
the records the :class:`~asgi_audit.web.policy.AuditPolicy` asks for: an
``api_access`` record when the response is complete (``stage``:
``response_complete``), or when the app raised (``exception``, with the
exception's type, message and stack trace) or the client left first
(``disconnected``, with the bytes sent so far); optionally one when the request
arrives (``request_received``). Websocket sessions get ``websocket_connect`` and
``websocket_close`` records (see :mod:`asgi_audit.web.websocket`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from ..methods import outcome_for_status
from ..record.authorization import authorization_fields
from ..record.context import (
    ContextCell,
    RequestContext,
)
from ..record.events import API_AUDIT, RawEvent, new_raw
from ..store.stream import hand_off
from .bodies import render_body
from .dependencies import SCOPE_KEY, RequestAudit
from .exchange import HttpExchange, header_value, route_template, send_internal_error
from .failclosed import AUDIT_FAILURES, record_arrival, record_refusal, refused, send_unavailable
from .identity import IdentityResolver, resolve_identity
from .incoming import ContextReader, valid_request_id
from .options import DEFAULT_EXCLUDE, STAGES, MiddlewareOptionError, check_options
from .policy import REQUEST_LEVELS, AuditPolicy, Decision
from .startup import loud_options, refuse
from .websocket import audit_websocket

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from ..auditor import Auditor

__all__ = (
    "DEFAULT_EXCLUDE",
    "STAGES",
    "AuditMiddleware",
    "MiddlewareOptionError",
    "valid_request_id",
)

_perf_counter_ns: Final = time.perf_counter_ns
_time_ns: Final = time.time_ns


class AuditMiddleware:
    """Records HTTP requests and websocket sessions as the audit policy says.

    Args:
        app: the ASGI app.
        auditor: the :class:`~asgi_audit.Auditor`.
        policy: the :class:`~asgi_audit.web.policy.AuditPolicy` deciding each
            request's level (default: ``metadata`` for everything; health checks
            are left out by ``exclude``, as :data:`~asgi_audit.web.policy.DEFAULT_POLICY`
            would).
        include: glob patterns of paths to record (default every path).
        exclude: glob patterns of paths not to record (default :data:`DEFAULT_EXCLUDE`);
            exclude wins over include and over the policy. Excluded requests
            still get a context.
        stages: when a request is recorded: ``"response_complete"`` (default)
            and/or ``"request_received"`` (for long requests).
        identity_resolver: a callable given the ASGI scope at the end of the
            request, returning the user id, an :class:`~asgi_audit.web.identity.Identity`
            (user id and roles), or None; see :mod:`asgi_audit.web.identity` for
            what is tried without one.
        outcome_for_status: maps a status code to the record's ``outcome``
            (default: 2xx/3xx ``success``, 401/403 ``denied``, 429
            ``rate_limited``, other 4xx ``failed``, 5xx ``error``).
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
        request_id_factory: makes new request ids (default 32 random hex chars).
        record_query: record the query string at every level (the policy's
            ``request`` level records it anyway).
        record_headers: request headers recorded at every level (``"*"``, or a
            list holding it, for all), on top of the policy's allowlist at
            ``request`` and above; secret ones such as ``Authorization``,
            ``Cookie`` or ``X-Session-ID`` are masked by redaction.

    Raises:
        MiddlewareOptionError: a wrong option (a ``TypeError`` and a
            ``ValueError``), quoted, with what to write; a misspelt one with a
            suggestion. Built by Starlette or FastAPI, which build middleware
            inside the lifespan where a server would swallow the error, the
            middleware fails the lifespan's startup with the message instead,
            so the server stops (see :mod:`asgi_audit.web.startup`).
    """

    @loud_options
    def __init__(
        self,
        app: ASGIApp,
        *,
        auditor: Auditor,
        policy: AuditPolicy | None = None,
        include: Iterable[str] = ("*",),
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        stages: Iterable[str] = ("response_complete",),
        identity_resolver: IdentityResolver | None = None,
        outcome_for_status: Callable[[int], str] = outcome_for_status,
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
        # Every option is checked here, once (see asgi_audit.web.options); a
        # wrong one is a MiddlewareOptionError that stops the app at startup.
        options = check_options(
            auditor=auditor,
            policy=policy,
            include=include,
            exclude=exclude,
            stages=stages,
            identity_resolver=identity_resolver,
            outcome_for_status=outcome_for_status,
            trusted_proxies=trusted_proxies,
            forwarded_header=forwarded_header,
            request_id_header=request_id_header,
            session_cookie=session_cookie,
            session_header=session_header,
            agent_id_header=agent_id_header,
            send_500=send_500,
            request_id_factory=request_id_factory,
            record_query=record_query,
            record_headers=record_headers,
        )
        self.app = app
        self._refusal: MiddlewareOptionError | None = None
        self.auditor = options.auditor
        # Health checks are left out by ``exclude`` (DEFAULT_EXCLUDE): the same
        # paths DEFAULT_POLICY sets to ``none``, so ``exclude=()`` records them.
        self.policy = options.policy or _EVERYTHING
        self._stages = options.stages
        self._needs_identity = self.policy.needs_identity
        # A policy without rules decides the same for every request.
        self._fixed = None if self.policy.rules else self.policy.decide(path="/", method="GET")
        self._fail_closed_after = self.policy.fail_closed_timeout
        self._resolver: IdentityResolver | None = options.identity_resolver
        self._outcome = options.outcome_for_status
        self._include = options.include
        self._include_all = options.include_all
        self._exclude_exact = options.exclude_exact
        self._exclude = options.exclude
        self._reader = ContextReader(options)
        self._rid_name = options.request_id_name
        self._send_500 = options.send_500
        self._record_query = options.record_query
        self._record_headers = options.record_headers
        # Worked out once for the request path.
        self._on_arrival = "request_received" in self._stages
        self._on_completion = "response_complete" in self._stages
        self._extra_fields = self._record_query or bool(self._record_headers)
        # Every path not excluded by name is selected: no pattern to try.
        self._select_all = self._include_all and self._exclude is None

    def _refuse(self, app: ASGIApp, error: MiddlewareOptionError) -> None:
        """Built with a wrong option inside Starlette's stack build: every call
        reports ``error`` (see :func:`~asgi_audit.web.startup.refuse`)."""
        self.app = app
        self._refusal = error

    def _selected(self, path: str) -> bool:
        if path in self._exclude_exact or (self._exclude is not None and self._exclude.match(path)):
            return False
        return self._include_all or (self._include is not None and bool(self._include.match(path)))

    def _context(self, scope: Scope) -> RequestContext:
        """The request's context, from its scope (see :mod:`asgi_audit.web.incoming`)."""
        return self._reader.read(scope)

    def _request_fields(self, scope: Scope, decision: Decision) -> dict[str, Any]:
        # The query string and the allowed headers; the writer redacts them.
        fields: dict[str, Any] = {}
        request_level = decision.level in REQUEST_LEVELS
        if self._record_query or request_level:
            query = scope.get("query_string", b"")
            if query:
                fields["query_string"] = query.decode("latin-1")
        wanted = self._record_headers | decision.headers if request_level else self._record_headers
        if wanted:
            every = "*" in wanted
            headers: dict[str, str] = {}
            for raw_name, raw_value in scope["headers"]:
                name = raw_name.decode("latin-1").lower()
                if every or name in wanted:
                    value = raw_value.decode("latin-1")
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if headers:
                fields["request_headers"] = headers
        return fields

    def _decide(self, scope: Scope, cell: ContextCell, category: str = API_AUDIT) -> Decision:
        # The policy's decision for a selected path (callers check ``_selected``).
        context = cell.context
        return self.policy.decide(
            path=scope.get("path", ""),
            method=scope.get("method", "GET"),
            category=category,
            user_id=context.user_id,
            roles=cell.roles,
        )

    def _identify(self, scope: Scope, cell: ContextCell) -> None:
        # What the app said (set_actor) wins; otherwise ask the resolver and the scope.
        if cell.context.user_id is not None:
            return
        found = resolve_identity(scope, self._resolver)
        if found is not None:
            if found.user_id is not None:
                cell.context = cell.context.replace(user_id=found.user_id)
            if found.roles and not cell.roles:
                cell.roles = found.roles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._refusal is not None:
            if self._refusal is not None:
                await refuse(self._refusal, scope, receive, send)
            elif scope["type"] == "websocket":
                await audit_websocket(self, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        # An HTTP request: the hot path, kept in this one coroutine.
        start = _perf_counter_ns()
        context = self._context(scope)
        request_id = context.request_id
        assert request_id is not None
        rid_header = (self._rid_name, request_id.encode("latin-1"))
        # The request's cell, in the scope for Depends(audit_context) and, while
        # the app runs, in the ContextVar.
        cell = scope[SCOPE_KEY] = RequestAudit(self.auditor, context)
        path = scope.get("path", "")
        # Before the app runs, only what the path and method say is known; a
        # policy with user or role rules decides again once the user is.
        if path in self._exclude_exact or not (self._select_all or self._selected(path)):
            early = _NOT_RECORDED
        elif self._fixed is not None:
            early = self._fixed
        elif self._needs_identity:
            early = self.policy.highest(path=path, method=scope.get("method", "GET"))
        else:
            early = self.policy.decide(path=path, method=scope.get("method", "GET"))
        body_limit = early.max_body_bytes
        if body_limit and early.level != "request_response":
            body_limit = 0
        request_type = header_value(scope, b"content-type") if body_limit else None
        exchange = HttpExchange(receive, send, rid_header, body_limit, request_type, cell)
        # With user or role rules the user is not known yet: the record as the
        # request arrives follows the highest level any rule could give it.
        if early.fail_closed:
            # On disk before the app runs, or the app never runs (web/failclosed.py).
            why = await record_arrival(
                self.auditor, cell, self._request_fields(scope, early), self._fail_closed_after
            )
            if why is not None:
                sent = await send_unavailable(send, rid_header)
                record_refusal(self.auditor, refused(cell, start, sent, why))
                return
        elif self._on_arrival and early.level != "none":
            fields = {"stage": "request_received", **self._request_fields(scope, early)}
            await self._put(scope, cell, "received", fields, None)
        exchange.enter()
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            if exchange.status == 0 and not exchange.disconnected:
                if early.fail_closed and isinstance(exc, AUDIT_FAILURES):
                    # The route's own durable event failed: the trail, not the app.
                    await send_unavailable(send, rid_header, close=True)
                    exchange.status = 503
                elif self._send_500:
                    # Here or, with send_500=False, in the server: the client gets a 500.
                    await send_internal_error(send, rid_header)
                    exchange.status = 500
                else:
                    exchange.status = 500
            raw = self._record(scope, cell, exchange, start, exc, early)
            if raw is not None:
                await self.auditor._put(raw)
            raise
        finally:
            exchange.leave()
        raw = self._record(scope, cell, exchange, start, None, early)
        if raw is not None:
            # Enqueued at once when the stream has room, else waits as _put does.
            auditor = self.auditor
            seq = auditor._offer(raw)
            if seq < 0:
                await hand_off()
            elif not seq:
                await auditor._put(raw)

    def _record(
        self,
        scope: Scope,
        cell: ContextCell,
        exchange: HttpExchange,
        start: int,
        exc: BaseException | None,
        early: Decision,
    ) -> RawEvent | None:
        """The ``api_access`` record of a request that is over, if one is due."""
        if early is _NOT_RECORDED:
            return None
        if cell.context.user_id is None:
            self._identify(scope, cell)
        # Without user or role rules the decision made at the start stands.
        decision = self._decide(scope, cell) if self._needs_identity else early
        if decision.level == "none" or (exc is None and not self._on_completion):
            return None
        status = exchange.status
        # Whole microseconds, as milliseconds with three decimals.
        elapsed = (_perf_counter_ns() - start + 500) // 1000
        fields: dict[str, Any] = {
            "status_code": status or None,
            "duration_ms": elapsed / 1000,
            "response_bytes": exchange.bytes_sent,
        }
        if exchange.disconnected or (exc is None and not exchange.complete):
            stage = outcome = "disconnected"
        elif exc is not None:
            stage, outcome = "exception", "error"
            fields["exception_type"] = type(exc).__name__
            fields["error_message"] = str(exc)
        else:
            stage, outcome = "response_complete", self._outcome(status)
        fields["stage"] = stage
        if cell.authorization is not None or status in (401, 403):
            fields.update(authorization_fields(cell.authorization, status))
        level = decision.level
        if level != "metadata":
            fields["audit_level"] = level
        template = route_template(scope)
        if template is not None:
            fields["resource"] = template
        if self._extra_fields or level in REQUEST_LEVELS:
            fields.update(self._request_fields(scope, decision))
        if level == "request_response":
            limit = decision.max_body_bytes
            if exchange.request_body is not None:
                tap = exchange.request_body
                fields["request_body"] = render_body(
                    tap.data, tap.size, exchange.request_type, limit
                )
            if exchange.response_body is not None:
                tap = exchange.response_body
                fields["response_body"] = render_body(
                    tap.data, tap.size, exchange.response_type, limit
                )
        return new_raw(
            RawEvent,
            (
                API_AUDIT,
                "api_access",
                outcome,
                _time_ns(),
                cell.context,
                fields,
                exc if stage == "exception" else None,
                False,
            ),
        )

    async def _put(
        self,
        scope: Scope,
        cell: ContextCell,
        outcome: str,
        fields: dict[str, Any],
        exc: BaseException | None,
        event_type: str = "api_access",
    ) -> None:
        raw = RawEvent(API_AUDIT, event_type, outcome, _time_ns(), cell.context, fields, exc)
        await self.auditor._put(raw)


_EVERYTHING: Final = AuditPolicy()
_NOT_RECORDED: Final = Decision(level="none", rule=None, headers=frozenset(), max_body_bytes=0)
