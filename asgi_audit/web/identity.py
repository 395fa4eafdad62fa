"""Who acted: the authenticated user of a request, and their roles.

ADAPT (reads the ASGI scope, no I/O). In order, the first that names a user wins:

1. what the app said itself: ``AuditContext.set_actor(user_id, roles=...)``;
2. the ``identity_resolver`` option: a callable given the scope, returning a user
   id, an :class:`Identity`, or None;
3. Starlette's ``AuthenticationMiddleware``: ``scope["user"]`` when
   ``is_authenticated``, its ``identity`` (else ``display_name``), and the
   scopes of ``scope["auth"]`` as roles;
4. ``request.state``: ``user_id`` (or ``user``: a string, or an object with
   ``id``/``username``), and ``roles``.

A resolver that raises is reported once per error type on stderr and treated as
None: identity must never break a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, NamedTuple

from ..store.reporting import report

__all__ = ("Identity", "IdentityResolver", "resolve_identity")


class Identity(NamedTuple):
    """A user id and the roles it holds."""

    user_id: str | None
    roles: tuple[str, ...] = ()


IdentityResolver = Callable[[MutableMapping[str, Any]], "Identity | str | None"]

_reported: set[str] = set()


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _roles(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, (str, bytes)):
        return (value,) if isinstance(value, str) and value else ()
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    return ()


def _from_user(scope: MutableMapping[str, Any]) -> Identity | None:
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    user_id: str | None = None
    for attribute in ("identity", "display_name"):
        try:
            user_id = _text(getattr(user, attribute))
        except (NotImplementedError, AttributeError):
            continue
        if user_id:
            break
    auth = scope.get("auth")
    return Identity(user_id, _roles(getattr(auth, "scopes", None)))


def _from_state(scope: MutableMapping[str, Any]) -> Identity | None:
    state = scope.get("state")
    if not isinstance(state, MutableMapping):
        return None
    user_id = _text(state.get("user_id"))
    if user_id is None:
        user = state.get("user")
        if isinstance(user, str):
            user_id = _text(user)
        elif user is not None:
            user_id = _text(getattr(user, "id", None) or getattr(user, "username", None))
    roles = _roles(state.get("roles"))
    if user_id is None and not roles:
        return None
    return Identity(user_id, roles)


def resolve_identity(
    scope: MutableMapping[str, Any], resolver: IdentityResolver | None = None
) -> Identity | None:
    """The request's identity from the resolver, the scope's user, or its state."""
    if resolver is not None:
        try:
            found = resolver(scope)
        except Exception as exc:  # identity must never break a request
            name = type(exc).__name__
            if name not in _reported:
                _reported.add(name)
                report(f"identity_resolver raised {name}: {exc}; recording no user")
            found = None
        if isinstance(found, Identity):
            return found
        if found is not None:
            return Identity(_text(found))
    if scope.get("user") is not None:
        authenticated = _from_user(scope)
        if authenticated is not None:
            return authenticated
    state = scope.get("state")
    if type(state) is dict and not ("user_id" in state or "user" in state or "roles" in state):
        return None  # the common case, without the checks of _from_state
    return _from_state(scope)
