"""The request's audit context, carried in a ContextVar.

PURE: no event loop, no file. The middleware builds one :class:`RequestContext`
per request and sets it here; the event methods read it at capture time, so tool
code anywhere below a request records the request's IP, user agent, session and
request id without being handed them. ``contextvars`` travel into tasks spawned
below the request and into FastAPI's threadpool for ``def`` routes.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar, Token
from dataclasses import dataclass

__all__ = (
    "ContextCell",
    "RequestContext",
    "current_cell",
    "current_context",
    "reset_context",
    "set_context",
)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What is known about the request an event belongs to.

    Immutable: a changed context (say, the agent id once known) is a new object
    set in the ContextVar, so an event captured earlier keeps what it saw.
    ``session_id`` holds the raw value the client sent; the writer hashes it
    before it reaches a file (see ``Auditor(session_ids=...)``). The middleware
    sets ``ip_address`` only to a canonical IPv4/IPv6 address.
    """

    ip_address: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    request_path: str | None = None
    method: str | None = None
    agent_id: str | None = None
    user_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    #: What the server gave as the client address when it was no IP address (cut
    #: short); ``ip_address`` is then None. Never a reason to trust the text.
    ip_address_rejected: str | None = None

    def replace(self, **changes: str | None) -> RequestContext:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


class ContextCell:
    """The one place a request's current context lives.

    The ContextVar holds the cell, not the context: a change made anywhere in the
    request (``AuditContext.set_actor`` after login) is seen by every task and
    thread of that request, and by the middleware's own record at the end, while
    an event captured earlier keeps the context it saw.
    """

    __slots__ = ("context", "roles")

    def __init__(self, context: RequestContext, roles: tuple[str, ...] = ()) -> None:
        self.context = context
        #: The actor's roles, for the audit policy (never written to the files).
        self.roles = roles


_current: ContextVar[ContextCell | None] = ContextVar("asgi_audit_context", default=None)


def current_context() -> RequestContext | None:
    """The context of the request being handled, or None outside a request."""
    cell = _current.get()
    return None if cell is None else cell.context


def current_cell() -> ContextCell | None:
    """The request's :class:`ContextCell`, or None outside a request."""
    return _current.get()


def set_context(context: RequestContext | ContextCell | None) -> Token[ContextCell | None]:
    """Make ``context`` current; give the token back to :func:`reset_context`."""
    if isinstance(context, RequestContext):
        context = ContextCell(context)
    return _current.set(context)


def reset_context(token: Token[ContextCell | None]) -> None:
    """Restore the context that was current before :func:`set_context`."""
    _current.reset(token)
