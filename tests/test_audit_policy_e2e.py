"""End-to-end: the audit policy, bodies, identity and websockets under a real uvicorn.

The app is ``tests/apps/policy.py`` (an app factory, served with ``--factory``).
Requests travel over real HTTP on 127.0.0.1; the server is stopped with SIGTERM,
so the lifespan drains the writer, and only then are the files read. Every
assertion is about what the files hold, never about timing: waits are bounds
on a hang only.

Websocket sessions need uvicorn to speak the protocol, which it does only with
the ``websockets`` or ``wsproto`` package installed; without either, those tests
are skipped. The client side is a minimal RFC 6455 client over a plain socket,
so the tests need no websocket client library.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import signal
import socket
import struct
from collections.abc import Mapping
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from asgi_audit import REDACTED
from asgi_audit.record.encoding import DEFAULT_FIELD_CAPS
from asgi_audit.web.policy import DEFAULT_HEADERS
from tests.apps import LOG_DIR_ENV
from tests.apps.policy import (
    BOOM_MESSAGE,
    OUTCOME_ENV,
    POLICY_APP,
    RESPONSE_SECRET,
    SLOW_CHUNK_BYTES,
    SLOW_CHUNKS,
    STAGES_ENV,
    TEST_USER_HEADER,
    WS_CLOSE_CODE,
    WS_MESSAGES,
    WS_REFUSE_CODE,
    stream_lines,
)
from tests.helpers import read_events, reports
from tests.servers import Server, run_server

pytestmark = pytest.mark.e2e

EXTRA_ARGS: Final = ("--factory", "--no-proxy-headers")
USER_AGENT: Final = "audit-policy-e2e/1.0"
RID: Final = "x-request-id"
CLIENT_TIMEOUT_S: Final = 10.0  # a bound on a hang, not an assertion
API_FILE: Final = "api-audit.jsonl"
AUTH_FILE: Final = "auth-events.jsonl"
TOOL_FILE: Final = "tool-blocks.jsonl"
#: The card number of BOOM_MESSAGE, as written and without its spaces.
CARD: Final = "4111 1111 1111 1111"
CARD_DIGITS: Final = CARD.replace(" ", "")
#: The default ``max_body_bytes`` of an AuditPolicy.
DEFAULT_BODY_CAP: Final = 4096
_CUT_MARKER_RE: Final = re.compile(r"…\[truncated \d+ chars\]\Z")
#: The end of a value cut by the body capture or by the writer's caps.
_ANY_CUT_MARKER_RE: Final = re.compile(r"…\[truncated[^\]]*\]\Z")

WEBSOCKETS_SERVED: Final = any(
    importlib.util.find_spec(name) is not None for name in ("websockets", "wsproto")
)
needs_websockets = pytest.mark.skipif(
    not WEBSOCKETS_SERVED,
    reason="uvicorn serves websockets only with the websockets or wsproto package installed",
)


def http_client(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"user-agent": USER_AGENT},
        timeout=httpx.Timeout(CLIENT_TIMEOUT_S),
    )


def serve(log_dir: Path, env: Mapping[str, str] | None = None) -> AbstractContextManager[Server]:
    """``run_server`` for the policy app writing into ``log_dir``."""
    return run_server(POLICY_APP, {LOG_DIR_ENV: str(log_dir), **(env or {})}, extra_args=EXTRA_ARGS)


def stop(server: Server) -> str:
    """Stop the server gracefully (the writer drains); its stderr, checked for reports."""
    returncode = server.stop(signal.SIGTERM)
    stderr = server.stderr
    assert returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete." in stderr
    assert reports(stderr) == [], stderr  # no write failure or lost event reported
    return stderr


def by_request_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {event["request_id"]: event for event in events}
    assert len(found) == len(events), events
    return found


# --- a minimal websocket client (RFC 6455): text frames and the close handshake ---

_WS_GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_TEXT: Final = 0x1
_OP_CLOSE: Final = 0x8


class RawWebsocket:
    """Opens ``path`` with the upgrade handshake; ``status`` is the server's answer.

    Only what the tests need: unfragmented frames, text messages, the close
    handshake. Client frames are masked, as the protocol requires.
    """

    def __init__(self, server: Server, path: str, headers: Mapping[str, str]) -> None:
        self._sock = socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT_S)
        self._buffer = bytearray()
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = [
            f"GET {path} HTTP/1.1",
            f"Host: {server.host}:{server.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
            "",
            "",
        ]
        self._sock.sendall("\r\n".join(request).encode("latin-1"))
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *lines = head.split("\r\n")
        self.status = int(status_line.split(" ", 2)[1])
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        if self.status == 101:
            digest = hashlib.sha1((key + _WS_GUID).encode("ascii"), usedforsecurity=False)
            expected = base64.b64encode(digest.digest()).decode("ascii")
            assert self.headers.get("sec-websocket-accept") == expected, self.headers

    def close(self) -> None:
        self._sock.close()

    def send_text(self, text: str) -> None:
        self._send_frame(_OP_TEXT, text.encode("utf-8"))

    def receive_text(self) -> str:
        opcode, payload = self._receive_frame()
        assert opcode == _OP_TEXT, (opcode, payload)
        return payload.decode("utf-8")

    def receive_close(self) -> int:
        """Wait for the server's close frame, answer it, and return its code."""
        opcode, payload = self._receive_frame()
        assert opcode == _OP_CLOSE, (opcode, payload)
        assert len(payload) >= 2, payload
        (code,) = struct.unpack("!H", payload[:2])
        self._send_frame(_OP_CLOSE, payload[:2])
        return int(code)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        size = len(payload)
        if size < 126:
            header.append(0x80 | size)
        elif size < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", size)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", size)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self._sock.sendall(bytes(header) + mask + masked)

    def _receive_frame(self) -> tuple[int, bytes]:
        first, second = self._read_exactly(2)
        assert first & 0x80, "a fragmented frame"
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._read_exactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._read_exactly(8))
        mask = self._read_exactly(4) if second & 0x80 else b""
        payload = self._read_exactly(size)
        if mask:
            payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return first & 0x0F, payload

    def _fill(self) -> None:
        data = self._sock.recv(65536)
        assert data, "the server closed the connection"
        self._buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            self._fill()
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(marker)]
        return data

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


# --- the tests ---


def test_a_raising_route_is_recorded_at_stage_exception_with_a_redacted_message(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir) as server:
        with http_client(server) as client:
            crashed = client.get("/boom", headers={"X-Request-ID": "policy-boom-0001"})
        stderr = stop(server)

    assert crashed.status_code == 500
    assert crashed.headers[RID] == "policy-boom-0001"
    assert "RuntimeError" in stderr  # uvicorn still logs the exception
    path = log_dir / API_FILE
    [event] = read_events(path)
    assert event["event_type"] == "api_access"
    assert event["request_id"] == "policy-boom-0001"
    assert event["stage"] == "exception"
    assert event["status_code"] == 500
    assert event["outcome"] == "error"
    assert event["exception_type"] == "RuntimeError"
    message = event["error_message"]
    assert isinstance(message, str)
    assert message.startswith("boom: card ")
    assert message.endswith(" in the message")
    assert message != BOOM_MESSAGE
    trace = event["stack_trace"]
    assert isinstance(trace, str)
    assert "RuntimeError" in trace
    assert len(_CUT_MARKER_RE.sub("", trace)) <= DEFAULT_FIELD_CAPS["stack_trace"]
    data = path.read_bytes()
    assert CARD.encode() not in data
    assert CARD_DIGITS.encode() not in data


def test_a_client_that_leaves_mid_response_is_recorded_as_disconnected(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    full_size = SLOW_CHUNKS * SLOW_CHUNK_BYTES
    with serve(log_dir) as server:
        # Leaving the block before the end of the body closes the connection.
        with http_client(server) as client, client.stream("GET", "/slow-stream") as response:
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= 3 * SLOW_CHUNK_BYTES:
                    break
        stop(server)

    assert response.status_code == 200
    assert 3 * SLOW_CHUNK_BYTES <= received < full_size
    [event] = read_events(log_dir / API_FILE)
    assert event["request_id"] == response.headers[RID]
    assert event["stage"] == "disconnected"
    assert event["outcome"] == "disconnected"
    assert event["status_code"] == 200
    # What the app handed to the server, at least what the client read, never all of it.
    assert received <= event["response_bytes"] < full_size


@needs_websockets
def test_a_websocket_session_is_recorded_at_connect_and_close_without_its_messages(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "logs"
    texts = [f"ws-message-{n}-ünïcode" for n in range(WS_MESSAGES)]
    headers = {"X-Request-ID": "policy-ws-0001", "User-Agent": USER_AGENT}
    with serve(log_dir) as server:
        with closing(RawWebsocket(server, "/ws", headers)) as ws:
            assert ws.status == 101
            echoes = []
            for text in texts:
                ws.send_text(text)
                echoes.append(ws.receive_text())
            close_code = ws.receive_close()
        stop(server)

    assert echoes == texts
    assert close_code == WS_CLOSE_CODE
    path = log_dir / API_FILE
    [connect, close] = read_events(path)
    assert connect["event_type"] == "websocket_connect"
    assert connect["accepted"] is True
    assert connect["outcome"] == "success"
    assert connect["resource"] == "/ws"
    assert close["event_type"] == "websocket_close"
    assert close["close_code"] == WS_CLOSE_CODE
    assert close["closed_by"] == "server"
    assert close["messages_in"] == close["messages_out"] == WS_MESSAGES
    sent = sum(len(text.encode("utf-8")) for text in texts)
    assert close["bytes_in"] == close["bytes_out"] == sent
    assert connect["request_id"] == close["request_id"] == "policy-ws-0001"
    assert "messages" not in close
    data = path.read_bytes()
    assert b"ws-message-" not in data


@needs_websockets
def test_a_websocket_refused_before_accept_is_recorded_as_denied(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir) as server:
        with closing(RawWebsocket(server, "/ws-refuse", {"X-Request-ID": "policy-ws-0002"})) as ws:
            status = ws.status
        stop(server)

    assert status == 403  # refused before the handshake completed: an HTTP answer
    [connect, close] = read_events(log_dir / API_FILE)
    assert connect["event_type"] == "websocket_connect"
    assert connect["accepted"] is False
    assert connect["outcome"] == "denied"
    assert connect["resource"] == "/ws-refuse"
    assert close["event_type"] == "websocket_close"
    assert close["close_code"] == WS_REFUSE_CODE
    assert close["closed_by"] == "server"
    assert close["messages_in"] == close["messages_out"] == 0
    assert connect["request_id"] == close["request_id"] == "policy-ws-0002"


def test_request_response_level_records_both_bodies_redacted(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    body_secret = "hunter2-body-secret"
    form_secret = "form-secret-xyz789"
    payload = {"user": "bob", "password": body_secret, "note": "hello"}
    with serve(log_dir) as server:
        with http_client(server) as client:
            echoed = client.post("/echo", json=payload)
            form = client.post("/form", data={"user": "bob", "password": form_secret})
        stop(server)

    assert echoed.status_code == 200
    assert echoed.json() == {
        "echo": payload,  # the app read its own body
        "length": len(echoed.request.content),
        "password": RESPONSE_SECRET,
    }
    assert form.json() == {"length": len(form.request.content)}
    path = log_dir / API_FILE
    events = by_request_id(read_events(path))
    echo_event = events[echoed.headers[RID]]
    assert echo_event["audit_level"] == "request_response"
    assert echo_event["request_body"] == {"user": "bob", "password": REDACTED, "note": "hello"}
    assert echo_event["response_body"] == {
        "echo": {"user": "bob", "password": REDACTED, "note": "hello"},
        "length": len(echoed.request.content),
        "password": REDACTED,
    }
    form_event = events[form.headers[RID]]
    assert form_event["audit_level"] == "request_response"
    assert form_event["request_body"] == {"user": "bob", "password": REDACTED}
    assert form_event["response_body"] == {"length": len(form.request.content)}
    data = path.read_bytes()
    for secret in (body_secret, form_secret, RESPONSE_SECRET):
        assert secret.encode() not in data


def _post_a_big_body(log_dir: Path) -> tuple[httpx.Response, dict[str, Any]]:
    """POST about 21 KiB of JSON to ``/echo``; the response and the recorded line."""
    big = {"note": "hello world " * 1800}
    with serve(log_dir) as server:
        with http_client(server) as client:
            response = client.post("/echo", json=big)
        stop(server)
    assert response.status_code == 200
    assert response.json()["echo"] == big
    [event] = read_events(log_dir / API_FILE)
    return response, event


def test_a_body_over_max_body_bytes_is_recorded_truncated_and_the_app_gets_it_whole(
    tmp_path: Path,
) -> None:
    response, event = _post_a_big_body(tmp_path / "logs")

    size = len(response.request.content)
    assert size > 2 * DEFAULT_BODY_CAP
    assert response.json()["length"] == size  # the app read the whole body
    recorded = event["request_body"]
    assert isinstance(recorded, str)  # cut JSON is not parsed: kept as text
    assert recorded.startswith('{"note":"hello world hello world')
    assert _ANY_CUT_MARKER_RE.search(recorded)
    assert len(recorded.encode()) < size


def test_a_body_over_max_body_bytes_keeps_max_body_bytes_and_names_its_full_size(
    tmp_path: Path,
) -> None:
    response, event = _post_a_big_body(tmp_path / "logs")

    content = response.request.content
    expected = content[:DEFAULT_BODY_CAP].decode() + f"…[truncated: {len(content)} bytes in all]"
    assert event["request_body"] == expected


def test_a_streamed_response_still_streams_with_its_body_recorded(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir) as server:
        with http_client(server) as client, client.stream("GET", "/stream") as response:
            chunks = [chunk for chunk in response.iter_raw() if chunk]
        stop(server)

    text = "".join(stream_lines())
    assert response.status_code == 200
    assert len(chunks) > 1  # not held back and sent as one piece
    assert b"".join(chunks).decode() == text
    [event] = read_events(log_dir / API_FILE)
    assert event["request_id"] == response.headers[RID]
    assert event["stage"] == "response_complete"
    assert event["audit_level"] == "request_response"
    assert event["response_bytes"] == len(text.encode())
    assert event["response_body"] == text
    assert "request_body" not in event


def test_identity_comes_from_authentication_the_resolver_or_the_app(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir) as server:
        with http_client(server) as client:
            root = client.get("/items/1", headers={"Authorization": "Bearer root"})
            carol = client.get("/items/2", headers={TEST_USER_HEADER: "carol"})
            anonymous = client.get("/items/3")
            login = client.post("/login")
        stop(server)

    assert [r.status_code for r in (root, carol, anonymous, login)] == [200] * 4
    api = by_request_id(read_events(log_dir / API_FILE))
    assert len(api) == 4
    assert api[root.headers[RID]]["user_id"] == "root"  # AuthenticationMiddleware
    assert api[carol.headers[RID]]["user_id"] == "carol"  # the identity_resolver
    assert "user_id" not in api[anonymous.headers[RID]]
    login_rid = login.headers[RID]
    access = api[login_rid]
    [attempt] = read_events(log_dir / AUTH_FILE)
    [blocked] = read_events(log_dir / TOOL_FILE)
    assert [e["event_type"] for e in (attempt, blocked, access)] == [
        "login_attempt",
        "tool_path_blocked",
        "api_access",
    ]
    assert [e["user_id"] for e in (attempt, blocked, access)] == ["alice"] * 3
    assert [e["request_id"] for e in (attempt, blocked, access)] == [login_rid] * 3
    assert [e.get("event_action") for e in (attempt, blocked, access)] == [
        "authn_login_success",
        "authz_fail",
        None,
    ]
    assert [e["resource"] for e in (attempt, blocked, access)] == ["alice", "/etc/shadow", "/login"]
    assert blocked["blocked_path"] == "/etc/shadow"


def test_policy_levels_over_the_wire(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir) as server:
        with http_client(server) as client:
            quiet = client.get("/quiet")
            search = client.get(
                "/search",
                params={"q": "x", "token": "abc123secret"},
                headers={"Authorization": "Bearer root", "X-Custom": "1"},
            )
            item = client.get("/items/5")
        stop(server)

    assert [r.status_code for r in (quiet, search, item)] == [200] * 3
    path = log_dir / API_FILE
    events = by_request_id(read_events(path))
    assert set(events) == {search.headers[RID], item.headers[RID]}  # /quiet: level none

    searched = events[search.headers[RID]]
    assert searched["audit_level"] == "request"
    assert searched["resource"] == "/search"
    assert searched["user_id"] == "root"
    query = searched["query_string"]
    assert query.startswith("q=x&token=")
    assert REDACTED in query
    headers = searched["request_headers"]
    assert headers["user-agent"] == USER_AGENT
    assert "host" in headers
    assert "authorization" not in headers
    assert "x-custom" not in headers
    assert set(headers) <= DEFAULT_HEADERS
    for field in ("request_body", "response_body"):
        assert field not in searched

    itemed = events[item.headers[RID]]
    assert itemed["resource"] == "/items/{item_id}"
    assert itemed["request_path"] == "/items/5"
    for field in (
        "audit_level",
        "query_string",
        "request_headers",
        "request_body",
        "response_body",
    ):
        assert field not in itemed
    assert b"abc123secret" not in path.read_bytes()


def test_the_request_received_stage_writes_a_line_before_the_response_one(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir, {STAGES_ENV: "request_received,response_complete"}) as server:
        with http_client(server) as client:
            response = client.get("/items/7")
        stop(server)

    assert response.status_code == 200
    [received, complete] = read_events(log_dir / API_FILE)
    assert received["stage"] == "request_received"
    assert "status_code" not in received
    assert complete["stage"] == "response_complete"
    assert complete["status_code"] == 200
    assert complete["outcome"] == "success"
    assert received["request_id"] == complete["request_id"] == response.headers[RID]


def test_outcome_for_status_overrides_the_outcome(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    with serve(log_dir, {OUTCOME_ENV: "1"}) as server:
        with http_client(server) as client:
            found = client.get("/items/1")
            missing = client.get("/no-such-route")
        stop(server)

    assert (found.status_code, missing.status_code) == (200, 404)
    events = by_request_id(read_events(log_dir / API_FILE))
    assert events[found.headers[RID]]["outcome"] == "ok"
    assert events[missing.headers[RID]]["status_code"] == 404
    assert events[missing.headers[RID]]["outcome"] == "bad"
