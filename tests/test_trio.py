"""The same Auditor and middleware under trio (anyio runs them on either loop).

Each test is a plain function that runs its body with ``trio.run``, so no pytest
plugin decides the loop.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_durable_calls_and_flush_work_under_trio(tmp_path: Path) -> None:
    async def main() -> None:
        async with Auditor(log_dir=tmp_path) as auditor:
            for i in range(300):
                await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}")
            await auditor.login_attempt("failed", user_id="ann", durable=True)  # fsynced
            auditor.sync.emit("admin", "export_requested", rows=3)  # the sync facade too
            await auditor.flush()

    trio.run(main)
    tools = lines(tmp_path / "tool-blocks.jsonl")
    assert [e["blocked_path"] for e in tools] == [f"/srv/{i}" for i in range(300)]
    assert [e["user_id"] for e in lines(tmp_path / "auth-events.jsonl")] == ["ann"]
    assert [e["rows"] for e in lines(tmp_path / "admin.jsonl")] == [3]
    assert [e["event_type"] for e in lines(tmp_path / "audit.jsonl")] == [
        "audit_started",
        "audit_stopped",
    ]


def test_the_middleware_records_requests_under_trio(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path)

    async def work(request: Request) -> JSONResponse:
        await auditor.tool_blocked(tool_name="bash", blocked_path="/etc/shadow")
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/work", work)],
        middleware=[Middleware(AuditMiddleware, auditor=auditor)],
    )

    async def main() -> list[str]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 4000))
        async with (
            auditor,
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            responses = [await client.get("/work") for _ in range(3)]
        return [r.headers["x-request-id"] for r in responses]

    request_ids = trio.run(main)
    access = lines(tmp_path / "api-audit.jsonl")
    tools = lines(tmp_path / "tool-blocks.jsonl")
    assert [e["request_id"] for e in access] == request_ids
    assert [e["request_id"] for e in tools] == request_ids  # the context crossed over
    assert {e["ip_address"] for e in access + tools} == {"203.0.113.5"}
    assert [e["status_code"] for e in access] == [200, 200, 200]
