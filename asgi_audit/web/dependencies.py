"""``Depends(audit_context)``: the request's :class:`AuditContext` for a route.

ADAPT. The middleware puts the request's context and the Auditor into the ASGI
scope; :func:`audit_context` hands a route an :class:`AuditContext` bound to them,
whose event methods fill in the IP, user agent, session and request id.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import HTTPConnection

from ..methods import EventMethods
from ..record.context import ContextCell, RequestContext
from ..record.events import RawEvent
from ..sync import SyncAuditor

if TYPE_CHECKING:
    from ..auditor import Auditor

__all__ = ("SCOPE_KEY", "AuditContext", "RequestAudit", "audit_context")

#: The ASGI scope key under which the middleware leaves a :class:`RequestAudit`.
SCOPE_KEY: Final = "asgi_audit"


class RequestAudit(ContextCell):
    """What the middleware leaves in the scope for the dependency: the request's
    :class:`~asgi_audit.record.context.ContextCell` (the one object per request
    that the ContextVar holds too), with the Auditor."""

    __slots__ = ("auditor",)

    def __init__(self, auditor: Auditor, context: RequestContext) -> None:
        self.context = context
        self.roles = ()
        self.authorization = None
        self.auditor = auditor

    @property
    def cell(self) -> ContextCell:
        """The request's cell: this object."""
        return self


class AuditContext(EventMethods[Coroutine[Any, Any, None]]):
    """The event methods of the Auditor, bound to one request's context.

    ``await audit.login_attempt("failed", error_message="Invalid password")``
    records the request's IP, user agent, session id and request id with it.
    After a login, ``audit.set_actor(user_id)`` makes every later event of the
    request (and its ``api_access`` record) carry the user.
    """

    __slots__ = ("_cell", "_request", "auditor")

    def __init__(self, auditor: Auditor, context: RequestContext | ContextCell) -> None:
        self.auditor = auditor
        self._cell = context if isinstance(context, ContextCell) else ContextCell(context)
        # The request whose record ``authorize`` fills in: none for a context made
        # from a plain RequestContext; the request's own for a bound one.
        self._request = context if isinstance(context, ContextCell) else None

    @property
    def context(self) -> RequestContext:
        """The context the events of this object carry."""
        return self._cell.context

    @property
    def ip_address(self) -> str | None:
        """The client IP (through trusted proxies only)."""
        return self._cell.context.ip_address

    @property
    def user_agent(self) -> str | None:
        """The client's User-Agent header."""
        return self._cell.context.user_agent

    @property
    def session_id(self) -> str | None:
        """The session id as the client sent it (stored hashed by default)."""
        return self._cell.context.session_id

    @property
    def request_id(self) -> str | None:
        """The request id, also returned in the response header."""
        return self._cell.context.request_id

    @property
    def agent_id(self) -> str | None:
        """The AI agent acting, when known."""
        return self._cell.context.agent_id

    @property
    def user_id(self) -> str | None:
        """The authenticated user, when known."""
        return self._cell.context.user_id

    def set_actor(
        self,
        user_id: str | None,
        *,
        roles: Iterable[str] | None = None,
        agent_id: str | None = None,
    ) -> None:
        """Name who acts from now on in this request (say, right after a login).

        Every later event of the request, from any task or thread below it, and
        the middleware's ``api_access`` record carry ``user_id`` (and
        ``agent_id`` when given); ``roles`` feed the audit policy's role rules.
        """
        changes: dict[str, str | None] = {"user_id": user_id}
        if agent_id is not None:
            changes["agent_id"] = agent_id
        self._cell.context = self._cell.context.replace(**changes)
        if roles is not None:
            if isinstance(roles, str):
                raise TypeError(f"roles takes a list of names, not the string {roles!r}")
            self._cell.roles = tuple(roles)

    def bind(self, **changes: str | None) -> AuditContext:
        """A detached context with ``changes`` (``agent_id=``, ...) for some events only
        (its ``authorize`` still decides for the request)."""
        bound = AuditContext(self.auditor, self._cell.context.replace(**changes))
        bound._request = self._request
        return bound

    @property
    def sync(self) -> SyncAuditor:
        """The same methods for sync code (a ``def`` route), bound to this context."""
        return SyncAuditor(self.auditor, self._cell)

    def _bound_context(self) -> RequestContext:
        return self._cell.context

    def _bound_cell(self) -> ContextCell | None:
        return self._request

    def _deliver(self, raw: RawEvent) -> Coroutine[Any, Any, None]:
        return self.auditor._put(raw)

    def _deliver_all(self, raws: list[RawEvent]) -> Coroutine[Any, Any, None]:
        return self.auditor._deliver_all(raws)

    def _id_budget(self) -> tuple[int, int]:
        return self.auditor._id_budget()


def audit_context(request: HTTPConnection) -> AuditContext:
    """The request's :class:`AuditContext`, for ``Depends(audit_context)``.

    Works for HTTP and websocket routes (anything with a scope).

    Raises:
        RuntimeError: the app has no :class:`~asgi_audit.AuditMiddleware`.
    """
    state = request.scope.get(SCOPE_KEY)
    if not isinstance(state, RequestAudit):
        raise RuntimeError(
            "asgi_audit: no audit context on this request; add the middleware with "
            "`app.add_middleware(AuditMiddleware, auditor=auditor)`"
        )
    return AuditContext(state.auditor, state.cell)
