"""Rotation, retention, compression, crash recovery, unsafe directories and the self-audit.

Real Auditors on real files under ``tmp_path``; the crash is a real child process
killed with SIGKILL. Waits on the maintenance task are bounded polls of the
directory (they fail with a message), never a sleep followed by an assertion;
nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
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

from asgi_audit import Auditor, InsecureDirectoryError, cli, rotate_audit_logs
from asgi_audit.auditor import KEY_ENV
from asgi_audit.proof.integrity import CHECKPOINT_FILE
from asgi_audit.proof.keyfiles import VERIFICATION_KEY_FILE
from asgi_audit.proof.setup import SealingSetup, prepare_sealing
from asgi_audit.store import rotation as rotation_module
from asgi_audit.store.files import LogDirectory, rotate_file
from asgi_audit.store.housekeeping import retain
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


# Retention acts only on rotated files the ledger recorded (a ``rotated`` record whose
# sha256 is the file's), ages them from that record's timestamp (never the mtime,
# which anyone who can write the directory can set), and records what it compresses
# and deletes, so that verify can tell retention from a deletion. The files are
# rotated by the app for real; ``retain(..., now=...)`` measures their age at a
# chosen moment (no one waits a week), run as another worker of the app would.


@pytest.fixture
def forward_secure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app seals with its default forward-secure key, not a static one."""
    monkeypatch.delenv(KEY_ENV, raising=False)


def ledger_records(log_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The ledger's records of type ``kind`` (whole lines: a writer may be appending)."""
    lines = (log_dir / CHECKPOINT_FILE).read_bytes().split(b"\n")[:-1]
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def recorded_rotations(log_dir: Path, name: str) -> list[tuple[Path, float, dict[str, Any]]]:
    """The rotated files of ``name`` that the ledger recorded, with the time of their
    ``rotated`` record and the record, oldest first."""
    found = [
        (log_dir / r["file"], datetime.fromisoformat(r["timestamp"]).timestamp(), r)
        for r in ledger_records(log_dir, "rotated")
        if r["file"].startswith(f"{name}.")
    ]
    return sorted(found, key=lambda f: f[1])


def another_worker(log_dir: Path) -> SealingSetup:
    """The directory's sealing key, loaded as another worker of the app loads it."""
    return prepare_sealing(LogDirectory(log_dir), key=None, key_dir=None, sealing="forward-secure")


def verified(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``asgi-audit verify --json`` with the verification key made beside the sealing
    key; its exit status under ``status``."""
    key_dir = another_worker(log_dir).key_dir
    assert key_dir is not None
    capsys.readouterr()
    argv = ["verify", str(log_dir), "--json"]
    status = cli.main([*argv, "--verification-key", str(key_dir / VERIFICATION_KEY_FILE)])
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    data["status"] = status
    return data


async def rotate_a_few_times(log_dir: Path, name: str, rotations: int) -> Probe:
    """A real app rotates ``name`` at least ``rotations`` times (rotate_max_mb), then stops."""
    async with Auditor(log_dir=log_dir, rotate_max_mb=SMALL_MB, self_audit=False) as auditor:
        probe = Probe(auditor, name.removesuffix(".jsonl"))
        await wait_until(lambda: probe.rotations() >= rotations, "rotations", probe.write)
        done = probe.rotations()
    assert len(recorded_rotations(log_dir, name)) == done  # each one recorded
    return probe


@pytest.mark.usefixtures("forward_secure")
async def test_retain_days_deletes_the_rotated_files_older_than_the_limit_while_the_app_writes(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Auditor(log_dir=log_dir, rotate_max_mb=SMALL_MB, self_audit=False) as auditor:
        probe = Probe(auditor, "aged")
        await wait_until(lambda: probe.rotations() >= 4, "4 rotations", probe.write)
        rotated = recorded_rotations(log_dir, "aged.jsonl")
        assert len(rotated) >= 4
        # A week after a moment between the second and third: the first two are past it.
        middle = (rotated[1][1] + rotated[2][1]) / 2
        old = [path for path, at, _ in rotated if at < middle]
        young = [path for path, at, _ in rotated if at > middle]
        assert (len(old), len(old) + len(young)) == (2, len(rotated))
        policy = RotationPolicy(max_age=7 * DAY)
        worker = another_worker(log_dir)
        retention = asyncio.ensure_future(
            asyncio.to_thread(
                retain, LogDirectory(log_dir), policy, worker.sealer, now=middle + 7 * DAY
            )
        )
        await wait_until(retention.done, "retention", lambda: probe.write(1))  # the app writes on
        await retention

        assert [path for path in old if path.exists()] == []
        assert [path for path in young if not path.exists()] == []
        await probe.write()

    # Each deletion recorded, naming the rotated record it relied on.
    retired = {r["file"]: (r["record"], r["sha256"]) for r in ledger_records(log_dir, "retired")}
    assert retired == {
        path.name: (record["n"], record["sha256"]) for path, _, record in rotated if path in old
    }
    kept = seqs(events_in_order(log_dir, "aged.jsonl"))
    assert kept == list(range(probe.seq - len(kept), probe.seq)), describe(log_dir, "aged.jsonl")
    assert kept[0] > 0

    # verify holds it: retention said what it deleted, and nothing else is missing.
    result = verified(log_dir, capsys)
    assert (result["status"], result["verdict"], result["breaks"]) == (0, "ok", [])
    [stream] = result["streams"]
    assert stream["first_seq"] == kept[0] + 1  # seq counts from 1, probe_seq from 0


@pytest.mark.usefixtures("forward_secure")
async def test_retain_days_counts_the_age_from_the_recorded_rotation_also_when_compressed(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await rotate_a_few_times(log_dir, "aged.jsonl", 2)
    [(old, old_at, old_record), (young, at, record), *_] = recorded_rotations(log_dir, "aged.jsonl")
    directory, sealer = LogDirectory(log_dir), another_worker(log_dir).sealer
    policy = RotationPolicy(max_age=7 * DAY, compress=True)

    # A week and a moment after the older one's rotation, before the younger one's:
    # both gzipped (each recorded), the older one deleted in the same pass.
    retain(directory, policy, sealer, now=(old_at + at) / 2 + 7 * DAY)
    compressed = {r["from"]: r for r in ledger_records(log_dir, "compressed")}
    assert set(compressed) >= {old.name, young.name}
    assert not [p for p in (old, young, old.with_name(old.name + ".gz")) if p.exists()]
    retired = [(r["file"], r["record"]) for r in ledger_records(log_dir, "retired")]
    assert retired == [(old.name + ".gz", old_record["n"])]

    gz = young.with_name(young.name + ".gz")
    assert compressed[young.name]["file"] == gz.name
    assert compressed[young.name]["sha256"] == hashlib.sha256(gz.read_bytes()).hexdigest()
    assert hashlib.sha256(gzip.decompress(gz.read_bytes())).hexdigest() == record["sha256"]
    # The .gz is younger by its mtime; its age is still the rotation's.
    os.utime(gz, (at + 6 * DAY, at + 6 * DAY))
    retain(directory, policy, sealer, now=at + 7 * DAY - 60)  # not quite a week
    assert gz.exists()
    retain(directory, policy, sealer, now=at + 7 * DAY + 60)
    assert not gz.exists(), "a rotated file past retain_days survived as a fresh .gz"
    deletions = [(r["file"], r["record"], r["sha256"]) for r in ledger_records(log_dir, "retired")]
    assert deletions[1:] == [(gz.name, record["n"], compressed[young.name]["sha256"])]

    result = verified(log_dir, capsys)
    assert (result["status"], result["breaks"]) == (0, [])


@pytest.mark.usefixtures("forward_secure")
async def test_compress_rotated_gzips_a_rotated_file_into_the_same_lines_while_the_app_writes(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await rotate_a_few_times(log_dir, "zipped.jsonl", 2)
    rotated = recorded_rotations(log_dir, "zipped.jsonl")
    originals = {path: path.read_bytes() for path, _, _ in rotated}
    gzs = {path: path.with_name(path.name + ".gz") for path in originals}

    async with Auditor(log_dir=log_dir, compress_rotated=True, self_audit=False) as auditor:
        probe = Probe(auditor, "zipped")
        probe.seq = 10_000

        def all_compressed() -> bool:
            return all(gz.exists() and not path.exists() for path, gz in gzs.items())

        await wait_until(all_compressed, "every rotated file gzipped", probe.write)
        await probe.write()

    compressed = {r["from"]: r for r in ledger_records(log_dir, "compressed")}
    assert set(compressed) == {path.name for path in originals}
    for path, original in originals.items():
        gz = gzs[path]
        assert gzip.decompress(gz.read_bytes()) == original
        assert parse(whole_lines(gz)) == parse(original.splitlines())
        assert stat.S_IMODE(gz.stat().st_mode) == 0o600
        record = compressed[path.name]
        assert (record["file"], record["size"]) == (gz.name, gz.stat().st_size)
        assert record["sha256"] == hashlib.sha256(gz.read_bytes()).hexdigest()
    assert not [p.name for p in log_dir.iterdir() if p.name.endswith(".tmp")]
    written = seqs(parse(whole_lines(log_dir / "zipped.jsonl")))  # before, then while it ran
    assert written[written.index(10_000) :] == list(range(10_000, probe.seq))

    result = verified(log_dir, capsys)
    assert (result["status"], result["breaks"]) == (0, [])


@pytest.mark.usefixtures("forward_secure")
async def test_a_planted_rotated_file_with_an_old_mtime_is_neither_deleted_nor_compressed(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir.mkdir(mode=0o700)
    planted = log_dir / "aged.jsonl.20200101_000000.rotated"
    content = b'{"event_type":"logout","user_id":"mallory"}\n'
    planted.write_bytes(content)
    planted.chmod(0o600)
    month_ago = time.time() - 30 * DAY
    os.utime(planted, (month_ago, month_ago))

    # The app's own maintenance, after its own rotations, while it writes.
    options: dict[str, Any] = {
        "rotate_max_mb": SMALL_MB,
        "retain_days": 7,
        "compress_rotated": True,
    }
    async with Auditor(log_dir=log_dir, self_audit=False, **options) as auditor:
        probe = Probe(auditor, "aged")

        def one_of_its_own_compressed() -> bool:
            return any(p.name.endswith(".gz") for p in rotated_of(log_dir, "aged.jsonl"))

        # The pass that gzipped one of its files went over the planted one too.
        await wait_until(one_of_its_own_compressed, "a rotated file gzipped", probe.write)
    # and once more with a moment chosen a year ahead: still not one of its own.
    retain(
        LogDirectory(log_dir),
        RotationPolicy(max_age=7 * DAY, compress=True),
        another_worker(log_dir).sealer,
        now=time.time() + 365 * DAY,
    )

    assert planted.read_bytes() == content
    assert planted.stat().st_mtime == month_ago
    assert not planted.with_name(planted.name + ".gz").exists()
    named = {r["file"] for kind in ("compressed", "retired") for r in ledger_records(log_dir, kind)}
    assert planted.name not in named
    assert {r["from"] for r in ledger_records(log_dir, "compressed")}, "its own were gzipped"
    err = capsys.readouterr().err
    assert f"'{planted}' is not a rotated file the ledger recorded" in err
    # verify names it: a file the app never wrote, among its own.
    result = verified(log_dir, capsys)
    assert result["status"] == 1
    assert {b["file"] for b in result["breaks"]} == {planted.name}


@pytest.mark.usefixtures("forward_secure")
async def test_a_recorded_rotated_file_whose_bytes_changed_is_not_deleted(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await rotate_a_few_times(log_dir, "aged.jsonl", 2)
    (changed, _, _), (untouched, _, _), *_ = rotated = recorded_rotations(log_dir, "aged.jsonl")
    data = changed.read_bytes()
    assert b'"probe_seq":1,' in data
    changed.write_bytes(data.replace(b'"probe_seq":1,', b'"probe_seq":7,', 1))

    policy = RotationPolicy(max_age=7 * DAY, compress=True)
    retain(
        LogDirectory(log_dir), policy, another_worker(log_dir).sealer, now=rotated[-1][1] + 8 * DAY
    )

    assert changed.exists(), "a rotated file whose bytes changed was deleted as the app's own"
    assert not changed.with_name(changed.name + ".gz").exists()
    assert not untouched.exists()
    assert not untouched.with_name(untouched.name + ".gz").exists()
    retired = {r["file"] for r in ledger_records(log_dir, "retired")}
    assert untouched.name + ".gz" in retired
    assert {changed.name, changed.name + ".gz"}.isdisjoint(retired)
    result = verified(log_dir, capsys)
    assert result["status"] == 1
    assert (changed.name, 0, "modified") in {
        (b["file"], b["line"], b["kind"]) for b in result["breaks"]
    }


@pytest.mark.usefixtures("forward_secure")
async def test_a_rotated_file_touched_to_an_old_mtime_is_not_deleted_early(
    log_dir: Path,
) -> None:
    await rotate_a_few_times(log_dir, "aged.jsonl", 1)
    [(path, at, _), *_] = recorded_rotations(log_dir, "aged.jsonl")
    os.utime(path, (at - 30 * DAY, at - 30 * DAY))
    directory, sealer = LogDirectory(log_dir), another_worker(log_dir).sealer
    policy = RotationPolicy(max_age=7 * DAY)

    retain(directory, policy, sealer)  # now: rotated seconds ago, whatever its mtime says
    retain(directory, policy, sealer, now=at + 7 * DAY - 60)
    assert path.exists(), "aged by its mtime, not by the rotation the ledger recorded"
    retain(directory, policy, sealer, now=at + 7 * DAY + 60)
    assert not path.exists()


@pytest.mark.usefixtures("forward_secure")
async def test_a_rotated_file_deleted_by_hand_is_a_missing_file_for_verify(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await rotate_a_few_times(log_dir, "aged.jsonl", 2)
    assert verified(log_dir, capsys)["status"] == 0
    [(path, _, record), *_] = recorded_rotations(log_dir, "aged.jsonl")
    path.unlink()  # not by retention: no record says so

    result = verified(log_dir, capsys)
    assert (result["status"], result["verdict"]) == (1, "altered")
    missing = [b for b in result["breaks"] if b["kind"] == "missing file"]
    assert [(b["file"], b["detail"].split(" (")[0]) for b in missing] == [
        ("checkpoints.log", path.name)
    ]
    lines = (log_dir / CHECKPOINT_FILE).read_bytes().splitlines()
    assert json.loads(lines[missing[0]["line"] - 1]) == record  # the record that named it


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
