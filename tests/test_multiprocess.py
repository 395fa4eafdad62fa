"""Several processes write one log directory while it is rotated: real processes, real files.

* Four uvicorn workers (``tests/apps/load.py``) under concurrent HTTP load, with
  rotations forced both by the app (a tiny ``rotate_max_mb``) and by a thread of
  the test calling ``rotate_audit_logs(max_size_mb=0)`` every 50 ms.
* Four spawned processes, each running an Auditor, writing ~100 KB lines while a
  rotator process rotates the directory.
* Spawned processes writing while this process rotates: a rotated file never
  grows after the rotation returned (the rotation holds the file's lock, and
  every writer checks the inode under it).

Nothing is mocked. Every wait is bounded and fails with a message; nothing
asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, Final

import pytest

from asgi_audit import Auditor, rotate_audit_logs
from tests.apps import LOG_DIR_ENV
from tests.apps.load import COMPRESS_ENV, LOAD_APP, LOAD_CATEGORY, ROTATE_MAX_MB_ENV
from tests.helpers import ROTATED_RE, join_all, reports, rotation_key, whole_lines
from tests.servers import run_server

pytestmark = pytest.mark.e2e

SPAWN: Final = multiprocessing.get_context("spawn")
PROCESS_DEADLINE: Final = 90.0  # a bound on a hang, never an assertion on speed


# --- reading what was written ------------------------------------------------------------


def files_of(log_dir: Path, name: str) -> list[Path]:
    """The rotated files of ``name`` in rotation order, then the current file."""
    rotated = [p for p in log_dir.iterdir() if p.name.startswith(f"{name}.") and p.name != name]
    # A worker stopped between linking a .gz into place and removing the plain
    # file leaves both; the .gz is complete, the plain file a leftover copy.
    names = {p.name for p in rotated}
    rotated = [p for p in rotated if p.name + ".gz" not in names]
    ordered = sorted(rotated, key=rotation_key)
    current = log_dir / name
    return [*ordered, current] if current.exists() else ordered


def events_of(log_dir: Path, name: str) -> list[dict[str, Any]]:
    """Every event of a category, across its rotated files and the current one, in order."""
    events = []
    for path in files_of(log_dir, name):
        for number, line in enumerate(whole_lines(path), 1):
            try:
                event = json.loads(line)
            except ValueError as exc:  # pragma: no cover - the message is the point
                raise AssertionError(f"{path.name}:{number} is not JSON: {line[:200]!r}") from exc
            assert isinstance(event, dict), f"{path.name}:{number}"
            events.append(event)
    return events


def assert_no_leftovers(log_dir: Path) -> None:
    """No ``.partial`` file (nothing was cut) and no temporary file left behind."""
    leftovers = sorted(p.name for p in log_dir.iterdir() if p.name.endswith((".partial", ".tmp")))
    assert not leftovers, f"left in the log directory: {leftovers}"


class Rotator(threading.Thread):
    """Calls ``rotate_audit_logs(log_dir, max_size_mb=0)`` every ``period`` seconds.

    Records each file it rotated with its size right after the call returned.
    """

    def __init__(self, log_dir: Path, period: float) -> None:
        super().__init__(name="test-rotator", daemon=True)
        self.log_dir = log_dir
        self.period = period
        self.sizes: dict[Path, int] = {}
        self.calls = 0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.period):
                rotated = rotate_audit_logs(self.log_dir, max_size_mb=0)
                for name in rotated.values():
                    with contextlib.suppress(FileNotFoundError):  # compressed meanwhile
                        self.sizes[Path(name)] = Path(name).stat().st_size
                self.calls += 1
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=PROCESS_DEADLINE)
        assert not self.is_alive(), "the rotator thread did not stop"
        if self.error is not None:
            raise AssertionError(f"rotate_audit_logs failed: {self.error!r}") from self.error


def size_now(path: Path) -> int | None:
    """The size of a rotated file, or of its content once gzipped; None if it is gone."""
    if path.exists():
        return path.stat().st_size
    gz = path.with_name(path.name + ".gz")
    return len(gzip.decompress(gz.read_bytes())) if gz.exists() else None


def assert_sizes_unchanged(sizes: dict[Path, int]) -> None:
    """Each rotated file still holds exactly the bytes it held right after its rotation."""
    changed = {p.name: (size, size_now(p)) for p, size in sizes.items() if size_now(p) != size}
    assert not changed, f"rotated files changed after their rotation (then, now): {changed}"


# --- four uvicorn workers under load -----------------------------------------------------

REQUESTS: Final = 3000
CONCURRENCY: Final = 32
REQUESTS_PER_CONNECTION: Final = 25
WORKERS: Final = 4
RID: Final = "x-request-id"


async def post_on_connections(
    host: str, port: int, numbers: Iterator[int], results: list[tuple[str, int, str, int]]
) -> None:
    """Keep-alive HTTP/1.1 POSTs, one at a time, until ``numbers`` runs out.

    A fresh connection every ``REQUESTS_PER_CONNECTION`` requests: a worker's accept
    loop takes every connection waiting at once, so connections opened together
    would all land in one worker; reconnecting under load spreads them.
    """
    while True:
        batch = list(itertools.islice(numbers, REQUESTS_PER_CONNECTION))
        if not batch:
            return
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for number in batch:
                results.append(await post_one(reader, writer, host, port, number))
        finally:
            writer.close()
            await writer.wait_closed()


async def post_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int, number: int
) -> tuple[str, int, str, int]:
    tag, count = f"r{number:05d}", 1 + number % 2
    writer.write(
        f"POST /record/{count}?tag={tag} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Length: 0\r\n\r\n".encode()
    )
    status = await reader.readline()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = json.loads(await reader.readexactly(int(headers["content-length"])))
    assert status.startswith(b"HTTP/1.1 200 "), (status, body)
    assert body["recorded"] == count
    return tag, count, headers[RID], body["pid"]


async def drive_load(host: str, port: int) -> list[tuple[str, int, str, int]]:
    """``REQUESTS`` POSTs over ``CONCURRENCY`` connections: (tag, events, request id, pid).

    A minimal HTTP/1.1 client on asyncio streams rather than ``httpx.AsyncClient``:
    on the 2-core reference machine httpx spends milliseconds of CPU per request,
    so it, not the four workers, would be the load (and 3,000 requests would take
    half a minute). This client sends each request in one write and costs little.
    """
    results: list[tuple[str, int, str, int]] = []
    numbers = iter(range(REQUESTS))
    connections = [post_on_connections(host, port, numbers, results) for _ in range(CONCURRENCY)]
    try:
        await asyncio.wait_for(asyncio.gather(*connections), timeout=PROCESS_DEADLINE)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"only {len(results)} of {REQUESTS} requests answered in {PROCESS_DEADLINE}s"
        ) from None
    return results


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compress_rotated"])
def test_four_uvicorn_workers_under_load_with_forced_rotations_write_every_event_once(
    tmp_path: Path, compress: bool
) -> None:
    log_dir = tmp_path / "logs"
    env = {LOG_DIR_ENV: str(log_dir), ROTATE_MAX_MB_ENV: "0.004"}  # 4 KB: the app rotates too
    if compress:
        env[COMPRESS_ENV] = "1"  # every worker gzips rotated files in its maintenance task
    extra = ("--factory", "--no-access-log")
    with run_server(LOAD_APP, env, workers=WORKERS, extra_args=extra) as server:
        rotator = Rotator(log_dir, period=0.05)
        rotator.start()
        try:
            responses = asyncio.run(drive_load(server.host, server.port))
        finally:
            rotator.stop()
        returncode = server.stop(signal.SIGTERM)
        stderr = server.stderr

    assert returncode in (0, -signal.SIGTERM), stderr
    assert stderr.count("Application shutdown complete.") == WORKERS, stderr
    assert "died" not in stderr, stderr  # no worker was killed and replaced
    assert reports(stderr) == [], stderr  # no write failure, no lost event
    assert len(responses) == REQUESTS
    assert rotator.sizes, "the test's rotations rotated nothing"

    load = events_of(log_dir, "load.jsonl")
    auth = events_of(log_dir, "auth-events.jsonl")
    api = events_of(log_dir, "api-audit.jsonl")
    audit = events_of(log_dir, "audit.jsonl")
    two_events = [r for r in responses if r[1] == 2]

    # Exactly the events the requests produced: nothing lost, nothing doubled.
    found = {"load": len(load), "auth": len(auth), "api_audit": len(api), "audit": len(audit)}
    expected = {
        "load": REQUESTS,
        "auth": len(two_events),
        "api_audit": REQUESTS,
        "audit": 2 * WORKERS,  # audit_started and audit_stopped of each worker
    }
    assert found == expected, f"events found {found}, produced {expected}"
    everything = [*load, *auth, *api, *audit]
    event_ids = Counter(e["event_id"] for e in everything)
    assert len(event_ids) == len(everything), event_ids.most_common(3)

    by_tag = {tag: rid for tag, _, rid, _ in responses}
    assert Counter(e["load_tag"] for e in load) == dict.fromkeys(by_tag, 1)  # each tag once
    assert all(e["request_id"] == by_tag[e["load_tag"]] for e in load)
    assert all(e["category"] == LOAD_CATEGORY for e in load)
    assert Counter(e["user_id"] for e in auth) == Counter(f"user-{r[0]}" for r in two_events)
    assert all(e["request_id"] == by_tag[e["user_id"][len("user-") :]] for e in auth)
    assert Counter(e["request_id"] for e in api) == Counter(rid for _, _, rid, _ in responses)
    assert {e["status_code"] for e in api} == {200}

    # Four processes really wrote: four starts and stops, the load served by several.
    started = [e for e in audit if e["event_type"] == "audit_started"]
    stopped = [e for e in audit if e["event_type"] == "audit_stopped"]
    worker_pids = {e["details"]["pid"] for e in started}
    assert len(worker_pids) == WORKERS
    assert {e["details"]["pid"] for e in stopped} == worker_pids
    assert {e["worker_pid"] for e in load} <= worker_pids
    served_by = Counter(pid for *_, pid in responses)
    assert len(served_by) >= 2, f"one worker served every request: {served_by}"

    # Rotated by the app's policy and by the test, into whole-line files only.
    rotated = [p for p in log_dir.iterdir() if ROTATED_RE.fullmatch(p.name)]
    assert len(rotated) > len(rotator.sizes), "the app's size policy never rotated"
    if compress:
        assert any(p.name.endswith(".gz") for p in rotated), "nothing was compressed"
    assert all(e["event_type"] != "partial_line_recovered" for e in everything)
    assert_no_leftovers(log_dir)
    assert_sizes_unchanged(rotator.sizes)


# --- spawned processes writing ~100 KB lines while a process rotates ---------------------

BIG_CATEGORY: Final = "bulk"
BIG_WRITERS: Final = 4
BIG_EVENTS: Final = 24
BIG_TEXT_CHARS: Final = 100_000
#: Plain words: no key, no shape, nothing a redactor masks, so nothing shortens a line.
PHONETIC: Final = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
)
WORDS: Final = tuple(PHONETIC.split())


def big_text(writer: int, seq: int) -> str:
    """About 100 KB of plain words, different for every event, nothing a redactor masks."""
    words: list[str] = []
    size = 0
    index = 0
    while size < BIG_TEXT_CHARS:
        word = WORDS[(index * 7 + writer * 3 + seq) % len(WORDS)]
        words.append(word)
        size += len(word) + 1
        index += 1
    return f"writer {writer} event {seq} " + " ".join(words)


def write_big_events(log_dir: str, writer: int, start: Event) -> None:
    """A spawned process: one Auditor writing ``BIG_EVENTS`` lines of ~100 KB."""
    start.wait(PROCESS_DEADLINE)
    asyncio.run(_write_big_events(Path(log_dir), writer))


async def _write_big_events(log_dir: Path, writer: int) -> None:
    auditor = Auditor(
        log_dir=log_dir,
        max_event_bytes=4 * BIG_TEXT_CHARS,
        max_string_chars=2 * BIG_TEXT_CHARS,
        self_audit=False,
    )
    async with auditor:
        for seq in range(BIG_EVENTS):
            await auditor.emit(
                BIG_CATEGORY,
                "bulk_event",
                writer_no=writer,
                event_no=seq,
                details={"text": big_text(writer, seq)},
            )
            if seq % 3 == 2:
                await auditor.flush()  # batches of one to three lines


def rotate_until_stopped(log_dir: str, stop: Event, report: str) -> None:
    """A spawned rotator: rotates every file every 10 ms; writes ``{path: size}`` to ``report``."""
    sizes: dict[str, int] = {}
    while not stop.wait(0.01):
        for name in rotate_audit_logs(log_dir, max_size_mb=0).values():
            sizes[name] = os.stat(name).st_size
    Path(report).write_text(json.dumps(sizes))


def test_processes_writing_100kb_lines_while_a_process_rotates_never_split_a_line(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    report = tmp_path / "rotations.json"
    start, stop = SPAWN.Event(), SPAWN.Event()
    writers = [
        SPAWN.Process(target=write_big_events, args=(str(log_dir), w, start), name=f"writer-{w}")
        for w in range(BIG_WRITERS)
    ]
    rotator = SPAWN.Process(
        target=rotate_until_stopped, args=(str(log_dir), stop, str(report)), name="rotator"
    )
    for process in [*writers, rotator]:
        process.start()
    try:
        start.set()
        join_all(writers, PROCESS_DEADLINE)
    finally:
        stop.set()
        join_all([rotator], PROCESS_DEADLINE)
        for process in writers:
            if process.is_alive():
                process.kill()

    events = events_of(log_dir, f"{BIG_CATEGORY}.jsonl")  # every line parses
    per_writer = Counter(e["writer_no"] for e in events)
    assert per_writer == dict.fromkeys(range(BIG_WRITERS), BIG_EVENTS)
    for writer in range(BIG_WRITERS):
        mine = [e for e in events if e["writer_no"] == writer]
        assert sorted(e["event_no"] for e in mine) == list(range(BIG_EVENTS))
        assert [e["event_no"] for e in mine] == list(range(BIG_EVENTS))  # one writer's order kept
    for event in events:
        text = event["details"]["text"]
        assert text == big_text(event["writer_no"], event["event_no"]), "a line was cut or mixed"
        assert "truncated" not in event
    lengths = [len(line) for p in files_of(log_dir, "bulk.jsonl") for line in whole_lines(p)]
    assert min(lengths) > BIG_TEXT_CHARS

    sizes = {Path(name): size for name, size in json.loads(report.read_text()).items()}
    assert sizes, "the rotator process rotated nothing"
    assert_sizes_unchanged(sizes)
    assert_no_leftovers(log_dir)


# --- a rotated file never grows after its rotation ----------------------------------------

SMALL_WRITERS: Final = 4
ROTATIONS_WANTED: Final = 40


def write_until_stopped(log_dir: str, writer: int, stop: Event, report: str) -> None:
    """A spawned writer: batches of 5 small events until ``stop``; its count to ``report``."""
    count = asyncio.run(_write_until_stopped(Path(log_dir), writer, stop))
    Path(report).write_text(str(count))


async def _write_until_stopped(log_dir: Path, writer: int, stop: Event) -> int:
    count = 0
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        while not stop.is_set():
            for _ in range(5):
                await auditor.emit("small", "small_event", writer_no=writer, event_no=count)
                count += 1
            await auditor.flush()
    return count


def test_a_rotated_file_receives_no_line_after_the_rotation_returned(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    stop = SPAWN.Event()
    reports = [tmp_path / f"count-{w}.txt" for w in range(SMALL_WRITERS)]
    writers = [
        SPAWN.Process(target=write_until_stopped, args=(str(log_dir), w, stop, str(reports[w])))
        for w in range(SMALL_WRITERS)
    ]
    for process in writers:
        process.start()
    sizes: dict[Path, int] = {}
    try:
        deadline = time.monotonic() + PROCESS_DEADLINE
        while len(sizes) < ROTATIONS_WANTED:
            assert time.monotonic() < deadline, f"only {len(sizes)} rotations in time"
            assert all(p.is_alive() for p in writers), "a writer ended early"
            for name in rotate_audit_logs(log_dir, max_size_mb=0).values():
                sizes[Path(name)] = Path(name).stat().st_size  # the rotation released the lock
            time.sleep(0.01)
    finally:
        stop.set()
        join_all(writers, PROCESS_DEADLINE)

    assert_sizes_unchanged(sizes)
    events = events_of(log_dir, "small.jsonl")
    counts = [int(report.read_text()) for report in reports]
    # Counter to Counter: a writer that got no turn before the stop counts 0.
    assert Counter(e["writer_no"] for e in events) == Counter(dict(enumerate(counts)))
    for writer in range(SMALL_WRITERS):
        assert [e["event_no"] for e in events if e["writer_no"] == writer] == list(
            range(counts[writer])
        )
    assert len({e["event_id"] for e in events}) == len(events)
    assert_no_leftovers(log_dir)
