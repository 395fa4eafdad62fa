"""A FastAPI app with an audit policy, for the end-to-end policy tests.

Importing this module has no side effect: the app is built by :func:`create_app`,
so a test imports the names below from here and serves the app with uvicorn's
``--factory``::

    run_server(POLICY_APP, {LOG_DIR_ENV: str(log_dir)}, extra_args=["--factory"])

Options come from the environment: :data:`~tests.apps.LOG_DIR_ENV` (required, so
a test can never write into the working tree), :data:`STAGES_ENV` and
:data:`OUTCOME_ENV`.

The audit middleware is the outermost middleware; Starlette's
``AuthenticationMiddleware`` runs inside it, as in an app that adds the audit
middleware last. The policy:

=================================  ====================
paths                              level
=================================  ====================
``/quiet``                         ``none``
``/echo``, ``/stream``, ``/form``  ``request_response``
``/search``                        ``request``
anything else                      ``metadata``
=================================  ====================

Routes:
    GET  /items/{item_id}   plain JSON
    POST /echo              ``{"echo": <the JSON body>, "length": <its bytes>, "password":
                            RESPONSE_SECRET}``: the app reads its own body
    POST /form              reads a urlencoded body itself, answers its length
    GET  /stream            :data:`STREAM_CHUNKS` lines of text, a short pause between them
    GET  /slow-stream       :data:`SLOW_CHUNKS` chunks of :data:`SLOW_CHUNK_BYTES`, slowly
    GET  /boom              raises ``RuntimeError(BOOM_MESSAGE)``
    POST /login             names alice the actor, records a login and a blocked tool call
    GET  /quiet             not recorded
    GET  /search?q=...      recorded with its query string and allowlisted headers
    WS   /ws                accepts, echoes :data:`WS_MESSAGES` texts, closes with
                            :data:`WS_CLOSE_CODE`
    WS   /ws-refuse         closes with :data:`WS_REFUSE_CODE` before accepting

Who acts: ``Authorization: Bearer <name>`` authenticates ``<name>`` (``root``
also holds the ``admin`` scope); the ``identity_resolver`` names the user of an
:data:`TEST_USER_HEADER` header instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context, outcome_for_status
from asgi_audit.web.policy import AuditPolicy, Rule
from tests.apps import LOG_DIR_ENV

__all__ = (
    "BOOM_MESSAGE",
    "OUTCOME_ENV",
    "POLICY_APP",
    "RESPONSE_SECRET",
    "SLOW_CHUNKS",
    "SLOW_CHUNK_BYTES",
    "STAGES_ENV",
    "STREAM_CHUNKS",
    "TEST_USER_HEADER",
    "WS_CLOSE_CODE",
    "WS_MESSAGES",
    "WS_REFUSE_CODE",
    "create_app",
    "ok_or_bad",
    "stream_lines",
)

#: The app spec for ``run_server`` (needs ``--factory``).
POLICY_APP: Final = "tests.apps.policy:create_app"
#: The middleware's ``stages``, comma-separated (default ``response_complete``).
STAGES_ENV: Final = "ASGI_AUDIT_TEST_STAGES"
#: Set to ``"1"``: the middleware's ``outcome_for_status`` is :func:`ok_or_bad`.
OUTCOME_ENV: Final = "ASGI_AUDIT_TEST_OUTCOME"
#: The header the ``identity_resolver`` takes the user id from.
TEST_USER_HEADER: Final = "X-Test-User"
#: The ``password`` ``POST /echo`` puts in every response.
RESPONSE_SECRET: Final = "resp-secret-abc123"
#: What ``GET /boom`` raises: a Luhn-valid card number the record must not keep.
BOOM_MESSAGE: Final = "boom: card 4111 1111 1111 1111 in the message"
#: The number of lines ``GET /stream`` sends, one chunk each.
STREAM_CHUNKS: Final = 5
#: The number and size of the chunks of ``GET /slow-stream``.
SLOW_CHUNKS: Final = 200
SLOW_CHUNK_BYTES: Final = 1024
#: Texts ``/ws`` echoes before it closes, and its close code.
WS_MESSAGES: Final = 3
WS_CLOSE_CODE: Final = 4001
#: The close code ``/ws-refuse`` refuses the connection with.
WS_REFUSE_CODE: Final = 1008

_STREAM_PAUSE_S: Final = 0.05
_SLOW_PAUSE_S: Final = 0.02


def stream_lines() -> list[str]:
    """The lines ``GET /stream`` sends, in order."""
    return [f'{{"chunk": {n}, "text": "part {n} of the stream"}}\n' for n in range(STREAM_CHUNKS)]


def ok_or_bad(status: int) -> str:
    """The ``outcome_for_status`` of :data:`OUTCOME_ENV`."""
    return "ok" if status < 400 else "bad"


class BearerNameBackend(AuthenticationBackend):
    """``Authorization: Bearer <name>`` is the user ``<name>``; ``root`` is also an admin."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scheme, _, name = conn.headers.get("authorization", "").partition(" ")
        name = name.strip()
        if scheme.lower() != "bearer" or not name:
            return None
        scopes = ["authenticated", "admin"] if name == "root" else ["authenticated"]
        return AuthCredentials(scopes), SimpleUser(name)


def resolve_test_user(scope: MutableMapping[str, Any]) -> str | None:
    """The ``identity_resolver``: the :data:`TEST_USER_HEADER` value, if sent."""
    wanted = TEST_USER_HEADER.lower().encode("latin-1")
    for name, value in scope.get("headers", ()):
        if name == wanted and value:
            return str(value.decode("latin-1"))
    return None


def _stages() -> list[str]:
    raw = os.environ.get(STAGES_ENV, "") or "response_complete"
    return [stage.strip() for stage in raw.split(",") if stage.strip()]


def create_app() -> FastAPI:
    """The app, with its own Auditor on the directory of :data:`~tests.apps.LOG_DIR_ENV`."""
    auditor = Auditor(log_dir=os.environ[LOG_DIR_ENV])
    policy = AuditPolicy(
        [
            Rule("none", paths=["/quiet"]),
            Rule("request_response", paths=["/echo", "/stream", "/form"], name="bodies"),
            Rule("request", paths=["/search"], name="queries"),
        ],
        default_level="metadata",
    )
    outcome: Callable[[int], str] = (
        ok_or_bad if os.environ.get(OUTCOME_ENV) == "1" else outcome_for_status
    )
    app = FastAPI(lifespan=auditor.lifespan)
    # add_middleware puts the last one added outermost: authentication runs inside
    # the audit middleware, which reads the user it left in the scope.
    app.add_middleware(AuthenticationMiddleware, backend=BearerNameBackend())
    app.add_middleware(
        AuditMiddleware,
        auditor=auditor,
        policy=policy,
        stages=_stages(),
        identity_resolver=resolve_test_user,
        outcome_for_status=outcome,
    )

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        data = await request.json()
        raw = await request.body()
        return JSONResponse({"echo": data, "length": len(raw), "password": RESPONSE_SECRET})

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        raw = await request.body()
        return {"length": len(raw)}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for n, line in enumerate(stream_lines()):
                if n:
                    await asyncio.sleep(_STREAM_PAUSE_S)
                yield line.encode()

        return StreamingResponse(body(), media_type="text/plain; charset=utf-8")

    @app.get("/slow-stream")
    async def slow_stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for n in range(SLOW_CHUNKS):
                yield bytes([ord("a") + n % 26]) * SLOW_CHUNK_BYTES
                await asyncio.sleep(_SLOW_PAUSE_S)

        return StreamingResponse(body(), media_type="application/octet-stream")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(BOOM_MESSAGE)

    @app.post("/login")
    async def login(audit: Annotated[AuditContext, Depends(audit_context)]) -> dict[str, bool]:
        audit.set_actor("alice", roles=["user"])
        await audit.login_attempt("success", user_id="alice")
        await audit.tool_blocked(tool_name="read_file", blocked_path="/etc/shadow")
        return {"ok": True}

    @app.get("/quiet")
    async def quiet() -> dict[str, bool]:
        return {"quiet": True}

    @app.get("/search")
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        for _ in range(WS_MESSAGES):
            await websocket.send_text(await websocket.receive_text())
        await websocket.close(code=WS_CLOSE_CODE)

    @app.websocket("/ws-refuse")
    async def ws_refuse(websocket: WebSocket) -> None:
        await websocket.close(code=WS_REFUSE_CODE)

    return app
