"""Tests for AuditMiddleware (asgi_audit.web.middleware), driven in-process.

A real Auditor writes real files under ``tmp_path``; requests go through
``httpx.ASGITransport`` or, where the test must see every ASGI message as it is
sent (streaming, errors, websockets, lifespan), through raw ASGI calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.lowlevel
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from asgi_audit import (
    SCHEMA_VERSION,
    AuditMiddleware,
    Auditor,
    AuditPolicy,
    Identity,
    Rule,
    current_context,
)
from asgi_audit.web.middleware import DEFAULT_EXCLUDE, valid_request_id
from tests.helpers import read_events as read_file_events

API_FILE: Final = "api-audit.jsonl"
USER_AGENT: Final = "audit-tests/1.0 (+middleware)"
RID: Final = "x-request-id"
HASHED_SESSION: Final = re.compile(r"h:[0-9a-f]{32}")
TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
#: Every key of an ``api_access`` line of a request without session or agent id.
API_ACCESS_KEYS: Final = frozenset(
    {
        "timestamp",
        "epoch_ms",
        "event_id",
        "event_type",
        "category",
        "outcome",
        "schema_version",
        "resource",
        "stage",
        "response_bytes",
        "ip_address",
        "user_agent",
        "request_id",
        "request_path",
        "method",
        "status_code",
        "duration_ms",
        "stream",
        "seq",
        "mac",
    }
)
#: Bounds a raw ASGI exchange, so a body held back by the middleware fails the
#: test instead of hanging the suite. Not a timing assertion.
HANG_GUARD: Final = 10.0


# --------------------------------------------------------------------------- helpers


def read_events(log_dir: Path, name: str = API_FILE) -> list[dict[str, Any]]:
    """Every line of a category file, parsed; [] when the file was never made."""
    return read_file_events(log_dir / name)


async def context_json(request: Request) -> JSONResponse:
    """The audit context the route sees, as JSON (null outside a request)."""
    context = current_context()
    return JSONResponse(None if context is None else dataclasses.asdict(context))


async def status_response(request: Request) -> Response:
    return Response(b"", status_code=request.path_params["code"])


async def boom(request: Request) -> Response:
    raise RuntimeError("boom: an unhandled error in a route")


async def gated_stream(request: Request) -> StreamingResponse:
    """Streams ``first``, then waits for the test to open the gate, then ``second``."""
    gate: anyio.Event = request.app.state.gate

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        await gate.wait()
        yield b"second"

    return StreamingResponse(body(), media_type="application/octet-stream")


async def failing_stream(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("boom: the body generator failed")

    return StreamingResponse(body(), media_type="application/octet-stream")


async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    text = await websocket.receive_text()
    await websocket.send_text(f"echo:{text}")
    await websocket.close()


def build_app(auditor: Auditor, **options: Any) -> Starlette:
    """A Starlette app with the middleware added as users add it (inside ServerErrorMiddleware)."""
    return Starlette(
        routes=[
            Route("/status/{code:int}", status_response),
            Route("/boom", boom),
            Route("/stream", gated_stream),
            Route("/failing-stream", failing_stream),
            WebSocketRoute("/ws", websocket_echo),
            Route("/{path:path}", context_json),  # every other path: 200 with the context
        ],
        middleware=[Middleware(AuditMiddleware, auditor=auditor, **options)],
    )


def client_for(
    app: ASGIApp,
    *,
    peer: tuple[str, int] = ("127.0.0.1", 123),
    raise_app_exceptions: bool = True,
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=peer, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"user-agent": USER_AGENT}
    )


def http_scope(path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"user-agent", USER_AGENT.encode()), *headers],
        "client": ("127.0.0.1", 123),
        "server": ("testserver", 80),
    }


def websocket_scope(path: str) -> Scope:
    scope = http_scope(path)
    del scope["method"], scope["http_version"]
    return {**scope, "type": "websocket", "scheme": "ws", "subprotocols": []}


def scripted_receive(*messages: Message, then: Message) -> Receive:
    """A ``receive`` that gives ``messages`` in order, then ``then`` forever."""
    queue = list(messages)

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        return queue.pop(0) if queue else then

    return receive


def collecting_send(sent: list[Message]) -> Send:
    async def send(message: Message) -> None:
        sent.append(message)

    return send


def header(message: Message, name: bytes) -> list[bytes]:
    """The values of header ``name`` in an ``http.response.start`` message."""
    return [value for key, value in message["headers"] if key.lower() == name]


_DISCONNECT: Final = {"http": "http.disconnect", "websocket": "websocket.disconnect"}


class AsgiCall:
    """One ASGI call running in a task: the test feeds ``receive`` and reads what the app sends.

    Messages reach the test the moment the app sends them, so the test can act
    (open a gate, send the next event) while the app is still inside the call.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.exception: Exception | None = None
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[Message](100)
        self._app_outbox, self._from_app = anyio.create_memory_object_stream[Message](100)

    async def _app_receive(self) -> Message:
        try:
            return await self._app_inbox.receive()
        except anyio.EndOfStream:  # the test is done: the client went away
            return {"type": _DISCONNECT.get(self.scope["type"], "disconnect")}

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self._app_receive, self._app_outbox.send)
        except Exception as exc:
            self.exception = exc
        finally:
            self._app_outbox.close()

    async def send(self, message: Message) -> None:
        """Give ``message`` to the app's ``receive``."""
        await self._to_app.send(message)

    async def receive(self) -> Message:
        """The next message the app sent (waits for it)."""
        try:
            return await self._from_app.receive()
        except anyio.EndOfStream:
            raise AssertionError(
                f"the app ended without sending another message (it raised {self.exception!r})"
            ) from None

    def disconnect(self) -> None:
        """The client goes away: the app's next ``receive`` gets the disconnect message."""
        self._to_app.close()

    def close(self) -> None:
        for stream in (self._to_app, self._app_inbox, self._app_outbox, self._from_app):
            stream.close()


@asynccontextmanager
async def asgi_call(app: ASGIApp, scope: Scope) -> AsyncIterator[AsgiCall]:
    """Run ``app`` on ``scope`` in a task for the block; on exit the client disconnects
    and the app is awaited."""
    call = AsgiCall(scope)
    try:
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(call.run, app)
                try:
                    yield call
                except BaseException:
                    task_group.cancel_scope.cancel()
                    raise
                call.disconnect()
    finally:
        call.close()


# ---------------------------------------------------------------- the api_access line


async def test_one_api_access_line_per_request_with_exactly_the_request_fields(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get("/api/items?token=hunter2-query-secret&page=2")
        await auditor.flush()

    assert response.status_code == 200
    [event] = read_events(tmp_path)
    assert set(event) == API_ACCESS_KEYS
    assert event["event_type"] == "api_access"
    assert event["category"] == "api_audit"
    assert event["outcome"] == "success"
    assert event["schema_version"] == SCHEMA_VERSION
    assert event["method"] == "GET"
    assert event["request_path"] == "/api/items"
    assert event["status_code"] == 200
    assert isinstance(event["duration_ms"], int | float)
    assert event["duration_ms"] >= 0
    assert event["ip_address"] == "127.0.0.1"
    assert event["user_agent"] == USER_AGENT
    assert event["request_id"] == response.headers[RID]
    event_id = uuid.UUID(event["event_id"])
    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122
    assert str(event_id) == event["event_id"]
    assert TIMESTAMP.fullmatch(event["timestamp"])
    moment = datetime.fromisoformat(event["timestamp"])
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timezone.utc.utcoffset(None)
    assert event["epoch_ms"] == int(moment.timestamp() * 1000)
    # The query string is no part of the record.
    raw = (tmp_path / API_FILE).read_bytes()
    assert b"hunter2-query-secret" not in raw
    assert b"page=2" not in raw
    assert b"?" not in raw


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "success"),
        (201, "success"),
        (204, "success"),
        (302, "success"),
        (400, "failed"),
        (401, "denied"),
        (403, "denied"),
        (404, "failed"),
        (422, "failed"),
        (429, "rate_limited"),
        (500, "error"),
        (503, "error"),
    ],
)
async def test_outcome_follows_the_response_status(
    tmp_path: Path, status: int, outcome: str
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get(f"/status/{status}")
        await auditor.flush()

    assert response.status_code == status
    [event] = read_events(tmp_path)
    assert (event["status_code"], event["outcome"]) == (status, outcome)
    assert event["request_path"] == f"/status/{status}"


async def test_a_thousand_concurrent_requests_give_a_thousand_distinct_lines(
    tmp_path: Path,
) -> None:
    count = 1000
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        responses = await asyncio.gather(*(client.get(f"/api/items/{i}") for i in range(count)))
        await auditor.flush()

    assert all(response.status_code == 200 for response in responses)
    events = read_events(tmp_path)  # every line parses
    assert len(events) == count
    assert all(event["event_type"] == "api_access" for event in events)
    assert len({event["event_id"] for event in events}) == count
    assert len({event["request_id"] for event in events}) == count
    assert {event["request_id"] for event in events} == {r.headers[RID] for r in responses}
    paths = Counter(event["request_path"] for event in events)
    assert paths == Counter(f"/api/items/{i}" for i in range(count))


# -------------------------------------------------------------------- path selection


@pytest.mark.parametrize(
    ("options", "path", "recorded"),
    [
        pytest.param({}, "/api/items", True, id="default-records-api"),
        pytest.param({}, "/", True, id="default-records-root"),
        *(
            pytest.param({}, path, False, id=f"default-excludes-{path.strip('/')}")
            for path in DEFAULT_EXCLUDE
        ),
        pytest.param({}, "/healthz/deep", True, id="default-exclude-is-exact"),
        pytest.param({"exclude": ()}, "/healthz", True, id="empty-exclude-records-health"),
        pytest.param({"include": ["/api/*"]}, "/api/items", True, id="include-api"),
        pytest.param({"include": ["/api/*"]}, "/api/v1/items/7", True, id="include-api-deep"),
        pytest.param({"include": ["/api/*"]}, "/login", False, id="include-api-not-login"),
        pytest.param({"include": ["/api/*"]}, "/api", False, id="include-api-not-bare"),
        pytest.param({"include": ["/api/*"]}, "/healthz", False, id="include-api-not-health"),
        pytest.param(
            {"include": ["/api/*", "/login"]}, "/login", True, id="include-several-patterns"
        ),
        pytest.param(
            {"include": ["/api/*"], "exclude": ["/api/internal/*"]},
            "/api/internal/stats",
            False,
            id="exclude-wins-over-include",
        ),
        pytest.param(
            {"include": ["/api/*"], "exclude": ["/api/internal/*"]},
            "/api/public",
            True,
            id="exclude-leaves-the-rest",
        ),
        pytest.param({"exclude": ["/static/*"]}, "/static/app.js", False, id="custom-exclude"),
    ],
)
async def test_include_and_exclude_globs_select_the_recorded_paths(
    tmp_path: Path, options: dict[str, Any], path: str, recorded: bool
) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, **options)) as client,
    ):
        response = await client.get(path)
        await auditor.flush()

    assert response.status_code == 200
    paths = [event["request_path"] for event in read_events(tmp_path)]
    assert paths == ([path] if recorded else [])


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
async def test_an_excluded_request_still_gets_a_request_id_and_a_context(
    tmp_path: Path, path: str
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get(path, headers={"cookie": "session=excluded-session-1"})
        await auditor.flush()

    request_id = response.headers[RID]
    assert valid_request_id(request_id)
    assert response.json() == {
        "ip_address": "127.0.0.1",
        "user_agent": USER_AGENT,
        "session_id": "excluded-session-1",
        "request_id": request_id,
        "request_path": path,
        "method": "GET",
        "agent_id": None,
        "user_id": None,
        "trace_id": None,  # no OpenTelemetry span around this request
        "span_id": None,
        "ip_address_rejected": None,  # the peer is an address
    }
    assert read_events(tmp_path) == []
    assert current_context() is None  # reset once the request is over


@pytest.mark.parametrize(
    ("options", "error", "quoted"),
    [
        ({"include": "/api/*"}, TypeError, "'/api/*'"),
        ({"exclude": "/healthz"}, TypeError, "'/healthz'"),
        ({"include": ["/api/*", ""]}, ValueError, "''"),
        ({"trusted_proxies": ["10.0.0.1/8"]}, ValueError, "'10.0.0.1/8'"),
        ({"forwarded_header": "x-real-ip"}, ValueError, "'x-real-ip'"),
    ],
)
def test_invalid_options_are_refused_when_the_middleware_is_built(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], quoted: str
) -> None:
    auditor = Auditor(log_dir=tmp_path)
    with pytest.raises(error, match=re.escape(quoted)):
        AuditMiddleware(Starlette(), auditor=auditor, **options)


# ----------------------------------------------------------- lifespan and websockets


@pytest.mark.parametrize("scope_type", ["lifespan"])
async def test_non_http_scopes_reach_the_app_untouched(tmp_path: Path, scope_type: str) -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    scope = websocket_scope("/ws") if scope_type == "websocket" else {"type": "lifespan"}
    before = dict(scope)
    receive = scripted_receive(then={"type": "never"})
    send = collecting_send([])
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await AuditMiddleware(inner, auditor=auditor)(scope, receive, send)
        await auditor.flush()
        enqueued = auditor.stats()["enqueued"]

    [(got_scope, got_receive, got_send)] = seen
    assert got_scope is scope
    assert got_receive is receive
    assert got_send is send
    if scope_type == "lifespan":
        assert scope == before
    assert enqueued == 0
    assert read_events(tmp_path) == []


async def test_the_app_lifespan_runs_through_the_middleware(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path / "logs")
    app = Starlette(
        routes=[Route("/{path:path}", context_json)],
        lifespan=auditor.lifespan,
        middleware=[Middleware(AuditMiddleware, auditor=auditor)],
    )
    lifespan_scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = [auditor.running]
    async with asgi_call(app, lifespan_scope) as lifespan:
        await lifespan.send({"type": "lifespan.startup"})
        assert (await lifespan.receive())["type"] == "lifespan.startup.complete"
        running.append(auditor.running)
        async with client_for(app) as client:
            response = await client.get("/api/items")
        await lifespan.send({"type": "lifespan.shutdown"})
        assert (await lifespan.receive())["type"] == "lifespan.shutdown.complete"

    running.append(auditor.running)
    assert lifespan.exception is None
    assert running == [False, True, False]  # started and stopped by the app's lifespan
    [event] = read_events(tmp_path / "logs")  # drained by the lifespan shutdown
    assert event["request_id"] == response.headers[RID]


async def test_a_websocket_route_works_through_the_middleware_and_its_session_is_recorded(
    tmp_path: Path,
) -> None:
    sent: list[Message] = []
    receive = scripted_receive(
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "ping"},
        then={"type": "websocket.disconnect", "code": 1000},
    )
    async with Auditor(log_dir=tmp_path) as auditor:
        app = build_app(auditor)
        await app(websocket_scope("/ws"), receive, collecting_send(sent))
        async with client_for(app) as client:  # an HTTP request in the same app is recorded
            response = await client.get("/api/after-websocket")
        await auditor.flush()

    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "echo:ping"
    events = read_events(tmp_path)
    # The session is audited (connect and close, no message content), then the request.
    assert [(e["event_type"], e["request_path"]) for e in events] == [
        ("websocket_connect", "/ws"),
        ("websocket_close", "/ws"),
        ("api_access", "/api/after-websocket"),
    ]
    connect, close, access = events
    assert connect["accepted"] is True
    assert connect["request_id"] == close["request_id"] != access["request_id"]
    assert (close["messages_in"], close["messages_out"]) == (1, 1)
    assert (close["bytes_in"], close["bytes_out"]) == (4, 9)  # "ping", "echo:ping"
    assert close["close_code"] == 1000
    assert "messages" not in close  # content only when the policy asks
    assert access["request_id"] == response.headers[RID]


# ------------------------------------------------------------------------ streaming


async def test_streamed_chunks_reach_the_client_before_the_body_ends(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path) as auditor:
        app = build_app(auditor)
        gate = anyio.Event()
        app.state.gate = gate
        scope = http_scope("/stream", [(b"x-request-id", b"stream-request-0001")])
        async with asgi_call(app, scope) as call:
            await call.send({"type": "http.request", "body": b"", "more_body": False})
            start = await call.receive()
            first = await call.receive()
            # The app is still waiting inside its body: the middleware held nothing back.
            assert not gate.is_set()
            gate.set()
            rest = [await call.receive(), await call.receive()]
        await auditor.flush()

    assert call.exception is None
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    assert header(start, RID.encode()) == [b"stream-request-0001"]
    assert (first["type"], first["body"], first["more_body"]) == (
        "http.response.body",
        b"first",
        True,
    )
    assert [(m["body"], m.get("more_body", False)) for m in rest] == [
        (b"second", True),
        (b"", False),
    ]
    [event] = read_events(tmp_path)
    assert event["request_path"] == "/stream"
    assert event["status_code"] == 200
    assert event["outcome"] == "success"
    assert event["request_id"] == "stream-request-0001"


# ------------------------------------------------------------------------- errors


async def test_an_app_exception_propagates_after_a_500_with_the_request_id_was_sent(
    tmp_path: Path,
) -> None:
    sent: list[Message] = []
    receive = scripted_receive(
        {"type": "http.request", "body": b"", "more_body": False},
        then={"type": "http.disconnect"},
    )
    scope = http_scope("/boom", [(b"x-request-id", b"boom-request-0001")])
    async with Auditor(log_dir=tmp_path) as auditor:
        app = build_app(auditor)
        with pytest.raises(RuntimeError, match="boom: an unhandled error"):
            await app(scope, receive, collecting_send(sent))
        await auditor.flush()

    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert len(starts) == 1
    assert starts[0]["status"] == 500
    assert header(starts[0], RID.encode()) == [b"boom-request-0001"]
    bodies = [message for message in sent if message["type"] == "http.response.body"]
    assert b"".join(message["body"] for message in bodies) == b"Internal Server Error"
    assert not bodies[-1].get("more_body", False)
    [event] = read_events(tmp_path)
    assert event["request_path"] == "/boom"
    assert event["status_code"] == 500
    assert event["outcome"] == "error"
    assert event["request_id"] == "boom-request-0001"


async def test_an_app_exception_reaches_the_httpx_caller_and_is_recorded(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        with pytest.raises(RuntimeError, match="boom: an unhandled error"):
            await client.get("/boom", headers={"X-Request-ID": "boom-request-0002"})
        await auditor.flush()

    [event] = read_events(tmp_path)
    assert (event["status_code"], event["outcome"]) == (500, "error")
    assert event["request_id"] == "boom-request-0002"


async def test_with_send_500_off_the_error_response_is_left_to_the_server(tmp_path: Path) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, send_500=False), raise_app_exceptions=False) as client,
    ):
        response = await client.get("/boom", headers={"X-Request-ID": "boom-request-0003"})
        await auditor.flush()

    # Starlette's ServerErrorMiddleware, outside the audit middleware, sent this one.
    assert response.status_code == 500
    assert RID not in response.headers
    [event] = read_events(tmp_path)
    assert (event["status_code"], event["outcome"]) == (500, "error")
    assert event["request_id"] == "boom-request-0003"


async def test_an_exception_after_the_response_started_is_recorded_without_a_second_response(
    tmp_path: Path,
) -> None:
    sent: list[Message] = []
    receive = scripted_receive(
        {"type": "http.request", "body": b"", "more_body": False},
        then={"type": "http.disconnect"},
    )
    async with Auditor(log_dir=tmp_path) as auditor:
        app = build_app(auditor)
        with pytest.raises(RuntimeError, match="boom: the body generator failed"):
            await app(http_scope("/failing-stream"), receive, collecting_send(sent))
        await auditor.flush()

    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert [start["status"] for start in starts] == [200]  # never changed or re-sent
    [event] = read_events(tmp_path)
    assert event["request_path"] == "/failing-stream"
    assert event["outcome"] == "error"
    assert event["request_id"] == header(starts[0], RID.encode())[0].decode()


# ---------------------------------------------------------------------- request ids

WELL_FORMED_IDS: Final = [
    pytest.param("abcdefgh", id="8-chars"),
    pytest.param("A" * 128, id="128-chars"),
    pytest.param("req.2026-11-28:abc_DEF", id="all-allowed-punctuation"),
    pytest.param(str(uuid.UUID(int=0x0123456789ABCDEF0123456789ABCDEF)), id="uuid"),
    pytest.param("0123456789abcdef0123456789abcdef", id="hex"),
]
MALFORMED_IDS: Final = [
    pytest.param(b"abcdefg", id="7-chars"),
    pytest.param(b"has space 123456", id="space"),
    pytest.param(b"<script>alert(1)</script>", id="markup"),
    pytest.param(b'quote"inside-123', id="quote"),
    pytest.param(b"id;drop=12345678", id="semicolon"),
    pytest.param(b"A" * 129, id="129-chars"),
    pytest.param(b"x" * 1000, id="1000-chars"),
    pytest.param(b"", id="empty"),
    pytest.param("caf\u00e9-12345678".encode("latin-1"), id="non-ascii"),
]


@pytest.mark.parametrize("request_id", WELL_FORMED_IDS)
async def test_a_well_formed_incoming_request_id_is_kept_and_echoed(
    tmp_path: Path, request_id: str
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get("/api/items", headers={"X-Request-ID": request_id})
        await auditor.flush()

    assert response.headers[RID] == request_id
    assert response.json()["request_id"] == request_id
    [event] = read_events(tmp_path)
    assert event["request_id"] == request_id


@pytest.mark.parametrize("request_id", ["-abcdefgh", ".trace.0001", ":span:0001", "_req_0001"])
async def test_a_request_id_may_start_with_any_allowed_character(
    tmp_path: Path, request_id: str
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get("/api/items", headers={"X-Request-ID": request_id})
        await auditor.flush()

    assert response.headers[RID] == request_id
    [event] = read_events(tmp_path)
    assert event["request_id"] == request_id


@pytest.mark.parametrize("request_id", MALFORMED_IDS)
async def test_a_malformed_incoming_request_id_is_replaced(
    tmp_path: Path, request_id: bytes
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get("/api/items", headers=[(b"X-Request-ID", request_id)])
        await auditor.flush()

    new_id = response.headers[RID]
    assert new_id.encode("latin-1") != request_id
    assert valid_request_id(new_id)
    assert response.json()["request_id"] == new_id
    [event] = read_events(tmp_path)
    assert event["request_id"] == new_id
    if len(request_id) >= 8:
        assert request_id not in (tmp_path / API_FILE).read_bytes()


@pytest.mark.parametrize(
    "sent_id",
    [
        pytest.param(b"kept-on-500-0001", id="kept"),
        pytest.param(b"<bad id>", id="replaced"),
        pytest.param(None, id="absent"),
    ],
)
async def test_the_request_id_header_equals_the_recorded_one_on_a_500(
    tmp_path: Path, sent_id: bytes | None
) -> None:
    headers = [] if sent_id is None else [(b"X-Request-ID", sent_id)]
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor), raise_app_exceptions=False) as client,
    ):
        response = await client.get("/boom", headers=headers)
        await auditor.flush()

    assert response.status_code == 500
    [event] = read_events(tmp_path)
    assert response.headers.get_list(RID) == [event["request_id"]]
    if sent_id == b"kept-on-500-0001":
        assert event["request_id"] == "kept-on-500-0001"


async def test_a_configured_request_id_header_is_read_and_returned(tmp_path: Path) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, request_id_header="X-Correlation-ID")) as client,
    ):
        response = await client.get(
            "/api/items",
            headers={"X-Correlation-ID": "correlation-0001", "X-Request-ID": "ignored-0001"},
        )
        await auditor.flush()

    assert response.headers["x-correlation-id"] == "correlation-0001"
    assert RID not in response.headers
    [event] = read_events(tmp_path)
    assert event["request_id"] == "correlation-0001"


async def test_a_request_id_factory_makes_the_new_ids(tmp_path: Path) -> None:
    ids = iter(["factory-id-0001", "factory-id-0002"])
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, request_id_factory=lambda: next(ids))) as client,
    ):
        first = await client.get("/api/one")
        second = await client.get("/api/two", headers={"X-Request-ID": "bad id"})
        await auditor.flush()

    assert [first.headers[RID], second.headers[RID]] == ["factory-id-0001", "factory-id-0002"]
    assert [e["request_id"] for e in read_events(tmp_path)] == [
        "factory-id-0001",
        "factory-id-0002",
    ]


# ------------------------------------------------------------------------- client IP


@pytest.mark.parametrize(
    ("options", "peer", "headers", "expected"),
    [
        pytest.param(
            {}, "203.0.113.9", {"X-Forwarded-For": "198.51.100.7"}, "203.0.113.9", id="spoof"
        ),
        pytest.param(
            {},
            "127.0.0.1",
            {"X-Forwarded-For": "198.51.100.7"},
            "127.0.0.1",
            id="loopback-not-trusted-by-default",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "203.0.113.9",
            {"X-Forwarded-For": "198.51.100.7"},
            "203.0.113.9",
            id="peer-not-a-trusted-proxy",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "127.0.0.1",
            {"X-Forwarded-For": "198.51.100.7"},
            "198.51.100.7",
            id="trusted-proxy",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "127.0.0.1",
            {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"},
            "198.51.100.7",
            id="client-spoof-left-of-trusted-proxy",
        ),
        pytest.param(
            {"trusted_proxies": "10.0.0.0/8, 127.0.0.1"},
            "10.1.2.3",
            {"X-Forwarded-For": "198.51.100.7, 10.9.9.9"},
            "198.51.100.7",
            id="trusted-cidr-chain-from-a-string",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "127.0.0.1",
            {"X-Forwarded-For": "<script>"},
            "127.0.0.1",
            id="garbage-hop",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"], "forwarded_header": "forwarded"},
            "127.0.0.1",
            {"Forwarded": "for=198.51.100.7;proto=https;by=127.0.0.1"},
            "198.51.100.7",
            id="rfc7239",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"], "forwarded_header": "forwarded"},
            "127.0.0.1",
            {"Forwarded": 'for="[2001:db8::7]:4711"'},
            "2001:db8::7",
            id="rfc7239-quoted-ipv6",
        ),
        pytest.param(
            {"forwarded_header": "forwarded"},
            "203.0.113.9",
            {"Forwarded": "for=198.51.100.7"},
            "203.0.113.9",
            id="rfc7239-spoof",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"], "forwarded_header": "forwarded"},
            "127.0.0.1",
            {"X-Forwarded-For": "198.51.100.7"},
            "127.0.0.1",
            id="rfc7239-mode-ignores-xff",
        ),
        pytest.param(
            {"trusted_proxies": ["127.0.0.1"]},
            "127.0.0.1",
            {"Forwarded": "for=198.51.100.7"},
            "127.0.0.1",
            id="xff-mode-ignores-forwarded",
        ),
    ],
)
async def test_client_ip_comes_from_forwarding_headers_of_trusted_proxies_only(
    tmp_path: Path, options: dict[str, Any], peer: str, headers: dict[str, str], expected: str
) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, **options), peer=(peer, 5000)) as client,
    ):
        response = await client.get("/api/items", headers=headers)
        await auditor.flush()

    assert response.json()["ip_address"] == expected
    [event] = read_events(tmp_path)
    assert event["ip_address"] == expected


# ---------------------------------------------------------------- session and agent


async def test_the_session_cookie_is_recorded_as_a_stable_hash_never_raw(tmp_path: Path) -> None:
    alice, bob = "raw-session-alice-4f1d9c", "raw-session-bob-77e0aa"
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        for cookie in (f"session={alice}", f"theme=dark; session={alice}", f"session={bob}"):
            await client.get("/api/items", headers={"cookie": cookie})
        await client.get("/api/items")
        await auditor.flush()

    events = read_events(tmp_path)
    first, second, third, fourth = (event.get("session_id") for event in events)
    assert isinstance(first, str)
    assert HASHED_SESSION.fullmatch(first)
    assert second == first  # the same session correlates across requests
    assert isinstance(third, str)
    assert HASHED_SESSION.fullmatch(third)
    assert third != first
    assert fourth is None
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("*.jsonl"))
    assert alice.encode() not in raw
    assert bob.encode() not in raw


@pytest.mark.parametrize(
    ("options", "headers", "recorded"),
    [
        pytest.param({"session_cookie": "sid"}, {"cookie": "sid=raw-sid-0001"}, True, id="cookie"),
        pytest.param(
            {"session_cookie": "sid"}, {"cookie": "session=raw-sid-0001"}, False, id="other-cookie"
        ),
        pytest.param(
            {"session_header": "X-Session-ID"},
            {"X-Session-ID": "raw-sid-0001"},
            True,
            id="header",
        ),
        pytest.param({"session_cookie": None}, {"cookie": "session=raw-sid-0001"}, False, id="off"),
    ],
)
async def test_the_session_id_comes_from_the_configured_cookie_or_header(
    tmp_path: Path, options: dict[str, Any], headers: dict[str, str], recorded: bool
) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, **options)) as client,
    ):
        response = await client.get("/api/items", headers=headers)
        await auditor.flush()

    [event] = read_events(tmp_path)
    if recorded:
        assert response.json()["session_id"] == "raw-sid-0001"
        assert HASHED_SESSION.fullmatch(event["session_id"])
    else:
        assert response.json()["session_id"] is None
        assert "session_id" not in event
    assert b"raw-sid-0001" not in (tmp_path / API_FILE).read_bytes()


async def test_raw_session_ids_are_stored_when_the_auditor_asks_for_them(tmp_path: Path) -> None:
    async with (
        Auditor(log_dir=tmp_path, session_ids="raw") as auditor,
        client_for(build_app(auditor)) as client,
    ):
        await client.get("/api/items", headers={"cookie": "session=raw-session-kept-01"})
        await auditor.flush()

    [event] = read_events(tmp_path)
    assert event["session_id"] == "raw-session-kept-01"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"agent_id_header": "X-Agent-ID"}, "agent-7", id="configured"),
        pytest.param({}, None, id="not-configured"),
    ],
)
async def test_the_agent_id_comes_from_the_configured_header(
    tmp_path: Path, options: dict[str, Any], expected: str | None
) -> None:
    async with (
        Auditor(log_dir=tmp_path) as auditor,
        client_for(build_app(auditor, **options)) as client,
    ):
        response = await client.get("/api/items", headers={"X-Agent-ID": "agent-7"})
        await auditor.flush()

    assert response.json()["agent_id"] == expected
    [event] = read_events(tmp_path)
    assert event.get("agent_id") == expected


# ------------------------------------------------------------- recorded request parts


async def test_query_string_and_headers_are_recorded_only_when_asked(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        await client.get("/plain?page=2", headers={"accept": "text/plain"})
        await auditor.flush()
    (event,) = read_events(tmp_path)
    assert "query_string" not in event
    assert "request_headers" not in event


async def test_recorded_query_strings_and_headers_go_through_the_same_redaction(
    tmp_path: Path,
) -> None:
    secrets = {
        "query": "q5Zt8WmKp2RxL7vNc4Hy",
        "bearer": "bT9xQ2mZ7kR4vN8cL1pW6sY3",
        "api_key": "k8Jd2Lq9Xv4Tz7Mb1Nc6Rf3W",
        "cookie": "cS4vB8nM2xK7qL1zR9tY5wP0",
    }
    headers = ["Authorization", "X-API-Key", "cookie", "accept"]
    auditor = Auditor(log_dir=tmp_path)
    app = build_app(auditor, record_query=True, record_headers=headers)
    async with auditor, client_for(app) as client:
        await client.get(
            f"/cb?code=1&access_token={secrets['query']}&page=2",
            headers={
                "authorization": f"Bearer {secrets['bearer']}",
                "x-api-key": secrets["api_key"],
                "cookie": f"session={secrets['cookie']}; theme=dark",
                "accept": "application/json",
            },
        )
        await auditor.flush()
    raw = (tmp_path / API_FILE).read_bytes()
    for secret in secrets.values():
        assert secret.encode() not in raw
    (event,) = read_events(tmp_path)
    assert event["query_string"] == "code=1&access_token=***REDACTED***&page=2"
    assert event["request_headers"] == {
        "authorization": "***REDACTED***",
        "x-api-key": "***REDACTED***",
        "cookie": "***REDACTED***",
        "accept": "application/json",
    }


async def test_role_rules_are_decided_with_the_user_known_at_the_end(tmp_path: Path) -> None:
    # A role rule can only be decided once the user is known: the record at the end
    # follows the user's roles; the record as the request arrives follows the highest
    # level any rule could give.
    def resolver(scope: Scope) -> Identity | None:
        user = dict(scope["headers"]).get(b"x-user")
        if user is None:
            return None
        return Identity(user.decode(), ("admin",) if user == b"root" else ("user",))

    policy = AuditPolicy([Rule("request", roles=["admin"], name="admins"), Rule("none")])
    app = build_app(
        auditor := Auditor(log_dir=tmp_path),
        policy=policy,
        identity_resolver=resolver,
        stages=["request_received", "response_complete"],
    )
    async with auditor, client_for(app) as client:
        await client.get("/api/a?q=1", headers={"x-user": "root"})
        await client.get("/api/b?q=2", headers={"x-user": "bob"})
        await client.get("/api/c?q=3")
        await auditor.flush()

    events = read_events(tmp_path)
    assert [(e["request_path"], e["stage"], e.get("user_id")) for e in events] == [
        ("/api/a", "request_received", None),
        ("/api/a", "response_complete", "root"),
        ("/api/b", "request_received", None),
        ("/api/c", "request_received", None),
    ]
    assert events[1]["audit_level"] == "request"
    assert events[1]["query_string"] == "q=1"
