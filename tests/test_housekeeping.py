"""Tests for store.housekeeping: a crash's partial last line is moved aside safely.

The ``.partial`` file's name is predictable (the file's name and a UTC second), so
whoever can write the log directory can plant something there before a restart.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from asgi_audit.store.housekeeping import recover_partial_line

WHOLE = b'{"event_type":"a","seq":1}\n'
TAIL = b'{"event_type":"b","se'


def stamps_ahead(seconds: int = 6) -> list[str]:
    now = time.time()
    return [time.strftime("%Y%m%d_%H%M%S", time.gmtime(now + n)) for n in range(seconds)]


def crashed_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(WHOLE + TAIL)
    return path


def test_the_tail_is_moved_to_a_partial_file_and_cut(tmp_path: Path) -> None:
    path = crashed_file(tmp_path)
    moved = recover_partial_line(path)
    assert moved is not None
    partial, size = moved
    assert size == len(TAIL)
    assert partial.read_bytes() == TAIL
    assert path.read_bytes() == WHOLE
    assert stat.S_IMODE(partial.stat().st_mode) == 0o600


def test_a_planted_symlink_at_the_partial_name_is_not_followed(tmp_path: Path) -> None:
    path = crashed_file(tmp_path)
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_bytes(b"untouched\n")
    for stamp in stamps_ahead():
        (tmp_path / f"{path.name}.{stamp}.partial").symlink_to(victim)

    moved = recover_partial_line(path)

    assert victim.read_bytes() == b"untouched\n"
    assert moved is not None
    partial, _ = moved
    assert not partial.is_symlink()
    assert partial.read_bytes() == TAIL
    assert path.read_bytes() == WHOLE


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_planted_fifo_or_directory_neither_blocks_nor_loses_the_tail(
    tmp_path: Path, kind: str
) -> None:
    path = crashed_file(tmp_path)
    for stamp in stamps_ahead():
        planted = tmp_path / f"{path.name}.{stamp}.partial"
        if kind == "fifo":
            os.mkfifo(planted)  # opening it for writing would wait for a reader forever
        else:
            planted.mkdir()

    moved = recover_partial_line(path)

    assert moved is not None
    partial, _ = moved
    assert stat.S_ISREG(partial.lstat().st_mode)
    assert partial.read_bytes() == TAIL
    assert path.read_bytes() == WHOLE


def test_a_file_that_ends_in_a_whole_line_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(WHOLE)
    assert recover_partial_line(path) is None
    assert path.read_bytes() == WHOLE
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".partial") == []


def test_a_planted_hard_link_at_the_partial_name_is_not_appended_to(tmp_path: Path) -> None:
    path = crashed_file(tmp_path)
    victim = tmp_path / "victim.txt"  # a file the planter can write, linked under the name
    victim.write_bytes(b"untouched\n")
    for stamp in stamps_ahead():
        os.link(victim, tmp_path / f"{path.name}.{stamp}.partial")

    moved = recover_partial_line(path)

    assert victim.read_bytes() == b"untouched\n"
    assert moved is not None
    partial, _ = moved
    assert partial.stat().st_nlink == 1
    assert partial.read_bytes() == TAIL


def test_two_recoveries_in_one_second_keep_both_tails(tmp_path: Path) -> None:
    path = crashed_file(tmp_path)
    first = recover_partial_line(path)
    path.write_bytes(WHOLE + b'{"second":')
    second = recover_partial_line(path)
    assert first is not None
    assert second is not None
    assert first[0] != second[0]
    assert first[0].read_bytes() == TAIL
    assert second[0].read_bytes() == b'{"second":'


CHUNK = 1 << 16  # the recovery reads backwards in pieces of this size


@pytest.mark.parametrize(
    ("content", "kept", "moved"),
    [
        (b"no newline at all", b"", b"no newline at all"),
        (b"\n" + b"x" * 10, b"\n", b"x" * 10),
        (b"\n", b"\n", None),
        (b"", b"", None),
        (WHOLE + b"t" * (CHUNK + 10), WHOLE, b"t" * (CHUNK + 10)),  # a tail past one piece
        (b"w" * (3 * CHUNK) + b"\n" + TAIL, b"w" * (3 * CHUNK) + b"\n", TAIL),
        (
            b"w" * (CHUNK - 1) + b"\n" + b"t" * (CHUNK + 1),
            b"w" * (CHUNK - 1) + b"\n",
            b"t" * (CHUNK + 1),
        ),
        (b"t" * (2 * CHUNK + 3), b"", b"t" * (2 * CHUNK + 3)),
    ],
)
def test_the_cut_is_right_after_the_last_newline_whatever_the_sizes(
    tmp_path: Path, content: bytes, kept: bytes, moved: bytes | None
) -> None:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(content)
    result = recover_partial_line(path)
    assert path.read_bytes() == kept
    if moved is None:
        assert result is None
    else:
        assert result is not None
        partial, size = result
        assert size == len(moved)
        assert partial.read_bytes() == moved


def test_the_partial_file_takes_the_mode_given(tmp_path: Path) -> None:
    path = crashed_file(tmp_path)
    moved = recover_partial_line(path, 0o640)
    assert moved is not None
    assert stat.S_IMODE(moved[0].stat().st_mode) == 0o640 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_symlinked_category_file_is_not_opened(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(WHOLE + TAIL)
    (tmp_path / "auth-events.jsonl").symlink_to(target)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        recover_partial_line(tmp_path / "auth-events.jsonl")
    assert target.read_bytes() == WHOLE + TAIL
