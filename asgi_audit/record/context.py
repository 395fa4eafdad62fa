"""The request's audit context, carried in a ContextVar.

PURE: no event loop, no file. The middleware builds one :class:`RequestContext`
per request and sets it here; the event methods read it at capture time, so tool
code anywhere below a request records the request's IP, user agent, session and
request id without being handed them. ``contextvars`` travel into tasks spawned
below the request and into FastAPI's threadpool for ``def`` routes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .authorization import Authorization

__all__ = (
    "ContextCell",
    "RequestContext",
    "build_context",
    "current_cell",
    "current_context",
    "get_cell",
    "reset_cell",
    "reset_context",
    "set_cell",
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
        if type(self) is not RequestContext or not changes.keys() <= _INDEX.keys():
            # A subclass, or a name that is no field: dataclasses says what is wrong.
            return dataclasses.replace(self, **changes)
        values = list(_values(self))
        for name, value in changes.items():
            values[_INDEX[name]] = value
        return build_context(*values)


# A frozen dataclass sets each field through ``object.__setattr__`` with its
# arguments passed by name; the request path builds one context per request (and
# a new one per change), so it sets the slots directly instead, in field order.
_NAMES: Final = tuple(field.name for field in dataclasses.fields(RequestContext))
_INDEX: Final = {name: index for index, name in enumerate(_NAMES)}
_values: Final = attrgetter(*_NAMES)
_new: Final = object.__new__


def _setter(name: str) -> Callable[[RequestContext, str | None], None]:
    setter: Callable[[RequestContext, str | None], None] = getattr(RequestContext, name).__set__
    return setter


_set_ip = _setter("ip_address")
_set_user_agent = _setter("user_agent")
_set_session = _setter("session_id")
_set_request_id = _setter("request_id")
_set_path = _setter("request_path")
_set_method = _setter("method")
_set_agent = _setter("agent_id")
_set_user = _setter("user_id")
_set_trace = _setter("trace_id")
_set_span = _setter("span_id")
_set_rejected = _setter("ip_address_rejected")


def build_context(
    ip_address: str | None,
    user_agent: str | None,
    session_id: str | None,
    request_id: str | None,
    request_path: str | None,
    method: str | None,
    agent_id: str | None,
    user_id: str | None,
    trace_id: str | None,
    span_id: str | None,
    ip_address_rejected: str | None,
) -> RequestContext:
    """``RequestContext(...)`` with every field given, in the order of its fields."""
    context: RequestContext = _new(RequestContext)
    _set_ip(context, ip_address)
    _set_user_agent(context, user_agent)
    _set_session(context, session_id)
    _set_request_id(context, request_id)
    _set_path(context, request_path)
    _set_method(context, method)
    _set_agent(context, agent_id)
    _set_user(context, user_id)
    _set_trace(context, trace_id)
    _set_span(context, span_id)
    _set_rejected(context, ip_address_rejected)
    return context


class ContextCell:
    """The one place a request's current context lives.

    The ContextVar holds the cell, not the context: a change made anywhere in the
    request (``AuditContext.set_actor`` after login) is seen by every task and
    thread of that request, and by the middleware's own record at the end, while
    an event captured earlier keeps the context it saw.
    """

    __slots__ = ("authorization", "context", "roles")

    def __init__(self, context: RequestContext, roles: tuple[str, ...] = ()) -> None:
        self.context = context
        #: The actor's roles, for the audit policy (never written to the files).
        self.roles = roles
        #: What the request's code decided (``authorize``), for its record.
        self.authorization: Authorization | None = None


_current: ContextVar[ContextCell | None] = ContextVar("asgi_audit_context", default=None)


#: :func:`set_context` for a :class:`ContextCell`, without the check of its type:
#: the middleware's form, once per request; :func:`reset_cell` undoes it.
set_cell: Final = _current.set
#: :func:`reset_context`, as the middleware calls it.
reset_cell: Final = _current.reset
#: :func:`current_cell`, as the event methods call it.
get_cell: Final = _current.get


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
