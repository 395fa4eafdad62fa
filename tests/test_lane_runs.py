"""Runs on the writer's lane: chunks started behind one another, the core's
thread carrying each stream's chain from one to the next.

Skipped where the compiled core is not installed or ``ASGI_AUDIT_PURE`` is set.
``test_native_pipeline`` holds a run's lines and chains to the reference's for
every batch of its properties; here, what a run must not do with the files: a
chunk behind one whose lines came back must not append that category before
them, and a chunk behind one given back to the reference must append nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from asgi_audit import Auditor
from asgi_audit.cli import main as cli_main
from asgi_audit.proof.integrity import Chain
from asgi_audit.record.encoding import Caps
from asgi_audit.record.engine import compiled_module
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.record.redaction import Redactor
from asgi_audit.store.files import LogDirectory
from asgi_audit.store.lane import CoreLane
from asgi_audit.store.rotation import RotationPolicy
from asgi_audit.store.run import AHEAD, LaneRun
from asgi_audit.store.stream import URGENT_EVENTS
from tests.helpers import ChainsOnly
from tests.test_durability import FsyncSpy
from tests.test_lane import _locked, _release, _stuck_first_trip, _taken_beside

_module = compiled_module()
pytestmark = pytest.mark.skipif(
    _module is None or getattr(_module, "LANE", 1) < 2,
    reason="the compiled core is not installed (make native), or ASGI_AUDIT_PURE is set",
)

KEY = b"k" * 32
#: Non-ASCII text with a secret: redacted, an event only the reference encodes.
FOR_THE_REFERENCE = "café password=hunter2 and more"


def _raws(first: int, n: int, note: str = "") -> list[RawEvent]:
    return [
        RawEvent("custom", "tick", None, time.time_ns(), None, {"n": i, "note": note})
        for i in range(first, first + n)
    ]


def _lane() -> CoreLane:
    pipeline = Pipeline(redactor=Redactor(), caps=Caps(), session_ids="raw", session_key=KEY)
    lane = CoreLane.open(pipeline)
    assert lane is not None
    return lane


def _open_file(tmp_path: Path, *, rotating: bool = True) -> tuple[Path, tuple[Any, ...]]:
    # "custom.jsonl" open with one line in it, and what the core's append takes
    # for it (``rotating``: under a rotation at 4,096 bytes).
    directory = LogDirectory(tmp_path / "log")
    directory.prepare()
    file = directory.file("custom")
    file.append(b'{"n":-1}\n')
    args = file.core_args(RotationPolicy(max_bytes=4096) if rotating else None)
    assert args is not None
    return file.path, ("custom", *args)


def _started(lane: CoreLane, parts: list[tuple[list[RawEvent], Chain]], file: Any) -> list[Any]:
    # Each part started on the lane behind the one before, appending to ``file``.
    def always(chain: Chain) -> Callable[[str], Chain]:
        return lambda category: chain

    jobs = [
        lane.start(raws, always(chain), len(raws), [file], continues=bool(i))
        for i, (raws, chain) in enumerate(parts)
    ]
    assert None not in jobs
    return jobs


def _ns(data: bytes) -> list[int]:
    return [orjson.loads(line)["n"] for line in data.splitlines()]


async def test_a_category_given_back_is_left_alone_by_the_chunks_behind_it(
    tmp_path: Path,
) -> None:
    # The first chunk would take the file past its rotation size: the core's
    # append gives it back, for the writer's thread to rotate and write. The
    # chunk behind it fits; were it appended, its line would be in the file
    # before the first chunk's. It comes back too, and the file is untouched.
    path, file = _open_file(tmp_path)
    lane = _lane()
    chain = Chain(KEY, stream_id="s")
    first = lane.start(_raws(0, 60, "x" * 60), lambda c: chain, 60, [file], continues=False)
    second = lane.start(_raws(60, 1), lambda c: chain, 1, [file], continues=True)
    assert first is not None
    assert second is not None
    out = await lane.finish(first)
    assert isinstance(out, tuple)
    ((group,), _) = out
    assert group.data is not None
    assert _ns(group.data) == list(range(60))
    out = await lane.finish(second)
    assert isinstance(out, tuple)
    ((group,), _) = out
    assert group.data is not None
    assert _ns(group.data) == [60]
    assert _ns(path.read_bytes()) == [-1]
    # Both sealed, one after the other, in the same stream.
    assert chain.last.seq == 61
    lane.close()


async def test_a_new_run_appends_again(tmp_path: Path) -> None:
    # What a run stopped is stopped for that run only: a chunk that does not
    # continue starts a run of its own, and appends what fits.
    path, file = _open_file(tmp_path)
    lane = _lane()
    chain = Chain(KEY, stream_id="s")
    first = lane.start(_raws(0, 60, "x" * 60), lambda c: chain, 60, [file], continues=False)
    assert first is not None
    await lane.finish(first)
    second = lane.start(_raws(60, 1), lambda c: chain, 1, [file], continues=False)
    assert second is not None
    out = await lane.finish(second)
    assert isinstance(out, tuple)
    ((group,), _) = out
    assert group.data is None  # written by the core's thread
    assert _ns(path.read_bytes()) == [-1, 60]
    lane.close()


async def test_chunks_behind_one_given_back_append_nothing_and_start_again(
    tmp_path: Path,
) -> None:
    # The second chunk holds an event only the reference encodes: the loop seals
    # it with its own copy of the chain. The third, started behind it, would have
    # sealed and appended from the chain the core's thread carried past the first;
    # it is skipped instead, touching nothing, and comes back as None.
    path, file = _open_file(tmp_path, rotating=False)
    lane = _lane()
    chain = Chain(KEY, stream_id="s")
    odd = _raws(10, 10)
    odd[3] = odd[3]._replace(fields={"n": 13, "note": FOR_THE_REFERENCE})
    jobs = _started(lane, [(_raws(0, 10), chain), (odd, chain), (_raws(20, 10), chain)], file)
    out = await lane.finish(jobs[0])
    assert isinstance(out, tuple)
    given_back = await lane.finish(jobs[1])
    assert isinstance(given_back, list)
    assert len(given_back) == 10
    assert await lane.finish(jobs[2]) is None
    assert _ns(path.read_bytes()) == [-1, *range(10)]
    assert chain.last.seq == 20
    # Started again, from the chain as the loop has it now.
    again = lane.start(_raws(20, 10), lambda c: chain, 10, [file], continues=False)
    assert again is not None
    out = await lane.finish(again)
    assert isinstance(out, tuple)
    assert chain.last.seq == 30
    assert _ns(path.read_bytes()) == [-1, *range(10), *range(20, 30)]
    lane.close()


async def test_a_burst_in_one_run_is_written_whole_in_order(tmp_path: Path) -> None:
    # Through a real Auditor: batches a burst queues while the lane works join
    # the run; every event lands once, in order, sealed into one stream that
    # verifies, with a secret in one chunk that only the reference encodes.
    log_dir = tmp_path / "log"
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        await auditor.emit("custom", "tick", n=0)
        await auditor.flush()  # the file open, the stream announced
        for i in range(1, 6001):
            note = FOR_THE_REFERENCE if i == 2500 else f"note {i}"
            await auditor.emit("custom", "tick", n=i, note=note)
        await auditor.flush()
        stats = auditor.stats()
    assert stats["completed"] == stats["enqueued"] == 6001
    events = [orjson.loads(line) for line in (log_dir / "custom.jsonl").read_bytes().splitlines()]
    assert [e["n"] for e in events] == list(range(6001))
    assert [e["seq"] for e in events] == list(range(1, 6002))
    assert not any("encoding_error" in e for e in events)
    assert "hunter2" not in events[2500]["note"]
    assert events[2500]["note"].startswith("café")
    assert cli_main(["verify", str(log_dir)]) == 0


def test_the_run_s_chunks_run_on_the_lane_while_the_loop_reads_the_next() -> None:
    # Three chunks started before any is finished (the loop does not wait for
    # one to read the next): each is done in turn, and finishing them in order
    # gives one stream, numbered through.
    lane = _lane()
    chain = Chain(KEY, stream_id="s")
    jobs = [
        lane.start(_raws(i * 100, 100), lambda c: chain, 100, [], continues=bool(i))
        for i in range(3)
    ]

    async def finish_all() -> list[Any]:
        return [await lane.finish(job) for job in jobs]  # type: ignore[arg-type]

    outs = anyio.run(finish_all)
    seqs = [
        orjson.loads(line)["seq"]
        for out in outs
        for group in out[0]
        for line in group.data.splitlines()
    ]
    assert seqs == list(range(1, 301))
    assert chain.last.seq == 300
    lane.close()


async def test_a_burst_queued_while_the_lane_s_job_is_stuck_is_started_behind_it(
    tmp_path: Path,
) -> None:
    # The lane's job waits for another holder of the file's lock. The writer does
    # not wait for it: when the burst's queue reaches its urgent length (at each
    # hand-off of the awaited caller), it takes what waits and starts it behind.
    log_dir = tmp_path / "log"
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        await auditor.emit("custom", "x", n=0)
        await auditor.flush()  # the file open, the stream announced: the lane appends
        holder = _locked(log_dir / ".custom.jsonl.lock")
        try:
            await auditor.emit("custom", "x", n=1)
            with anyio.fail_after(30):
                while auditor.stats()["in_flight"] != 1:
                    await anyio.sleep(0.005)
            for i in range(2, 3002):
                await auditor.emit("custom", "x", n=i)
            with anyio.fail_after(10):
                while auditor.stats()["queued"] >= URGENT_EVENTS:
                    await anyio.sleep(0.005)
            stats = auditor.stats()
            assert stats["in_flight"] > 3001 - URGENT_EVENTS
            assert stats["completed"] == 1
            assert _ns((log_dir / "custom.jsonl").read_bytes()) == [0]
        finally:
            _release(holder)
        await auditor.flush()
    events = [orjson.loads(line) for line in (log_dir / "custom.jsonl").read_bytes().splitlines()]
    assert [e["n"] for e in events] == list(range(3002))
    assert [e["seq"] for e in events] == list(range(1, 3003))
    assert cli_main(["verify", str(log_dir)]) == 0


def _typed(category: str, n: int, note: str = "plain") -> RawEvent:
    return RawEvent(category, "tick", None, time.time_ns(), None, {"n": n, "note": note})


async def _run(lane: CoreLane, files: Any, batch: list[RawEvent], real: int, size: int) -> Any:
    run = LaneRun(lane, files, direct=False, size=size)
    rest = run.add(batch, 1, real)
    while run.busy():
        run.start()
        await run.finish()
    return rest


async def test_a_category_first_met_in_a_later_chunk_starts_where_its_first_event_is() -> None:
    # Two chunks of three; "two" first appears in the second chunk's second
    # event, once through the core and once through the reference (an event
    # only it encodes). Its lines start at the batch's fifth event, and only the
    # stream's events (not the events_dropped lines after them) count as real.
    lane = _lane()
    chains = {c: Chain(KEY, stream_id=c) for c in ("one", "two")}
    for odd in (False, True):
        batch = [_typed("one", i) for i in range(4)]
        batch += [_typed("two", 4, FOR_THE_REFERENCE if odd else "plain"), _typed("two", 5)]
        rest = await _run(lane, ChainsOnly(chains.get), batch, real=5, size=3)
        assert rest.first_seq == {"one": 1, "two": 5}
        assert rest.count == {"one": 4, "two": 2}
        assert rest.real_count == {"one": 4, "two": 1}
        assert [_ns(b"".join(rest.lines[c])) for c in ("one", "two")] == [[0, 1, 2, 3], [4, 5]]
    lane.close()


async def test_a_chunk_skipped_for_another_sealer_is_started_again() -> None:
    # The second chunk's stream is sealed with another key than the one the core's
    # thread carries for it (a guard: a run never spans a key's move): that thread
    # skips it, untouched, and the run starts it again on its own.
    lane = _lane()
    first, second = Chain(KEY, stream_id="s"), Chain(b"o" * 32, stream_id="s")
    asked: list[str] = []

    def chain_for(category: str) -> Chain:
        asked.append(category)
        return first if len(asked) == 1 else second

    rest = await _run(lane, ChainsOnly(chain_for), _raws(0, 6), real=6, size=3)
    assert _ns(b"".join(rest.lines["custom"])) == list(range(6))
    assert (first.last.seq, second.last.seq) == (3, 3)
    lane.close()


async def test_a_chunk_behind_one_skipped_for_another_sealer_is_skipped_too(
    tmp_path: Path,
) -> None:
    # The second chunk's stream has another sealer and is skipped; the third has
    # the first's again. Had it continued from the chain carried past the first
    # chunk, it would have sealed and appended its lines there, before the
    # second's: it is skipped too, and the file holds the first chunk alone.
    path, file = _open_file(tmp_path, rotating=False)
    lane = _lane()
    first, second = Chain(KEY, stream_id="s"), Chain(b"o" * 32, stream_id="s")

    parts = [(_raws(i * 3, 3), chain) for i, chain in enumerate((first, second, first))]
    outs = [await lane.finish(job) for job in _started(lane, parts, file)]
    assert isinstance(outs[0], tuple)
    assert outs[1:] == [None, None]
    assert _ns(path.read_bytes()) == [-1, 0, 1, 2]
    assert (first.last.seq, second.last.seq) == (3, 0)
    lane.close()


async def test_the_shutdown_checkpoint_names_the_last_line_the_lane_wrote(tmp_path: Path) -> None:
    # Lines the core's thread appended move the stream's head as the writer's
    # thread's do: the checkpoint at the stop names the last of them.
    log_dir = tmp_path / "log"
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        await auditor.emit("custom", "x", n=0)
        await auditor.flush()
        for i in range(1, 3001):
            await auditor.emit("custom", "x", n=i)
    events = [orjson.loads(line) for line in (log_dir / "custom.jsonl").read_bytes().splitlines()]
    records = [
        orjson.loads(line) for line in (log_dir / "checkpoints.log").read_bytes().splitlines()
    ]
    (last,) = [r for r in records if r.get("reason") == "shutdown"]
    (head,) = last["streams"].values()
    assert (head["seq"], head["mac"]) == (3001, events[-1]["mac"])


async def test_a_durable_event_in_a_run_is_fsynced_before_its_call_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With an fsync interval of an hour, only the durable event's own batch can
    # fsync its file: the lane writes the run's chunks, and the writer's thread
    # fsyncs the file before the call returns.
    log_dir = tmp_path / "log"
    path = log_dir / "custom.jsonl"
    spy = FsyncSpy(path).install(monkeypatch)
    async with Auditor(log_dir=log_dir, self_audit=False, fsync_interval_ms=3_600_000) as auditor:
        await auditor.emit("custom", "x", n=0)
        await auditor.flush()
        for i in range(1, 2000):
            auditor.sync.emit("custom", "x", n=i)
        with anyio.fail_after(10):
            await auditor.emit("custom", "x", n=2000, durable=True)
        assert spy.sizes
        assert spy.sizes[-1] == path.stat().st_size
    assert _ns(path.read_bytes()) == list(range(2001))


async def test_what_the_lane_wrote_of_a_batch_given_up_is_not_counted_lost(
    tmp_path: Path,
) -> None:
    # Two chunks of one category are written by the core's thread; the third,
    # of another category, waits for another holder of its file's lock past the
    # shutdown deadline. Only its 10 events are lost, not the 2,048 written.
    log_dir = tmp_path / "log"
    auditor = Auditor(log_dir=log_dir, self_audit=False, shutdown_timeout=0.5, fsync="never")
    holder = None
    try:
        async with auditor:
            await auditor.emit("custom", "x", n=0)
            await auditor.emit("other", "x", n=0)
            await auditor.flush()
            holder = _locked(log_dir / ".other.jsonl.lock")
            for i in range(1, 2049):
                auditor.sync.emit("custom", "x", n=i)
            for i in range(1, 11):
                auditor.sync.emit("other", "x", n=i)
        assert auditor.lost == 10
        assert _ns((log_dir / "custom.jsonl").read_bytes()) == list(range(2049))
    finally:
        if holder is not None:
            _release(holder)
    # The thread still writes the given-up chunk once the lock is free.
    with anyio.fail_after(30):
        while (log_dir / "other.jsonl").read_bytes().count(b"\n") < 11:
            await anyio.sleep(0.005)


async def test_a_run_starts_at_most_ahead_chunks_at_once() -> None:
    # Seven chunks taken: three are read into the core and started, the rest wait
    # as the events they are until one is finished (a stuck write then holds no
    # more copies than that); all seven end up sealed in order.
    lane = _lane()
    chain = Chain(KEY, stream_id="s")
    files: Any = ChainsOnly(lambda c: chain)
    run = LaneRun(lane, files, direct=False, size=10)
    rest = run.add(_raws(0, 70), 1, 70)
    run.start()
    assert run.in_lane() == AHEAD == 3
    run.start()
    assert run.in_lane() == AHEAD
    most = AHEAD
    while run.busy():
        run.start()
        most = max(most, run.in_lane())
        await run.finish()
    assert most == AHEAD
    assert _ns(b"".join(rest.lines["custom"])) == list(range(70))
    assert chain.last.seq == 70
    lane.close()


async def test_the_loop_runs_while_the_lane_works_on_after_a_trip(tmp_path: Path) -> None:
    # A trip of the writer's thread ends while the lane's thread is still at the
    # burst gathered beside it (held here behind a job stuck on another file's
    # lock). The writer must wait for the lane, not spin: it used to loop
    # without yielding, holding the event loop and the GIL until the lane was
    # done. A timer lets go of the lock if the loop never comes back.
    log_dir = tmp_path / "log"
    path, args = _open_file(tmp_path / "elsewhere", rotating=False)
    blocker = _locked(path.parent / ".custom.jsonl.lock")
    guard = threading.Lock()
    freed: list[str] = []

    def let_go(by: str) -> None:
        with guard:
            if not freed:
                freed.append(by)
                _release(blocker)

    timer = threading.Timer(20, let_go, ("timer",))
    timer.start()
    auditor = Auditor(log_dir=log_dir, self_audit=False, queue_capacity=10_000)
    try:
        async with auditor:
            holder = await _stuck_first_trip(auditor, log_dir)
            try:
                assert auditor._runtime is not None
                lane = auditor._runtime.writer._lane
                assert lane is not None
                stuck = lane.start(_raws(-1, 1), lambda category: None, 1, [args], continues=False)
                assert stuck is not None
                for i in range(1, 3073):  # hands the loop over every 1,024 events
                    await auditor.emit("custom", "x", n=i)
                await _taken_beside(auditor)
            finally:
                _release(holder)  # the trip ends
            with anyio.fail_after(30):
                while not (log_dir / "custom.jsonl").exists():
                    await anyio.sleep(0.005)
            for _ in range(20):  # turns of the loop after the trip's end reached it
                await anyio.sleep(0.005)
            assert freed == []
            assert not stuck.done()
            let_go("test")
            await auditor.flush()
    finally:
        let_go("test")
        timer.cancel()
    assert freed == ["test"]
    assert _ns((log_dir / "custom.jsonl").read_bytes()) == list(range(3073))
    assert _ns(path.read_bytes()) == [-1, -1]
    assert cli_main(["verify", str(log_dir)]) == 0


async def test_a_batch_finished_while_the_run_goes_on_is_counted_complete_at_once(
    tmp_path: Path,
) -> None:
    # The first batch's chunk waits for another holder of "a"'s lock; the next
    # batch is started behind it and waits for "b"'s. Once "a" is free, the first
    # batch is complete while the run goes on: counted so at once, with the
    # second batch in flight and nothing held.
    log_dir = tmp_path / "log"
    # No linger: the writer takes at each hand-off, not once the queue is urgent.
    async with Auditor(
        log_dir=log_dir, self_audit=False, fsync="never", batch_interval_ms=0
    ) as auditor:
        await auditor.emit("a", "x", n=0)
        await auditor.emit("b", "x", n=0)
        await auditor.flush()  # both files open, both streams announced
        assert auditor.stats()["completed"] == 2
        batches = auditor.stats()["batches"]
        holders = {name: _locked(log_dir / f".{name}.jsonl.lock") for name in ("a", "b")}
        try:
            # The awaited caller hands off at sequence numbers 1,024 and 2,048:
            # a batch of the 1,022 "a" events, then one of 1,024 "b" events.
            for i in range(1, 1023):
                await auditor.emit("a", "x", n=i)
            for i in range(1, 1025):
                await auditor.emit("b", "x", n=i)
            with anyio.fail_after(30):
                while auditor.stats()["in_flight"] != 2046:
                    await anyio.sleep(0.005)
            _release(holders.pop("a"))
            with anyio.fail_after(30):
                while auditor.stats()["completed"] == 2:
                    await anyio.sleep(0.005)
            stats = auditor.stats()
            assert (stats["completed"], stats["in_flight"]) == (1024, 1024)
            assert (stats["held"], stats["queued"]) == (0, 0)
            assert _ns((log_dir / "a.jsonl").read_bytes()) == list(range(1023))
            assert _ns((log_dir / "b.jsonl").read_bytes()) == [0]
        finally:
            for holder in holders.values():
                _release(holder)
        await auditor.flush()
        assert auditor.stats()["completed"] == 2048
        # The first taken by the writer's loop, the second into the run.
        assert auditor.stats()["batches"] == batches + 2
    assert _ns((log_dir / "b.jsonl").read_bytes()) == list(range(1025))
    assert cli_main(["verify", str(log_dir)]) == 0
