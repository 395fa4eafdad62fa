"""The compiled core's locked append (``asgi_audit_native.append_locked``) against
:meth:`AppendFile.append` in Python: the same files, whatever happens between appends.

Real files in temporary directories; the other processes' moves (a rotation, a
deletion, a replaced lock file) are made with real renames and unlinks. Skipped
where the core is not installed (``make native`` builds and installs it).
"""

from __future__ import annotations

import fcntl
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asgi_audit.store.files import AppendFile, LogDirectory
from asgi_audit.store.rotation import RotationPolicy

native: Any = pytest.importorskip("asgi_audit_native")
if not hasattr(native, "append_locked"):
    pytest.skip("the installed core has no append_locked", allow_module_level=True)

NAME = "auth-events.jsonl"


class Counted:
    """The core's function, counting what it returned (0 written, 1 left, 2 failed)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    def __call__(self, *args: Any) -> tuple[int, int]:
        status, value = native.append_locked(*args)
        self.statuses.append(status)
        return int(status), int(value)


def append_file(directory: Path, *, core: bool) -> tuple[AppendFile, Counted | None]:
    file = AppendFile(LogDirectory(directory), directory / NAME)
    counted = Counted() if core else None
    file._native = counted
    return file, counted


def contents(directory: Path) -> list[bytes]:
    """Every regular file's bytes but the lock files', in order of content (a rotated
    file's name holds the time, which differs between two runs)."""
    return sorted(
        p.read_bytes() for p in directory.iterdir() if p.is_file() and not p.name.endswith(".lock")
    )


# Between two appends, what another process (or the operator) may do.
Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 700)),
        st.tuples(st.just("pieces"), st.integers(1, 700)),
        st.tuples(st.sampled_from(["rename", "delete", "replace_lock", "close"]), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


def run(directory: Path, plan: list[Step], core: bool) -> Counted | None:
    directory.mkdir(mode=0o700)
    file, counted = append_file(directory, core=core)
    policy = RotationPolicy(max_bytes=2048)
    path, lock = directory / NAME, directory / f".{NAME}.lock"
    moved = 0
    try:
        for number, (kind, size) in enumerate(plan):
            if kind == "append":
                line = (f"{number:04d}:".encode() + b"x" * size)[:size] + b"\n"
                file.append(line, policy)
            elif kind == "pieces":  # one batch in pieces, as the writer gives the core's
                lines = [f"{number:04d}-{i}\n".encode() for i in range(size % 7 + 1)]
                file.append([b"", *lines[:-1], lines[-1] + b"x" * size, b""], policy)
            elif kind == "rename" and path.exists():
                moved += 1
                path.rename(directory / f"moved-{moved}")
            elif kind == "delete" and path.exists():
                path.unlink()
            elif kind == "replace_lock" and lock.exists():
                lock.unlink()
                lock.write_bytes(b"")
            elif kind == "close":
                file.close_all()
    finally:
        file.close_all()
    return counted


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps)
def test_the_core_leaves_the_files_as_python_leaves_them(
    tmp_path_factory: Any, plan: list[Step]
) -> None:
    base = tmp_path_factory.mktemp("append")
    run(base / "python", plan, core=False)
    run(base / "core", plan, core=True)
    assert contents(base / "core") == contents(base / "python")


def test_an_ordinary_run_of_appends_is_the_cores_alone(tmp_path: Path) -> None:
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    try:
        sizes = [
            file.append(f"{i}\n".encode(), RotationPolicy(max_bytes=1 << 20))[0] for i in range(20)
        ]
    finally:
        file.close_all()
    assert (tmp_path / NAME).read_bytes() == b"".join(f"{i}\n".encode() for i in range(20))
    assert sizes == [len(b"".join(f"{j}\n".encode() for j in range(i + 1))) for i in range(20)]
    # The first append opens the file and the lock (Python); every later one is the core's.
    assert counted.statuses == [0] * 19


def test_a_rotation_due_by_size_is_left_to_python_which_rotates(tmp_path: Path) -> None:
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    policy = RotationPolicy(max_bytes=1024)
    line = b"y" * 99 + b"\n"
    try:
        rotations = [file.append(line, policy)[1] for _ in range(12)]
    finally:
        file.close_all()
    assert [r is not None for r in rotations] == [False] * 10 + [True, False]
    assert (tmp_path / NAME).read_bytes() == line * 2
    assert counted.statuses == [0] * 9 + [1, 0]


def test_a_rotation_due_by_time_is_left_to_python_which_rotates(tmp_path: Path) -> None:
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    policy = RotationPolicy(interval=3600)
    try:
        file.append(b"old\n", policy)
        hour_ago = time.time() - 3600
        os.utime(tmp_path / NAME, (hour_ago, hour_ago))
        _, rotated = file.append(b"new\n", policy)
    finally:
        file.close_all()
    assert rotated is not None
    assert rotated.read_bytes() == b"old\n"
    assert (tmp_path / NAME).read_bytes() == b"new\n"
    assert counted.statuses == [1]


def test_a_check_without_bounds_is_always_called(tmp_path: Path) -> None:
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    calls: list[int] = []

    def check(size: int, incoming: int, mtime: float) -> bool:
        calls.append(size)
        return False

    try:
        for _ in range(3):
            file.append(b"z\n", check)
    finally:
        file.close_all()
    assert calls == [2, 4]
    assert counted.statuses == []


@pytest.mark.parametrize("replaced", [False, True], ids=["same-lock", "replaced-lock"])
def test_the_core_holds_the_lock_while_it_writes(tmp_path: Path, replaced: bool) -> None:
    # Another holder of the lock makes the core wait: with the lock taken here
    # (LOCK_NB from a second descriptor fails while any other holds it), the
    # core's append is run in a thread and must not have written before release.
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    file.append(b"first\n")
    if replaced:
        # A lock on a deleted lock file excludes nobody: the new one must be taken.
        (tmp_path / f".{NAME}.lock").unlink()
        (tmp_path / f".{NAME}.lock").write_bytes(b"")
    lock = os.open(tmp_path / f".{NAME}.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    done = threading.Event()

    def second() -> None:
        file.append(b"second\n")
        done.set()

    thread = threading.Thread(target=second)
    try:
        thread.start()
        # Whatever the thread's speed, it cannot pass the lock held here.
        assert not done.wait(0.2)
        assert (tmp_path / NAME).read_bytes() == b"first\n"
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
        thread.join(10)
        file.close_all()
    assert done.is_set()
    assert (tmp_path / NAME).read_bytes() == b"first\nsecond\n"
    assert counted.statuses == ([1] if replaced else [0])


def test_a_failed_write_is_an_oserror_with_its_errno_and_nothing_is_left(tmp_path: Path) -> None:
    # A descriptor opened read-only in place of the file's: write() fails (EBADF),
    # as a full disk or a size limit fails it, and nothing reaches the file.
    file, counted = append_file(tmp_path, core=True)
    assert counted is not None
    file.append(b"first\n")
    assert file._fd is not None
    readonly = os.open(tmp_path / NAME, os.O_RDONLY)
    os.dup2(readonly, file._fd)
    os.close(readonly)
    try:
        with pytest.raises(OSError, match=r"^\[Errno 9\] Bad file descriptor$") as raised:
            file.append(b"second\n")
    finally:
        file.close_all()
    assert raised.value.errno == 9
    assert (tmp_path / NAME).read_bytes() == b"first\n"
    assert counted.statuses == [2]


@given(
    interval=st.sampled_from([1.0, 60.0, 3600.0, 86400.0, 7 * 86400.0, 2.5]),
    where=st.floats(0, 1, exclude_max=True),
)
def test_a_mtime_within_the_bounds_is_never_due(interval: float, where: float) -> None:
    policy = RotationPolicy(interval=interval)
    max_bytes, low, high = policy.bounds()
    assert max_bytes == -1
    mtime = low + (high - low) * where
    assume(low <= mtime < high)  # the product may round up to ``high``
    assert not policy(100, 10, mtime)


def test_the_bounds_without_an_interval_are_open_and_carry_max_bytes() -> None:
    assert RotationPolicy(max_bytes=4096).bounds() == (4096, -math.inf, math.inf)
    assert RotationPolicy().bounds() == (-1, -math.inf, math.inf)
    _, low, high = RotationPolicy(interval=60).bounds()
    now = time.time()
    assert low - 0.001 <= now < high + 0.001
    assert math.isclose(high - low, 60 - 0.002, abs_tol=1e-5)


def test_a_batch_in_more_pieces_than_one_writev_takes_is_written_whole(tmp_path: Path) -> None:
    # 2,500 pieces: three writev calls, under one hold of the lock, by the core
    # and by Python alike.
    lines = [f"{i}\n".encode() for i in range(2500)]
    for core in (True, False):
        directory = tmp_path / str(core)
        directory.mkdir(mode=0o700)
        file, counted = append_file(directory, core=core)
        try:
            file.append(b"first\n")  # opens the file: the next append can be the core's
            size, _ = file.append(lines, RotationPolicy(max_bytes=1 << 20))
        finally:
            file.close_all()
        assert size == 6 + sum(map(len, lines))
        assert (directory / NAME).read_bytes() == b"first\n" + b"".join(lines)
        assert counted is None or counted.statuses == [0]
