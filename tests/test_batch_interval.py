"""The writer's batch interval: under steady load it takes a batch at most every
``batch_interval_ms``; whoever waits for it does not wait for the interval.

Real Auditors on real files. The interval is set to a minute where a test proves
that something cuts it short: a wait that is not cut short runs into the test's
own deadline (ten seconds) instead of passing.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from pathlib import Path

import anyio
import pytest

from asgi_audit import Auditor
from asgi_audit.record.events import CATEGORY_FILES, RawEvent
from asgi_audit.store.stream import EventStream

from .helpers import read_events

MINUTE_MS = 60_000
DEADLINE_S = 10


def _tool_file(directory: Path) -> Path:
    return directory / CATEGORY_FILES["tool_blocks"]


def _blocked_paths(directory: Path) -> list[str]:
    path = _tool_file(directory)
    if not path.exists():
        return []
    return [e["blocked_path"] for e in read_events(path) if e["category"] == "tool_blocks"]


async def _until_written(directory: Path, count: int) -> list[str]:
    # Polls the file, never flushes: only the writer on its own can end this.
    with anyio.fail_after(DEADLINE_S):
        while len(paths := _blocked_paths(directory)) < count:
            await anyio.sleep(0.005)
    return paths


async def _block(auditor: Auditor, i: int, *, durable: bool = False) -> None:
    await auditor.tool_blocked(
        tool_name="read_file",
        blocked_path=f"/etc/p{i}",
        blocked_reason="denied",
        durable=durable,
    )


async def _steady(auditor: Auditor, events: int) -> float:
    # Events one at a time with the loop running between them, as requests come.
    start = time.monotonic()
    for i in range(events):
        await _block(auditor, i)
        await anyio.sleep(0.002)
    await auditor.flush()
    return time.monotonic() - start


@pytest.mark.anyio
async def test_under_steady_load_batches_are_taken_at_most_once_per_interval(
    tmp_path: Path,
) -> None:
    auditor = Auditor(log_dir=tmp_path / "lingering", self_audit=False, batch_interval_ms=100)
    async with auditor:
        elapsed = await _steady(auditor, 200)
        assert auditor._runtime is not None
        batches = auditor._runtime.writer.batches
    # One batch when the first event wakes the idle writer, then one per interval
    # (the flush at the end may cut the last one short).
    assert batches <= math.floor(elapsed / 0.1) + 2
    assert _blocked_paths(tmp_path / "lingering") == [f"/etc/p{i}" for i in range(200)]

    eager = Auditor(log_dir=tmp_path / "eager", self_audit=False, batch_interval_ms=0)
    async with eager:
        elapsed = await _steady(eager, 200)
        assert eager._runtime is not None
        eager_batches = eager._runtime.writer.batches
    # Without the interval the writer takes what is there each time it is free.
    assert eager_batches > math.floor(elapsed / 0.1) + 2
    assert _blocked_paths(tmp_path / "eager") == [f"/etc/p{i}" for i in range(200)]


@pytest.mark.anyio
async def test_a_written_batch_is_not_kept_alive_while_the_writer_lingers(
    tmp_path: Path,
) -> None:
    # Events kept alive across the linger outlive the garbage collector's young
    # generations (its full collections then walk them): once written, nothing
    # of the writer (its loop, its thread's last job) may hold the batch.
    # Only this test's events count: a writer another test gave up at its
    # shutdown deadline may still hold its own batch in its thread.
    marker = str(tmp_path)

    def ours_alive() -> bool:
        # An event waiting for the writer is out of the collector's sight, with
        # its fields dict (untrack_event, where the core is installed); its
        # details' copy is not, since it holds a list: found alive, it is the
        # event's, held by the event's fields.
        return any(type(o) is dict and o.get("marker") == marker for o in gc.get_objects())

    async with Auditor(log_dir=tmp_path, batch_interval_ms=60_000) as auditor:
        for i in range(50):
            await auditor.tool_blocked(tool_name="read_file", details={"n": [i], "marker": marker})
        assert ours_alive()  # the check sees them while they wait
        await auditor.flush()
        # The writer now lingers for a minute after the batch it took; its thread
        # lets go of its last job once it has handed the result back.
        with anyio.fail_after(DEADLINE_S):
            while ours_alive():
                await anyio.sleep(0.01)
        assert auditor._runtime is not None
        assert auditor._runtime.writer.batches >= 1


@pytest.mark.anyio
async def test_a_flush_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS)
    async with auditor:
        await _block(auditor, 0)
        # The idle writer takes the first event at once, then lingers a minute.
        await _until_written(tmp_path, 1)
        await _block(auditor, 1)
        with anyio.fail_after(DEADLINE_S):
            await auditor.flush()
        assert _blocked_paths(tmp_path) == ["/etc/p0", "/etc/p1"]


@pytest.mark.anyio
async def test_a_durable_event_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS)
    async with auditor:
        await _block(auditor, 0)
        await _until_written(tmp_path, 1)
        with anyio.fail_after(DEADLINE_S):
            await _block(auditor, 1, durable=True)
        assert _blocked_paths(tmp_path) == ["/etc/p0", "/etc/p1"]


@pytest.mark.anyio
async def test_a_stream_half_full_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    # Capacity 40: the writer is hastened once 20 events are queued.
    auditor = Auditor(
        log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS, queue_capacity=40
    )
    async with auditor:
        await _block(auditor, 0)
        await _until_written(tmp_path, 1)
        for i in range(1, 20):
            await _block(auditor, i)
        await anyio.sleep(0.2)
        # 19 queued: still lingering.
        assert _blocked_paths(tmp_path) == ["/etc/p0"]
        await _block(auditor, 20)
        paths = await _until_written(tmp_path, 21)
        assert paths == [f"/etc/p{i}" for i in range(21)]


@pytest.mark.anyio
async def test_a_full_stream_with_a_blocked_caller_does_not_wait_for_the_interval(
    tmp_path: Path,
) -> None:
    # Capacity 1: every event after the first finds the stream full and waits.
    auditor = Auditor(
        log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS, queue_capacity=1
    )
    async with auditor:
        with anyio.fail_after(DEADLINE_S):
            for i in range(5):
                await _block(auditor, i)
        paths = await _until_written(tmp_path, 5)
        assert paths == [f"/etc/p{i}" for i in range(5)]


@pytest.mark.anyio
async def test_the_shutdown_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS)
    with anyio.fail_after(DEADLINE_S):
        async with auditor:
            await _block(auditor, 0)
            await _until_written(tmp_path, 1)
            await _block(auditor, 1)
    assert _blocked_paths(tmp_path) == ["/etc/p0", "/etc/p1"]
    assert auditor.lost == 0


@pytest.mark.anyio
async def test_a_flush_from_a_thread_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    auditor = Auditor(log_dir=tmp_path, self_audit=False, batch_interval_ms=MINUTE_MS)
    async with auditor:
        await _block(auditor, 0)
        await _until_written(tmp_path, 1)
        flushed: list[bool] = []

        def from_a_thread() -> None:
            auditor.sync.tool_blocked(
                tool_name="read_file", blocked_path="/etc/p1", blocked_reason="x"
            )
            flushed.append(auditor.sync.flush(timeout=DEADLINE_S))

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        with anyio.fail_after(DEADLINE_S + 5):
            while thread.is_alive():
                await anyio.sleep(0.01)
        assert flushed == [True]
        assert _blocked_paths(tmp_path) == ["/etc/p0", "/etc/p1"]


@pytest.mark.parametrize("value", [-1, -0.5, 60_001, math.nan, math.inf, True, "100", None])
def test_a_wrong_batch_interval_is_refused(tmp_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="batch_interval_ms"):
        Auditor(log_dir=tmp_path, batch_interval_ms=value)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_batch_interval_is_in_the_recorded_configuration(tmp_path: Path) -> None:
    async with Auditor(log_dir=tmp_path, batch_interval_ms=250):
        pass
    started = [
        e for e in read_events(tmp_path / "audit.jsonl") if e["event_type"] == "audit_started"
    ]
    assert len(started) == 1
    assert started[0]["details"]["configuration"]["batch_interval_ms"] == 250


# ------------------------------------------------------------ the stream alone


def _raw(i: int) -> RawEvent:
    return RawEvent("tool_blocks", "tool_path_blocked", "blocked", i, None, {"n": i}, None)


def _lingering_stream() -> tuple[EventStream, anyio.Event]:
    # A stream of 10 on this loop, and the event its writer lingers on, not yet set.
    stream = EventStream(capacity=10, overflow={})
    stream.bind_loop()
    hurry = stream.lingering()
    assert hurry is not None
    assert not hurry.is_set()
    return stream, hurry


@pytest.mark.anyio
async def test_lingering_waits_until_hastened_and_not_after() -> None:
    stream, hurry = _lingering_stream()
    stream.hasten()
    assert hurry.is_set()
    # Hastened while nobody lingered: the next linger does not wait either.
    assert stream.lingering() is None
    stream.offer(_raw(1))
    taken = stream.take()
    assert taken is not None
    assert not isinstance(taken, anyio.Event)
    # A batch taken: the hurry is spent.
    assert stream.lingering() is not None


@pytest.mark.anyio
async def test_lingering_ends_at_urgent_at_queued_events() -> None:
    stream, hurry = _lingering_stream()
    assert stream.urgent_at == 5
    for i in range(4):
        stream.offer(_raw(i))
    assert not hurry.is_set()
    stream.offer(_raw(4))
    assert hurry.is_set()
    assert stream.lingering() is None


@pytest.mark.anyio
async def test_a_dropped_event_ends_the_linger() -> None:
    # Six events taken and still being written count against the capacity of
    # 10: the queue can hold 4, never urgent_at's 5, and a writer lingering for
    # it would leave the stream full while every later event is dropped.
    stream = EventStream(capacity=10, overflow={}, default="drop")
    stream.bind_loop()
    for i in range(6):
        stream.offer(_raw(i))
    taken = stream.take()
    assert not isinstance(taken, anyio.Event)
    hurry = stream.lingering()
    assert hurry is not None
    for i in range(6, 10):
        assert stream.offer(_raw(i))
    assert not hurry.is_set()
    assert await stream.put(_raw(10)) == 0  # full: dropped
    assert stream.dropped == {"tool_blocks": 1}
    assert hurry.is_set()
    assert stream.lingering() is None


@pytest.mark.anyio
async def test_a_closing_stream_is_never_lingered_on() -> None:
    stream, hurry = _lingering_stream()
    stream.close()
    assert hurry.is_set()
    assert stream.lingering() is None


@pytest.mark.parametrize(
    ("capacity", "urgent_at"), [(1, 1), (2, 1), (3, 1), (40, 20), (10**6, 1024)]
)
def test_urgent_at_is_half_the_capacity_at_most_1024(capacity: int, urgent_at: int) -> None:
    stream = EventStream(capacity=capacity, overflow={})
    assert stream.urgent_at == urgent_at
    assert type(stream.urgent_at) is int
