"""A FastAPI app with the integrations of the original system, for end-to-end tests.

Serve it with ``run_server("tests.apps.basic:app", {LOG_DIR_ENV: str(log_dir)})``.
The log directory comes from :data:`LOG_DIR_ENV` (required, so a test can never
write into the working tree). Extra middleware options come from the optional
:data:`TRUSTED_PROXIES_ENV`.

Routes:
    POST /login                   ``login_attempt``: success (``PASSWORD``) or failed (401)
    POST /tools/{tool_name}       tool code below the route records ``tool_path_blocked`` (403)
    GET  /api/items/{item_id}     200
    GET  /boom                    raises: a 500 carrying the request id
    GET  /healthz                 excluded from ``api_access`` by default
    GET  /stream/{token}          streams ``first`` then waits for ``POST /stream/{token}/release``
    POST /later/{tool_name}       202 at once; a background task then records ``tool_path_blocked``
    GET  /debug/cells             how many requests' audit cells are alive in this process
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import BackgroundTasks, Depends, FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from asgi_audit.web.dependencies import RequestAudit
from tests.apps import LOG_DIR_ENV, PASSWORD, TRUSTED_PROXIES_ENV

#: Paths the tool guard refuses, as the original file-access checker did.
BLOCKED_PREFIXES: Final = ("/etc/", "/root/")
BLOCKED_PARTS: Final = ("/.ssh/",)

auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV])
app = FastAPI(lifespan=auditor.lifespan)
app.add_middleware(
    AuditMiddleware,
    auditor=auditor,
    trusted_proxies=os.environ.get(TRUSTED_PROXIES_ENV, ""),
    agent_id_header="X-Agent-ID",
)

# One release event per streamed response; a single worker serves both requests.
_releases: dict[str, asyncio.Event] = {}


class LoginForm(BaseModel):
    username: str
    password: str


class ToolCall(BaseModel):
    path: str


async def guard_tool_access(tool_name: str, path: str) -> bool:
    """Tool code below the route: the module-level auditor finds the request in its ContextVar."""
    if path.startswith(BLOCKED_PREFIXES) or any(part in path for part in BLOCKED_PARTS):
        await auditor.tool_blocked(
            tool_name=tool_name,
            blocked_path=path,
            blocked_reason="SSH key and system file access denied",
        )
        return False
    return True


@app.post("/login")
async def login(
    form: LoginForm, audit: Annotated[AuditContext, Depends(audit_context)]
) -> JSONResponse:
    if form.password == PASSWORD:
        await audit.login_attempt("success", user_id=form.username)
        return JSONResponse({"ok": True})
    await audit.login_attempt("failed", user_id=form.username, error_message="Invalid password")
    return JSONResponse({"ok": False}, status_code=401)


@app.post("/tools/{tool_name}")
async def run_tool(tool_name: str, call: ToolCall) -> JSONResponse:
    if not await guard_tool_access(tool_name, call.path):
        return JSONResponse({"blocked": True}, status_code=403)
    return JSONResponse({"blocked": False})


@app.get("/api/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom: an unhandled error in a route")


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.get("/stream/{token}")
async def stream(token: str) -> StreamingResponse:
    release = _releases.setdefault(token, asyncio.Event())

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        await release.wait()
        yield b"second"

    return StreamingResponse(body(), media_type="application/octet-stream")


@app.post("/stream/{token}/release")
async def release_stream(token: str) -> dict[str, bool]:
    _releases.setdefault(token, asyncio.Event()).set()
    return {"released": True}


@app.post("/later/{tool_name}", status_code=202)
async def later(tool_name: str, tasks: BackgroundTasks) -> dict[str, bool]:
    # Run after the response is sent, in the request's context.
    tasks.add_task(guard_tool_access, tool_name, "/etc/shadow")
    return {"accepted": True}


@app.get("/debug/cells")
async def cells() -> dict[str, int]:
    return {"cells": sum(type(o) is RequestAudit for o in gc.get_objects())}
