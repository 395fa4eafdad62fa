"""The apps under test of ``bench/middleware.py``: one trivial FastAPI route behind
each contender middleware.

Every app serves ``GET /items/{item_id}`` answering a small JSON dict. Built in
process by :func:`make_app`, or by uvicorn with ``--factory`` from the
environment (:data:`CONTENDER_ENV` names the contender, :data:`LOG_DIR_ENV` the
directory its audit files go to)::

    python -m uvicorn apps:asgi_app --factory --app-dir bench

Contenders:

``none``
    no middleware: the baseline.
``pure_asgi_noop``
    a pure ASGI middleware class that only awaits the inner app.
``asgi_correlation_id``
    ``CorrelationIdMiddleware`` added as its README shows.
``base_http_noop``
    a Starlette ``BaseHTTPMiddleware`` whose ``dispatch`` returns ``call_next``.
``auditlog_fastapi``
    the auditlog-fastapi package. It has no file storage: its built-in backends
    are databases only (SQLAlchemy, Tortoise, SQLModel, Beanie, asyncpg), each
    needing an extra and a database server or SQLite driver, and
    ``create_audit_lifespan`` accepts nothing else. Its middleware does take any
    ``AuditStorage`` through ``storage=``, so the closest thing to a JSONL file is
    :class:`JsonlAuditStorage` below: ``save`` appends ``entry.model_dump_json()``
    to a buffered file on the event loop. That is the cheapest storage it can
    have, so its figure is a floor. It records every request (no skip paths).
``asgi_audit``
    ``AuditMiddleware`` with an ``Auditor`` on its defaults (redaction and the
    integrity chain on), wired as the README's quickstart shows.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from asgi_correlation_id import CorrelationIdMiddleware
from auditlog_fastapi import AuditMiddleware as AuditlogMiddleware  # type: ignore[import-untyped]
from auditlog_fastapi.models import AuditEntry  # type: ignore[import-untyped]
from auditlog_fastapi.storage.base import AuditStorage  # type: ignore[import-untyped]
from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_audit import AuditMiddleware, Auditor, category_filename

__all__ = (
    "AUDITLOG_FILE",
    "CONTENDERS",
    "CONTENDER_ENV",
    "LOG_DIR_ENV",
    "WORKERS_ENV",
    "Contender",
    "JsonlAuditStorage",
    "asgi_app",
    "expected_body",
    "make_app",
)

#: Every contender, the baseline first.
CONTENDERS: Final = (
    "none",
    "pure_asgi_noop",
    "asgi_correlation_id",
    "base_http_noop",
    "auditlog_fastapi",
    "asgi_audit",
)
#: The environment variable naming the contender served by :func:`asgi_app`.
CONTENDER_ENV: Final = "MIDDLEWARE_BENCH_CONTENDER"
#: The environment variable naming the directory the audit files go to.
LOG_DIR_ENV: Final = "MIDDLEWARE_BENCH_LOG_DIR"
#: The environment variable holding the number of uvicorn workers serving the app.
WORKERS_ENV: Final = "MIDDLEWARE_BENCH_WORKERS"
#: The file :class:`JsonlAuditStorage` appends to, inside the log directory.
AUDITLOG_FILE: Final = "auditlog-fastapi.jsonl"


def expected_body(item_id: int) -> dict[str, Any]:
    """What ``GET /items/{item_id}`` answers."""
    return {"item_id": item_id, "name": "widget", "price": 9.5, "in_stock": True}


def _add_route(app: FastAPI) -> None:
    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        return expected_body(item_id)


class PureAsgiNoop:
    """A pure ASGI middleware that only awaits the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class BaseHttpNoop(BaseHTTPMiddleware):
    """A ``BaseHTTPMiddleware`` that only calls the next app."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


class JsonlAuditStorage(AuditStorage):  # type: ignore[misc]
    """An auditlog-fastapi storage appending one JSON object per line to a file.

    auditlog-fastapi ships database backends only; this is the smallest storage
    that writes its entries to a JSONL file (buffered, on the event loop).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    async def startup(self) -> None:
        if int(os.environ.get(WORKERS_ENV, "1")) > 1:
            # Several workers: a file each, as buffered appends from several
            # processes without a lock would cut each other's lines.
            self.path = self.path.with_name(f"{self.path.stem}.{os.getpid()}{self.path.suffix}")
        self._file = self.path.open("a", encoding="utf-8")

    async def shutdown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    async def flush(self) -> None:
        """Push what is buffered to the file."""
        if self._file is not None:
            self._file.flush()

    async def save(self, entry: AuditEntry) -> None:
        assert self._file is not None, "storage not started"
        self._file.write(entry.model_dump_json() + "\n")

    async def save_batch(self, entries: list[AuditEntry]) -> None:
        for entry in entries:
            await self.save(entry)

    async def get_entries(
        self,
        limit: int = 100,
        offset: int = 0,
        method: str | None = None,
        path: str | None = None,
        status_code: int | None = None,
        user_id: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        await self.flush()
        wanted = {
            "method": method,
            "path": path,
            "status_code": status_code,
            "user_id": user_id,
            "action": action,
        }
        entries = []
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                entry = AuditEntry.model_validate_json(line)
                if all(v is None or getattr(entry, k) == v for k, v in wanted.items()):
                    entries.append(entry)
        return entries[offset : offset + limit]


@dataclass
class Contender:
    """One app under test and, for the auditing ones, where and how it records."""

    name: str
    app: FastAPI
    #: The JSONL file holding one line per recorded request, if any.
    log_file: Path | None = None
    #: Returns once every request recorded so far is in ``log_file``.
    flush: Callable[[], Awaitable[None]] | None = None


def make_app(name: str, log_dir: Path) -> Contender:
    """The app of contender ``name``; audit files go below ``log_dir``."""
    if name == "asgi_audit":
        auditor = Auditor(log_dir=log_dir / "asgi_audit")
        app = FastAPI(lifespan=auditor.lifespan)
        app.add_middleware(AuditMiddleware, auditor=auditor)
        _add_route(app)
        return Contender(name, app, auditor.log_dir / category_filename("api_audit"), auditor.flush)
    if name == "auditlog_fastapi":
        log_dir.mkdir(parents=True, exist_ok=True)
        storage = JsonlAuditStorage(log_dir / AUDITLOG_FILE)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            # What create_audit_lifespan does, minus configure(), which only
            # accepts the database backends.
            await storage.startup()
            try:
                yield
            finally:
                await storage.shutdown()

        app = FastAPI(lifespan=lifespan)
        app.add_middleware(AuditlogMiddleware, storage=storage)
        _add_route(app)
        return Contender(name, app, storage.path, storage.flush)
    app = FastAPI()
    if name == "pure_asgi_noop":
        app.add_middleware(PureAsgiNoop)
    elif name == "asgi_correlation_id":
        app.add_middleware(CorrelationIdMiddleware)
    elif name == "base_http_noop":
        app.add_middleware(BaseHttpNoop)
    elif name != "none":
        raise ValueError(f"unknown contender {name!r}; one of {', '.join(CONTENDERS)}")
    _add_route(app)
    return Contender(name, app)


def asgi_app() -> FastAPI:
    """The factory for ``uvicorn --factory``: the contender named in the environment."""
    return make_app(os.environ[CONTENDER_ENV], Path(os.environ[LOG_DIR_ENV])).app
