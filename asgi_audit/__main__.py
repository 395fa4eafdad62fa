"""``python -m asgi_audit``: the ``asgi-audit`` command, where no console script is on PATH.

The same parser, subcommands and exit status as the installed ``asgi-audit``
script and ``python -m asgi_audit.cli``.
"""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
