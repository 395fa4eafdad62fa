"""FastAPI and Starlette apps whose AuditMiddleware options come from the environment.

For the end-to-end tests of the middleware's options: the options are given as
a JSON object of keyword arguments in :data:`OPTIONS_ENV` and passed to
``add_middleware`` (FastAPI) or ``Middleware`` (Starlette) as they are, wrong
ones included, so a test sees what a real server does with them. Importing
this module has no side effect; uvicorn builds the app with ``--factory``::

    run_server(FASTAPI_APP, {LOG_DIR_ENV: ..., OPTIONS_ENV: '{"record_headers": "*"}'},
               extra_args=["--factory"])

Routes: ``GET /items/{item_id}`` answers ``{"item_id": <int>}``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor
from tests.apps import LOG_DIR_ENV

__all__ = ("FASTAPI_APP", "OPTIONS_ENV", "STARLETTE_APP", "fastapi_app", "starlette_app")

#: The AuditMiddleware keyword arguments, as a JSON object (default ``{}``).
OPTIONS_ENV: Final = "ASGI_AUDIT_TEST_MIDDLEWARE_OPTIONS"
#: uvicorn app specs (with ``--factory``).
FASTAPI_APP: Final = "tests.apps.options:fastapi_app"
STARLETTE_APP: Final = "tests.apps.options:starlette_app"


def _settings() -> tuple[Auditor, dict[str, Any]]:
    options = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    assert isinstance(options, dict)
    return Auditor(log_dir=os.environ[LOG_DIR_ENV], self_audit=False), options


def fastapi_app() -> FastAPI:
    """A FastAPI app with the Auditor's lifespan and ``add_middleware``."""
    auditor, options = _settings()
    app = FastAPI(lifespan=auditor.lifespan)
    app.add_middleware(AuditMiddleware, auditor=auditor, **options)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


async def _item(request: Request) -> JSONResponse:
    return JSONResponse({"item_id": int(request.path_params["item_id"])})


def starlette_app() -> Starlette:
    """A Starlette app with the Auditor's lifespan and ``middleware=[Middleware(...)]``."""
    auditor, options = _settings()
    return Starlette(
        routes=[Route("/items/{item_id}", _item)],
        lifespan=auditor.lifespan,
        middleware=[Middleware(AuditMiddleware, auditor=auditor, **options)],
    )
