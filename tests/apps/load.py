"""A small Starlette app for load tests under several uvicorn workers.

Unlike the other app modules, importing this one has no side effect: the app is
built by :func:`create_app`, so a test imports the names below from here and
serves the app with uvicorn's ``--factory``::

    run_server(LOAD_APP, {LOG_DIR_ENV: str(log_dir)}, workers=4, extra_args=["--factory"])

Each worker process calls the factory and runs its own Auditor on the shared
log directory. Options come from the environment: :data:`LOG_DIR_ENV` (required,
from ``tests.apps``), :data:`ROTATE_MAX_MB_ENV` and :data:`COMPRESS_ENV`.

Routes:
    POST /record/{count}?tag=T   records ``count`` (1 or 2) events: a ``load_event`` in
                                 ``load.jsonl`` (``load_tag`` T, ``worker_pid``) and, for
                                 2, a failed ``login_attempt`` (``user_id`` ``user-T``) in
                                 ``auth-events.jsonl``; answers ``{"pid", "recorded"}``.
                                 The middleware adds the ``api_access`` line.
"""

from __future__ import annotations

import os
from typing import Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor
from tests.apps import LOG_DIR_ENV

__all__ = ("COMPRESS_ENV", "LOAD_APP", "LOAD_CATEGORY", "ROTATE_MAX_MB_ENV", "create_app")

#: The app spec for ``run_server`` (needs ``--factory``).
LOAD_APP: Final = "tests.apps.load:create_app"
#: ``rotate_max_mb`` of each worker's Auditor (default: no size rotation).
ROTATE_MAX_MB_ENV: Final = "ASGI_AUDIT_TEST_ROTATE_MAX_MB"
#: ``compress_rotated`` of each worker's Auditor when set to ``"1"``.
COMPRESS_ENV: Final = "ASGI_AUDIT_TEST_COMPRESS"
#: The category of the first event of each request.
LOAD_CATEGORY: Final = "load"


def create_app() -> Starlette:
    """The app of one worker, with its own Auditor on the shared directory."""
    max_mb = os.environ.get(ROTATE_MAX_MB_ENV)
    auditor = Auditor(
        log_dir=os.environ[LOG_DIR_ENV],
        rotate_max_mb=float(max_mb) if max_mb else None,
        compress_rotated=os.environ.get(COMPRESS_ENV) == "1",
    )

    async def record(request: Request) -> JSONResponse:
        count: int = request.path_params["count"]
        tag = request.query_params["tag"]
        await auditor.emit(
            LOAD_CATEGORY, "load_event", outcome="success", load_tag=tag, worker_pid=os.getpid()
        )
        if count >= 2:
            await auditor.login_attempt("failed", user_id=f"user-{tag}", error_message="load test")
        return JSONResponse({"pid": os.getpid(), "recorded": min(count, 2)})

    return Starlette(
        routes=[Route("/record/{count:int}", record, methods=["POST"])],
        middleware=[Middleware(AuditMiddleware, auditor=auditor)],
        lifespan=auditor.lifespan,
    )
