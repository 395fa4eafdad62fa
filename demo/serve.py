"""``make serve``: the demo app under uvicorn, the client address taken from the socket.

Run from the repository root::

    python -m demo.serve [--host 127.0.0.1] [--port 8000]

uvicorn's ``--proxy-headers`` is on unless turned off, and then believes
``X-Forwarded-For`` from every peer in ``--forwarded-allow-ips`` (127.0.0.1 by
default): it rewrites the client address before any middleware sees the
request, so any local client could choose the ``ip_address`` asgi_audit records
and the key the demo's login rate limiter counts failures under, and walk
around the limit by sending a new address each time. The demo serves with
proxy headers off (:data:`UVICORN_OPTIONS`); behind a real reverse proxy, name
it in ``AuditMiddleware(trusted_proxies=[...])``, whose rules only believe the
hops your own proxies appended.

``make serve`` and ``python -m demo.traffic`` both start the server through this
module, so the setting lives in one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ("APP", "DEFAULT_HOST", "DEFAULT_PORT", "UVICORN_OPTIONS", "command", "main")

#: The ASGI app served.
APP: Final = "demo.app:app"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
#: ``uvicorn.run`` options on top of the app, host and port: the client address
#: is the TCP peer's, never a forwarding header's.
UVICORN_OPTIONS: Final[Mapping[str, Any]] = {"proxy_headers": False}


def command(port: int, host: str = DEFAULT_HOST) -> list[str]:
    """The command line that serves the demo on ``host:port`` (for ``demo.traffic``)."""
    return [sys.executable, "-m", "demo.serve", "--host", host, "--port", str(port)]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the demo until SIGINT or SIGTERM (uvicorn's graceful shutdown)."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.serve",
        description="Serve the asgi_audit demo app with uvicorn, proxy headers off.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    import uvicorn  # here: importing this module for command() needs no server

    uvicorn.run(APP, host=args.host, port=args.port, **UVICORN_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
