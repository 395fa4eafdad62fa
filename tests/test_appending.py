"""The writer's blocking side on real files: held lines after a failed write, their
order and counts, what the fsync policy does at a batch's end, when a batch needs
the writer's thread, and which files the core's lane may append to.

A failing write is real: a directory where the category's file should be makes
``open`` fail with ``EISDIR`` (for root too); taking it away lets the retry work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from asgi_audit.record.events import RawEvent
from asgi_audit.store.appending import Appender, FsyncPolicy
from asgi_audit.store.batches import Encoded, Held
from asgi_audit.store.files import LogDirectory


class _Proof:
    """The two answers the appender asks of the integrity session on the loop."""

    def __init__(self, interval: float | None, *, rolls: bool = False, silent: str = "") -> None:
        self.interval = interval
        self.rolls = rolls
        self.silent = silent  # a category whose stream is not announced yet
        self.checkpoints: list[str] = []

    def roll_due(self) -> bool:
        return self.rolls

    def announced(self, category: str) -> bool:
        return category != self.silent

    def roll_if_due(self, ends: Any) -> None:
        pass

    def try_checkpoint(self, reason: str, ends: Any) -> None:
        self.checkpoints.append(reason)


def _appender(
    tmp_path: Path,
    fsync: FsyncPolicy = "never",
    fsync_interval: float = 1.0,
    proof: Any = None,
    on_written: Any = None,
) -> Appender:
    directory = LogDirectory(tmp_path / "log")
    directory.prepare()
    return Appender(
        directory=directory,
        fsync=fsync,
        fsync_interval=fsync_interval,
        rotation=None,
        on_rotated=None,
        on_written=on_written,
        retry_initial=0.0,
        retry_max=0.0,
        proof=proof,
    )


def _batch(base: int, real: int, lines: list[tuple[str, bytes]]) -> Encoded:
    encoded = Encoded(base, real)
    for offset, (category, line) in enumerate(lines):
        encoded.place(offset, RawEvent(category, "x", None, 1, None, {}), line)
    encoded.close(None)
    return encoded


def test_held_lines_gather_in_order_and_the_batch_is_complete_only_before_them(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    appender = _appender(tmp_path)
    blocker = tmp_path / "log" / "custom.jsonl"
    blocker.mkdir()  # open() of the file fails with EISDIR
    assert appender.store(_batch(5, 2, [("custom", b"a\n"), ("custom", b"b\n")])) == (
        4,
        False,
        None,
    )
    # The next batch: one of the stream's events, then an events_dropped line.
    outcome = appender.store(_batch(7, 1, [("custom", b"c\n"), ("custom", b"d\n")]))
    assert outcome == (4, False, None)  # complete only up to just before the held lines
    held = appender.held["custom"]
    assert (held.count, held.real, held.first_seq) == (4, 3, 5)
    assert held.data == [b"a\n", b"b\n", b"c\n", b"d\n"]
    assert appender.held_count() == 3
    stats = appender.category_stats()["custom"]
    assert (stats["errors"], stats["written"]) == (2, 0)
    assert "holding them and retrying" in capfd.readouterr().err
    blocker.rmdir()
    assert appender.write_held(7) == (7, False, None)
    assert not appender.held
    assert blocker.read_bytes() == b"a\nb\nc\nd\n"
    stats = appender.category_stats()["custom"]
    assert (stats["written"], stats["bytes"]) == (4, 8)
    assert "works again; 4 held events written" in capfd.readouterr().err


def test_an_abandoned_appender_writes_nothing_more(tmp_path: Path) -> None:
    appender = _appender(tmp_path)
    blocker = tmp_path / "log" / "custom.jsonl"
    blocker.mkdir()
    appender.store(_batch(1, 2, [("custom", b"a\n"), ("custom", b"b\n")]))
    assert appender.abandon() == 2
    assert not appender.held
    blocker.rmdir()
    appender.store(_batch(3, 1, [("custom", b"c\n")]))
    assert not blocker.exists()
    assert appender.core_files(()) == []


def test_counters_add_up_over_batches_and_each_append_is_announced(tmp_path: Path) -> None:
    calls: list[int] = []
    appender = _appender(tmp_path, on_written=lambda: calls.append(1))
    appender.store(_batch(1, 2, [("auth", b"x\n"), ("auth", b"yy\n")]))
    appender.store(_batch(3, 1, [("auth", b"zzz\n")]))
    stats = appender.category_stats()["auth"]
    assert (stats["written"], stats["bytes"]) == (3, 9)
    assert len(calls) == 2
    appender.appended("auth", 2, 5, None)  # what the lane wrote
    stats = appender.category_stats()["auth"]
    assert (stats["written"], stats["bytes"]) == (5, 14)
    assert len(calls) == 3
    assert appender.batch_written == 3  # the stream's events of the batches it wrote


@pytest.mark.parametrize(
    ("fsync", "interval", "synced", "dirty_after"),
    [("always", 1.0, True, False), ("interval", 0.0, False, False), ("never", 0.0, False, True)],
)
def test_a_batch_s_end_fsyncs_as_the_policy_says(
    tmp_path: Path, fsync: FsyncPolicy, interval: float, synced: bool, dirty_after: bool
) -> None:
    appender = _appender(tmp_path, fsync=fsync, fsync_interval=interval)
    before = appender.last_sync
    assert appender.store(_batch(1, 1, [("auth", b"x\n")])) == (1, synced, None)
    assert bool(appender.dirty) is dirty_after
    assert (appender.last_sync > before) is not dirty_after


def test_a_durable_batch_is_fsynced_whatever_the_policy(tmp_path: Path) -> None:
    appender = _appender(tmp_path, fsync="never")
    encoded = _batch(1, 1, [("auth", b"x\n")])
    encoded.durable = True
    assert appender.store(encoded) == (1, True, None)
    assert not appender.dirty


def test_the_end_of_a_batch_needs_the_thread_only_for_what_is_due(tmp_path: Path) -> None:
    always = _appender(tmp_path / "a", fsync="always")
    assert always.due(False)
    never = _appender(tmp_path / "n", fsync="never")
    assert not never.due(False)
    assert never.due(True)  # a durable event: the fsync is the thread's
    interval = _appender(tmp_path / "i", fsync="interval", fsync_interval=1.0)
    assert not interval.due(False)  # nothing written since the last fsync
    interval.dirty.add("auth")
    assert not interval.due(False)  # written, but the interval is not over
    interval.last_sync = time.monotonic() - 10
    assert interval.due(False)
    interval.dirty.clear()
    assert not interval.due(False)


def test_a_checkpoint_or_a_key_to_move_needs_the_thread(tmp_path: Path) -> None:
    proof = _Proof(interval=0.5)
    appender = _appender(tmp_path, proof=proof)
    assert not appender.due(False)  # the checkpoint was just taken, no key to move
    appender.last_checkpoint = time.monotonic() - 10
    assert appender.due(False)
    appender.last_checkpoint = time.monotonic()
    proof.rolls = True
    assert appender.due(False)
    unchecked = _appender(tmp_path / "u", proof=_Proof(interval=None))
    assert not unchecked.due(False)


def test_the_lane_gets_only_the_open_announced_files_with_nothing_left_behind(
    tmp_path: Path,
) -> None:
    proof = _Proof(interval=None, silent="silent")
    appender = _appender(tmp_path, proof=proof)
    for category in ("held", "behind", "silent", "open"):
        appender.store(_batch(1, 1, [(category, b"x\n")]))
    appender.held["held"] = Held([b"y\n"], 1, 1, 2, None)
    skip = _batch(2, 1, [("behind", b"z\n")])
    files = appender.core_files(skip.lines)
    args = appender.files["open"].core_args(None)
    assert args is not None
    assert files == [("open", *args)]
    assert files[0][1] is not None  # the lock's descriptor, as the core takes it
    assert appender.upto(9) == 1  # the held line's event is 2


def test_batches_stored_together_land_in_order_and_end_as_the_last(tmp_path: Path) -> None:
    # The trip that writes the batches the lane sealed while the thread's last
    # trip was under way: each in order, one fsync if any of them is durable.
    appender = _appender(tmp_path, fsync="never")
    first = _batch(1, 2, [("one", b"a\n"), ("two", b"b\n")])
    second = _batch(3, 2, [("one", b"c\n"), ("one", b"d\n")])
    third = _batch(5, 1, [("two", b"e\n")])
    second.durable = True
    assert appender.store_all([first, second, third]) == (5, True, None)
    log = tmp_path / "log"
    assert (log / "one.jsonl").read_bytes() == b"a\nc\nd\n"
    assert (log / "two.jsonl").read_bytes() == b"b\ne\n"
    assert appender.batch_written == 5
    assert not appender.dirty


def test_a_trip_beside_the_lane_s_sealing_takes_no_checkpoint(tmp_path: Path) -> None:
    # A checkpoint may move the key to its next epoch; while the loop seals the
    # next batches with the current key, the trip beside it must not take one.
    proof = _Proof(interval=0.5)
    appender = _appender(tmp_path, proof=proof)
    appender.last_checkpoint = time.monotonic() - 10
    assert appender.checkpoint_due()
    appender.store_all([_batch(1, 1, [("auth", b"a\n")])], False)
    assert proof.checkpoints == []
    assert appender.checkpoint_due()  # still due: the next trip takes it
    appender.store_all([_batch(2, 1, [("auth", b"b\n")])])
    assert proof.checkpoints == ["interval"]
    assert not appender.checkpoint_due()
    proof.rolls = True  # a key to move is due as a checkpoint is
    assert appender.checkpoint_due()
