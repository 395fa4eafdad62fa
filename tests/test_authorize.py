"""``authorize``: why a request was allowed or refused, on the request's own record.

A FastAPI app runs in process through ``httpx.ASGITransport`` (a websocket through
a raw ASGI call) behind the middleware; a real Auditor writes real files under
``tmp_path``, read back by every test. The end-to-end test in
``tests/test_data_access.py`` serves the same kind of route under uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message

from asgi_audit import (
    REDACTED,
    AuditContext,
    AuditMiddleware,
    Auditor,
    RequestContext,
    SyncAuditor,
    audit_context,
)
from asgi_audit.record.authorization import Authorization, authorization_fields, decided
from asgi_audit.record.ecs import to_ecs
from asgi_audit.web.dependencies import RequestAudit
from tests.helpers import read_events

Audit = Annotated[AuditContext, Depends(audit_context)]
API: Final = "api-audit.jsonl"
GITHUB_TOKEN: Final = "ghp_" + "x7Rb2QpL9mVt4KwZs1Nc8YhDf3Gj6Ue0AiOo"


def build_app(auditor: Auditor) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AuditMiddleware, auditor=auditor, exclude=("/healthz",))

    @app.get("/documents/{doc_id}")
    async def document(doc_id: int, audit: Audit) -> dict[str, int]:
        audit.authorize("allow", reason="owner of the document", policy="documents.owner")
        return {"id": doc_id}

    @app.get("/admin")
    async def admin(audit: Audit) -> JSONResponse:
        audit.authorize("deny", reason="role 'user' lacks 'admin'", policy="rbac")
        return JSONResponse({"ok": False}, status_code=403)

    @app.get("/refused/{status}")
    async def refused(status: int) -> JSONResponse:
        return JSONResponse({"ok": False}, status_code=status)  # no decision recorded

    @app.get("/deny-without-reason")
    async def deny_without_reason(audit: Audit) -> JSONResponse:
        audit.authorize("deny")
        return JSONResponse({"ok": False}, status_code=403)

    @app.get("/hidden/{doc_id}")
    async def hidden(doc_id: int, audit: Audit) -> JSONResponse:
        # Refused, answered 404 so as not to tell the record exists.
        audit.authorize("deny", reason="not the owner", policy="documents.owner")
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    @app.get("/bound")
    async def bound(audit: Audit) -> JSONResponse:
        # A context bound for some events still decides for the request.
        audit.bind(agent_id="agent-7").authorize("deny", reason="agent lacks scope")
        return JSONResponse({"ok": False}, status_code=403)

    @app.get("/checked-thrice")
    async def checked_thrice(audit: Audit) -> dict[str, bool]:
        audit.authorize("allow", reason="signed in")
        audit.authorize("deny", reason="account suspended", policy="accounts")
        audit.authorize("allow", reason="read-only scope")
        return {"ok": True}

    @app.get("/tool")
    async def tool() -> dict[str, bool]:
        await permission_check()  # code below the route, handed no request
        return {"ok": True}

    @app.get("/sync")
    def sync_route() -> dict[str, bool]:
        auditor.sync.authorize("allow", reason="service account", policy="internal")
        return {"ok": True}

    @app.get("/secret-reason")
    async def secret_reason(audit: Audit) -> JSONResponse:
        audit.authorize("deny", reason=f"token {GITHUB_TOKEN} revoked\nforged: true")
        return JSONResponse({"ok": False}, status_code=401)

    @app.get("/stream")
    async def stream(audit: Audit) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first chunk"
            audit.authorize("deny", reason="quota exceeded while streaming", policy="quota")
            yield b"last chunk"

        return StreamingResponse(body())

    @app.get("/plain")
    async def plain() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/healthz")
    async def healthz(audit: Audit) -> dict[str, bool]:
        audit.authorize("allow", reason="public")
        return {"ok": True}

    @app.websocket("/ws/{room}")
    async def room(websocket: WebSocket, room: str, audit: Audit) -> None:
        if room == "private":
            audit.authorize("deny", reason="not a member", policy="rooms")
            await websocket.close(code=1008)
            return
        audit.authorize("allow", reason="member")
        await websocket.accept()
        await websocket.close()

    async def permission_check() -> None:
        auditor.authorize("allow", reason="tool scope granted", policy="tools")

    return app


async def records(tmp_path: Path, *paths: str) -> dict[str, dict[str, Any]]:
    """Each path requested once; its api_access record, by path."""
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        transport = httpx.ASGITransport(app=build_app(auditor))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for path in paths:
                await client.get(path)
    return {e["request_path"]: e for e in read_events(tmp_path / API)}


AUTHZ_FIELDS: Final = ("authz_decision", "authz_reason", "authz_policy", "authz_reason_missing")


def authz(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in AUTHZ_FIELDS if k in event}


async def test_each_request_carries_its_own_decision_reason_and_policy(tmp_path: Path) -> None:
    found = await records(
        tmp_path,
        "/documents/7",
        "/admin",
        "/refused/403",
        "/refused/401",
        "/refused/404",
        "/deny-without-reason",
        "/hidden/9",
        "/plain",
    )
    assert {path: (e["status_code"], authz(e)) for path, e in found.items()} == {
        "/documents/7": (
            200,
            {
                "authz_decision": "allow",
                "authz_reason": "owner of the document",
                "authz_policy": "documents.owner",
            },
        ),
        "/admin": (
            403,
            {
                "authz_decision": "deny",
                "authz_reason": "role 'user' lacks 'admin'",
                "authz_policy": "rbac",
            },
        ),
        "/refused/403": (403, {"authz_reason_missing": True}),
        "/refused/401": (401, {"authz_reason_missing": True}),
        "/refused/404": (404, {}),
        "/deny-without-reason": (403, {"authz_decision": "deny", "authz_reason_missing": True}),
        "/hidden/9": (
            404,
            {
                "authz_decision": "deny",
                "authz_reason": "not the owner",
                "authz_policy": "documents.owner",
            },
        ),
        "/plain": (200, {}),
    }
    # A recorded refusal is OWASP's authz_fail whatever the status; an allowed or
    # unchecked request keeps what its status says.
    actions = {path: e.get("event_action") for path, e in found.items()}
    assert actions == {
        "/documents/7": None,
        "/admin": "authz_fail",
        "/refused/403": "authz_fail",
        "/refused/401": "authz_fail",
        "/refused/404": None,
        "/deny-without-reason": "authz_fail",
        "/hidden/9": "authz_fail",
        "/plain": None,
    }
    assert all("encoding_error" not in e for e in found.values())


async def test_a_bound_context_decides_for_its_request(tmp_path: Path) -> None:
    [event] = (await records(tmp_path, "/bound")).values()
    assert authz(event) == {"authz_decision": "deny", "authz_reason": "agent lacks scope"}


async def test_one_refused_check_refuses_the_request(tmp_path: Path) -> None:
    [event] = (await records(tmp_path, "/checked-thrice")).values()
    assert authz(event) == {
        "authz_decision": "deny",
        "authz_reason": "account suspended",
        "authz_policy": "accounts",
    }


async def test_code_below_the_route_and_a_sync_route_decide_through_the_auditor(
    tmp_path: Path,
) -> None:
    found = await records(tmp_path, "/tool", "/sync")
    assert authz(found["/tool"]) == {
        "authz_decision": "allow",
        "authz_reason": "tool scope granted",
        "authz_policy": "tools",
    }
    assert authz(found["/sync"]) == {
        "authz_decision": "allow",
        "authz_reason": "service account",
        "authz_policy": "internal",
    }


async def test_a_secret_in_a_reason_is_redacted_and_the_record_stays_one_whole_line(
    tmp_path: Path,
) -> None:
    [event] = (await records(tmp_path, "/secret-reason")).values()
    raw = (tmp_path / API).read_bytes()
    assert GITHUB_TOKEN.encode() not in raw
    assert raw.count(b"\n") == 1
    assert event["authz_reason"] == f"token {REDACTED} revoked\nforged: true"
    assert "forged" not in event
    assert "encoding_error" not in event
    assert "authz_reason_missing" not in event


async def test_a_decision_made_while_the_body_streams_reaches_the_record(tmp_path: Path) -> None:
    [event] = (await records(tmp_path, "/stream")).values()
    assert event["status_code"] == 200
    assert authz(event) == {
        "authz_decision": "deny",
        "authz_reason": "quota exceeded while streaming",
        "authz_policy": "quota",
    }
    assert event["event_action"] == "authz_fail"


async def test_a_request_the_middleware_does_not_record_keeps_no_decision(tmp_path: Path) -> None:
    found = await records(tmp_path, "/healthz", "/plain")
    assert list(found) == ["/plain"]


async def websocket_connect(app: FastAPI, path: str) -> list[Message]:
    """A websocket handshake through raw ASGI; what the app sent back."""
    sent: list[Message] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        if inbox:
            return inbox.pop()
        await anyio.sleep_forever()
        raise AssertionError  # never reached

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("198.51.100.20", 4000),
        "scheme": "ws",
        "subprotocols": [],
    }
    with anyio.fail_after(10):  # a bound on a hang, not a measure
        await app(scope, receive, send)
    return sent


async def test_a_websocket_connect_record_carries_the_decision(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        app = build_app(auditor)
        refused = await websocket_connect(app, "/ws/private")
        accepted = await websocket_connect(app, "/ws/lobby")
    assert refused[0]["type"] == "websocket.close"
    assert accepted[0]["type"] == "websocket.accept"
    connects = {
        e["request_path"]: e
        for e in read_events(tmp_path / API)
        if e["event_type"] == "websocket_connect"
    }
    assert authz(connects["/ws/private"]) == {
        "authz_decision": "deny",
        "authz_reason": "not a member",
        "authz_policy": "rooms",
    }
    assert connects["/ws/private"]["event_action"] == "authz_fail"
    assert authz(connects["/ws/lobby"]) == {"authz_decision": "allow", "authz_reason": "member"}


@pytest.mark.parametrize(
    ("decision", "kwargs", "error", "message"),
    [
        ("permit", {}, ValueError, "Invalid authorize decision: 'permit'"),
        ("DENY", {}, ValueError, "expected one of 'allow', 'deny'"),
        (None, {}, ValueError, "Invalid authorize decision: None"),
        ("deny", {"reason": 403}, TypeError, "authorize reason must be a string, got 403"),
        ("allow", {"policy": ["rbac"]}, TypeError, "authorize policy must be a string"),
    ],
)
def test_a_wrong_argument_is_refused(
    decision: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    auditor = Auditor(log_dir="unused")
    audit = AuditContext(auditor, RequestAudit(auditor, RequestContext(request_id="req-authz-1")))
    with pytest.raises(error, match=message.replace("(", r"\(")):
        audit.authorize(decision, **kwargs)
    assert audit._request is not None
    assert audit._request.authorization is None  # nothing half-recorded


def test_outside_a_request_there_is_nothing_to_authorize() -> None:
    auditor = Auditor(log_dir="unused")
    made_by_hand = AuditContext(auditor, RequestContext(request_id="req-by-hand"))
    doors = (auditor, auditor.sync, SyncAuditor(auditor, RequestContext()), made_by_hand)
    for door in (*doors, made_by_hand.bind(agent_id="a")):
        with pytest.raises(RuntimeError) as caught:
            door.authorize("allow", reason="x")
        assert str(caught.value) == (
            "authorize() needs a request: call it while AuditMiddleware handles one"
            " (a route, or code it calls), on the Auditor or Depends(audit_context)"
        )


@given(st.lists(st.sampled_from(["allow", "deny"]), min_size=1, max_size=12))
def test_the_kept_decision_is_the_last_deny_else_the_last_allow(decisions: list[str]) -> None:
    current: Authorization | None = None
    for number, decision in enumerate(decisions):
        current = decided(current, decision, f"check {number}", None)
    assert current is not None
    denies = [n for n, d in enumerate(decisions) if d == "deny"]
    kept = denies[-1] if denies else len(decisions) - 1
    assert current == Authorization(decisions[kept], f"check {kept}", None)


@given(
    decision=st.none() | st.sampled_from(["allow", "deny"]),
    reason=st.none() | st.text(max_size=5),
    status=st.none() | st.sampled_from([200, 301, 400, 401, 403, 404, 429, 500]),
)
def test_the_reason_is_missing_exactly_on_an_unexplained_refusal(
    decision: str | None, reason: str | None, status: int | None
) -> None:
    made = None if decision is None else Authorization(decision, reason)
    fields = authorization_fields(made, status)
    unexplained = decision is None or not (reason or "").strip()
    missing = status in (401, 403) and unexplained
    assert fields.get("authz_reason_missing", False) is missing
    assert fields.get("authz_decision") == decision
    assert fields.get("authz_reason") == (None if decision is None else reason)


def test_in_ecs_the_decision_stays_in_the_namespace_and_a_deny_is_authz_fail() -> None:
    doc = to_ecs(
        {
            "timestamp": "2026-12-06T09:00:00.000000+00:00",
            "event_id": "01a24a7c-2c15-7a3e-8e51-0f3c2d9b6a41",
            "event_type": "api_access",
            "category": "api_audit",
            "outcome": "failed",
            "status_code": 404,
            "authz_decision": "deny",
            "authz_reason": "not the owner",
            "event_action": "authz_fail",
        }
    )
    assert doc["event"]["action"] == "authz_fail"
    assert doc["asgi_audit"]["authz_decision"] == "deny"
    assert doc["asgi_audit"]["authz_reason"] == "not the owner"
