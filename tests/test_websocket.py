"""Tests for web.websocket: sessions recorded at connect and close, and the messages kept."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi import WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from asgi_audit import (
    AuditContext,
    AuditMiddleware,
    Auditor,
    AuditPolicy,
    Rule,
    audit_context,
    current_context,
)
from asgi_audit.web.websocket import KEPT_MESSAGES, WebsocketSession
from tests.helpers import read_events

Message = dict[str, Any]


def run_session(client_texts: list[str], server_texts: list[str]) -> WebsocketSession:
    """Drive a session: every client message arrives, then the server answers."""
    incoming: list[Message] = [{"type": "websocket.receive", "text": t} for t in client_texts]
    incoming.append({"type": "websocket.disconnect", "code": 1000})
    delivered: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        delivered.append(dict(message))

    session = WebsocketSession(receive, send, keep=True, limit=100)

    async def main() -> None:
        await session.send({"type": "websocket.accept"})
        for _ in client_texts:
            await session.receive()
        for text in server_texts:
            await session.send({"type": "websocket.send", "text": text})
        await session.receive()

    anyio.run(main)
    assert len(delivered) == 1 + len(server_texts)  # every message passed through
    return session


def test_the_first_messages_are_kept_each_way_a_chatty_client_cannot_crowd_out_the_server() -> None:
    client = [f"client-{n}" for n in range(3 * KEPT_MESSAGES)]
    server = [f"server-{n}" for n in range(5)]
    session = run_session(client, server)
    fields = session.close_fields()
    kept_in = [m["message"] for m in fields["messages"] if m["direction"] == "in"]
    kept_out = [m["message"] for m in fields["messages"] if m["direction"] == "out"]
    assert kept_in == client[:KEPT_MESSAGES]
    assert kept_out == server
    assert fields["messages_in"] == len(client)
    assert fields["messages_out"] == len(server)
    assert fields["close_code"] == 1000
    assert fields["closed_by"] == "client"


def test_exactly_kept_messages_each_way_at_the_limit() -> None:
    client = [f"c{n}" for n in range(KEPT_MESSAGES + 1)]
    server = [f"s{n}" for n in range(KEPT_MESSAGES + 1)]
    fields = run_session(client, server).close_fields()
    directions = [m["direction"] for m in fields["messages"]]
    assert directions.count("in") == KEPT_MESSAGES
    assert directions.count("out") == KEPT_MESSAGES


# --- Whole sessions through the middleware, in process --------------------------------
#
# A websocket client is a pair of ASGI callables: what the server receives and what it
# sends. Driving a real Starlette app behind the real AuditMiddleware and a real
# Auditor this way keeps the test in one process (so a mutation of this module is seen)
# while the records are read back from the files the writer wrote.


class FakeClient:
    """The client side of one websocket connection, as ASGI messages."""

    def __init__(self, texts: list[str], close_code: int | None = None) -> None:
        self._incoming: list[Message] = [{"type": "websocket.connect"}]
        self._incoming += [{"type": "websocket.receive", "text": t} for t in texts]
        self._close_code = close_code
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self._incoming:
            return self._incoming.pop(0)
        if self._close_code is not None:
            return {"type": "websocket.disconnect", "code": self._close_code}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))


def websocket_scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Message:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"testserver"), (b"user-agent", b"ws-test/1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }


def build_app(auditor: Auditor, **options: Any) -> Starlette:

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        for _ in range(int(websocket.query_params.get("n", "3"))):
            await websocket.send_text("echo:" + await websocket.receive_text())
        await websocket.close(code=4001)

    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(code=4403)

    async def boom(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("token=s3cr3t-in-the-error went wrong")

    async def client_leaves(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    return Starlette(
        routes=[
            WebSocketRoute("/ws/{room}", echo),
            WebSocketRoute("/refuse", refuse),
            WebSocketRoute("/boom", boom),
            WebSocketRoute("/leave", client_leaves),
            WebSocketRoute("/healthz", echo),
        ],
        middleware=[Middleware(AuditMiddleware, auditor=auditor, **options)],
    )


async def run_ws(app: Starlette, path: str, client: FakeClient, query: bytes = b"") -> None:
    scope = websocket_scope(path)
    scope["query_string"] = query
    await app(scope, client.receive, client.send)


def api_events(log_dir: Path) -> list[dict[str, Any]]:
    path = log_dir / "api-audit.jsonl"
    return read_events(path) if path.exists() else []


async def test_an_accepted_session_is_recorded_at_connect_and_close(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        app = build_app(auditor)
        client = FakeClient(["a", "bé", "c"])
        await run_ws(app, "/ws/lobby", client)

    assert [m["type"] for m in client.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.send",
        "websocket.send",
        "websocket.close",
    ]
    connect, close = api_events(tmp_path)
    assert connect["event_type"] == "websocket_connect"
    assert connect["outcome"] == "success"
    assert connect["accepted"] is True
    assert connect["stage"] == "connect"
    assert connect["resource"] == "/ws/{room}"
    assert connect["request_path"] == "/ws/lobby"
    assert connect["ip_address"] == "127.0.0.1"
    assert connect["user_agent"] == "ws-test/1"
    assert "status_code" not in connect
    assert close["event_type"] == "websocket_close"
    assert close["outcome"] == "success"
    assert close["stage"] == "close"
    assert close["resource"] == "/ws/{room}"
    assert close["close_code"] == 4001
    assert close["closed_by"] == "server"
    assert close["messages_in"] == 3
    assert close["messages_out"] == 3
    assert close["bytes_in"] == len(b"a") + len("bé".encode()) + len(b"c")
    assert close["bytes_out"] == len(b"echo:a") + len("echo:bé".encode()) + len(b"echo:c")
    assert close["duration_ms"] >= 0
    assert connect["request_id"] == close["request_id"]
    assert "messages" not in close  # metadata level: no content
    assert "audit_level" not in connect  # said only above metadata
    assert "audit_level" not in close


async def test_a_refused_session_is_denied_with_its_close_code(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient([])
        await run_ws(build_app(auditor), "/refuse", client)

    connect, close = api_events(tmp_path)
    assert connect["event_type"] == "websocket_connect"
    assert connect["accepted"] is False
    assert connect["outcome"] == "denied"
    assert connect["status_code"] == 403
    assert connect["resource"] == "/refuse"
    assert close["close_code"] == 4403
    assert close["closed_by"] == "server"
    assert close["messages_in"] == close["messages_out"] == 0


async def test_an_app_that_raises_is_recorded_with_the_exception_redacted(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient(["hello"])
        with pytest.raises(RuntimeError, match="went wrong"):
            await run_ws(build_app(auditor), "/boom", client)

    assert b"s3cr3t" not in (tmp_path / "api-audit.jsonl").read_bytes()
    connect, close = api_events(tmp_path)
    assert connect["outcome"] == "success"
    assert close["event_type"] == "websocket_close"
    assert close["stage"] == "exception"
    assert close["outcome"] == "error"
    assert close["exception_type"] == "RuntimeError"
    assert "went wrong" in close["error_message"]
    assert close["resource"] == "/boom"
    assert "RuntimeError" in close["stack_trace"]
    assert "encoding_error" not in close
    assert close["messages_in"] == 1


async def test_a_client_that_leaves_closes_the_session(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient(["x", "y"], close_code=1001)
        await run_ws(build_app(auditor), "/leave", client)

    _connect, close = api_events(tmp_path)
    assert close["close_code"] == 1001
    assert close["closed_by"] == "client"
    assert close["messages_in"] == 2
    assert close["messages_out"] == 0


async def test_request_response_level_keeps_the_messages_capped(tmp_path: Path) -> None:
    from asgi_audit import Auditor

    policy = AuditPolicy([Rule("request_response", paths=["/ws/*"], max_body_bytes=8)])
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient(["short", "a-much-longer-message", "password=hunter2"])
        await run_ws(build_app(auditor, policy=policy), "/ws/kept", client)

    data = (tmp_path / "api-audit.jsonl").read_bytes()
    assert b"hunter2" not in data
    connect, close = api_events(tmp_path)
    assert connect["audit_level"] == close["audit_level"] == "request_response"
    kept = close["messages"]
    assert [m["direction"] for m in kept] == ["in", "out", "in", "out", "in", "out"]
    assert kept[0]["message"] == "short"
    assert kept[2]["message"] == "a-much-l"  # capped at the rule's max_body_bytes
    assert kept[1]["message"] == "echo:sho"


async def test_an_excluded_path_records_nothing_but_still_runs(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient(["ping"])
        await run_ws(build_app(auditor), "/healthz", client, query=b"n=1")

    assert [m["type"] for m in client.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert api_events(tmp_path) == []


async def test_a_policy_of_none_records_nothing(tmp_path: Path) -> None:
    from asgi_audit import Auditor

    policy = AuditPolicy([Rule("none", paths=["/ws/*"])])
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        client = FakeClient(["a", "b", "c"])
        await run_ws(build_app(auditor, policy=policy), "/ws/quiet", client)

    assert len(client.sent) == 5
    assert api_events(tmp_path) == []


def raw_app(*messages: Message) -> Any:
    """A bare ASGI websocket app that waits for the connect, then sends ``messages``."""

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await receive()
        for message in messages:
            await send(message)

    return app


async def run_raw(tmp_path: Path, app: Any, client: FakeClient, **scope_extra: Any) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        wrapped = AuditMiddleware(app, auditor=auditor)
        scope = websocket_scope("/raw")
        scope.update(scope_extra)
        await wrapped(scope, client.receive, client.send)


async def test_a_close_without_a_code_is_1000_and_a_disconnect_without_one_is_1005(
    tmp_path: Path,
) -> None:
    await run_raw(
        tmp_path / "server",
        raw_app({"type": "websocket.accept"}, {"type": "websocket.close"}),
        FakeClient([]),
    )
    [_, close] = api_events(tmp_path / "server")
    assert (close["close_code"], close["closed_by"]) == (1000, "server")

    class Leaves(FakeClient):
        async def receive(self) -> Message:
            if self._incoming:
                return self._incoming.pop(0)
            return {"type": "websocket.disconnect"}

    async def reads_until_gone(scope: Message, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    await run_raw(tmp_path / "client", reads_until_gone, Leaves(["x"]))
    [_, close] = api_events(tmp_path / "client")
    assert (close["close_code"], close["closed_by"]) == (1005, "client")


async def test_a_denial_response_is_denied_with_its_status(tmp_path: Path) -> None:
    app = raw_app(
        {"type": "websocket.http.response.start", "status": 401, "headers": []},
        {"type": "websocket.http.response.body", "body": b"no"},
    )
    client = FakeClient([])
    await run_raw(tmp_path, app, client, extensions={"websocket.http.response": {}})

    assert client.sent[0]["status"] == 401
    connect, close = api_events(tmp_path)
    assert connect["accepted"] is False
    assert connect["outcome"] == "denied"
    assert connect["status_code"] == 401
    assert close["close_code"] == 401
    assert close["closed_by"] == "server"


async def test_binary_messages_are_counted_and_described_never_kept(tmp_path: Path) -> None:
    policy = AuditPolicy([Rule("request_response", paths=["/raw"])])

    async def binary_echo(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "bytes": bytes(message["bytes"]) * 2})
        await send({"type": "websocket.send", "bytes": b""})
        await send({"type": "websocket.close", "code": 1000})

    class SendsBytes(FakeClient):
        def __init__(self) -> None:
            super().__init__([])
            self._incoming.append({"type": "websocket.receive", "bytes": b"\x00secret\xff"})

    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        wrapped = AuditMiddleware(binary_echo, auditor=auditor, policy=policy)
        client = SendsBytes()
        await wrapped(websocket_scope("/raw"), client.receive, client.send)

    assert b"secret" not in (tmp_path / "api-audit.jsonl").read_bytes()
    [_, close] = api_events(tmp_path)
    assert close["bytes_in"] == 8
    assert close["bytes_out"] == 16
    assert close["messages_out"] == 2
    assert close["messages"] == [
        {"direction": "in", "message": "[8 bytes of binary data]"},
        {"direction": "out", "message": "[16 bytes of binary data]"},
        {"direction": "out", "message": "[0 bytes of binary data]"},
    ]
    assert close["duration_ms"] == round(close["duration_ms"], 3)
    assert 0 <= close["duration_ms"] < 3_600_000  # milliseconds of one session, not a clock


async def test_the_request_context_reaches_the_websocket_handler(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        app = FastAPI()
        app.add_middleware(AuditMiddleware, auditor=auditor)

        @app.websocket("/chat")
        async def chat(
            websocket: FastAPIWebSocket, audit: Annotated[AuditContext, Depends(audit_context)]
        ) -> None:
            await websocket.accept()
            context = current_context()
            seen["request_id"] = context.request_id if context else None
            await audit.emit("chat", "message_seen", outcome="success")
            await auditor.emit("chat", "tool_ran", outcome="success")
            await websocket.close()

        client = FakeClient([])
        await app(websocket_scope("/chat"), client.receive, client.send)

    connect, _close = api_events(tmp_path)
    seen_event, tool_event = read_events(tmp_path / "chat.jsonl")
    assert seen["request_id"] == connect["request_id"]
    for event in (seen_event, tool_event):
        assert event["request_id"] == connect["request_id"]
        assert event["ip_address"] == "127.0.0.1"
        assert event["request_path"] == "/chat"
