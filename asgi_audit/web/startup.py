"""A wrong AuditMiddleware option stops the app at startup, never a 500 per request.

ADAPT. Two traps stand between a wrong option and a loud startup failure:

* Starlette (FastAPI too) builds its middleware stack lazily, inside the app's
  first ASGI call: the lifespan. An exception raised there reaches the server's
  lifespan handling, and uvicorn's default lifespan mode ("auto") takes any
  exception there for an app without lifespan support: it logs "ASGI 'lifespan'
  protocol appears unsupported" at info level and serves, and each request then
  fails building the stack again, with a 500.
* Python refuses a misspelt keyword (``record_header=``) before ``__init__`` runs.

:func:`loud_options` wraps the middleware's ``__init__``, keeping its typed
signature (so a type checker still flags a misspelt keyword): a call that does
not bind to the signature becomes a
:class:`~asgi_audit.web.options.MiddlewareOptionError` too, with a "did you
mean" suggestion, as does a wrong value (:func:`~asgi_audit.web.options.check_options`).
Built anywhere else, the middleware raises the error at once. Built by
Starlette's stack build, it is built *refusing* instead (:func:`refuse`): it
answers the lifespan with ``lifespan.startup.failed`` carrying the message (the
ASGI spec has the server log it and exit; uvicorn logs it as an error and exits
with status 3), and raises the error for an http or websocket scope (a server
run without lifespan).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from starlette.applications import Starlette

from .options import MiddlewareOptionError, close_match, quote

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

__all__ = ("loud_options", "refuse")


class _Refusable(Protocol):
    def _refuse(self, app: Any, error: MiddlewareOptionError) -> None: ...


_M = TypeVar("_M", bound=_Refusable)
_P = ParamSpec("_P")


def loud_options(
    init: Callable[Concatenate[_M, _P], None],
) -> Callable[Concatenate[_M, _P], None]:
    """Wrap a middleware's ``__init__`` so that a wrong call fails the app's startup.

    The typed signature is kept for type checkers (and ``inspect.signature``).
    At run time a call that does not bind (an unknown keyword, with a "did you
    mean" suggestion; a missing ``auditor``; stray positional arguments) and a
    :class:`MiddlewareOptionError` from ``__init__`` are raised at once, unless
    Starlette is building its middleware stack: then the middleware is built
    refusing (``_refuse``) and reports the error through the ASGI protocol.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def checked(self: _M, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        error = _call_error(signature, self, args, kwargs)
        if error is None:
            try:
                init(self, *args, **kwargs)
            except MiddlewareOptionError as exc:
                error = exc
            else:
                return
        caller: FrameType | None = sys._getframe(1)
        while caller is not None and caller.f_code.co_name == "__init__":
            caller = caller.f_back  # a subclass's __init__ calling this one
        if not _in_stack_build(caller):
            raise error
        self._refuse(args[0] if args else kwargs.get("app"), error)

    return checked


def _call_error(
    signature: inspect.Signature, self: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> MiddlewareOptionError | None:
    try:
        signature.bind(self, *args, **kwargs)
    except TypeError as exc:
        reason = str(exc)
    else:
        return None
    parameters = signature.parameters
    options = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = [name for name in kwargs if name not in parameters]
    if unknown:
        parts = []
        for name in unknown:
            close = close_match(name, options)
            hint = f"did you mean {close}?" if close else f"the options are {', '.join(options)}"
            parts.append(f"unknown option {name}={quote(kwargs[name])} ({hint})")
        return MiddlewareOptionError("AuditMiddleware: " + "; ".join(parts))
    if len(args) > 1:
        return MiddlewareOptionError(
            f"AuditMiddleware: the options are keywords, got positional arguments"
            f" {quote(args[1:])} after the app (write auditor=auditor, policy=...)"
        )
    missing = [
        name
        for name, p in parameters.items()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and name not in kwargs
    ]
    if missing:
        return MiddlewareOptionError(
            f"AuditMiddleware: missing {', '.join(f'{name}=' for name in missing)}"
            " (expected your Auditor: add_middleware(AuditMiddleware, auditor=auditor))"
        )
    return MiddlewareOptionError(f"AuditMiddleware: {reason}")


def _in_stack_build(frame: FrameType | None) -> bool:
    """Whether ``frame`` is a Starlette app (FastAPI's override included) building
    its middleware stack: inside the app's first ASGI call, where an exception
    would go to the server's lifespan handling instead of stopping the app."""
    return (
        frame is not None
        and frame.f_code.co_name == "build_middleware_stack"
        and isinstance(frame.f_locals.get("self"), Starlette)
    )


async def refuse(error: MiddlewareOptionError, scope: Scope, receive: Receive, send: Send) -> None:
    """What a middleware built with a wrong option does with every ASGI call.

    The lifespan's startup is answered ``lifespan.startup.failed`` with the
    message: the server logs it and stops (uvicorn exits with status 3). Any
    other scope raises the error (the server logs it; the client gets a 500).
    """
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
    # A fresh traceback each time: the same error is raised for every request.
    raise error.with_traceback(None)
