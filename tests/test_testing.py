"""asgi_audit.testing: a user's own tests capture exactly the events their app records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from asgi_audit import AuditContext, AuditMiddleware, Auditor, audit_context
from asgi_audit.testing import capture_events


class Credentials(BaseModel):
    username: str
    password: str


def sample_app(auditor: Auditor) -> FastAPI:
    """A small app as a user would write it: a login form, an agent tool, a def route."""
    app = FastAPI(lifespan=auditor.lifespan)
    app.add_middleware(AuditMiddleware, auditor=auditor)

    @app.post("/login")
    async def login(
        credentials: Credentials, audit: Annotated[AuditContext, Depends(audit_context)]
    ) -> dict[str, bool]:
        username, password = credentials.username, credentials.password
        ok = password == "correct horse"
        await audit.login_attempt(
            "success" if ok else "failed",
            user_id=username,
            error_message=None if ok else "invalid credentials",
            details={"form": credentials.model_dump()},  # the password is masked by its key
        )
        return {"ok": ok}

    @app.post("/agent/read")
    async def read(path: str) -> dict[str, str]:
        if ".ssh" in path:
            await auditor.tool_blocked(
                tool_name="read_file", blocked_path=path, blocked_reason="SSH key"
            )
            return {"result": "blocked"}
        return {"result": "ok"}

    @app.get("/sync")
    def sync_route() -> dict[str, str]:
        auditor.sync.emit("custom", "sync_event", outcome="success", note="from a def route")
        return {"ok": "yes"}

    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _kinds(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["event_type"], e["outcome"]) for e in events]


async def test_a_test_captures_exactly_the_events_of_its_requests_and_no_file_is_written(
    tmp_path: Path,
) -> None:
    auditor = Auditor(log_dir=tmp_path / "audit")
    app = sample_app(auditor)
    async with auditor, client_for(app) as client:  # a real, running Auditor
        await client.get("/sync")  # before the capture: goes to the files
        with capture_events(auditor) as audit:
            await client.post("/login", json={"username": "ann", "password": "hunter2-secret"})
            await client.post("/agent/read", params={"path": "/home/ann/.ssh/id_rsa"})
            await client.get("/sync")
    assert _kinds(audit.events) == [
        ("login_attempt", "failed"),
        ("api_access", "success"),
        ("tool_path_blocked", "blocked"),
        ("api_access", "success"),
        ("sync_event", "success"),
        ("api_access", "success"),
    ]
    [login] = audit.of_type("login_attempt")
    assert login["user_id"] == "ann"
    assert login["ip_address"] == "203.0.113.9"
    assert login["request_path"] == "/login"
    assert "hunter2-secret" not in str(audit.events)  # redacted like the lines
    assert login["details"] == {"form": {"username": "ann", "password": "***REDACTED***"}}
    [blocked] = audit.in_category("tool_blocks")
    assert blocked["blocked_path"] == "/home/ann/.ssh/id_rsa"
    assert blocked["request_id"] != login["request_id"]  # each request its own id
    assert len(audit) == 6
    # Only the request made before the capture reached the files.
    api_lines = (tmp_path / "audit" / "api-audit.jsonl").read_text().splitlines()
    assert len(api_lines) == 1
    assert not (tmp_path / "audit" / "auth-events.jsonl").exists()
    assert not (tmp_path / "audit" / "tool-blocks.jsonl").exists()


async def test_a_capture_works_without_the_lifespan_and_captures_nest(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path / "audit")
    async with client_for(sample_app(auditor)) as client:  # the Auditor never starts
        with capture_events(auditor) as outer:
            await client.post("/login", json={"username": "bob", "password": "correct horse"})
            with capture_events(auditor) as inner:
                await client.post("/agent/read", params={"path": "/tmp/notes.txt"})
            outer_only = len(outer)
    assert _kinds(inner.events) == [("api_access", "success")]
    assert _kinds(outer.events) == [
        ("login_attempt", "success"),
        ("api_access", "success"),
        ("api_access", "success"),
    ]
    assert outer_only == 3
    assert not (tmp_path / "audit").exists() or not any((tmp_path / "audit").glob("*.jsonl"))
    outer.clear()
    assert outer.events == []
