"""Route coverage: every route and websocket of an app, with what the audit policy
gives it and whether its code records an authorization decision.

ADAPT. :func:`route_coverage` walks a Starlette or FastAPI app's routes (into
mounted apps), finds its :class:`~asgi_audit.AuditMiddleware` (added with
``add_middleware``, or wrapping the app), and for each route says:

* the level the middleware records it at: its ``include``/``exclude`` patterns,
  then the audit policy's decision, both on the route's path template
  (``/items/{item_id}``), per method, and whether it fails closed;
* where its code calls ``authorize(...)`` (ASVS V16.1 asks that authorization
  decisions be logged): the endpoint, its FastAPI dependencies (and theirs),
  and the functions they call by name, found by reading their source. A call made
  some other way (through an attribute of an object, a callback, another module's
  helper reached through an import of the module) is not seen; a route flagged
  wrongly can still be checked in the trail, where its records lack
  ``authz_decision``.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from starlette.routing import Mount, Route, WebSocketRoute

from .middleware import AuditMiddleware
from .policy_rules import LEVELS

__all__ = ("RouteCoverage", "route_coverage")

#: The name of the method whose calls count as a recorded decision.
_AUTHORIZE: Final = "authorize"
#: How deep named calls are followed from a route's own functions.
_DEPTH: Final = 4
#: The packages whose routes (OpenAPI, the docs pages) and functions are not the app's.
_LIBRARIES: Final = frozenset({"fastapi", "starlette", "asgi_audit", "pydantic"})


@dataclass(frozen=True, slots=True)
class RouteCoverage:
    """One route, as the audit sees it."""

    kind: str  # "http" or "websocket"
    path: str  # the path template, mounts included
    methods: tuple[str, ...]
    endpoint: str  # module:qualname
    level: str  # the policy's level, "excluded", or "unaudited" (no middleware)
    rule: str | None  # the deciding rule, if one matched
    fail_closed: bool
    authorizes: tuple[str, ...]  # the functions that call authorize(...)

    @property
    def recorded(self) -> bool:
        """Whether the middleware records requests of this route."""
        return self.level not in ("none", "excluded", "unaudited")

    @property
    def framework(self) -> bool:
        """A route the framework adds (FastAPI's OpenAPI document and docs pages)."""
        return self.endpoint.split(".")[0].split(":")[0] in _LIBRARIES

    @property
    def missing_decision(self) -> bool:
        """Recorded, the app's own, and no code of it records an authorization decision."""
        return self.recorded and not self.framework and not self.authorizes


def _middleware(app: Any) -> tuple[AuditMiddleware | None, Any]:
    """The app's AuditMiddleware (built from its options, never started), and the
    app whose routes to walk."""
    inner = app
    while isinstance(inner, AuditMiddleware) or (
        not hasattr(inner, "routes") and hasattr(inner, "app")
    ):
        if isinstance(inner, AuditMiddleware):
            return inner, _routes_owner(inner.app)
        inner = inner.app
    for entry in getattr(inner, "user_middleware", ()):
        if getattr(entry, "cls", None) is AuditMiddleware:
            built = AuditMiddleware(inner, *getattr(entry, "args", ()), **entry.kwargs)
            return built, inner
    return None, inner


def _routes_owner(app: Any) -> Any:
    while not hasattr(app, "routes") and hasattr(app, "app"):
        app = app.app
    return app


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes or ():
        if isinstance(route, Mount):
            yield from _walk(getattr(route, "routes", ()), prefix + route.path)
        elif isinstance(route, Route | WebSocketRoute):
            yield prefix + route.path, route
        elif callable(getattr(route, "effective_candidates", None)):
            # A router FastAPI includes lazily (0.165 on): its routes as they are served,
            # each with its full path and the dependencies of every router above it.
            candidates = [*route.effective_candidates()]
            lower = getattr(route, "effective_low_priority_routes", None)
            if callable(lower):
                candidates += lower()
            for candidate in candidates:
                if callable(getattr(candidate, "effective_candidates", None)):
                    yield from _walk([candidate], prefix)
                elif hasattr(candidate, "endpoint") and hasattr(candidate, "path"):
                    yield prefix + candidate.path, candidate


def _name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None) or "?"
    return f"{module}:{getattr(function, '__qualname__', repr(function))}"


def _functions_of(route: Any) -> list[Callable[..., Any]]:
    """The route's endpoint and, for FastAPI, every dependency's callable."""
    found = [route.endpoint]
    dependant = getattr(route, "dependant", None)
    stack = [dependant] if dependant is not None else []
    while stack:
        node = stack.pop()
        for dependency in getattr(node, "dependencies", ()):
            if dependency.call is not None:
                found.append(dependency.call)
            stack.append(dependency)
    return found


def _source_of(function: Any) -> Any:
    """The Python function whose source is the callable's code, or None: the function
    itself, unwrapped, or a dependency instance's class's ``__call__``."""
    target = inspect.unwrap(function)
    if inspect.isfunction(target):
        return target
    found = inspect.getattr_static(type(target), "__call__", None)
    return found if inspect.isfunction(found) else None


def _calls(target: Any) -> tuple[bool, list[Callable[..., Any]]]:
    """Whether ``target``'s source calls ``.authorize(...)`` or ``authorize(...)``,
    and the functions it calls by a name its module or closure defines."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(target)))
    except (OSError, TypeError, SyntaxError):
        return False, []
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return False, []
    code = getattr(target, "__func__", target)
    names: dict[str, Any] = dict(getattr(code, "__globals__", {}))
    closure = inspect.getclosurevars(code) if inspect.isfunction(code) else None
    if closure is not None:
        names.update(closure.nonlocals)
    authorizes, called = False, []
    for node in _body_nodes(tree.body[0]):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == _AUTHORIZE:
            authorizes = True
        elif isinstance(func, ast.Name):
            if func.id == _AUTHORIZE:
                authorizes = True
            elif inspect.isfunction(names.get(func.id)) and not _library(names[func.id]):
                called.append(names[func.id])
    return authorizes, called


def _body_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of a function's own body: not its decorators (a route decorator's
    ``Depends(...)`` is a dependency, read as one) nor the functions it defines
    (a factory of a dependency does not decide by being called)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _library(function: Callable[..., Any]) -> bool:
    """A function of the frameworks (or of asgi_audit) rather than of the app."""
    module = getattr(function, "__module__", "") or ""
    return module.split(".")[0] in _LIBRARIES


def _authorizers(route: Any) -> tuple[str, ...]:
    found: list[str] = []
    seen: set[int] = set()
    frontier = [(function, 0) for function in _functions_of(route)]
    while frontier:
        function, depth = frontier.pop(0)
        target = _source_of(function)
        if target is None or id(target) in seen:
            continue
        seen.add(id(target))
        authorizes, called = _calls(target)
        if authorizes:
            found.append(_name(target))
        if depth < _DEPTH:
            frontier.extend((f, depth + 1) for f in called)
    return tuple(found)


def route_coverage(app: Any) -> tuple[bool, list[RouteCoverage]]:
    """(whether the app has an AuditMiddleware, each of its routes as the audit sees it)."""
    middleware, owner = _middleware(app)
    found = []
    for path, route in _walk(getattr(owner, "routes", ())):
        websocket = isinstance(getattr(route, "original_route", route), WebSocketRoute)
        methods = () if websocket else tuple(sorted(getattr(route, "methods", None) or ()))
        if "GET" in methods:
            methods = tuple(m for m in methods if m != "HEAD")  # Starlette adds it to GET
        level, rule, fail_closed = "unaudited", None, False
        if middleware is not None:
            level, rule, fail_closed = _decided(middleware, path, methods or ("GET",))
        found.append(
            RouteCoverage(
                kind="websocket" if websocket else "http",
                path=path,
                methods=methods,
                endpoint=_name(inspect.unwrap(route.endpoint)),
                level=level,
                rule=rule,
                fail_closed=fail_closed,
                authorizes=_authorizers(route),
            )
        )
    return middleware is not None, found


def _decided(mw: AuditMiddleware, path: str, methods: tuple[str, ...]) -> tuple[str, Any, bool]:
    if path in mw._exclude_exact or not mw._selected(path):
        return "excluded", None, False
    policy = mw.policy
    decide = policy.highest if policy.needs_identity else policy.decide
    decisions = [decide(path=path, method=method) for method in methods]
    top = max(decisions, key=lambda d: LEVELS.index(d.level))
    return top.level, top.rule, any(d.fail_closed for d in decisions)
