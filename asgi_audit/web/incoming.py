"""What a request says about itself: its audit context, read from the ASGI scope.

ADAPT. :class:`ContextReader` reads the headers the middleware needs (user
agent, request id, session, agent id, forwarding) in one pass over the scope's
headers, resolves the client address (through trusted proxies only; see
:mod:`asgi_audit.web.proxies`), keeps or replaces the incoming request id, and
builds the request's :class:`~asgi_audit.record.context.RequestContext`.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Final

from starlette.requests import cookie_parser

from ..record.context import RequestContext, build_context
from ..record.tracing import trace_ids
from .proxies import client_address

if TYPE_CHECKING:
    from starlette.types import Scope

    from .options import Options

__all__ = ("ContextReader", "new_request_id", "valid_request_id")

# A kept request id: 8-128 of letters, digits and ``-_.:``. Nothing that can
# carry a newline, a quote or a secret-sized blob; anything else is replaced.
_REQUEST_ID_RE: Final = re.compile(r"[A-Za-z0-9._:-]{8,128}\Z")


# The most peers whose client address ContextReader.read keeps (see there), and the
# longest peer text kept (an address with a zone id fits; other text is no address).
_PEERS_KEPT: Final = 4096
_PEER_CHARS: Final = 100


# New request ids made ahead, 64 at a time: one read of the system's random
# source per 64 requests instead of one per request.
_ID_BATCH: Final = 64
_ids: list[str] = []
# A child process must never hand out the ids its parent may also use.
os.register_at_fork(after_in_child=_ids.clear)


def new_request_id() -> str:
    # 128 random bits as 32 hex characters, the form uuid4().hex gave, without
    # building a UUID object per request.
    try:
        return _ids.pop()
    except IndexError:
        block = os.urandom(16 * _ID_BATCH).hex()
        _ids.extend(block[start : start + 32] for start in range(0, len(block), 32))
        return _ids.pop()


def valid_request_id(value: str) -> bool:
    """Whether an incoming request id is kept (8-128 of ``A-Za-z0-9._:-``)."""
    return _REQUEST_ID_RE.match(value) is not None


class ContextReader:
    """Builds each request's context from its scope, as the middleware's options say."""

    def __init__(self, options: Options) -> None:
        self._proxies = options.proxies
        self._proxied = bool(options.proxies)
        self._peers: dict[str | None, tuple[str | None, str | None]] = {}
        self._forwarded_name = options.forwarded_name
        self._rid_name = options.request_id_name
        self._session_cookie = options.session_cookie
        self._session_name = options.session_name
        self._agent_name = options.agent_name
        self._new_id = options.request_id_factory or new_request_id
        # The request headers read reads; any other is passed over at once.
        self._read_headers = frozenset(
            name
            for name in (
                b"user-agent",
                b"cookie",
                self._rid_name,
                self._forwarded_name,
                self._session_name,
                self._agent_name,
            )
            if name
        )

    def read(self, scope: Scope) -> RequestContext:
        """The request's context: its headers read once, its client address resolved."""
        user_agent = request_id = cookie = session = agent = None
        forwarded: list[str] = []
        read = self._read_headers
        rid_name, fwd_name = self._rid_name, self._forwarded_name
        session_name, agent_name = self._session_name, self._agent_name
        for name, value in scope["headers"]:
            if name not in read:
                continue
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
        if request_id is None or _REQUEST_ID_RE.match(request_id) is None:
            request_id = self._new_id()
        if session is None and cookie is not None:
            wanted = self._session_cookie
            # Parsed only when the cookie's name is somewhere in the header.
            if wanted and wanted in cookie:
                session = cookie_parser(cookie).get(wanted)
        client = scope.get("client")
        peer = client[0] if client else None
        if self._proxied:
            ip, rejected = client_address(self._proxies, peer, forwarded)
        else:
            # Without trusted proxies the address is the peer's alone: worked out
            # once per peer (a bounded cache, emptied when full).
            known = self._peers.get(peer)
            if known is None:
                known = client_address(self._proxies, peer, forwarded)
                if peer is None or len(peer) <= _PEER_CHARS:
                    if len(self._peers) >= _PEERS_KEPT:
                        self._peers.clear()
                    self._peers[peer] = known
            ip, rejected = known
        trace_id, span_id = trace_ids()
        return build_context(
            ip,
            user_agent,
            session or None,
            request_id,
            scope.get("path"),
            scope.get("method"),
            agent,
            None,
            trace_id,
            span_id,
            rejected,
        )
