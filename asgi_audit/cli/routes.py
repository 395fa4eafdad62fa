"""``asgi-audit routes``: every route and websocket of an app, the level the audit
policy records it at, and the routes that record no authorization decision.

The app is imported as uvicorn imports it (``module:attribute``, from the
current directory or ``--app-dir``; ``--factory`` calls it first), so its module
runs; nothing is started and no request is made. See
:mod:`asgi_audit.web.routes` for what is read and what is not seen.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Final

from .common import EXIT_OK, CliError, Command
from .output import dump

__all__ = ("EXIT_MISSING", "ROUTES")

#: ``--check``: some recorded route records no authorization decision.
EXIT_MISSING: Final = 1

_EPILOG: Final = """\
examples:
  asgi-audit routes main:app
  asgi-audit routes myproject.api:create_app --factory --app-dir src
  asgi-audit routes main:app --check        # exit 1 if a recorded route decides nothing
  asgi-audit routes main:app --json

LEVEL is the audit policy's level for the route's path template (the highest of
its methods), "excluded" by the middleware's include/exclude, or "unaudited" with
no AuditMiddleware. AUTHZ names where the route's code calls authorize(); "-" on a
recorded route is flagged (ASVS V16.1: authorization decisions are logged).
exit status: 0, 1 with --check when a recorded route records no decision, 2 an error."""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="MODULE:ATTRIBUTE", help="the ASGI app, as uvicorn takes it")
    parser.add_argument("--app-dir", default=".", help="import the app from this directory")
    parser.add_argument(
        "--factory", action="store_true", help="the attribute is a function that makes the app"
    )
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit {EXIT_MISSING} if a recorded route records no authorization decision",
    )


def load_app(spec: str, app_dir: str, factory: bool) -> Any:
    """The app ``module:attribute`` names (called, with ``factory``).

    Raises:
        CliError: the spec is malformed, or the module or attribute cannot be loaded.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"expected MODULE:ATTRIBUTE (as uvicorn takes it), got {spec!r}")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the app's own import error, said in one line
        raise CliError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise CliError(f"{module_name!r} has no attribute {attribute!r}")
    if factory:
        found = found()
    return found


def _run(args: argparse.Namespace) -> int:
    from ..web.routes import route_coverage  # the web stack, only for this command

    audited, routes = route_coverage(load_app(args.app, args.app_dir, args.factory))
    missing = [r for r in routes if r.missing_decision]
    if args.json:
        dump(
            {
                "audit_middleware": audited,
                "routes": [
                    {
                        "kind": r.kind,
                        "path": r.path,
                        "methods": list(r.methods),
                        "endpoint": r.endpoint,
                        "level": r.level,
                        "rule": r.rule,
                        "fail_closed": r.fail_closed,
                        "authorizes": list(r.authorizes),
                        "framework": r.framework,
                        "missing_decision": r.missing_decision,
                    }
                    for r in routes
                ],
            }
        )
    else:
        _table(audited, routes, missing)
    return EXIT_MISSING if args.check and missing else EXIT_OK


def _table(audited: bool, routes: list[Any], missing: list[Any]) -> None:
    rows = [("", "METHODS", "PATH", "LEVEL", "AUTHZ", "ENDPOINT")]
    for r in routes:
        methods = "WS" if r.kind == "websocket" else ",".join(r.methods)
        level = r.level + (" fail-closed" if r.fail_closed else "")
        authz = ", ".join(a.rpartition(":")[2] for a in r.authorizes)
        authz = authz or ("(framework)" if r.framework else "-")
        rows.append(("!" if r.missing_decision else "", methods, r.path, level, authz, r.endpoint))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
        )
    recorded = sum(r.recorded for r in routes)
    print(
        f"{len(routes)} routes, {recorded} recorded, {len(missing)} recorded without an"
        " authorization decision (!)"
    )
    if not audited:
        print("no AuditMiddleware found: nothing of this app is recorded")


ROUTES: Final = Command(
    "routes",
    "every route, its audit level, and those that record no authorization decision",
    "List every route and websocket of an app with the level the audit policy records "
    "it at, whether it fails closed, and where its code records an authorization "
    "decision (authorize); flag the recorded routes that record none.",
    _EPILOG,
    _add_arguments,
    _run,
)
