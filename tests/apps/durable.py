"""The processes of the durability tests: an app factory for uvicorn and three child writers.

Nothing here runs at import (the test imports the names), so:

* ``run_server("tests.apps.durable:create_app", {LOG_DIR_ENV: ...}, extra_args=["--factory"])``
  serves a FastAPI app whose ``POST /burst/{count}`` enqueues ``count`` large
  ``burst`` events without yielding and answers before the writer has taken any
  of them. At lifespan shutdown (so after a SIGTERM) the app writes the
  auditor's counters to stderr after :data:`SHUTDOWN_MARKER`, before it drains.
* ``python -m tests.apps.durable <mode> <log_dir> [<side_file>]`` runs a child writer:

  ``flood``     writes big batches to ``flood.jsonl`` until killed
  ``halfline``  writes whole lines to ``custom.jsonl``, then the first half of a line
                with ``os.write``, then SIGKILLs itself
  ``durable``   ``fsync="always"``; awaits ``emit(..., durable=True, n=i)`` and after
                each returns appends ``i`` to the side file with ``os.write``

  Every mode writes :data:`READY` to stdout once its Auditor runs, and stops by
  itself after :data:`CHILD_LIFETIME` seconds should the parent never kill it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import anyio
from fastapi import FastAPI

from asgi_audit import Auditor
from tests.apps import LOG_DIR_ENV

#: Printed (one line, then the counters as JSON) when lifespan shutdown begins.
SHUTDOWN_MARKER: Final = "DURABLE_APP_SHUTDOWN"
#: The capacity of the app's stream: room for a whole burst.
BURST_CAPACITY: Final = 25_000
#: What a child writer prints once it is running.
READY: Final = "ready"
#: The longest a child writer runs when nobody kills it.
CHILD_LIFETIME: Final = 30.0

_WORDS: Final = (
    "audit", "trail", "line", "written", "by", "the", "background", "writer", "for", "every",
    "security", "event", "of", "the", "request", "path", "while", "the", "server", "shuts",
    "down", "gracefully", "and", "drains", "its", "stream",
)  # fmt: skip
# Long, varied text: each burst event costs the writer real work (redaction scans it).
_PAYLOADS: Final = tuple(
    " ".join(f"{_WORDS[(v + k) % len(_WORDS)]}{(v * 7 + k) % 101}" for k in range(50))
    for v in range(64)
)


def create_app() -> FastAPI:
    """The app of the SIGTERM test; its log directory comes from :data:`LOG_DIR_ENV`."""
    auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV], queue_capacity=BURST_CAPACITY)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with auditor:
            yield
            stats = auditor.stats()
            counters = {k: stats[k] for k in ("enqueued", "completed", "queued", "in_flight")}
            print(f"{SHUTDOWN_MARKER} {json.dumps(counters)}", file=sys.stderr, flush=True)

    app = FastAPI(lifespan=lifespan)

    @app.post("/burst/{count}")
    async def burst(count: int) -> dict[str, int]:
        # The sync facade on the loop's thread never yields (an awaited burst hands
        # the writer a batch every few hundred events): all of them are queued,
        # none written, on return.
        for i in range(count):
            auditor.sync.emit("burst", "tick", n=i, payload=f"{_PAYLOADS[i % 64]} #{i}")
        stats = auditor.stats()
        return {"enqueued": count, "queued": stats["queued"], "completed": stats["completed"]}

    return app


# ------------------------------------------------------------------ child writers


def _ready() -> None:
    os.write(1, f"{READY}\n".encode())


async def _flood(log_dir: Path) -> None:
    # Big batches: each is one write() of several MB, so a SIGKILL can land inside one.
    blob = "x" * 1500
    deadline = time.monotonic() + CHILD_LIFETIME
    async with Auditor(log_dir=log_dir, queue_capacity=5_000, redact=False) as auditor:
        _ready()
        n = 0
        while time.monotonic() < deadline:
            for _ in range(4_000):
                await auditor.emit("flood", "tick", n=n, blob=blob)
                n += 1
            await auditor.flush()


async def _halfline(log_dir: Path) -> None:
    path = log_dir / "custom.jsonl"
    async with Auditor(log_dir=log_dir) as auditor:
        _ready()
        for i in range(100):
            await auditor.emit("custom", "tick", n=i)
        await auditor.flush()
        last = path.read_bytes().splitlines()[-1]
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(fd, last[: len(last) // 2])  # a crash in the middle of a line
        os.kill(os.getpid(), signal.SIGKILL)


async def _durable(log_dir: Path, side_file: Path) -> None:
    deadline = time.monotonic() + CHILD_LIFETIME
    side = os.open(side_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    async with Auditor(log_dir=log_dir, fsync="always") as auditor:
        _ready()
        i = 0
        while time.monotonic() < deadline:
            await auditor.emit("durable", "tick", durable=True, n=i)
            os.write(side, f"{i}\n".encode())  # reported only after the call returned
            i += 1


def main(argv: list[str]) -> None:
    """``<mode> <log_dir> [<side_file>]``; see the module docstring."""
    mode, log_dir = argv[0], Path(argv[1])
    if mode == "flood":
        anyio.run(_flood, log_dir)
    elif mode == "halfline":
        anyio.run(_halfline, log_dir)
    elif mode == "durable":
        anyio.run(_durable, log_dir, Path(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
