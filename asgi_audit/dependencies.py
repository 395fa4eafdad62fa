"""``Depends(audit_context)``: the request's :class:`AuditContext` for a route.

ADAPT. The middleware puts the request's context and the Auditor into the ASGI
scope; :func:`audit_context` hands a route an :class:`AuditContext` bound to them,
whose event methods fill in the IP, user agent, session and request id.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import HTTPConnection

from .events import RawEvent
from .methods import EventMethods
from .sync import SyncAuditor

if TYPE_CHECKING:
    from .auditor import Auditor
    from .context import RequestContext

__all__ = ("SCOPE_KEY", "AuditContext", "RequestAudit", "audit_context")

#: The ASGI scope key under which the middleware leaves a :class:`RequestAudit`.
SCOPE_KEY: Final = "asgi_audit"


@dataclass(slots=True)
class RequestAudit:
    """What the middleware leaves in the scope for the dependency."""

    auditor: Auditor
    context: RequestContext


class AuditContext(EventMethods[Coroutine[Any, Any, None]]):
    """The event methods of the Auditor, bound to one request's context.

    ``await audit.login_attempt("failed", error_message="Invalid password")``
    records the request's IP, user agent, session id and request id with it.
    """

    __slots__ = ("auditor", "context")

    def __init__(self, auditor: Auditor, context: RequestContext) -> None:
        self.auditor = auditor
        self.context = context

    @property
    def ip_address(self) -> str | None:
        """The client IP (through trusted proxies only)."""
        return self.context.ip_address

    @property
    def user_agent(self) -> str | None:
        """The client's User-Agent header."""
        return self.context.user_agent

    @property
    def session_id(self) -> str | None:
        """The session id as the client sent it (stored hashed by default)."""
        return self.context.session_id

    @property
    def request_id(self) -> str | None:
        """The request id, also returned in the response header."""
        return self.context.request_id

    @property
    def agent_id(self) -> str | None:
        """The AI agent acting, when known."""
        return self.context.agent_id

    def bind(self, **changes: str | None) -> AuditContext:
        """A context with ``changes`` (``agent_id=``, ``user_id=``, ...) for later events."""
        return AuditContext(self.auditor, self.context.replace(**changes))

    @property
    def sync(self) -> SyncAuditor:
        """The same methods for sync code (a ``def`` route), bound to this context."""
        return SyncAuditor(self.auditor, self.context)

    def _bound_context(self) -> RequestContext:
        return self.context

    def _deliver(self, raw: RawEvent) -> Coroutine[Any, Any, None]:
        return self.auditor._put(raw)


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
    return AuditContext(state.auditor, state.context)
