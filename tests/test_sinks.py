"""Sinks: the files stay the source of truth; a sink gets every line at least once, in order.

Real files, a real Auditor and its runner threads; the sinks here are small real
classes that keep what they receive. The lines are the events of every category
file and the ledger's records (``checkpoints.log``, which the runner follows as
one more file, first, and which is never rotated): each test checks both. Waits
are bounded hang guards, never timing assertions.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import anyio
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor, rotate_audit_logs
from asgi_audit.store.rotation import rotated_files
from tests.helpers import LEDGER, is_ledger_line

HANG_GUARD: Final = 30.0


class MemorySink:
    """Keeps every line it accepted; can be made to fail or to stall."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.lines: list[bytes] = []
        self.calls = 0
        self.fail_next = 0
        self.fail_always = False
        self.gate = threading.Event()
        self.gate.set()
        self.closed = False
        self._lock = threading.Lock()

    def send(self, lines: Sequence[bytes]) -> None:
        self.calls += 1
        if not self.gate.wait(HANG_GUARD):
            raise TimeoutError("the test never opened the gate")
        if self.fail_always or self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("collector unreachable")
        with self._lock:
            self.lines.extend(lines)

    def close(self) -> None:
        self.closed = True

    def event_ids(self) -> list[str]:
        return [orjson.loads(line)["event_id"] for line in event_lines(self)]


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def file_lines(log_dir: Path, name: str) -> list[bytes]:
    """Every line of a category, rotated files first, as written."""
    path = log_dir / name
    lines: list[bytes] = []
    for rotated in rotated_files(path):
        lines.extend(rotated.read_bytes().splitlines(keepends=True))
    if path.exists():
        lines.extend(path.read_bytes().splitlines(keepends=True))
    return lines


def every_line(log_dir: Path) -> list[bytes]:
    """The ledger's lines and every category's (rotated files first), as written."""
    names = sorted(path.name for path in log_dir.glob("*.jsonl"))
    return [line for name in (LEDGER, *names) for line in file_lines(log_dir, name)]


def received(sink: MemorySink) -> list[bytes]:
    with sink._lock:
        return list(sink.lines)


def event_lines(sink: MemorySink) -> list[bytes]:
    return [line for line in received(sink) if not is_ledger_line(line)]


def ledger_lines(sink: MemorySink) -> list[bytes]:
    return [line for line in received(sink) if is_ledger_line(line)]


def category_lines(sink: MemorySink, category: str) -> list[bytes]:
    return [line for line in event_lines(sink) if orjson.loads(line)["category"] == category]


def record_types(lines: Sequence[bytes]) -> list[str]:
    return [orjson.loads(line)["type"] for line in lines]


async def emit(auditor: Auditor, start: int, count: int) -> None:
    for i in range(start, start + count):
        await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}.txt")
        if i % 3 == 0:
            await auditor.login_attempt("failed", user_id=f"user{i}")


async def test_a_sink_gets_every_line_byte_exact_and_in_order_across_rotations(
    tmp_path: Path,
) -> None:
    sink = MemorySink()
    async with Auditor(log_dir=tmp_path, sinks=[sink]) as auditor:
        for part in range(4):
            await emit(auditor, part * 300, 300)
            await auditor.flush()
            rotate_audit_logs(tmp_path, max_size_mb=0)  # every file, under load
        await emit(auditor, 1200, 100)
        await auditor.flush()
        tools = file_lines(tmp_path, "tool-blocks.jsonl")
        wait_until(lambda: len(category_lines(sink, "tool_blocks")) >= len(tools), "the sink")
        stats = auditor.stats()["sinks"]["memory"]

    assert len(tools) == 1300
    assert len(rotated_files(tmp_path / "tool-blocks.jsonl")) == 4
    assert category_lines(sink, "tool_blocks") == tools  # byte-exact, in order, once
    assert category_lines(sink, "auth") == file_lines(tmp_path, "auth-events.jsonl")
    # The ledger too, never rotated; the shutdown's checkpoint and stop were
    # delivered before the sink was closed.
    ledger = file_lines(tmp_path, LEDGER)
    assert rotated_files(tmp_path / LEDGER) == []
    assert record_types(ledger)[-2:] == ["checkpoint", "stop"]
    assert ledger_lines(sink) == ledger  # byte-exact, in order, once
    assert sorted(sink.lines) == sorted(every_line(tmp_path))  # each line once, nothing else
    assert stats["sent"] >= 1300
    assert stats["errors"] == 0
    assert stats["gap"] == 0
    assert len(set(sink.event_ids())) == len(event_lines(sink))
    assert sink.closed


async def test_a_stalled_sink_slows_neither_the_requests_nor_the_files(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.gate.clear()  # the collector hangs
    auditor = Auditor(log_dir=tmp_path, sinks=[sink])

    async def hello(request: Request) -> JSONResponse:
        await auditor.tool_blocked(tool_name="read_file", blocked_path="/etc/shadow")
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/hello", hello)],
        middleware=[Middleware(AuditMiddleware, auditor=auditor)],
        lifespan=lambda app: auditor.lifespan(app),
    )
    transport = httpx.ASGITransport(app=app)
    async with auditor, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        responses = [await client.get("/hello") for _ in range(200)]
        await auditor.flush()
        # Everything is in the files while the sink has received nothing.
        assert all(r.status_code == 200 for r in responses)
        assert len(file_lines(tmp_path, "api-audit.jsonl")) == 200
        assert len(file_lines(tmp_path, "tool-blocks.jsonl")) == 200
        assert sink.lines == []
        # Files only grow: what they hold now is all lag, the ledger's records too.
        held = sum(path.stat().st_size for path in [tmp_path / LEDGER, *tmp_path.glob("*.jsonl")])
        ledger_held = file_lines(tmp_path, LEDGER)
        stalled = auditor.stats()["sinks"]["memory"]
        sink.gate.set()  # the collector answers again
        wait_until(lambda: len(event_lines(sink)) >= 401, "the sink to catch up")
        caught_up = auditor.stats()["sinks"]["memory"]

    assert stalled["sent"] == 0
    assert stalled["lag_bytes"] >= held
    assert caught_up["sent"] >= 401
    assert caught_up["positions"][LEDGER] > 0
    # The ledger first: what it held while the sink stalled came before any event.
    assert sink.lines[: len(ledger_held)] == ledger_held
    # Every line once (audit_stopped and the ledger's last records too: delivered at
    # shutdown), each file's in order.
    assert sorted(sink.lines) == sorted(every_line(tmp_path))
    for name in ("api-audit.jsonl", "tool-blocks.jsonl", "audit.jsonl", LEDGER):
        lines = file_lines(tmp_path, name)
        assert [line for line in sink.lines if line in set(lines)] == lines, name


async def test_a_failing_sink_is_retried_and_delivers_each_line_once(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.fail_next = 3
    async with Auditor(log_dir=tmp_path, sinks=[sink]) as auditor:
        await emit(auditor, 0, 90)
        await auditor.flush()
        wait_until(lambda: len(category_lines(sink, "tool_blocks")) >= 90, "the retries")
        stats = auditor.stats()["sinks"]["memory"]

    assert stats["errors"] == 3
    assert stats["last_error"] == "ConnectionError: collector unreachable"
    assert category_lines(sink, "tool_blocks") == file_lines(tmp_path, "tool-blocks.jsonl")
    assert category_lines(sink, "auth") == file_lines(tmp_path, "auth-events.jsonl")
    assert len(set(sink.event_ids())) == len(event_lines(sink))
    # The failed batches (the ledger's, first) were delivered once when retried.
    assert ledger_lines(sink) == file_lines(tmp_path, LEDGER)
    assert sorted(sink.lines) == sorted(every_line(tmp_path))


async def test_a_sink_resumes_where_it_stopped_across_restarts_and_rotation(
    tmp_path: Path,
) -> None:
    down = MemorySink("collector")
    down.fail_always = True  # first run: the collector is unreachable throughout
    async with Auditor(log_dir=tmp_path, sinks=[down]) as auditor:
        await emit(auditor, 0, 150)
        await auditor.flush()
        rotate_audit_logs(tmp_path, max_size_mb=0)
        await emit(auditor, 150, 150)
    assert down.lines == []

    partly = MemorySink("collector")  # second run: delivers, then the app stops
    async with Auditor(log_dir=tmp_path, sinks=[partly]) as auditor:
        wait_until(lambda: len(category_lines(partly, "tool_blocks")) >= 300, "the backlog")
        await emit(auditor, 300, 50)
        await auditor.flush()
        wait_until(lambda: len(category_lines(partly, "tool_blocks")) >= 350, "the new lines")

    third = MemorySink("collector")  # third run: nothing old is sent again
    async with Auditor(log_dir=tmp_path, sinks=[third]) as auditor:
        await emit(auditor, 350, 10)
        await auditor.flush()
        wait_until(lambda: len(category_lines(third, "tool_blocks")) >= 10, "the last lines")

    tools = file_lines(tmp_path, "tool-blocks.jsonl")
    assert len(tools) == 360
    assert category_lines(partly, "tool_blocks") + category_lines(third, "tool_blocks") == tools
    # The ledger, with the records of three runs: the first run's delivered by the
    # second, the second's own stop by the second at its shutdown, nothing twice.
    ledger = file_lines(tmp_path, LEDGER)
    assert record_types(ledger).count("stop") == 3
    assert ledger_lines(partly) + ledger_lines(third) == ledger
    assert record_types(ledger_lines(partly)).count("stop") == 2
    assert sorted(partly.lines + third.lines) == sorted(every_line(tmp_path))
    position = (tmp_path / ".sink-collector.json").stat()
    assert position.st_mode & 0o777 == 0o600


def test_sinks_are_checked_when_the_auditor_is_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Two sinks are named 'memory'"):
        Auditor(log_dir=tmp_path, sinks=[MemorySink(), MemorySink()])
    with pytest.raises(ValueError, match="Invalid sink name 'bad name'"):
        Auditor(log_dir=tmp_path, sinks=[MemorySink("bad name")])
    with pytest.raises(TypeError, match="A sink needs name"):
        Auditor(log_dir=tmp_path, sinks=[object()])  # type: ignore[list-item]


async def test_processes_sharing_a_directory_deliver_each_line_once_and_take_over(
    tmp_path: Path,
) -> None:
    # Two Auditors on one directory (as uvicorn workers are), each with the sink:
    # the first delivers, the second stands by, and takes over when the first stops.
    first, second = MemorySink("shared"), MemorySink("shared")
    a = Auditor(log_dir=tmp_path, sinks=[first])
    b = Auditor(log_dir=tmp_path, sinks=[second])
    a_started, a_stop, a_stopped = anyio.Event(), anyio.Event(), anyio.Event()

    async def run_a() -> None:  # the first worker, in a task of its own
        async with a:
            a_started.set()
            await a_stop.wait()
        a_stopped.set()

    async with anyio.create_task_group() as workers:
        workers.start_soon(run_a)
        await a_started.wait()
        wait_until(lambda: not a.stats()["sinks"]["shared"]["standby"], "the first to own it")
        async with b:
            await emit(a, 0, 100)
            await emit(b, 100, 100)
            await a.flush()
            await b.flush()
            wait_until(lambda: len(category_lines(first, "tool_blocks")) >= 200, "the owner")
            assert b.stats()["sinks"]["shared"]["standby"] is True
            assert category_lines(second, "tool_blocks") == []
            a_stop.set()  # the owner stops
            await a_stopped.wait()
            await emit(b, 200, 50)
            await b.flush()
            wait_until(lambda: len(category_lines(second, "tool_blocks")) >= 50, "the takeover")
            assert b.stats()["sinks"]["shared"]["standby"] is False

    tools = file_lines(tmp_path, "tool-blocks.jsonl")
    assert len(tools) == 250
    # Every line once, in order, whoever sent it.
    delivered = category_lines(first, "tool_blocks") + category_lines(second, "tool_blocks")
    assert delivered == tools
    # The two writers share one ledger: it too arrived once, in order, in two parts.
    ledger = file_lines(tmp_path, LEDGER)
    assert record_types(ledger).count("start") == 2
    assert ledger_lines(first) + ledger_lines(second) == ledger
    assert sorted(first.lines + second.lines) == sorted(every_line(tmp_path))


async def test_the_position_file_is_never_written_through_a_planted_symlink(
    tmp_path: Path,
) -> None:
    # Whoever writes the directory knows the process id: the old temporary name
    # was predictable. Plant symlinks at every such name the run could use.
    victim = tmp_path.parent / f"{tmp_path.name}-victim.txt"
    victim.write_text("untouched\n", encoding="utf-8")
    for pid in range(os.getpid() - 2, os.getpid() + 3):
        (tmp_path / f".sink-collector.json.{pid}.tmp").symlink_to(victim)
    sink = MemorySink("collector")
    async with Auditor(log_dir=tmp_path, sinks=[sink]) as auditor:
        await emit(auditor, 0, 20)
        await auditor.flush()
        wait_until(lambda: len(category_lines(sink, "tool_blocks")) >= 20, "the lines")

    assert victim.read_text(encoding="utf-8") == "untouched\n"
    saved = orjson.loads((tmp_path / ".sink-collector.json").read_bytes())
    assert saved["sink"] == "collector"
    tools = tmp_path / "tool-blocks.jsonl"
    assert saved["files"]["tool-blocks.jsonl"]["offset"] == tools.stat().st_size
    assert saved["files"][LEDGER]["offset"] == (tmp_path / LEDGER).stat().st_size
    assert ledger_lines(sink) == file_lines(tmp_path, LEDGER)
    leftovers = [p.name for p in tmp_path.glob(".sink-collector.json.*.tmp") if not p.is_symlink()]
    assert leftovers == []
