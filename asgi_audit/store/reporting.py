"""How the writer tells about trouble: framed stderr messages and counters.

IO (stderr only). A failing sink is reported, not raised into the app (as
Loguru's error interceptor does): one framed message per distinct error, and
counters that ``Auditor.stats()`` returns.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ("CategoryStats", "report")


def report(message: str) -> None:
    """A framed message on stderr that stands out in a server's log and never raises."""
    # Loguru's error interceptor does the same: the sink's failure must not
    # become the application's.
    with contextlib.suppress(Exception):
        sys.stderr.write(f"--- asgi_audit: {message} ---\n")
        sys.stderr.flush()


@dataclass(slots=True)
class CategoryStats:
    """Live counters of one category (see ``Auditor.stats()``)."""

    file: str
    written: int = 0
    bytes: int = 0
    errors: int = 0
    fsync_errors: int = 0
    rotations: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "written": self.written,
            "bytes": self.bytes,
            "errors": self.errors,
            "fsync_errors": self.fsync_errors,
            "rotations": self.rotations,
            "last_error": self.last_error,
        }
