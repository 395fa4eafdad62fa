"""``python -m asgi_audit.cli``: the ``asgi-audit`` command."""

from __future__ import annotations

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
