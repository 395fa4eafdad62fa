"""The writer's lane: a thread of the compiled core's that encodes, seals and
appends batches without ever taking the GIL.

Skipped where the compiled core is not installed or ``ASGI_AUDIT_PURE`` is set.
The lines it gives are the reference's (``test_native_pipeline`` holds every batch
of its properties to that, through the lane too); here: that its thread never
needs the GIL, that it appends to the real files once they are open, that what it
cannot take comes back to the writer's Python code, and that a job dropped
before it is done still reads only live strings.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from asgi_audit import Auditor
from asgi_audit.cli import main as cli_main
from asgi_audit.proof.keyfiles import DEFAULT_EPOCH_SECONDS
from asgi_audit.record.encoding import Caps
from asgi_audit.record.engine import compiled_module
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.store.batches import GATHER_FROM
from asgi_audit.store.files import AppendFile
from tests.attack_log import writer_clock
from tests.helpers import debug_allocator_output

_module = compiled_module()
pytestmark = pytest.mark.skipif(
    _module is None or not hasattr(_module, "Lane"),
    reason="the compiled core is not installed (make native), or ASGI_AUDIT_PURE is set",
)

KEY = b"k" * 32


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "log"


def _raws(n: int, note: str = "n") -> list[RawEvent]:
    return [
        RawEvent("custom", "tick", None, time.time_ns(), None, {"i": i, "note": f"{note}{i}"})
        for i in range(n)
    ]


def _start(pipeline: Pipeline, lane: Any, raws: list[RawEvent], files: list[Any]) -> Any:
    prepared = pipeline.prepare_core(raws, lambda category: None)
    assert prepared is not None
    core, slots, _, stamps, states = prepared
    return core.start_grouped(lane, list(raws), slots, stamps, states, len(raws), files)


def _wait(lane: Any) -> None:
    readable, _, _ = select.select([lane.fileno()], [], [], 60)
    assert readable, "the lane's thread never signalled"
    lane.drain()


def test_the_lane_s_thread_never_takes_the_gil() -> None:
    # With a switch interval of 1,000 s, a thread that waits for the GIL while
    # this one spins in Python would wait all that time. The lane's job is done
    # while the spin holds it: its thread never asked for it.
    assert _module is not None
    pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=KEY)
    lane = _module.Lane()
    job = _start(pipeline, lane, _raws(2048), [])
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        deadline = time.monotonic() + 60
        while not job.done() and time.monotonic() < deadline:
            pass
        done = job.done()
    finally:
        sys.setswitchinterval(interval)
    assert done
    _wait(lane)
    groups, _, _ = job.finish()
    ((category, data, _, count, first, real, status, _),) = groups
    assert (category, count, first, real, status) == ("custom", 2048, 0, 2048, 3)
    assert [orjson.loads(line)["i"] for line in data.splitlines()] == list(range(2048))
    with pytest.raises(RuntimeError, match="taken"):
        job.finish()


def test_a_forked_child_cannot_send_a_job_to_its_parent_s_lane() -> None:
    # A forked child has the lane but not its thread: a job sent there would never
    # be done, and its writer would wait for it forever. It is refused instead.
    assert _module is not None
    pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=KEY)
    lane = _module.Lane()
    with warnings.catch_warnings():  # 3.12+: a fork of a process with threads warns
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the job is refused
        code = 1
        try:
            _start(pipeline, lane, _raws(4), [])
        except RuntimeError as exc:
            code = 0 if "forked" in str(exc) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    job = _start(pipeline, lane, _raws(4), [])  # the parent's lane still works
    _wait(lane)
    assert job.done()


async def test_once_a_category_s_file_is_open_the_lane_appends_to_it(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first batch of a category opens its file and announces its stream in
    # the writer's Python thread; from then on the core's thread appends, and
    # the Python append is never called.
    async with Auditor(log_dir=log_dir) as auditor:
        await auditor.login_attempt("success", user_id="alice", ip_address="203.0.113.7")
        await auditor.flush()
        calls: list[str] = []
        python_append = AppendFile.append

        def spy(self: AppendFile, *args: Any, **kwargs: Any) -> Any:
            calls.append(self.path.name)
            return python_append(self, *args, **kwargs)

        monkeypatch.setattr(AppendFile, "append", spy)
        for i in range(3000):
            await auditor.login_attempt("failed", user_id=f"user{i}", ip_address="203.0.113.8")
        await auditor.flush()
        assert "auth-events.jsonl" not in calls
        stats = auditor.stats()
        # Complete up to the last event recorded, not a number beyond it.
        assert stats["completed"] == stats["enqueued"]
    lines = (log_dir / "auth-events.jsonl").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    assert [e["user_id"] for e in events] == ["alice", *(f"user{i}" for i in range(3000))]
    assert [e["seq"] for e in events] == list(range(1, 3002))
    assert not any("encoding_error" in e for e in events)
    assert stats["categories"]["auth"]["written"] == 3001
    assert cli_main(["verify", str(log_dir)]) == 0


async def test_a_file_moved_away_is_left_to_the_python_append(log_dir: Path) -> None:
    # Another process rotates the file between two batches: the core's append
    # sees the path name another file and gives the batch back, and the Python
    # append opens the new file, as it always did. Nothing is lost or doubled.
    async with Auditor(log_dir=log_dir) as auditor:
        for i in range(10):
            await auditor.tool_blocked(
                tool_name="shell", blocked_path=f"/etc/shadow{i}", blocked_reason="denied"
            )
        await auditor.flush()
        (log_dir / "tool-blocks.jsonl").rename(log_dir / "tool-blocks.jsonl.moved")
        for i in range(10, 20):
            await auditor.tool_blocked(
                tool_name="shell", blocked_path=f"/etc/shadow{i}", blocked_reason="denied"
            )
        await auditor.flush()

    def paths(name: str) -> list[str]:
        lines = (log_dir / name).read_bytes().splitlines()
        return [orjson.loads(line)["blocked_path"] for line in lines]

    assert paths("tool-blocks.jsonl.moved") == [f"/etc/shadow{i}" for i in range(10)]
    assert paths("tool-blocks.jsonl") == [f"/etc/shadow{i}" for i in range(10, 20)]


async def test_a_batch_given_up_at_the_deadline_is_never_written_to_another_file(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The lane's thread writes to the category file by descriptor number. A batch
    # stuck behind another holder of the file's lock outlives the shutdown
    # deadline; were its descriptors closed at the stop, the numbers could go to
    # the next files this process opens, and the thread, once the lock is free,
    # would write the batch there.
    path = log_dir / "custom.jsonl"
    auditor = Auditor(log_dir=log_dir, shutdown_timeout=0.5, fsync="never", self_audit=False)
    holder = None
    decoys: list[Any] = []
    try:
        async with auditor:
            await auditor.emit("custom", "x", n=0)
            await auditor.flush()  # the file and its lock open
            holder = os.open(log_dir / ".custom.jsonl.lock", os.O_RDWR)
            fcntl.flock(holder, fcntl.LOCK_EX)
            for i in range(1, 21):
                await auditor.emit("custom", "x", n=i)
            with anyio.fail_after(30):
                while auditor.stats()["in_flight"] != 20:
                    await anyio.sleep(0.005)
        assert auditor.lost == 20
        assert "the category files stay open" in capfd.readouterr().err
        decoys = [(log_dir.parent / f"decoy{i}").open("wb") for i in range(32)]
        fcntl.flock(holder, fcntl.LOCK_UN)
        with anyio.fail_after(30):
            while path.read_bytes().count(b"\n") < 21:
                await anyio.sleep(0.005)
        assert [orjson.loads(line)["n"] for line in path.read_bytes().splitlines()] == list(
            range(21)
        )
        for decoy in decoys:
            decoy.flush()
            assert Path(decoy.name).read_bytes() == b""
    finally:
        for decoy in decoys:
            decoy.close()
        if holder is not None:
            os.close(holder)


def _locked(path: Path) -> int:
    """Another holder of a category's lock (a descriptor of its own): the writer's
    ``flock`` on it waits until this one lets go."""
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    return holder


def _release(holder: int) -> None:
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)


def _announced(log_dir: Path, category: str) -> bool:
    """Whether the ledger holds ``category``'s stream record."""
    ledger = log_dir / "checkpoints.log"
    if not ledger.exists():
        return False
    # Complete lines only: the writer's thread may be appending the next one.
    records = [orjson.loads(line) for line in ledger.read_bytes().split(b"\n")[:-1]]
    return any(r.get("type") == "stream" and r.get("category") == category for r in records)


async def _stuck_first_trip(auditor: Auditor, log_dir: Path) -> int:
    """A "custom" event whose first trip (its file to open) is stuck on the lock;
    the holder's descriptor. It returns once that trip has announced the stream
    in the ledger, just before its append takes the lock: the writer decided
    then whether the trip takes a checkpoint (an event taken is not enough, the
    lane may still be at work on it: a test that then moves the writer's clock
    past an epoch would race that decision)."""
    holder = _locked(log_dir / ".custom.jsonl.lock")
    await auditor.emit("custom", "x", n=0)
    with anyio.fail_after(30):
        while auditor.stats()["in_flight"] != 1 or not _announced(log_dir, "custom"):
            await anyio.sleep(0.005)
    return holder


async def _taken_beside(auditor: Auditor) -> dict[str, Any]:
    """The stream's counters once the writer took what a burst left (it takes a
    batch once a burst's worth waits: GATHER_FROM)."""
    with anyio.fail_after(30):
        while auditor.stats()["queued"] >= GATHER_FROM:
            await anyio.sleep(0.005)
    return auditor.stats()


async def _burst_behind_a_stuck_trip(
    log_dir: Path, checkpoint_interval_s: float | None
) -> tuple[dict[str, Any], bytes]:
    # A category's first batch goes to the writer's Python thread (its file to
    # open, its stream to announce); another holder of the file's lock keeps that
    # trip stuck while a caller records a burst. Returns the stream's counters
    # once the burst is over, and what the file held then; the lock is then
    # released and every line must land.
    auditor = Auditor(
        log_dir=log_dir,
        self_audit=False,
        queue_capacity=10_000,
        checkpoint_interval_s=checkpoint_interval_s,
    )
    path = log_dir / "custom.jsonl"
    async with auditor:
        holder = await _stuck_first_trip(auditor, log_dir)
        try:
            for i in range(1, 3073):  # hands the loop over every 1,024 events
                await auditor.emit("custom", "x", n=i)
            if checkpoint_interval_s is None:
                await _taken_beside(auditor)
            for _ in range(20):  # the loop's turns in which a writer could take more
                await anyio.sleep(0.005)
            during = auditor.stats()
            held_back = path.read_bytes() if path.exists() else b""
        finally:
            _release(holder)
        await auditor.flush()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["n"] for e in events] == list(range(3073))
    assert [e["seq"] for e in events] == list(range(1, 3074))
    assert not any("encoding_error" in e for e in events)
    assert cli_main(["verify", str(log_dir)]) == 0
    return during, held_back


async def test_the_lane_goes_on_with_a_burst_while_the_thread_s_trip_is_stuck(
    log_dir: Path,
) -> None:
    # The loop takes the burst's batches and the lane seals them while the trip
    # is stuck; nothing of them is appended before the trip's own lines are.
    during, held_back = await _burst_behind_a_stuck_trip(log_dir, None)
    assert during["queued"] < GATHER_FROM
    assert during["in_flight"] == 3073 - during["queued"]
    assert held_back == b""


async def test_a_checkpoint_due_keeps_the_lane_from_sealing_beside_the_trip(
    log_dir: Path,
) -> None:
    # A checkpoint may move the key to its next epoch: the trip that takes it has
    # nothing sealed beside it, so the burst waits in the stream.
    during, held_back = await _burst_behind_a_stuck_trip(log_dir, 0.001)
    assert (during["queued"], during["in_flight"]) == (3072, 1)
    assert held_back == b""


async def test_a_burst_beside_a_stuck_trip_stays_within_the_queue_s_capacity(
    log_dir: Path,
) -> None:
    # The lines the lane seals beside a stuck trip count against queue_capacity
    # as queued events do: with overflow="drop", what does not fit is dropped and
    # counted, and once the trip is over every event is written or counted.
    auditor = Auditor(log_dir=log_dir, self_audit=False, queue_capacity=1_500, overflow="drop")
    async with auditor:
        holder = await _stuck_first_trip(auditor, log_dir)
        try:
            for i in range(1, 4001):
                await auditor.emit("custom", "x", n=i)
                if not i % 100:
                    await anyio.sleep(0)  # the writer's turns: it takes what waits
            during = await _taken_beside(auditor)
            assert during["in_flight"] > 1  # the lane took some beside the trip
            assert during["queued"] + during["in_flight"] + during["held"] <= 1_500
            dropped = during["dropped"]
            assert dropped >= 4001 - 1_500
        finally:
            _release(holder)
        await auditor.flush()
    events = [orjson.loads(line) for line in (log_dir / "custom.jsonl").read_bytes().splitlines()]
    reported = sum(e["dropped_count"] for e in events if e["event_type"] == "events_dropped")
    written = [e["n"] for e in events if e["event_type"] == "x"]
    assert written == sorted(written)
    assert len(written) + reported == 4001
    assert reported == dropped
    assert cli_main(["verify", str(log_dir)]) == 0


async def test_what_a_trip_wrote_is_complete_while_the_burst_beside_it_is_in_flight(
    log_dir: Path,
) -> None:
    # Two categories' first trips, each stuck in turn on another holder of its
    # file's lock: the first trip holds one "first" event; the burst of "second"
    # events the lane seals beside it goes to the next trip. Once the first trip
    # is over, its event is complete and the burst's are still in flight.
    auditor = Auditor(log_dir=log_dir, self_audit=False, queue_capacity=10_000)
    holders = {}
    async with auditor:
        try:
            for name in ("first", "second"):
                holders[name] = _locked(log_dir / f".{name}.jsonl.lock")
            await auditor.emit("first", "x", n=0)
            with anyio.fail_after(30):
                while auditor.stats()["in_flight"] != 1:
                    await anyio.sleep(0.005)
            for i in range(2048):
                await auditor.emit("second", "x", n=i)
            taken = (await _taken_beside(auditor))["in_flight"] - 1
            assert taken > 2048 - GATHER_FROM
            _release(holders.pop("first"))
            with anyio.fail_after(30):
                while auditor.stats()["completed"] != 1:
                    await anyio.sleep(0.005)
            stats = auditor.stats()
            assert (stats["in_flight"], stats["held"]) == (taken, 0)
            assert (log_dir / "first.jsonl").read_bytes().count(b"\n") == 1
            assert not (log_dir / "second.jsonl").exists()
        finally:
            for holder in holders.values():
                _release(holder)
        await auditor.flush()
        assert auditor.stats()["in_flight"] == 0
    second = [
        orjson.loads(line)["n"] for line in (log_dir / "second.jsonl").read_bytes().splitlines()
    ]
    assert second == list(range(2048))
    assert cli_main(["verify", str(log_dir)]) == 0


@pytest.mark.parametrize("integrity", [True, False])
async def test_a_chunk_only_the_reference_encodes_leaves_the_rest_of_its_batch_whole(
    log_dir: Path, integrity: bool
) -> None:
    # One batch of three chunks (sync calls on the loop never let the writer in
    # before the flush): the first chunk goes to the lane, an event of the second
    # only the reference encodes (non-ASCII text with a secret), so that chunk
    # and every later line of its category come back to the writer's thread.
    secret = "café password=hunter2 and more"
    async with Auditor(
        log_dir=log_dir, self_audit=False, queue_capacity=10_000, integrity=integrity
    ) as auditor:
        await auditor.emit("custom", "x", n=-1)
        await auditor.flush()  # the file is open: the lane appends from now on
        for i in range(3000):
            auditor.sync.emit("custom", "x", n=i, note=secret if i == 1500 else "plain")
        assert auditor.stats()["queued"] == 3000
        await auditor.flush()
    data = (log_dir / "custom.jsonl").read_bytes()
    assert b"hunter2" not in data
    events = [orjson.loads(line) for line in data.splitlines()]
    assert [e["n"] for e in events] == list(range(-1, 3000))
    assert not any("encoding_error" in e for e in events)
    assert events[1501]["note"] != "plain"  # the reference's line, redacted
    if integrity:
        assert [e["seq"] for e in events] == list(range(1, 3002))
        assert cli_main(["verify", str(log_dir)]) == 0


async def test_an_epoch_ending_beside_a_stuck_trip_moves_the_key_after_what_it_sealed(
    log_dir: Path,
) -> None:
    # The key's epoch ends while the first trip is stuck and the lane seals a
    # burst beside it with that epoch's key. The key may move on only once those
    # lines are written: a trip beside the sealing takes no checkpoint, the next
    # one does (the epoch's last checkpoint then covers every line of its key).
    with writer_clock(0.0) as clock:
        auditor = Auditor(log_dir=log_dir, self_audit=False, queue_capacity=10_000)
        async with auditor:
            holder = await _stuck_first_trip(auditor, log_dir)
            try:
                clock.offset += DEFAULT_EPOCH_SECONDS  # the epoch ends during the trip
                for i in range(1, 2049):
                    await auditor.emit("custom", "x", n=i)
                assert (await _taken_beside(auditor))["in_flight"] > 2049 - GATHER_FROM
            finally:
                _release(holder)
            await auditor.flush()
    records = [
        orjson.loads(line) for line in (log_dir / "checkpoints.log").read_bytes().splitlines()
    ]
    (last,) = [r for r in records if r["type"] == "checkpoint" and r["reason"] == "epoch"]
    assert any(r["type"] == "key" for r in records)  # the key did move on
    events = [orjson.loads(line) for line in (log_dir / "custom.jsonl").read_bytes().splitlines()]
    assert [e["n"] for e in events] == list(range(2049))
    # Every line sealed with the ended epoch's key is under its last checkpoint.
    (head,) = last["streams"].values()
    sealed_then = [e["seq"] for e in events if e["mac"].split(":")[1] == "0"]
    assert len(sealed_then) > 1
    assert max(sealed_then) <= head["seq"]
    assert cli_main(["verify", str(log_dir)]) == 0


async def test_without_a_lane_the_writer_s_thread_writes_everything(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # A process out of descriptors or threads cannot start the lane: the writer
    # says so and writes through its own thread, as without the lane.
    assert _module is not None

    class NoLane:
        def __init__(self) -> None:
            raise OSError(24, "Too many open files")

    class Module:
        Lane = NoLane
        LANE = 2

    monkeypatch.setattr(Pipeline, "core_module", property(lambda self: Module))
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        for i in range(300):
            await auditor.tool_blocked(tool_name="shell", blocked_path=f"/etc/shadow{i}")
    assert "writer lane could not start" in capfd.readouterr().err
    lines = (log_dir / "tool-blocks.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["blocked_path"] for line in lines] == [
        f"/etc/shadow{i}" for i in range(300)
    ]


_DROPPED = r"""
import gc, os, select, sys, time
from asgi_audit.record.encoding import Caps
from asgi_audit.record.engine import compiled_module
from asgi_audit.record.events import RawEvent
from asgi_audit.record.pipeline import Pipeline
from asgi_audit.store.files import AppendFile, LogDirectory

module = compiled_module()
pipeline = Pipeline(redactor=None, caps=Caps(), session_ids="raw", session_key=b"k" * 32)
lane = module.Lane()
from pathlib import Path
directory = LogDirectory(Path(sys.argv[1]))
directory.prepare()
file = AppendFile(directory, directory.path / "custom.jsonl")
file.append(b"")  # opens the file and its lock, as the writer's first batch does

def note(i):
    return ("n%05d-" % i) * 300  # made at run time: the event holds the only reference

expected = []
for round in range(20):
    raws = [RawEvent("custom", "x", None, time.time_ns(), None, {"note": note(i)})
            for i in range(512)]
    expected += [note(i) for i in range(512)]
    prepared = pipeline.prepare_core(raws, lambda c: None)
    core, slots, _, stamps, states = prepared
    files = [("custom", *file.core_args(None))]
    job = core.start_grouped(lane, raws, slots, stamps, states, 512, files)
    del job, raws, prepared  # the only references to the strings, but the job's
    gc.collect()
    select.select([lane.fileno()], [], [], 60)
    lane.drain()
import orjson
notes = [orjson.loads(line)["note"] for line in file.path.read_bytes().splitlines()]
print("ok" if notes == expected else "garbage")
"""


def test_a_job_dropped_before_it_is_done_reads_only_live_strings(tmp_path: Path) -> None:
    # The writer's task may be cancelled while its job runs (at a shutdown
    # deadline); the job object is then dropped on the loop while the core's
    # thread still reads the batch's strings. Under Python's debug allocator a
    # freed string's memory is overwritten at once: the lines appended would hold
    # that garbage if the thread did not keep its own references to the end.
    assert debug_allocator_output(_DROPPED, str(tmp_path / "log")) == "ok"
