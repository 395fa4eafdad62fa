"""Tests for files: append files, the log directory, stats, rotation and the key file.

Real files under tmp_path throughout; nothing is mocked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit import get_audit_stats, rotate_audit_logs
from asgi_audit.store.files import _IOV_MAX, AppendFile, LogDirectory, _rest, rotate_file
from asgi_audit.store.rotation import count_lines

BUILTIN_FILES = {
    "auth": "auth-events.jsonl",
    "injection": "injection-events.jsonl",
    "tool_blocks": "tool-blocks.jsonl",
    "api_audit": "api-audit.jsonl",
}
ROTATED_RE = re.compile(r"(?P<file>.+\.jsonl)\.(?P<stamp>\d{8}_\d{6})(?:\.(?P<n>\d+))?\.rotated")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Run the test under umask 0o000 (everything the library does not restrict is open)."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


# --- AppendFile --------------------------------------------------------------------------


def open_file(path: Path) -> AppendFile:
    return AppendFile(LogDirectory(path.parent), path)


def test_append_file_creates_the_file_0600(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    target = open_file(path)
    try:
        assert target.append(b'{"a": 1}\n') == (9, None)
    finally:
        target.close_all()
    assert mode_of(path) == 0o600
    assert path.read_bytes() == b'{"a": 1}\n'


def test_append_file_is_0600_under_a_permissive_umask(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "auth-events.jsonl"
    target = open_file(path)
    try:
        target.append(b"x\n")
    finally:
        target.close_all()
    assert mode_of(path) == 0o600


def test_append_file_tightens_an_existing_0644_file(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(b"old\n")
    path.chmod(0o644)
    target = open_file(path)
    try:
        target.append(b"new\n")
    finally:
        target.close_all()
    assert mode_of(path) == 0o600
    assert path.read_bytes() == b"old\nnew\n"


def test_append_file_refuses_to_follow_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    link = tmp_path / "auth-events.jsonl"
    link.symlink_to(victim)
    target = open_file(link)
    try:
        with pytest.raises(OSError, match=re.escape(os.strerror(errno.ELOOP))) as excinfo:
            target.append(b"attacker-controlled\n")
    finally:
        target.close_all()
    assert excinfo.value.errno == errno.ELOOP
    assert victim.read_bytes() == b"precious\n"
    assert link.is_symlink()


def test_append_file_reopens_after_the_file_is_renamed_away(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    moved = tmp_path / "auth-events.jsonl.moved"
    target = open_file(path)
    try:
        target.append(b"first\n")
        path.rename(moved)
        target.append(b"second\n")
    finally:
        target.close_all()
    assert moved.read_bytes() == b"first\n"
    assert path.read_bytes() == b"second\n"
    assert mode_of(path) == 0o600


def test_append_file_reopens_after_the_file_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    target = open_file(path)
    try:
        target.append(b"first\n")
        path.unlink()
        target.append(b"second\n")
    finally:
        target.close_all()
    assert path.read_bytes() == b"second\n"


def test_append_file_appends_and_reopens_after_close(tmp_path: Path) -> None:
    path = tmp_path / "custom.jsonl"
    target = open_file(path)
    try:
        for i in range(3):
            target.append(f"{i}\n".encode())
        target.fsync()
        target.close_all()
        target.append(b"3\n")
    finally:
        target.close_all()
    assert path.read_bytes() == b"0\n1\n2\n3\n"


def test_two_append_files_on_one_path_both_append(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    one, two = open_file(path), open_file(path)
    try:
        one.append(b"a\n")
        two.append(b"b\n")
        one.append(b"c\n")
    finally:
        one.close_all()
        two.close_all()
    assert path.read_bytes() == b"a\nb\nc\n"


def test_a_replaced_lock_file_is_the_one_locked(tmp_path: Path) -> None:
    # A lock on a deleted lock file excludes nobody: after the lock file is
    # replaced, an append must hold the new one. The rotation check runs under the
    # lock, so there another open of the lock file cannot take it.
    path = tmp_path / "auth-events.jsonl"
    lock = tmp_path / ".auth-events.jsonl.lock"
    target = open_file(path)
    held: list[bool] = []

    def check(size: int, adding: int, mtime: float) -> bool:
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(True)
        else:
            held.append(False)
        finally:
            os.close(fd)
        return False

    try:
        target.append(b"first\n")
        target.append(b"again\n", check)
        lock.unlink()
        lock.write_bytes(b"")
        target.append(b"second\n", check)
    finally:
        target.close_all()
    assert held == [True, True]
    assert path.read_bytes() == b"first\nagain\nsecond\n"


def test_the_rotation_check_gets_the_files_size_and_mtime_after_another_writer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "auth-events.jsonl"
    one, two = open_file(path), open_file(path)
    seen: list[tuple[int, int, float]] = []

    def check(size: int, adding: int, mtime: float) -> bool:
        seen.append((size, adding, mtime))
        return False

    try:
        one.append(b"a\n")
        two.append(b"bbbb\n")
        os.utime(path, (1_000_000.0, 1_000_000.0))
        one.append(b"cc\n", check)
    finally:
        one.close_all()
        two.close_all()
    assert seen == [(7, 3, 1_000_000.0)]
    assert path.read_bytes() == b"a\nbbbb\ncc\n"


# --- LogDirectory ------------------------------------------------------------------------


def test_prepare_creates_the_directory_0700_with_its_parents(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "security"
    LogDirectory(path).prepare()
    assert path.is_dir()
    assert mode_of(path) == 0o700


def test_prepare_creates_0700_under_a_permissive_umask(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "security"
    LogDirectory(path).prepare()
    assert mode_of(path) == 0o700


def test_prepare_creates_no_world_writable_parent(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "logs" / "security"
    LogDirectory(path).prepare()
    assert mode_of(tmp_path / "logs") & 0o022 == 0


def test_prepare_keeps_an_existing_directory_and_its_files(tmp_path: Path) -> None:
    path = tmp_path / "security"
    path.mkdir()
    (path / "auth-events.jsonl").write_bytes(b"kept\n")
    LogDirectory(path).prepare()
    assert (path / "auth-events.jsonl").read_bytes() == b"kept\n"


def test_prepare_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "security"
    path.write_bytes(b"not a directory")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        LogDirectory(path).prepare()
    assert path.read_bytes() == b"not a directory"


def test_log_directory_file_uses_the_category_file_name_and_mode(tmp_path: Path) -> None:
    directory = LogDirectory(tmp_path, file_mode=0o640)
    target = directory.file("tool_blocks")
    assert target.path == tmp_path / "tool-blocks.jsonl"
    assert target.directory.file_mode == 0o640
    assert directory.file("custom").path == tmp_path / "custom.jsonl"
    with pytest.raises(ValueError, match="Invalid audit category"):
        directory.file("../escape")


# --- count_lines and stats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", 0),
        (b"{}\n", 1),
        (b"{}\n{}\n{}\n", 3),
        (b'{}\n{}\n{"partial', 2),
        (b'{"partial', 0),
        (b"\n\n", 2),
    ],
)
def test_count_lines_counts_only_complete_lines(
    tmp_path: Path, content: bytes, expected: int
) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    assert count_lines(path) == expected


def test_count_lines_across_read_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = b'{"k": "' + b"v" * 1000 + b'"}\n'
    path.write_bytes(line * 3000 + b'{"cut')  # ~3 MB, several 1 MiB chunks
    assert count_lines(path) == 3000


def test_stats_of_a_missing_directory_lists_the_four_categories_with_zeros(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "absent"
    stats = get_audit_stats(log_dir)
    assert stats == {
        category: {
            "file": str(log_dir / name),
            "size_bytes": 0,
            "size_kb": 0.0,
            "event_count": 0,
        }
        for category, name in BUILTIN_FILES.items()
    }


def test_stats_keep_the_original_shape_and_add_custom_files(tmp_path: Path) -> None:
    auth = b'{"event_type": "login_attempt"}\n' * 40
    (tmp_path / "auth-events.jsonl").write_bytes(auth + b'{"partial')
    (tmp_path / "tool-blocks.jsonl").write_bytes(b"{}\n")
    (tmp_path / "billing.jsonl").write_bytes(b"{}\n{}\n")
    (tmp_path / "auth-events.jsonl.20260101_000000.rotated").write_bytes(b"{}\n" * 5)
    (tmp_path / "notes.txt").write_bytes(b"ignored\n")
    stats = get_audit_stats(str(tmp_path))
    assert list(stats) == ["auth", "injection", "tool_blocks", "api_audit", "billing"]
    auth_size = len(auth) + len(b'{"partial')
    assert stats["auth"] == {
        "file": str(tmp_path / "auth-events.jsonl"),
        "size_bytes": auth_size,
        "size_kb": round(auth_size / 1024, 2),
        "event_count": 40,
    }
    assert stats["injection"]["size_bytes"] == 0
    assert stats["injection"]["event_count"] == 0
    assert stats["tool_blocks"]["event_count"] == 1
    assert stats["billing"] == {
        "file": str(tmp_path / "billing.jsonl"),
        "size_bytes": 6,
        "size_kb": round(6 / 1024, 2),
        "event_count": 2,
    }


# --- rotation ----------------------------------------------------------------------------


def utc_now_seconds() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def stamp_of(rotated: str) -> datetime:
    match = ROTATED_RE.fullmatch(Path(rotated).name)
    assert match, rotated
    return datetime.strptime(match["stamp"], "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc)


def test_rotate_renames_only_files_over_the_size(tmp_path: Path) -> None:
    big = b"x" * 2000 + b"\n"
    small = b"y" * 100 + b"\n"
    (tmp_path / "auth-events.jsonl").write_bytes(big)
    (tmp_path / "injection-events.jsonl").write_bytes(small)
    (tmp_path / "billing.jsonl").write_bytes(big)
    before = utc_now_seconds()
    rotated = rotate_audit_logs(tmp_path, max_size_mb=0.001)  # 1048.576 bytes
    after = utc_now_seconds()
    assert set(rotated) == {"auth", "billing"}
    for category, name in (("auth", "auth-events.jsonl"), ("billing", "billing.jsonl")):
        target = Path(rotated[category])
        assert target.parent == tmp_path
        match = ROTATED_RE.fullmatch(target.name)
        assert match
        assert match["file"] == name
        assert match["n"] is None  # the first rotation of a second takes the original's name
        assert before <= stamp_of(rotated[category]) <= after  # UTC, within this test's run
        assert target.read_bytes() == big
        assert not (tmp_path / name).exists()
    assert (tmp_path / "injection-events.jsonl").read_bytes() == small


def test_rotated_name_uses_utc_not_local_time(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(b"{}\n")
    moment = datetime(2026, 6, 9, 4, 22, 16, tzinfo=timezone.utc)
    target = rotate_file(path, now=moment.timestamp())
    assert target.name == "auth-events.jsonl.20260609_042216.rotated"


@pytest.mark.parametrize("n", ["²", "٣", "３", "𝟗"])
def test_a_planted_name_with_other_digits_neither_breaks_nor_steers_rotation(
    tmp_path: Path, n: str
) -> None:
    # str.isdigit() takes them all, int() some: the rotation reads ASCII digits only.
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(b"{}\n")
    (tmp_path / f"auth-events.jsonl.20260609_042216.{n}.rotated").write_bytes(b"")
    moment = datetime(2026, 6, 9, 4, 22, 16, tzinfo=timezone.utc)
    target = rotate_file(path, now=moment.timestamp())
    assert target.name == "auth-events.jsonl.20260609_042216.rotated"


def test_rotation_never_overwrites_within_one_second(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    moment = datetime(2026, 6, 9, 4, 22, 16, tzinfo=timezone.utc).timestamp()
    targets = []
    for i in range(5):
        path.write_bytes(f'{{"generation": {i}}}\n'.encode())
        targets.append(rotate_file(path, now=moment))
    assert len(set(targets)) == 5
    assert [t.read_bytes() for t in targets] == [
        f'{{"generation": {i}}}\n'.encode() for i in range(5)
    ]
    assert {stamp_of(str(t)) for t in targets} == {datetime.fromtimestamp(moment, timezone.utc)}
    assert not path.exists()


def test_rotate_audit_logs_five_times_keeps_five_distinct_files(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    rotated = []
    for i in range(5):
        path.write_bytes(f'{{"generation": {i}}}\n'.encode())
        result = rotate_audit_logs(tmp_path, max_size_mb=0)
        assert list(result) == ["auth"]
        rotated.append(result["auth"])
    assert len(set(rotated)) == 5
    for i, name in enumerate(rotated):
        assert Path(name).read_bytes() == f'{{"generation": {i}}}\n'.encode()
    assert len(list(tmp_path.glob("auth-events.jsonl.*.rotated"))) == 5


def test_rotate_with_zero_size_rotates_every_non_empty_file(tmp_path: Path) -> None:
    (tmp_path / "auth-events.jsonl").write_bytes(b"{}\n")
    (tmp_path / "tool-blocks.jsonl").write_bytes(b"{")
    (tmp_path / "api-audit.jsonl").write_bytes(b"")
    rotated = rotate_audit_logs(tmp_path, max_size_mb=0)
    assert set(rotated) == {"auth", "tool_blocks"}
    assert (tmp_path / "api-audit.jsonl").exists()


def test_rotate_on_a_missing_directory_rotates_nothing(tmp_path: Path) -> None:
    assert rotate_audit_logs(tmp_path / "absent", max_size_mb=0) == {}


@pytest.mark.parametrize("size", [-1, -0.001])
def test_rotate_with_a_negative_size_raises_value_error(tmp_path: Path, size: float) -> None:
    (tmp_path / "auth-events.jsonl").write_bytes(b"{}\n")
    with pytest.raises(ValueError, match="must not be negative"):
        rotate_audit_logs(tmp_path, max_size_mb=size)
    assert (tmp_path / "auth-events.jsonl").read_bytes() == b"{}\n"


def test_rotate_file_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        rotate_file(tmp_path / "auth-events.jsonl")


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=40), max_size=30),
    cut=st.integers(0, 2000),
)
def test_what_is_left_to_write_is_the_batch_past_what_was_written(
    pieces: list[bytes], cut: int
) -> None:
    # After a short writev, the next one starts exactly where the file stopped.
    whole = b"".join(pieces)
    done = min(cut, len(whole))
    rest = _rest(pieces, done)
    assert b"".join(rest) == whole[done:]
    assert all(rest)  # no empty buffer is passed on


def test_one_writev_is_given_at_most_iov_max_buffers() -> None:
    pieces = [bytes([i % 256]) for i in range(2500)]
    rest = _rest(pieces, 3)
    assert len(rest) == _IOV_MAX
    assert b"".join(rest) == b"".join(pieces)[3 : 3 + _IOV_MAX]
