"""A FastAPI app for the fault-injection tests (``tests/test_faults.py``).

Serve it with ``run_server("tests.apps.faults:app", {LOG_DIR_ENV: str(log_dir)})``
(or as an unprivileged user, see the tests). The log directory comes from
:data:`~tests.apps.LOG_DIR_ENV` (required, so a test can never write into the
working tree).

Routes:
    GET /event?req=R&count=C&category=K   records C events ``fault_probe`` in category K
                                          (default ``faults``), each with ``req=R`` and
                                          ``n=0..C-1``; the middleware adds one ``api_access``
    GET /control/stats                    ``auditor.stats()``
    GET /control/flush?timeout=S          waits (at most S seconds) until everything recorded
                                          before is written; ``{"flushed": bool, "stats": ...}``

``/control/*`` is excluded from ``api_access``, so asking for stats or a flush never
adds an event of its own.
"""

from __future__ import annotations

import os
from typing import Any, Final

import anyio
from fastapi import FastAPI

from asgi_audit import AuditMiddleware, Auditor
from tests.apps import LOG_DIR_ENV

#: The category of the events ``GET /event`` records by default.
CATEGORY: Final = "faults"
#: The ``event_type`` of those events.
EVENT_TYPE: Final = "fault_probe"

auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV])
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor, exclude=("/control/*",))


@app.get("/event")
async def event(req: int, count: int = 1, category: str = CATEGORY) -> dict[str, int]:
    for n in range(count):
        await auditor.emit(category, EVENT_TYPE, outcome="success", req=req, n=n)
    return {"recorded": count}


@app.get("/control/stats")
async def stats() -> dict[str, Any]:
    return auditor.stats()


@app.get("/control/flush")
async def flush(timeout: float = 10.0) -> dict[str, Any]:
    with anyio.move_on_after(timeout) as scope:
        await auditor.flush()
    return {"flushed": not scope.cancelled_caught, "stats": auditor.stats()}
