"""The durability guarantees, proven with real processes, signals, FIFOs and files.

* SIGTERM to a real uvicorn server with 20,000 events in flight: all are written once.
* SIGKILL in the middle of writing, then a restart: only whole lines remain, a cut
  tail is kept in a ``.partial`` file and recorded as ``partial_line_recovered``.
* ``durable=True``: a call that returned is on disk (SIGKILL right after), and it
  never returns while its line is not written and fsynced, whatever ``fsync`` says.
* ``drop`` and ``block`` with ``block_timeout`` under a stuck writer: exact counts and
  an ``events_dropped`` event; the shutdown deadline counts and reports the lost.
* Concurrent durable calls share batches and fsyncs (group commit).
* Recovery and rotation keep what they move durable: the ``.partial`` file's
  directory entry is fsynced before the tail is cut; lines of a file rotated away
  were fsynced by a clean shutdown under ``fsync="interval"``.

A "stuck writer" is a category file replaced by a FIFO nobody reads: the writer's
thread blocks opening it for writing until a reader comes. Every wait is bounded
and fails with a message; nothing asserts a duration.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final

import anyio
import anyio.to_thread
import httpx
import pytest

from asgi_audit import Auditor, AuditQueueFull, AuditWriteError
from asgi_audit.record.engine import compiled_module
from asgi_audit.store.batches import GATHER_FROM
from tests.apps import LOG_DIR_ENV
from tests.apps.durable import READY, SHUTDOWN_MARKER
from tests.helpers import read_events, reports
from tests.servers import REPO_ROOT, run_server

BURST: Final = 20_000
#: The bound of every wait in this module: a hang becomes a failure, never a duration check.
WAIT: Final = 15.0


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "security"


# ---------------------------------------------------------------------- helpers


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` on the event loop; fail naming ``what`` after ``timeout``."""
    with anyio.move_on_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)
        return
    pytest.fail(f"{what} (not within {timeout}s)")


class StuckFile:
    """A category's file replaced by a FIFO: the writer blocks opening it for writing
    until :meth:`start_reading`; what it then writes is kept in :attr:`received`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.mkfifo(path, 0o600)
        self.path = path
        self.received = bytearray()
        self._reader: threading.Thread | None = None

    def start_reading(self) -> None:
        def read() -> None:
            with open(self.path, "rb") as fh:
                while chunk := fh.read(65536):
                    self.received += chunk

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    async def wait_eof(self) -> None:
        """Wait (bounded) until the writer closed its end; call after the Auditor exited."""
        reader = self._reader
        assert reader is not None
        await anyio.to_thread.run_sync(reader.join, WAIT)
        assert not reader.is_alive(), "the writer never closed the FIFO"

    def release(self) -> None:
        """If nobody read it, let a stuck writer thread go: a reader comes and leaves
        (its open returns, its write fails with EPIPE), so no thread stays blocked."""
        if self._reader is None:
            os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))

    def drain_abandoned(self) -> None:
        """Let a writer thread abandoned at the shutdown deadline finish quietly: read
        (bounded) until the batch it was stuck on has come, so it ends without an error
        report on stderr after the test."""
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            deadline = time.monotonic() + WAIT
            while not self.received.endswith(b"\n"):
                if time.monotonic() > deadline:
                    pytest.fail(f"the abandoned writer thread sent nothing within {WAIT}s")
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    chunk = b""
                self.received += chunk
                if not chunk:
                    time.sleep(0.005)
        finally:
            os.close(fd)
        self._reader = threading.Thread()  # read: release() has nothing left to do

    def events(self) -> list[dict[str, Any]]:
        data = bytes(self.received)
        assert data.endswith(b"\n"), "the FIFO received a partial line"
        return [json.loads(line) for line in data.splitlines()]


Ident = tuple[int, int]  # (st_dev, st_ino): a file, whatever its name now


def ident(st: os.stat_result) -> Ident:
    return st.st_dev, st.st_ino


class FsyncSpy:
    """Wraps ``os.fsync`` (and ``os.ftruncate``): records every successful fsync by
    file, in order, with the size it covered; can hold the next fsync of ``path``
    until :meth:`release` (so a test sees a caller wait for it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sizes: list[int] = []  # the sizes of path at its fsyncs
        self.synced: dict[Ident, int] = {}  # the largest size fsynced, per file
        self.log: list[tuple[str, Ident]] = []  # ("fsync" | "ftruncate", file), in order
        self.holding = threading.Event()
        self._hold = False
        self._released = threading.Event()
        self._fsync = os.fsync
        self._ftruncate = os.ftruncate

    def __call__(self, fd: Any) -> None:
        try:
            st: os.stat_result | None = os.fstat(fd)
        except OSError:
            st = None
        target = st is not None and self._is_target(st)
        if target and self._hold:
            self._hold = False
            self.holding.set()
            self._released.wait(WAIT)
        self._fsync(fd)
        if st is not None:
            size = os.fstat(fd).st_size
            self.synced[ident(st)] = max(self.synced.get(ident(st), 0), size)
            self.log.append(("fsync", ident(st)))
            if target:
                self.sizes.append(size)

    def ftruncate(self, fd: int, length: int) -> None:
        self.log.append(("ftruncate", ident(os.fstat(fd))))
        self._ftruncate(fd, length)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FsyncSpy:
        monkeypatch.setattr(os, "fsync", self)
        monkeypatch.setattr(os, "ftruncate", self.ftruncate)
        return self

    def _is_target(self, st: os.stat_result) -> bool:
        try:
            return ident(st) == ident(os.stat(self.path))
        except OSError:
            return False

    def hold(self) -> None:
        self._hold = True

    def release(self) -> None:
        self._released.set()


class Child:
    """``python -m tests.apps.durable <mode> ...`` in its own process group."""

    def __init__(self, mode: str, *args: Path) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.durable", mode, *map(str, args)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )

    @property
    def stderr(self) -> str:
        fd = self._stderr.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def wait_ready(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + WAIT
        seen = b""
        while f"{READY}\n".encode() not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"the child did not start within {WAIT}s:\n{self.stderr}")
            readable, _, _ = select.select([stdout], [], [], remaining)
            if readable:
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait(WAIT)
                    pytest.fail(f"the child exited with {code} before it was ready:\n{self.stderr}")
                seen += chunk

    def wait(self) -> int:
        try:
            return self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child did not end within {WAIT}s:\n{self.stderr}")

    def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return self.wait()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


@contextmanager
def child(mode: str, *args: Path) -> Iterator[Child]:
    process = Child(mode, *args)
    try:
        yield process
    finally:
        process.close()


async def _restart(log_dir: Path) -> None:
    async with Auditor(log_dir=log_dir):
        pass


def restart(log_dir: Path) -> None:
    """Start and stop an Auditor on ``log_dir``: what a restarted server does."""
    anyio.run(_restart, log_dir)


def assert_whole_lines(log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every ``*.jsonl`` file ends with a newline and every line is one JSON object."""
    return {path.name: read_events(path) for path in sorted(log_dir.glob("*.jsonl"))}


def recovered_partials(log_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Each ``.partial`` file with the ``partial_line_recovered`` event naming it.

    Fails when a ``partial_line_recovered`` event names no ``.partial`` file or the
    sizes differ: nothing is moved aside unrecorded, nothing recorded is missing.
    """
    files = assert_whole_lines(log_dir)
    recovered = [
        event
        for events in files.values()
        for event in events
        if event["event_type"] == "partial_line_recovered"
    ]
    partials = sorted(log_dir.glob("*.partial"))
    assert sorted(e["partial_file"] for e in recovered) == [str(p) for p in partials]
    pairs = []
    for partial in partials:
        (event,) = (e for e in recovered if e["partial_file"] == str(partial))
        tail = partial.read_bytes()
        assert event["partial_bytes"] == len(tail) > 0
        assert event["outcome"] == "recovered"
        assert b"\n" not in tail, "only the bytes after the last newline are moved"
        # The event is recorded in the file the tail was cut from.
        owner = partial.name.split(".jsonl.", 1)[0] + ".jsonl"
        assert event in files[owner]
        pairs.append((partial, event))
    return pairs


# --------------------------------------------------- 1. SIGTERM with events in flight


@pytest.mark.e2e
def test_sigterm_with_twenty_thousand_events_in_flight_writes_each_exactly_once(
    log_dir: Path,
) -> None:
    with run_server(
        "tests.apps.durable:create_app", {LOG_DIR_ENV: str(log_dir)}, extra_args=["--factory"]
    ) as server:
        response = httpx.post(f"{server.url}/burst/{BURST}", timeout=WAIT * 2)
        returncode = server.stop(signal.SIGTERM, timeout=60)  # right after the response
        stderr = server.stderr

    assert response.status_code == 200, stderr
    # The handler returned with every burst event queued and none taken by the writer.
    assert response.json()["queued"] == BURST, response.json()
    assert returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete." in stderr
    # The events were in flight when the response left (all queued, none taken:
    # checked above); how many the writer had finished by the time the signal
    # arrived depends on the machine's speed, so it is only reported here.
    marker = next(line for line in stderr.splitlines() if line.startswith(SHUTDOWN_MARKER))
    at_shutdown = json.loads(marker.split(" ", 1)[1])
    assert at_shutdown["completed"] <= at_shutdown["enqueued"], at_shutdown
    assert reports(stderr) == []  # nothing failed, nothing was given up

    events = read_events(log_dir / "burst.jsonl")
    assert sorted(e["n"] for e in events) == list(range(BURST))  # each once, none missing
    assert len({e["event_id"] for e in events}) == BURST
    audit = read_events(log_dir / "audit.jsonl")
    assert [e["event_type"] for e in audit] == ["audit_started", "audit_stopped"]
    stopped = audit[-1]["details"]
    assert (stopped["enqueued"], stopped["dropped"], stopped["lost"]) == (BURST + 2, 0, 0)


# ------------------------------------------------------- 2. SIGKILL, then a restart


@pytest.mark.e2e
def test_sigkill_in_the_middle_of_big_writes_leaves_only_whole_lines_after_a_restart(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    flood = log_dir / "flood.jsonl"
    with child("flood", log_dir) as writer:
        writer.wait_ready()
        deadline = time.monotonic() + WAIT
        while not flood.exists() or flood.stat().st_size < 4 << 20:
            if time.monotonic() > deadline or writer.process.poll() is not None:
                pytest.fail(f"the child wrote no 4 MiB within {WAIT}s:\n{writer.stderr}")
            time.sleep(0.01)
        # Aim the kill at a write under way (the file then ends inside a line); after
        # a short window, kill wherever it is.
        fd = os.open(flood, os.O_RDONLY)
        try:
            window = time.monotonic() + 2.0
            while time.monotonic() < window:
                size = os.fstat(fd).st_size
                if os.pread(fd, 1, size - 1) != b"\n":
                    break
                time.sleep(0.0002)
        finally:
            os.close(fd)
        assert writer.kill() == -signal.SIGKILL
    capfd.readouterr()

    restart(log_dir)

    pairs = recovered_partials(log_dir)  # whole lines everywhere, every cut tail accounted for
    events = read_events(flood)
    ns = [e["n"] for e in events if e["event_type"] == "tick"]
    assert ns == list(range(len(ns)))  # whole batches in order, no line lost in between
    err = capfd.readouterr().err
    for partial, _ in pairs:
        assert f"a partial last line of '{flood}' was moved to '{partial}'" in err
    if pairs:  # a cut line is kept whole in the .partial file: a prefix of the next line
        ((partial, _),) = pairs
        assert partial.read_bytes().startswith(b'{"timestamp":')


@pytest.mark.e2e
def test_half_a_line_left_by_a_sigkill_is_moved_to_a_partial_file_at_restart(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    custom = log_dir / "custom.jsonl"
    with child("halfline", log_dir) as writer:
        assert writer.wait() == -signal.SIGKILL, writer.stderr
    before = custom.read_bytes()
    whole, _, half = before.rpartition(b"\n")
    assert half, "the child left no partial line"
    capfd.readouterr()

    restart(log_dir)

    ((partial, event),) = recovered_partials(log_dir)
    assert partial.parent == log_dir
    assert partial.name.startswith("custom.jsonl.")
    assert partial.read_bytes() == half  # nothing lost, nothing deleted
    assert custom.read_bytes().startswith(whole + b"\n")
    events = read_events(custom)
    assert [e["n"] for e in events[:100]] == list(range(100))
    assert events[100:] == [event]
    assert event["category"] == "custom"
    assert event["partial_bytes"] == len(half)
    assert f"a partial last line of '{custom}' was moved to '{partial}'" in capfd.readouterr().err
    audit = read_events(log_dir / "audit.jsonl")
    # The killed child never stopped; the restart started and stopped.
    assert [e["event_type"] for e in audit] == ["audit_started", "audit_started", "audit_stopped"]

    restart(log_dir)  # a second restart finds whole lines: nothing more moved
    assert recovered_partials(log_dir) == [(partial, event)]


async def test_recovery_makes_the_partial_file_durable_before_it_cuts_the_tail(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Auditor(log_dir=log_dir) as auditor:
        await auditor.emit("custom", "x", n=0)
    custom = log_dir / "custom.jsonl"
    with open(custom, "ab") as fh:
        fh.write(b'{"timestamp":"2026-11-28T10:')  # what a crash mid-write leaves
    spy = FsyncSpy(custom).install(monkeypatch)

    async with Auditor(log_dir=log_dir):
        pass

    ((partial, _),) = recovered_partials(log_dir)
    # Everything the recovery did before it cut the tail from the file:
    before_cut = spy.log[: spy.log.index(("ftruncate", ident(custom.stat())))]
    assert ("fsync", ident(partial.stat())) in before_cut, "the tail's copy was not fsynced"
    # A new file is durable only once its directory entry is: else a power loss
    # after the cut can lose the .partial file and so the tail.
    assert ("fsync", ident(log_dir.stat())) in before_cut, (
        "the directory was not fsynced after the .partial file was created and before "
        "the tail was cut from the log"
    )


async def test_a_partial_tail_in_a_jsonl_file_of_no_category_does_not_stop_the_restart(
    log_dir: Path,
) -> None:
    log_dir.mkdir(parents=True, mode=0o700)
    foreign = log_dir / "Vendor.Export.jsonl"  # not a name the library ever creates
    foreign.write_bytes(b'{"a": 1}\n{"b": ')
    auditor = Auditor(log_dir=log_dir)
    try:
        async with auditor:
            await auditor.emit("custom", "after_restart")
    except ValueError as exc:
        if auditor.running:  # __aenter__ raised after starting the writer: stop it
            await auditor.__aexit__(None, None, None)
        pytest.fail(f"the Auditor did not start: {exc!r}")
    assert not auditor.running
    assert [e["event_type"] for e in read_events(log_dir / "custom.jsonl")] == ["after_restart"]
    # Whatever was moved aside is recorded somewhere.
    recorded = [
        e["partial_file"]
        for path in log_dir.glob("*.jsonl")
        if path != foreign
        for e in read_events(path)
        if e["event_type"] == "partial_line_recovered"
    ]
    assert sorted(recorded) == sorted(str(p) for p in log_dir.glob("*.partial"))


# ---------------------------------------------------------------- 3. durable=True


@pytest.mark.e2e
def test_every_durable_call_that_returned_before_a_sigkill_is_in_the_file(
    tmp_path: Path, log_dir: Path
) -> None:
    returned = tmp_path / "returned.txt"
    with child("durable", log_dir, returned) as writer:
        writer.wait_ready()
        deadline = time.monotonic() + WAIT
        while not returned.exists() or returned.read_bytes().count(b"\n") < 300:
            if time.monotonic() > deadline or writer.process.poll() is not None:
                pytest.fail(f"the child reported no 300 durable calls:\n{writer.stderr}")
            time.sleep(0.01)
        assert writer.kill() == -signal.SIGKILL

    # Whole lines only: the kill may have cut the child's last report.
    reported = [int(n) for n in returned.read_bytes().split(b"\n")[:-1]]
    assert reported == list(range(len(reported)))
    assert len(reported) >= 300
    restart(log_dir)  # moves aside a tail the kill may have cut
    recovered_partials(log_dir)
    ns = [e["n"] for e in read_events(log_dir / "durable.jsonl") if e["event_type"] == "tick"]
    assert ns == list(range(len(ns)))
    missing = set(reported) - set(ns)
    assert not missing, f"durable calls returned but not in the file: {sorted(missing)[:20]}"


@pytest.mark.parametrize("policy", ["never", "interval", "always"])
async def test_a_durable_call_returns_only_after_its_line_was_fsynced(
    log_dir: Path, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = log_dir / "custom.jsonl"
    spy = FsyncSpy(path).install(monkeypatch)
    returned = anyio.Event()
    async with Auditor(
        log_dir=log_dir, fsync=policy, fsync_interval_ms=600_000, self_audit=False
    ) as auditor:
        await auditor.emit("custom", "plain", n=0)
        await auditor.flush()
        # Without durable=True only "always" fsyncs a batch.
        assert bool(spy.sizes) == (policy == "always"), spy.sizes

        async def durable_call() -> None:
            await auditor.emit("custom", "durable", durable=True, n=1)
            returned.set()

        spy.hold()  # the next fsync of the file waits for release()
        async with anyio.create_task_group() as tg:
            tg.start_soon(durable_call)
            await wait_until(spy.holding.is_set, "the durable event's batch was never fsynced")
            # Its line is written and its fsync under way: the call must still wait.
            assert b'"n":1' in path.read_bytes()
            await anyio.sleep(0.05)  # every chance to return too early
            assert not returned.is_set(), "a durable call returned before its fsync ended"
            spy.release()
            with anyio.fail_after(WAIT):
                await returned.wait()
        # The fsync that let it return covered its line.
        assert spy.sizes[-1] == path.stat().st_size
        assert auditor.stats()["categories"]["custom"]["fsync_errors"] == 0


async def _durable_call(auditor: Auditor, outcome: list[BaseException | None]) -> None:
    """A durable "custom" event (``n=0``); its ``AuditWriteError``, or None, into ``outcome``."""
    try:
        await auditor.emit("custom", "durable", durable=True, n=0)
    except AuditWriteError as exc:
        outcome.append(exc)
    else:
        outcome.append(None)


async def test_a_durable_call_waits_while_its_line_cannot_be_written(log_dir: Path) -> None:
    fifo = StuckFile(log_dir / "custom.jsonl")
    outcome: list[BaseException | None] = []
    try:
        async with (
            Auditor(
                log_dir=log_dir, fsync="never", self_audit=False, shutdown_timeout=WAIT
            ) as auditor,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_durable_call, auditor, outcome)
            await wait_until(lambda: auditor.stats()["in_flight"] == 1, "the writer took no batch")
            await anyio.sleep(0.05)  # every chance to return too early
            assert outcome == [], "a durable call returned while its line was not written"
            fifo.start_reading()
            with anyio.fail_after(WAIT):
                await wait_until(lambda: bool(outcome), "the durable call never ended")
        await fifo.wait_eof()
    finally:
        fifo.release()
    assert [e["n"] for e in fifo.events()] == [0]
    # The line reached the FIFO, but a FIFO cannot be fsynced: durability is not claimed.
    assert isinstance(outcome[0], AuditWriteError)


async def test_a_failed_fsync_reaches_the_durable_caller_with_a_burst_gathered_beside_its_trip(
    log_dir: Path,
) -> None:
    # The durable event's batch is its category's first: the writer's thread
    # opens the file (a FIFO: stuck until read) while the loop gathers a burst of
    # another category beside that trip on the core's lane. The trip's outcome
    # then reaches the stream through the gathering's accounting; a FIFO cannot
    # be fsynced, and that error must still reach the durable caller.
    lane = getattr(compiled_module(), "LANE", 1) >= 2
    fifo = StuckFile(log_dir / "custom.jsonl")
    outcome: list[BaseException | None] = []
    try:
        async with Auditor(
            log_dir=log_dir,
            fsync="never",
            self_audit=False,
            shutdown_timeout=WAIT,
            queue_capacity=10_000,
        ) as auditor:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_durable_call, auditor, outcome)
                await wait_until(
                    lambda: auditor.stats()["in_flight"] == 1, "the writer took no batch"
                )
                for i in range(3072):  # hands the loop over every 1,024 events
                    await auditor.emit("other", "x", n=i)
                if lane:
                    await wait_until(
                        lambda: auditor.stats()["queued"] < GATHER_FROM,
                        "the burst was never gathered beside the trip",
                    )
                assert outcome == [], "a durable call returned while its line was not written"
                fifo.start_reading()
                with anyio.fail_after(WAIT):
                    await wait_until(lambda: bool(outcome), "the durable call never ended")
            await auditor.flush()
        await fifo.wait_eof()
    finally:
        fifo.release()
    assert [e["n"] for e in fifo.events()] == [0]
    assert isinstance(outcome[0], AuditWriteError)
    others = read_events(log_dir / "other.jsonl")
    assert [e["n"] for e in others] == list(range(3072))
    assert not any("encoding_error" in e for e in others)


# ------------------------------------------------------- 4. drop under a stuck writer


async def test_drop_never_waits_counts_exactly_and_reports_events_dropped(log_dir: Path) -> None:
    capacity, total, in_flight_api, blocking = 10, 1000, 3, 4
    fifo = StuckFile(log_dir / "api-audit.jsonl")

    async def api(i: int) -> None:
        await auditor.api_access(method="GET", request_path=f"/items/{i}", status_code=200)

    auditor = Auditor(
        log_dir=log_dir,
        overflow={"api_audit": "drop"},
        queue_capacity=capacity,
        fsync="never",
        self_audit=False,
        shutdown_timeout=WAIT,
    )
    try:
        async with auditor:
            for i in range(in_flight_api):
                await api(i)
            for i in range(blocking):
                await auditor.emit("custom", "kept", n=i)  # "block" (the default)
            await wait_until(
                lambda: auditor.stats()["in_flight"] == in_flight_api + blocking,
                "the writer took no batch",
            )
            # Nothing reads the FIFO: had one call waited, this would never end.
            with anyio.fail_after(WAIT):
                for i in range(in_flight_api, total):
                    await api(i)
            stats = auditor.stats()
            assert stats["in_flight"] == in_flight_api + blocking  # still stuck
            assert stats["categories"]["api_audit"]["written"] == 0
            accepted = stats["enqueued"] - blocking  # api events in flight or queued
            dropped = total - accepted
            # The capacity bounds everything in memory, the stuck batch included.
            assert dropped == total - (capacity - blocking)
            assert stats["categories"]["api_audit"]["dropped"] == dropped
            assert stats["dropped"] == dropped

            fifo.start_reading()
            for i in range(blocking, blocking + 5):
                await auditor.emit("custom", "kept", n=i)
            with anyio.fail_after(WAIT):
                await auditor.flush()
        await fifo.wait_eof()
    finally:
        fifo.release()

    api_events = fifo.events()
    paths = [e["request_path"] for e in api_events if e["event_type"] == "api_access"]
    assert paths == [f"/items/{i}" for i in range(accepted)]  # the first ones, in order
    (report,) = (e for e in api_events if e["event_type"] == "events_dropped")
    assert report["dropped_count"] == dropped
    assert report["outcome"] == "dropped"
    assert report["category"] == "api_audit"
    assert report["first_dropped_at"] <= report["last_dropped_at"]
    # The block category lost nothing.
    kept = read_events(log_dir / "custom.jsonl")
    assert [e["n"] for e in kept] == list(range(blocking + 5))


# -------------------------------------------------- 5. block with a block_timeout


@pytest.mark.parametrize("caller", ["task", "thread"])
async def test_block_timeout_makes_a_call_wait_then_raise_and_count_it_dropped(
    log_dir: Path, caller: str
) -> None:
    fifo = StuckFile(log_dir / "custom.jsonl")
    outcome: list[BaseException | None] = []
    auditor = Auditor(
        log_dir=log_dir,
        queue_capacity=3,  # the stuck event in flight and two queued fill it
        block_timeout=1.0,
        fsync="never",
        self_audit=False,
        shutdown_timeout=WAIT,
    )

    async def late_call() -> None:
        try:
            if caller == "task":
                await auditor.emit("custom", "x", n=3)
            else:
                await anyio.to_thread.run_sync(lambda: auditor.sync.emit("custom", "x", n=3))
        except AuditQueueFull as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    try:
        async with auditor:
            await auditor.emit("custom", "x", n=0)
            await wait_until(lambda: auditor.stats()["in_flight"] == 1, "the writer took no batch")
            await auditor.emit("custom", "x", n=1)
            await auditor.emit("custom", "x", n=2)  # the stream is full now
            async with anyio.create_task_group() as tg:
                tg.start_soon(late_call)
                await anyio.sleep(0.05)
                assert outcome == [], "the call did not wait for room"
                assert auditor.stats()["dropped"] == 0
                await wait_until(lambda: bool(outcome), "the call never gave up")
            assert isinstance(outcome[0], AuditQueueFull)
            stats = auditor.stats()
            assert stats["categories"]["custom"]["dropped"] == 1
            assert stats["categories"]["custom"]["written"] == 0  # still stuck
            fifo.start_reading()
            with anyio.fail_after(WAIT):
                await auditor.flush()
        await fifo.wait_eof()
    finally:
        fifo.release()
    events = fifo.events()
    assert [e["n"] for e in events if e["event_type"] == "x"] == [0, 1, 2]
    (report,) = (e for e in events if e["event_type"] == "events_dropped")
    assert report["dropped_count"] == 1
    assert report["first_dropped_at"] == report["last_dropped_at"]


# ------------------------------------------------------ 6. the shutdown deadline


async def test_shutdown_deadline_gives_up_and_counts_and_reports_the_lost(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fifo = StuckFile(log_dir / "custom.jsonl")
    auditor = Auditor(log_dir=log_dir, shutdown_timeout=0.5, fsync="never", self_audit=False)
    try:
        with anyio.fail_after(WAIT):
            async with auditor:
                for i in range(50):
                    await auditor.emit("custom", "x", n=i)
                await wait_until(lambda: auditor.stats()["in_flight"] == 50, "no batch taken")
                for i in range(50, 70):
                    await auditor.emit("custom", "x", n=i)
        # The exit returned although the FIFO was never read.
        assert not auditor.running
        assert auditor.lost == 70
        assert auditor.stats()["lost"] == 70
        err = capfd.readouterr().err
        assert "shutdown deadline of 0.5s passed; 70 events were not written" in err
        fifo.drain_abandoned()
    finally:
        fifo.release()


async def test_the_lost_count_leaves_out_what_the_stuck_batch_did_write(
    log_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # One batch holds audit_started (audit.jsonl, a regular file: written) and 50
    # custom events (the FIFO: stuck). Only what is not in a file is lost.
    fifo = StuckFile(log_dir / "custom.jsonl")
    auditor = Auditor(log_dir=log_dir, shutdown_timeout=0.5, fsync="never")
    try:
        with anyio.fail_after(WAIT):
            async with auditor:
                for i in range(50):
                    await auditor.emit("custom", "x", n=i)
                await wait_until(lambda: auditor.stats()["in_flight"] == 51, "no batch taken")
                await wait_until(
                    lambda: (
                        (log_dir / "audit.jsonl").exists()
                        and (log_dir / "audit.jsonl").read_bytes().endswith(b"\n")
                    ),
                    "audit_started was not written",
                )
                for i in range(50, 70):
                    await auditor.emit("custom", "x", n=i)
                recorded = auditor.stats()["enqueued"] + 1  # and audit_stopped at exit
        fifo.drain_abandoned()
        written = len(read_events(log_dir / "audit.jsonl"))
        assert written == 1  # audit_started
        assert auditor.lost == recorded - written == 71
        err = capfd.readouterr().err
        assert f"shutdown deadline of 0.5s passed; {recorded - written} events were not" in err
    finally:
        fifo.release()


# ------------------------------------------------------------- 7. group commit


async def test_concurrent_durable_calls_are_group_committed(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 64
    path = log_dir / "custom.jsonl"
    spy = FsyncSpy(path).install(monkeypatch)
    done: list[int] = []
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:

        async def durable_call(i: int) -> None:
            await auditor.emit("custom", "durable", durable=True, n=i)
            done.append(i)

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                for i in range(calls):
                    tg.start_soon(durable_call, i)
        assert sorted(done) == list(range(calls))
        # Each returned call is in the file; they shared batches and fsyncs.
        assert sorted(e["n"] for e in read_events(path)) == list(range(calls))
        assert auditor.stats()["batches"] < calls
        assert 1 <= len(spy.sizes) < calls


# ------------------------------------------------------ 8. fsync policy and rotation


@pytest.mark.parametrize("policy", ["always", "interval"])
async def test_after_a_clean_shutdown_every_written_line_was_fsynced_rotated_files_too(
    log_dir: Path, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = FsyncSpy(log_dir / "custom.jsonl").install(monkeypatch)
    async with Auditor(
        log_dir=log_dir,
        fsync=policy,
        fsync_interval_ms=600_000,
        rotate_max_mb=0.001,  # 1 KiB: each of these lines gets a file of its own
        self_audit=False,
    ) as auditor:
        for i in range(4):
            await auditor.emit("custom", "x", n=i, pad="p" * 600)
            await auditor.flush()
    files = sorted(log_dir.glob("custom.jsonl*"))
    assert len(files) == 4, [f.name for f in files]
    unsynced = {
        f.name: f.stat().st_size
        for f in files
        if spy.synced.get(ident(f.stat()), -1) != f.stat().st_size
    }
    assert not unsynced, f"written but never fsynced under fsync={policy!r}: {unsynced}"
