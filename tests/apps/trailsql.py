"""A FastAPI app that rotates and gzips its trail every few KiB, for the end-to-end
test of ``asgi-audit sql`` on a trail that changes while it is read.

Serve it with ``run_server("tests.apps.trailsql:app", {LOG_DIR_ENV: str(log_dir)})``.

Routes:
    POST /login/{user}   ``login_attempt`` failed for ``user`` (and the middleware's
                         ``api_access``)
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from tests.apps import LOG_DIR_ENV

auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV], rotate_max_mb=0.001, compress_rotated=True)
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(AuditMiddleware, auditor=auditor)


@app.post("/login/{user}")
async def login(
    user: str, audit: Annotated[AuditContext, Depends(audit_context)]
) -> dict[str, str]:
    await audit.login_attempt("failed", user_id=user)
    return {"user": user}
