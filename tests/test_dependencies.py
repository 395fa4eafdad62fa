"""Tests for ``Depends(audit_context)`` (asgi_audit.web.dependencies) in a FastAPI app.

The app runs in-process through ``httpx.ASGITransport`` (websockets through a raw
ASGI call); a real Auditor writes real files under ``tmp_path``, and every test
reads them back.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.responses import JSONResponse
from starlette.types import Message

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from tests.helpers import read_events as read_file_events

AUTH_FILE: Final = "auth-events.jsonl"
TOOL_FILE: Final = "tool-blocks.jsonl"
INJECTION_FILE: Final = "injection-events.jsonl"
API_FILE: Final = "api-audit.jsonl"
PEER: Final = ("198.51.100.20", 4000)
USER_AGENT: Final = "audit-tests/1.0 (+dependencies)"
SESSION: Final = "raw-session-value-9c1f"
HASHED_SESSION: Final = re.compile(r"h:[0-9a-f]{32}")

Audit = Annotated[AuditContext, Depends(audit_context)]


def read_events(log_dir: Path, name: str) -> list[dict[str, Any]]:
    """Every line of a category file, parsed; [] when the file was never made."""
    return read_file_events(log_dir / name)


async def check_tool_path(auditor: Auditor, tool_name: str, path: str) -> bool:
    """Tool code below a route: handed no request, it records through the Auditor itself."""
    if "/.ssh/" in path or path.startswith("/etc/"):
        await auditor.tool_blocked(
            tool_name=tool_name, blocked_path=path, blocked_reason="SSH key file access denied"
        )
        return False
    return True


def build_app(auditor: Auditor, *, middleware: bool = True) -> FastAPI:
    app = FastAPI()
    if middleware:
        app.add_middleware(AuditMiddleware, auditor=auditor, agent_id_header="X-Agent-ID")

    @app.get("/whoami")
    async def whoami(audit: Audit) -> dict[str, Any]:
        return {
            "is_audit_context": isinstance(audit, AuditContext),
            "ip_address": audit.ip_address,
            "user_agent": audit.user_agent,
            "session_id": audit.session_id,
            "request_id": audit.request_id,
            "agent_id": audit.agent_id,
        }

    @app.post("/login")
    async def login(audit: Audit) -> JSONResponse:
        await audit.login_attempt("failed", user_id="alice", error_message="Invalid password")
        return JSONResponse({"ok": False}, status_code=401)

    @app.post("/agents/{agent}/read")
    async def agent_read(agent: str, audit: Audit) -> dict[str, str | None]:
        bound = audit.bind(agent_id=agent)
        await bound.tool_blocked(
            tool_name="read_file",
            blocked_path="/home/user/.ssh/id_rsa",
            blocked_reason="SSH key file access denied",
        )
        await audit.emit("agent_steps", "agent_step", step="after-bind")
        return {"bound": bound.agent_id, "original": audit.agent_id}

    @app.post("/sync-tool")
    def sync_tool(audit: Audit) -> dict[str, int]:
        audit.sync.tool_blocked(
            tool_name="write_file", blocked_path="/etc/passwd", blocked_reason="System file"
        )
        # The module-level form, which finds the request in the ContextVar FastAPI copied.
        auditor.sync.injection_attempt(
            rule_name="ignore_previous_instructions", severity="CRITICAL", tool_name="write_file"
        )
        return {"thread": threading.get_ident()}

    @app.post("/tools/read")
    async def tool_read(audit: Audit) -> JSONResponse:
        allowed = await check_tool_path(auditor, "read_file", "/root/.ssh/id_ed25519")
        async with anyio.create_task_group() as task_group:  # and in a task it spawns
            task_group.start_soon(check_tool_path, auditor, "list_dir", "/etc/shadow")
        return JSONResponse({"allowed": allowed}, status_code=200 if allowed else 403)

    @app.websocket("/ws")
    async def websocket_route(websocket: WebSocket, audit: Audit) -> None:
        await websocket.accept()
        await audit.tool_blocked(tool_name="shell", blocked_reason="Shell access over websocket")
        await websocket.send_json({"request_id": audit.request_id, "ip_address": audit.ip_address})
        await websocket.close()

    return app


def client_for(app: FastAPI, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=PEER, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"user-agent": USER_AGENT, "cookie": f"session={SESSION}"},
    )


def assert_request_context(event: dict[str, Any], request_id: str, path: str) -> None:
    """The event carries the request's context, with the session id hashed."""
    assert event["ip_address"] == PEER[0]
    assert event["user_agent"] == USER_AGENT
    assert event["request_id"] == request_id
    assert event["request_path"] == path
    assert HASHED_SESSION.fullmatch(event["session_id"])


async def test_audit_context_matches_the_request(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.get(
            "/whoami", headers={"X-Request-ID": "whoami-request-0001", "X-Agent-ID": "agent-3"}
        )
        await auditor.flush()

    assert response.json() == {
        "is_audit_context": True,
        "ip_address": PEER[0],
        "user_agent": USER_AGENT,
        "session_id": SESSION,
        "request_id": "whoami-request-0001",
        "agent_id": "agent-3",
    }
    assert response.headers["x-request-id"] == "whoami-request-0001"
    [access] = read_events(tmp_path, API_FILE)
    assert access["request_id"] == "whoami-request-0001"


async def test_login_attempt_from_a_route_writes_one_auth_line_with_the_request_context(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.post("/login")
        await auditor.flush()

    assert response.status_code == 401
    request_id = response.headers["x-request-id"]
    [event] = read_events(tmp_path, AUTH_FILE)
    assert event["event_type"] == "login_attempt"
    assert event["category"] == "auth"
    assert event["outcome"] == "failed"
    assert event["error_message"] == "Invalid password"
    assert event["user_id"] == "alice"
    assert event["method"] == "POST"
    assert_request_context(event, request_id, "/login")
    [access] = read_events(tmp_path, API_FILE)
    assert (access["request_id"], access["outcome"]) == (request_id, "denied")
    assert access["session_id"] == event["session_id"]
    assert SESSION.encode() not in (tmp_path / AUTH_FILE).read_bytes()


async def test_bind_adds_the_agent_id_to_later_events_of_the_bound_context_only(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.post("/agents/agent-7/read")
        await auditor.flush()

    assert response.json() == {"bound": "agent-7", "original": None}
    request_id = response.headers["x-request-id"]
    [blocked] = read_events(tmp_path, TOOL_FILE)
    assert blocked["event_type"] == "tool_path_blocked"
    assert blocked["agent_id"] == "agent-7"
    assert blocked["blocked_path"] == "/home/user/.ssh/id_rsa"
    assert_request_context(blocked, request_id, "/agents/agent-7/read")
    [step] = read_events(tmp_path, "agent_steps.jsonl")
    assert step["step"] == "after-bind"
    assert "agent_id" not in step
    assert step["request_id"] == request_id


async def test_sync_methods_record_from_a_def_route_in_the_threadpool(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.post("/sync-tool")
        await auditor.flush()

    assert response.status_code == 200
    assert response.json()["thread"] != threading.get_ident()  # it ran off the event loop
    request_id = response.headers["x-request-id"]
    [blocked] = read_events(tmp_path, TOOL_FILE)
    assert (blocked["tool_name"], blocked["blocked_path"]) == ("write_file", "/etc/passwd")
    assert_request_context(blocked, request_id, "/sync-tool")
    [injection] = read_events(tmp_path, INJECTION_FILE)
    assert injection["rule_name"] == "ignore_previous_instructions"
    assert injection["risk_score"] == 1.0
    assert_request_context(injection, request_id, "/sync-tool")


async def test_code_below_the_route_records_with_the_request_context_from_the_contextvar(
    tmp_path: Path,
) -> None:
    async with Auditor(log_dir=tmp_path) as auditor, client_for(build_app(auditor)) as client:
        response = await client.post("/tools/read", headers={"X-Request-ID": "tool-request-0001"})
        other = await client.get("/whoami")
        await auditor.flush()

    assert response.status_code == 403
    assert other.headers["x-request-id"] != "tool-request-0001"
    events = read_events(tmp_path, TOOL_FILE)
    assert sorted(event["blocked_path"] for event in events) == [
        "/etc/shadow",
        "/root/.ssh/id_ed25519",
    ]
    for event in events:
        assert_request_context(event, "tool-request-0001", "/tools/read")


async def test_audit_context_without_the_middleware_raises_an_error_naming_it(
    tmp_path: Path,
) -> None:
    app = build_app(Auditor(log_dir=tmp_path), middleware=False)
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="AuditMiddleware"):
            await client.get("/whoami")
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/whoami")

    assert response.status_code == 500
    assert not tmp_path.joinpath(API_FILE).exists()


async def test_a_websocket_route_can_depend_on_audit_context(tmp_path: Path) -> None:
    script: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        return script.pop(0) if script else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"user-agent", USER_AGENT.encode()),
            (b"cookie", f"session={SESSION}".encode()),
            (b"x-request-id", b"ws-request-0001"),
        ],
        "client": PEER,
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    async with Auditor(log_dir=tmp_path) as auditor:
        await build_app(auditor)(scope, receive, send)
        await auditor.flush()

    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert json.loads(sent[1]["text"]) == {
        "request_id": "ws-request-0001",
        "ip_address": PEER[0],
    }
    [blocked] = read_events(tmp_path, TOOL_FILE)
    assert_request_context(blocked, "ws-request-0001", "/ws")
    session = read_events(tmp_path, API_FILE)
    assert [e["event_type"] for e in session] == ["websocket_connect", "websocket_close"]
    assert {e["request_id"] for e in session} == {"ws-request-0001"}
