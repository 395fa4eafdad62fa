"""OpenTelemetry: with a span active, events carry its trace_id and span_id."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from asgi_audit import AuditMiddleware, Auditor
from asgi_audit.record.tracing import trace_ids

tracer = TracerProvider().get_tracer("asgi_audit tests")


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class ServerSpan:
    """Starts a span around each request, as OpenTelemetry's ASGI middleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with tracer.start_as_current_span("GET /work") as span:
            ctx = span.get_span_context()
            self.seen.append((f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"))
            await self.app(scope, receive, send)


async def test_an_event_outside_a_request_carries_the_current_span(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path) as auditor:
        await auditor.tool_blocked(tool_name="read_file", blocked_path="/a")  # no span
        with tracer.start_as_current_span("job") as span:
            await auditor.tool_blocked(tool_name="read_file", blocked_path="/b")
            ctx = span.get_span_context()
    untraced, traced = lines(tmp_path / "tool-blocks.jsonl")
    assert "trace_id" not in untraced
    assert "span_id" not in untraced
    assert traced["trace_id"] == f"{ctx.trace_id:032x}"
    assert traced["span_id"] == f"{ctx.span_id:016x}"


async def test_a_request_inside_a_server_span_carries_it_on_every_event(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path)

    async def work(request: Request) -> JSONResponse:
        await auditor.tool_blocked(tool_name="bash", blocked_path="/etc/shadow")
        return JSONResponse({"ok": True})

    outer: list[ServerSpan] = []

    def server_span(app: ASGIApp) -> ServerSpan:
        outer.append(ServerSpan(app))
        return outer[-1]

    app = Starlette(
        routes=[Route("/work", work)],
        middleware=[Middleware(server_span), Middleware(AuditMiddleware, auditor=auditor)],
    )
    transport = httpx.ASGITransport(app=app)
    async with auditor, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/work")
        await client.get("/work")
    seen = outer[-1].seen
    access = lines(tmp_path / "api-audit.jsonl")
    tools = lines(tmp_path / "tool-blocks.jsonl")
    assert [(e["trace_id"], e["span_id"]) for e in access] == seen
    assert [(e["trace_id"], e["span_id"]) for e in tools] == seen
    assert seen[0][0] != seen[1][0]  # each request its own trace


def test_no_span_in_the_context_gives_no_ids_and_a_span_does() -> None:
    # The quick answer (nothing in OpenTelemetry's context) and the slow one
    # (something there, but no span: baggage) both say no span; a span says so.
    assert context.get_current() == {}
    assert trace_ids() == (None, None)
    token = context.attach(baggage.set_baggage("tenant", "t1"))
    try:
        assert context.get_current()
        assert trace_ids() == (None, None)
        with tracer.start_as_current_span("work") as span:
            ctx = span.get_span_context()
            assert trace_ids() == (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    finally:
        context.detach(token)
    assert trace_ids() == (None, None)
