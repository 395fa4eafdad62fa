"""Rotation, retention, compression, crash recovery, unsafe directories and the self-audit.

Real Auditors on real files under ``tmp_path``; the crash is a real child process
killed with SIGKILL. Waits on the maintenance task are bounded polls of the
directory (they fail with a message), never a sleep followed by an assertion;
nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import pytest

from asgi_audit import Auditor, InsecureDirectoryError, rotate_audit_logs
from asgi_audit.store import rotation as rotation_module
from asgi_audit.store.files import rotate_file
from asgi_audit.store.rotation import (
    RotationPolicy,
    apply_retention,
    compress_rotated,
    rotated_files,
)
from tests.helpers import ROTATED_RE, rotation_key, whole_lines

PARTIAL_RE: Final = re.compile(
    r"(?P<file>[a-z0-9][a-z0-9_-]*\.jsonl)\.(?P<stamp>\d{8}_\d{6})\.partial"
)
DEADLINE: Final = 20.0  # a bound on a wait for the maintenance task, never an assertion
SMALL_MB: Final = 0.01  # rotate_max_mb: 10,485 bytes
SMALL_BYTES: Final = int(SMALL_MB * 2**20)
NOTE: Final = "a rotation probe with some padding " * 4  # ~140 characters of plain words


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


# --- reading what was written ------------------------------------------------------------


def parse(lines: list[bytes]) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in lines]
    assert all(isinstance(e, dict) for e in events)
    return events


def rotated_of(log_dir: Path, name: str) -> list[Path]:
    """The rotated files of ``name`` (plain and gzipped), oldest first by their names."""
    found = [
        p
        for p in log_dir.iterdir()
        if (m := ROTATED_RE.fullmatch(p.name)) is not None and m["file"] == name
    ]
    return sorted(found, key=rotation_key)


def events_in_order(log_dir: Path, name: str) -> list[dict[str, Any]]:
    """The events of ``name``: its rotated files by name, then the current file."""
    files = rotated_of(log_dir, name)
    if (log_dir / name).exists():
        files.append(log_dir / name)
    return [event for path in files for event in parse(whole_lines(path))]


def describe(log_dir: Path, name: str) -> list[str]:
    """``file: first..last seq`` of each file of ``name``, for failure messages."""
    files = [*rotated_of(log_dir, name), log_dir / name]
    out = []
    for path in files:
        found = seqs(parse(whole_lines(path))) if path.exists() else []
        out.append(f"{path.name}: {found[0]}..{found[-1]}" if found else f"{path.name}: -")
    return out


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["probe_seq"] for e in events]


def stamp_seconds(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc).timestamp()


async def poll(
    condition: Callable[[], bool], tick: Callable[[], Any], deadline: float = DEADLINE
) -> bool:
    """Whether ``condition`` came true within ``deadline`` seconds; ``tick()`` awaited between.

    ``tick`` keeps the app writing while the maintenance task works.
    """
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() >= end:
            return False
        await tick()
        await asyncio.sleep(0.01)
    return True


async def wait_until(condition: Callable[[], bool], what: str, tick: Callable[[], Any]) -> None:
    """Poll ``condition`` (bounded by ``DEADLINE``); fail naming ``what`` if it never holds."""
    assert await poll(condition, tick), f"not within {DEADLINE}s: {what}"


class Probe:
    """Writes numbered events into one category, in batches of ``batch``."""

    def __init__(self, auditor: Auditor, category: str, batch: int = 10) -> None:
        self.auditor = auditor
        self.category = category
        self.batch = batch
        self.seq = 0

    async def write(self, count: int | None = None) -> None:
        for _ in range(self.batch if count is None else count):
            await self.auditor.emit(self.category, "rotation_probe", probe_seq=self.seq, note=NOTE)
            self.seq += 1
        await self.auditor.flush()

    def rotations(self) -> int:
        entry = self.auditor.stats()["categories"].get(self.category, {})
        return int(entry.get("rotations", 0))


# --- rotate_max_mb -----------------------------------------------------------------------


async def test_rotate_max_mb_rotates_during_a_run_into_distinct_utc_names_losing_nothing(
    log_dir: Path,
) -> None:
    before = int(time.time())
    async with Auditor(log_dir=log_dir, rotate_max_mb=SMALL_MB, self_audit=False) as auditor:
        probe = Probe(auditor, "sized")
        for _ in range(150):
            await probe.write()  # batches of ~2.6 KB: a rotation every few batches
        stats = auditor.stats()["categories"]["sized"]
    after = time.time()

    rotated = rotated_of(log_dir, "sized.jsonl")
    assert len(rotated) >= 20
    assert stats["rotations"] == len(rotated)
    assert stats["written"] == probe.seq == 1500
    # Every event in exactly one file, in the order written (rotated files by name).
    assert seqs(events_in_order(log_dir, "sized.jsonl")) == list(range(1500))
    by_stamp: dict[str, list[int]] = {}
    for path in rotated:
        stamp, n = rotation_key(path)
        by_stamp.setdefault(stamp, []).append(n)
        assert before <= stamp_seconds(stamp) <= after  # UTC, within this run
        assert path.stat().st_size <= SMALL_BYTES  # rotated before the batch would pass it
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(ns == list(range(len(ns))) for ns in by_stamp.values()), by_stamp
    assert max(len(ns) for ns in by_stamp.values()) >= 2, "no two rotations in one second"


# --- rotate_interval ---------------------------------------------------------------------

#: A UTC midnight plus 11 seconds (odd, so 2-second periods start a second before it).
NOW: Final = 20_833 * 86_400 + 11.0
DAY: Final = 86_400.0
HOUR: Final = 3_600.0


@pytest.mark.parametrize(
    ("policy", "size", "incoming", "mtime", "rotates"),
    [
        pytest.param(RotationPolicy(interval=DAY), 100, 10, NOW - 5, False, id="daily-same-day"),
        pytest.param(RotationPolicy(interval=DAY), 100, 10, NOW - 11, False, id="daily-midnight"),
        pytest.param(RotationPolicy(interval=DAY), 100, 10, NOW - 12, True, id="daily-23:59:59"),
        pytest.param(RotationPolicy(interval=DAY), 100, 10, NOW - 3 * DAY, True, id="daily-old"),
        pytest.param(RotationPolicy(interval=HOUR), 100, 10, NOW - 11, False, id="hourly-same"),
        pytest.param(RotationPolicy(interval=HOUR), 100, 10, NOW - 12, True, id="hourly-before"),
        pytest.param(RotationPolicy(interval=2.0), 100, 10, NOW - 0.5, False, id="2s-same"),
        pytest.param(RotationPolicy(interval=2.0), 100, 10, NOW - 1.5, True, id="2s-previous"),
        pytest.param(RotationPolicy(max_bytes=1024), 1000, 24, NOW, False, id="size-exactly"),
        pytest.param(RotationPolicy(max_bytes=1024), 1000, 25, NOW, True, id="size-over"),
        pytest.param(
            RotationPolicy(max_bytes=1024, interval=DAY), 1000, 25, NOW - 1, True, id="both-size"
        ),
        pytest.param(
            RotationPolicy(max_bytes=1024, interval=DAY), 10, 10, NOW - DAY, True, id="both-time"
        ),
        pytest.param(
            RotationPolicy(max_bytes=1024, interval=DAY), 10, 10, NOW - 1, False, id="both-no"
        ),
        pytest.param(RotationPolicy(), 10**9, 10**9, 0.0, False, id="no-policy"),
    ],
)
def test_rotation_policy_decides_from_size_and_the_utc_period_of_the_mtime(
    monkeypatch: pytest.MonkeyPatch,
    policy: RotationPolicy,
    size: int,
    incoming: int,
    mtime: float,
    rotates: bool,
) -> None:
    # The policy reads the clock; pin it so the period boundary is exact.
    monkeypatch.setattr(rotation_module, "time", SimpleNamespace(time=lambda: NOW))
    assert policy(size, incoming, mtime) is rotates


async def test_rotate_interval_rotates_a_file_last_written_in_an_earlier_period_first(
    log_dir: Path,
) -> None:
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        await Probe(auditor, "daily").write(3)
    path = log_dir / "daily.jsonl"
    old_bytes = path.read_bytes()
    two_days_ago = time.time() - 2 * DAY
    os.utime(path, (two_days_ago, two_days_ago))

    async with Auditor(log_dir=log_dir, rotate_interval="daily", self_audit=False) as auditor:
        probe = Probe(auditor, "daily")
        probe.seq = 3
        await probe.write(1)  # the first batch: the file was last written two days ago
        assert probe.rotations() == 1
        await probe.write(1)  # the fresh file was written today: no second rotation
        stats = auditor.stats()["categories"]["daily"]

    [rotated] = rotated_of(log_dir, "daily.jsonl")
    assert rotated.read_bytes() == old_bytes
    assert seqs(parse(whole_lines(path))) == [3, 4]
    assert stats["rotations"] == 1


# --- retention and compression ----------------------------------------------------------


async def test_retain_count_keeps_only_the_newest_rotated_files_while_the_app_writes(
    log_dir: Path,
) -> None:
    keep = 3
    options: dict[str, Any] = {"rotate_max_mb": SMALL_MB, "retain_count": keep}
    async with Auditor(log_dir=log_dir, self_audit=False, **options) as auditor:
        probe = Probe(auditor, "kept")
        await wait_until(lambda: probe.rotations() >= 15, "15 rotations", probe.write)
        # Retention follows each rotation off the writer's path; the app goes on writing.
        await wait_until(
            lambda: len(rotated_of(log_dir, "kept.jsonl")) == keep,
            f"{keep} rotated files left",
            lambda: probe.write(1),
        )
        await wait_until(  # and once more after the last rotation, with the writes done
            lambda: len(rotated_of(log_dir, "kept.jsonl")) == keep,
            "retention after the last rotation",
            lambda: asyncio.sleep(0),
        )

    rotated = rotated_of(log_dir, "kept.jsonl")
    assert len(rotated) == keep, [p.name for p in rotated]
    # The newest were kept: the rotated files plus the current one hold one unbroken
    # run of events that ends with the last one written.
    kept = seqs(events_in_order(log_dir, "kept.jsonl"))
    assert kept == list(range(probe.seq - len(kept), probe.seq)), (
        f"not the newest {keep} rotated files (last event written: {probe.seq - 1}): "
        f"{describe(log_dir, 'kept.jsonl')}"
    )
    assert len(kept) < probe.seq


async def test_retain_days_deletes_a_rotated_file_older_than_the_limit_while_the_app_writes(
    log_dir: Path,
) -> None:
    log_dir.mkdir(mode=0o700)
    now = time.time()
    old = log_dir / "auth-events.jsonl.20200101_000000.rotated"
    recent = log_dir / "auth-events.jsonl.20200102_000000.rotated"
    for path, age_days in ((old, 30), (recent, 1)):
        path.write_bytes(b'{"event_type":"logout"}\n')
        path.chmod(0o600)
        os.utime(path, (now - age_days * DAY, now - age_days * DAY))

    async with Auditor(log_dir=log_dir, retain_days=7, self_audit=False) as auditor:

        async def logout() -> None:
            await auditor.logout(user_id="alice")

        await wait_until(lambda: not old.exists(), f"{old.name} deleted", logout)
        assert recent.exists()
    assert recent.read_bytes() == b'{"event_type":"logout"}\n'
    assert len(whole_lines(log_dir / "auth-events.jsonl")) >= 1


async def test_retain_days_counts_the_age_from_the_last_write_also_when_compressing(
    log_dir: Path,
) -> None:
    log_dir.mkdir(mode=0o700)
    old = log_dir / "auth-events.jsonl.20200101_000000.rotated"
    old.write_bytes(b'{"event_type":"logout"}\n')
    old.chmod(0o600)
    month_ago = time.time() - 30 * DAY
    os.utime(old, (month_ago, month_ago))
    gz = old.with_name(old.name + ".gz")

    options: dict[str, Any] = {"retain_days": 7, "compress_rotated": True}
    async with Auditor(log_dir=log_dir, self_audit=False, **options) as auditor:

        async def logout() -> None:
            await auditor.logout(user_id="alice")

        # The maintenance pass at start compresses it, then applies retention to the
        # .gz (or deletes it first). Bounded polls: the plain file goes, then the .gz.
        await wait_until(lambda: not old.exists(), f"{old.name} compressed or deleted", logout)
        await poll(lambda: not gz.exists(), logout, deadline=3.0)
    assert not gz.exists(), (
        "a month-old rotated file survived retain_days=7 as a fresh .gz: "
        f"its mtime is now {datetime.fromtimestamp(gz.stat().st_mtime, timezone.utc)}"
    )


async def test_compress_rotated_gzips_a_rotated_file_into_the_same_lines_while_the_app_writes(
    log_dir: Path,
) -> None:
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        for n in range(20):
            await auditor.logout(user_id=f"user-{n}")
    rotated = Path(rotate_audit_logs(log_dir, max_size_mb=0)["auth"])
    original = rotated.read_bytes()
    gz = rotated.with_name(rotated.name + ".gz")

    async with Auditor(log_dir=log_dir, compress_rotated=True, self_audit=False) as auditor:

        async def logout() -> None:
            await auditor.logout(user_id="bob")

        await wait_until(lambda: gz.exists() and not rotated.exists(), f"{gz.name}", logout)

    assert gzip.decompress(gz.read_bytes()) == original
    assert [e["user_id"] for e in parse(whole_lines(gz))] == [f"user-{n}" for n in range(20)]
    assert stat.S_IMODE(gz.stat().st_mode) == 0o600
    assert not [p.name for p in log_dir.iterdir() if p.name.endswith(".tmp")]
    assert {e["user_id"] for e in parse(whole_lines(log_dir / "auth-events.jsonl"))} == {"bob"}


async def test_compress_rotated_with_many_rotations_a_second_loses_no_event(
    log_dir: Path,
) -> None:
    options: dict[str, Any] = {"rotate_max_mb": SMALL_MB, "compress_rotated": True}
    async with Auditor(log_dir=log_dir, self_audit=False, **options) as auditor:
        probe = Probe(auditor, "zipped")
        await wait_until(lambda: probe.rotations() >= 20, "20 rotations", probe.write)
        rotations = probe.rotations()

        def all_compressed() -> bool:
            names = [p.name for p in rotated_of(log_dir, "zipped.jsonl")]
            return bool(names) and all(name.endswith(".gz") for name in names)

        await wait_until(all_compressed, "every rotated file gzipped", lambda: asyncio.sleep(0))
        written = probe.seq

    rotated = rotated_of(log_dir, "zipped.jsonl")
    assert all(p.name.endswith(".rotated.gz") for p in rotated)
    found = seqs(events_in_order(log_dir, "zipped.jsonl"))  # every .gz must decompress
    missing = sorted(set(range(written)) - set(found))
    assert not missing, (
        f"{len(missing)} of {written} events lost across {rotations} rotations "
        f"({len(rotated)} .gz files left), first missing: {missing[:5]}"
    )
    assert found == list(range(written))
    assert len(rotated) == rotations


@pytest.mark.parametrize("fate", ["compressed", "deleted"])
def test_a_rotation_never_reuses_a_name_freed_earlier_in_the_same_second(
    tmp_path: Path, fate: str
) -> None:
    path = tmp_path / "auth-events.jsonl"
    moment = datetime(2026, 6, 9, 4, 22, 16, tzinfo=timezone.utc).timestamp()
    generations = [f'{{"generation":{g}}}\n'.encode() for g in range(3)]
    path.write_bytes(generations[0])
    first = rotate_file(path, now=moment)
    path.write_bytes(generations[1])
    second = rotate_file(path, now=moment)
    if fate == "compressed":
        compress_rotated(first)  # what compress_rotated=True does after a rotation
    else:
        first.unlink()  # what retain_count does to the oldest rotated file
    path.write_bytes(generations[2])
    third = rotate_file(path, now=moment)
    assert rotation_key(third) > rotation_key(second), (
        f"the newest rotation took the freed name {third.name}: it sorts before the older "
        f"{second.name}"
        + (", and its .gz would replace the first one's" if fate == "compressed" else "")
    )
    if fate == "compressed":
        compress_rotated(second)
        compress_rotated(third)
        by_name = sorted(tmp_path.glob("*.rotated.gz"), key=rotation_key)
        assert [gzip.decompress(p.read_bytes()) for p in by_name] == generations


# --- rotate_audit_logs from outside, in the same process ---------------------------------


async def test_rotate_audit_logs_while_an_auditor_writes_in_the_same_process_loses_nothing(
    log_dir: Path,
) -> None:
    rotated: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def rotate_repeatedly() -> None:
        try:
            while not stop.wait(0.005):
                rotated.extend(rotate_audit_logs(log_dir, max_size_mb=0).values())
        except BaseException as exc:  # reported below
            failures.append(exc)

    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        probe = Probe(auditor, "outside", batch=5)
        rotator = threading.Thread(target=rotate_repeatedly, daemon=True)
        rotator.start()
        try:
            await wait_until(lambda: len(rotated) >= 20, "20 rotations", probe.write)
        finally:
            stop.set()
            rotator.join(DEADLINE)
    assert not rotator.is_alive()
    assert not failures, failures

    assert sorted(rotated) == sorted(str(p) for p in rotated_of(log_dir, "outside.jsonl"))
    assert seqs(events_in_order(log_dir, "outside.jsonl")) == list(range(probe.seq))


# --- crash recovery ----------------------------------------------------------------------

HALF_LINE: Final = b'{"timestamp":"2026-11-28T10:36:10.013657+00:00","event_type":"login_att'
WHOLE_BEFORE_CRASH: Final = 3


def write_then_crash(log_dir: str) -> None:
    """A spawned child: whole lines through an Auditor, then half a line, then SIGKILL."""
    asyncio.run(_write_then_crash(Path(log_dir)))


async def _write_then_crash(log_dir: Path) -> None:
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        for n in range(WHOLE_BEFORE_CRASH):
            await auditor.emit("crashy", "before_crash", probe_seq=n)
        await auditor.flush()
        fd = os.open(log_dir / "crashy.jsonl", os.O_WRONLY | os.O_APPEND)
        os.write(fd, HALF_LINE)  # a write cut short by the crash
        os.kill(os.getpid(), signal.SIGKILL)


async def test_a_partial_line_left_by_a_killed_process_is_moved_aside_at_the_next_start(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child = multiprocessing.get_context("spawn").Process(
        target=write_then_crash, args=(str(log_dir),)
    )
    child.start()
    child.join(60)
    if child.is_alive():  # pragma: no cover - a hang, not a result
        child.kill()
        child.join()
        pytest.fail("the crashing child did not die")
    assert child.exitcode == -signal.SIGKILL
    path = log_dir / "crashy.jsonl"
    assert path.read_bytes().endswith(HALF_LINE)

    before = int(time.time())
    async with Auditor(log_dir=log_dir, self_audit=False):
        pass
    after = time.time()

    events = parse(whole_lines(path))  # only whole lines now
    assert seqs(events[:WHOLE_BEFORE_CRASH]) == list(range(WHOLE_BEFORE_CRASH))
    [recovered] = events[WHOLE_BEFORE_CRASH:]
    [partial] = [p for p in log_dir.iterdir() if p.name.endswith(".partial")]
    match = PARTIAL_RE.fullmatch(partial.name)
    assert match
    assert match["file"] == "crashy.jsonl"
    assert before <= stamp_seconds(match["stamp"]) <= after
    assert partial.read_bytes() == HALF_LINE
    assert recovered["event_type"] == "partial_line_recovered"
    assert recovered["category"] == "crashy"
    assert recovered["outcome"] == "recovered"
    assert recovered["partial_file"] == str(partial)
    assert recovered["partial_bytes"] == len(HALF_LINE)
    assert str(partial) in capsys.readouterr().err  # reported on stderr too


# --- unsafe directories ------------------------------------------------------------------


def make_symlinked(tmp_path: Path) -> tuple[Path, Path]:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    return link, real


def make_world_writable(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o777)
    return directory, directory


UNSAFE: Final = [
    pytest.param(make_symlinked, "a symlink", id="symlink"),
    pytest.param(make_world_writable, "writable by others", id="world-writable"),
]


@pytest.mark.parametrize(("make", "reason"), UNSAFE)
async def test_an_unsafe_log_dir_is_refused_at_start_naming_the_path(
    tmp_path: Path, make: Callable[[Path], tuple[Path, Path]], reason: str
) -> None:
    given, real = make(tmp_path)
    auditor = Auditor(log_dir=given)
    with pytest.raises(InsecureDirectoryError, match=re.escape(f"{reason}: '{given}'")):
        await auditor.__aenter__()
    assert not auditor.running
    assert list(real.iterdir()) == []  # nothing written, not even the key file


@pytest.mark.parametrize(("make", "reason"), UNSAFE)
async def test_allow_insecure_dir_accepts_an_unsafe_log_dir(
    tmp_path: Path, make: Callable[[Path], tuple[Path, Path]], reason: str
) -> None:
    given, real = make(tmp_path)
    async with Auditor(log_dir=given, allow_insecure_dir=True, self_audit=False) as auditor:
        await auditor.logout(user_id="alice")
    [event] = parse(whole_lines(real / "auth-events.jsonl"))
    assert event["user_id"] == "alice"


# --- the self-audit ----------------------------------------------------------------------


async def test_self_audit_records_the_start_with_its_configuration_and_the_stop_with_counts(
    log_dir: Path,
) -> None:
    key = "k3y-material-that-must-never-be-logged-0123456789"
    options: dict[str, Any] = {"rotate_max_mb": 5, "retain_count": 4, "key": key}
    async with Auditor(log_dir=log_dir, **options) as auditor:
        for n in range(5):
            await auditor.emit("things", "thing", probe_seq=n)

    [started, stopped] = parse(whole_lines(log_dir / "audit.jsonl"))
    assert (started["event_type"], started["category"], started["outcome"]) == (
        "audit_started",
        "audit",
        "success",
    )
    assert started["details"]["pid"] == os.getpid()
    configuration = started["details"]["configuration"]
    assert configuration["log_dir"] == str(log_dir)
    assert configuration["rotate_max_mb"] == 5
    assert configuration["retain_count"] == 4
    assert configuration["key_source"] == "option"
    assert key not in (log_dir / "audit.jsonl").read_text()
    assert (stopped["event_type"], stopped["outcome"]) == ("audit_stopped", "success")
    assert stopped["details"]["pid"] == os.getpid()
    # audit_started, five events, audit_stopped itself; nothing dropped or lost.
    assert {k: stopped["details"][k] for k in ("enqueued", "dropped", "lost")} == {
        "enqueued": 7,
        "dropped": 0,
        "lost": 0,
    }


async def test_self_audit_off_writes_neither_start_nor_stop(log_dir: Path) -> None:
    async with Auditor(log_dir=log_dir, self_audit=False) as auditor:
        await auditor.emit("things", "thing", probe_seq=0)
    assert not (log_dir / "audit.jsonl").exists()
    written = [e for path in log_dir.glob("*.jsonl") for e in parse(whole_lines(path))]
    assert [e["probe_seq"] for e in written if e.get("event_type") == "thing"] == [0]
    assert not [e for e in written if e.get("event_type") in ("audit_started", "audit_stopped")]


def test_a_compression_cut_short_by_the_process_exit_is_finished_not_counted_twice(
    tmp_path: Path,
) -> None:
    # A worker that stops between linking the .gz into place and removing the
    # plain file leaves both. The .gz is complete; retention takes it alone, and the
    # next retention pass removes the plain leftover.
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    current = log_dir / "api-audit.jsonl"
    plain = log_dir / "api-audit.jsonl.20261128_101010.rotated"
    lines = b"".join(b'{"n":%d}\n' % i for i in range(5))
    plain.write_bytes(lines)
    gz = compress_rotated(plain)
    plain.write_bytes(lines)  # the leftover of the interrupted compression

    assert rotated_files(current) == [gz]
    assert gzip.decompress(gz.read_bytes()) == lines

    # A second compression of the same file keeps the .gz and drops the copy.
    assert compress_rotated(plain) == gz
    assert not plain.exists()
    assert gzip.decompress(gz.read_bytes()) == lines

    plain.write_bytes(lines)
    apply_retention(current, RotationPolicy(compress=True))
    assert not plain.exists()
    assert sorted(p.name for p in log_dir.iterdir()) == [gz.name]


def test_a_rotated_file_that_a_rotation_is_still_moving_is_not_compressed_yet(
    tmp_path: Path,
) -> None:
    # While a rotation moves a file it has two names (the current one, or a name
    # it is about to give back); compressing it then would compress it twice.
    log_dir = tmp_path / "logs"
    log_dir.mkdir(mode=0o700)
    plain = log_dir / "auth-events.jsonl.20261128_101010.2.rotated"
    plain.write_bytes(b'{"n":1}\n')
    second_name = log_dir / "auth-events.jsonl"
    os.link(plain, second_name)  # the rotation has linked but not yet unlinked

    assert compress_rotated(plain) == plain
    assert not plain.with_name(plain.name + ".gz").exists()

    second_name.unlink()  # the rotation is done
    gz = compress_rotated(plain)
    assert gz.name.endswith(".rotated.gz")
    assert gzip.decompress(gz.read_bytes()) == b'{"n":1}\n'
    assert not plain.exists()
