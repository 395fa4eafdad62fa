"""store.opening and the line readers: regular files only, bounded memory per line.

Real files in ``tmp_path``: a FIFO opened for reading does not wait for a writer,
a symlink is never followed, a gzip bomb never inflates past what one read asks
for, and a line longer than the cap is reported and skipped by every reader
(forward, backward, following) without being held. The readers are checked
against a plain ``split`` of the same bytes with hypothesis, with reads cut at
any size.
"""

from __future__ import annotations

import gzip
import io
import os
import socket
import zlib
from pathlib import Path
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit import get_audit_stats
from asgi_audit.store.following import Follower, read_backward
from asgi_audit.store.listing import EventFile
from asgi_audit.store.opening import (
    MAX_LINE,
    GzipReader,
    NotRegularFile,
    open_file,
    open_regular,
)
from asgi_audit.store.reading import iter_lines, open_event_file, scan_lines
from asgi_audit.store.rotation import count_lines

CAP: Final = 10


# --- open_regular ---------------------------------------------------------------------------


def test_a_regular_file_is_opened_blocking(tmp_path: Path) -> None:
    path = tmp_path / "auth-events.jsonl"
    path.write_bytes(b"{}\n")
    fd = open_regular(path)
    try:
        assert os.get_blocking(fd)
        assert os.read(fd, 10) == b"{}\n"
    finally:
        os.close(fd)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "auth-events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile) as caught:
        open_regular(fifo)  # a blocking open would wait here forever
    assert caught.value.reason == "FIFO"
    assert caught.value.strerror == "a FIFO, not a regular file"
    assert caught.value.filename == str(fifo)


@pytest.mark.parametrize("target", ["/dev/zero", "real"])
def test_a_symlink_is_never_followed(tmp_path: Path, target: str) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"{}\n")
    link = tmp_path / "auth-events.jsonl"
    link.symlink_to(real if target == "real" else target)
    with pytest.raises(NotRegularFile) as caught:
        open_regular(link)
    assert caught.value.reason == "symlink"
    with pytest.raises(NotRegularFile):
        open_file(link, compressed=True)


def test_a_directory_a_device_and_a_socket_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(NotRegularFile) as caught:
        open_regular(tmp_path / "dir.jsonl")
    assert caught.value.reason == "directory"
    with pytest.raises(NotRegularFile) as caught:
        open_regular("/dev/zero")
    assert caught.value.reason == "device"
    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock.jsonl")
        with pytest.raises(NotRegularFile) as caught:
            open_regular(tmp_path / "sock.jsonl")
    assert caught.value.reason == "socket"


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "nothing.jsonl")


def test_a_plain_twin_gone_since_it_was_listed_is_not_read_twice(tmp_path: Path) -> None:
    gz = tmp_path / "admin.jsonl.20260101_000000.rotated.gz"
    gz.write_bytes(gzip.compress(b"{}\n"))
    plain = tmp_path / "admin.jsonl.20260101_000000.rotated"
    alone = EventFile(plain, "admin", 0.0)
    twin = EventFile(plain, "admin", 0.0, twin=True)
    with open_event_file(alone) as fh:  # gzipped since it was listed: its .gz
        assert fh.read(100) == b"{}\n"
    with pytest.raises(FileNotFoundError):
        open_event_file(twin)  # its .gz is listed as well


# --- the gzip reader ------------------------------------------------------------------------


def gz_reader(tmp_path: Path, data: bytes) -> GzipReader:
    path = tmp_path / "f.rotated.gz"
    path.write_bytes(data)
    reader = open_file(path, compressed=True)
    assert isinstance(reader, GzipReader)
    return reader


def read_all(reader: GzipReader, size: int = 1000) -> bytes:
    out = []
    while piece := reader.read(size):
        assert len(piece) <= size
        out.append(piece)
    return b"".join(out)


def test_members_and_zero_padding_read_as_gzip_reads_them(tmp_path: Path) -> None:
    data = gzip.compress(b"a\n" * 500) + b"\0" * 1000 + gzip.compress(b"") + gzip.compress(b"b\n")
    data += b"\0" * 7
    with gz_reader(tmp_path, data) as reader:
        assert read_all(reader, 7) == gzip.decompress(data) == b"a\n" * 500 + b"b\n"
    with gz_reader(tmp_path, b"") as reader:
        assert reader.read(10) == b""


def test_a_cut_or_corrupt_gzip_file_raises(tmp_path: Path) -> None:
    whole = gzip.compress(os.urandom(5000))
    with gz_reader(tmp_path, whole[:-30]) as reader, pytest.raises(EOFError):
        read_all(reader)
    corrupt = bytearray(whole)
    corrupt[-6] ^= 0xFF  # the stored size: the trailer check fails
    with gz_reader(tmp_path, bytes(corrupt)) as reader, pytest.raises(zlib.error):
        read_all(reader)
    with gz_reader(tmp_path, whole + b"junk") as reader, pytest.raises(zlib.error):
        read_all(reader)


def test_a_bomb_never_inflates_past_one_read(tmp_path: Path) -> None:
    # 256 MiB of zeros in about 256 KiB; every read returns at most what it asks.
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(squeeze.compress(chunk) for _ in range(256)) + squeeze.flush()
    assert len(bomb) < 300_000
    with gz_reader(tmp_path, bomb) as reader:
        total = 0
        while piece := reader.read(1 << 16):
            assert len(piece) <= 1 << 16
            total += len(piece)
    assert total == 256 << 20


# --- lines over the cap, forward ----------------------------------------------------------------


class Pieces(io.RawIOBase):
    """A reader that returns the bytes in pieces of the sizes given (short reads)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._at = data, sizes or [1], 0

    def read(self, size: int = -1, /) -> bytes:
        step = self._sizes[self._at % len(self._sizes)] if self._at < len(self._data) else 0
        piece = self._data[self._at : self._at + min(size, step)]
        self._at += len(piece)
        return piece


def expected(data: bytes, partial: bool) -> tuple[list[tuple[int, bytes]], list[int]]:
    """The oracle: (number, line) of the kept lines, and the numbers of those over CAP."""
    lines = data.split(b"\n")
    last = lines.pop()
    if last and (partial or len(last) > CAP):
        lines.append(last)
    kept = [(n, line) for n, line in enumerate(lines, 1) if len(line) <= CAP]
    return kept, [n for n, line in enumerate(lines, 1) if len(line) > CAP]


lines_st = st.lists(
    st.one_of(st.binary(max_size=CAP + 1).filter(lambda b: b"\n" not in b),
              st.integers(CAP - 1, 4 * CAP).map(lambda n: b"x" * n)),
    max_size=12,
)  # fmt: skip


@given(lines_st, st.booleans(), st.booleans(), st.lists(st.integers(1, 3 * CAP), max_size=5))
def test_iter_lines_skips_exactly_the_lines_over_the_cap(
    lines: list[bytes], newline: bool, partial: bool, sizes: list[int]
) -> None:
    data = b"\n".join(lines) + (b"\n" if newline and lines else b"")
    long: list[tuple[int, int]] = []
    got = list(
        iter_lines(Pieces(data, sizes), lambda n, size: long.append((n, size)), partial=partial,
                   cap=CAP)
    )  # fmt: skip
    kept, over = expected(data, partial)
    assert got == kept
    assert [n for n, _ in long] == over
    assert all(size > CAP for _, size in long)


@given(lines_st, st.lists(st.integers(1, 3 * CAP), max_size=5))
def test_scan_lines_offsets_stay_right_after_a_skipped_line(
    lines: list[bytes], sizes: list[int]
) -> None:
    data = b"".join(line + b"\n" for line in lines)
    long: list[int] = []
    got = list(scan_lines(Pieces(data, sizes), None, lambda at, size: long.append(at), cap=CAP))
    for offset, line in got:
        assert data[offset : offset + len(line) + 1] == line + b"\n"
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert [at for at, _ in got] == [s for s, x in zip(starts, lines, strict=True) if len(x) <= CAP]
    assert long == [s for s, x in zip(starts, lines, strict=True) if len(x) > CAP]


def test_the_default_cap_is_16_mib() -> None:
    assert MAX_LINE == 16 << 20
    long: list[tuple[int, int]] = []
    data = b"a\n" + b"x" * (MAX_LINE + 1) + b"\nb\n" + b"y" * MAX_LINE + b"\n"
    got = list(iter_lines(io.BytesIO(data), lambda n, size: long.append((n, size))))
    assert [(n, len(line)) for n, line in got] == [(1, 1), (3, 1), (4, MAX_LINE)]
    assert long == [(2, MAX_LINE + 1)]


# --- lines over the cap, backward and following --------------------------------------------------


@given(lines_st)
def test_read_backward_skips_exactly_the_lines_over_the_cap(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("back") / "f"
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(data)
    long: list[int] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        got = list(read_backward(fd, len(data), long.append, cap=CAP))
    finally:
        os.close(fd)
    assert got == [x for x in reversed(lines) if len(x) <= CAP]
    assert long == [len(x) for x in reversed(lines) if len(x) > CAP]


def test_read_backward_steps_over_a_line_of_many_blocks(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"first\n" + b"x" * (3 << 20) + b"\nlast\n")
    long: list[int] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        got = list(read_backward(fd, path.stat().st_size, long.append, cap=1 << 20))
    finally:
        os.close(fd)
    assert got == [b"last", b"first"]
    assert long == [3 << 20]


def test_a_follower_skips_a_line_over_the_cap_across_polls(tmp_path: Path) -> None:
    path = tmp_path / "admin.jsonl"
    path.write_bytes(b"")
    follower = Follower.at_end(path)
    follower.cap, follower.max_read = 100, 64
    try:
        with path.open("ab", buffering=0) as fh:
            fh.write(b"one\n" + b"x" * 90)
            assert poll_all(follower) == [b"one"]
            fh.write(b"x" * 500)  # now over the cap: never held
            assert poll_all(follower) == []
            fh.write(b"x\ntwo\n")
            assert poll_all(follower) == [b"two"]
            assert follower.too_long == 1
    finally:
        follower.close()


def poll_all(follower: Follower) -> list[bytes]:
    got = follower.poll()
    for _ in range(100):
        if not follower.behind:
            return got
        got += follower.poll()
    raise AssertionError("the follower never caught up")


def test_a_follower_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "admin.jsonl"
    os.mkfifo(path)
    with pytest.raises(NotRegularFile):
        Follower.at_end(path)
    follower = Follower(path)
    with pytest.raises(NotRegularFile):
        follower.poll()
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile):
        follower.poll()
    path.unlink()
    path.write_bytes(b"a\n")  # a regular file at last: followed from its start
    assert follower.poll() == [b"a"]
    follower.close()


def test_a_follower_reads_the_rest_of_a_rotated_file_in_bounded_polls(tmp_path: Path) -> None:
    path = tmp_path / "admin.jsonl"
    path.write_bytes(b"")
    follower = Follower.at_end(path)
    follower.max_read = 1000
    try:
        assert follower.poll() == []
        with path.open("ab") as fh:
            fh.write(b"x" * 9 + b"\n")
        path.rename(tmp_path / "admin.jsonl.20260101_000000.rotated")
        with (tmp_path / "admin.jsonl.20260101_000000.rotated").open("ab") as fh:
            fh.write(b"y" * 9 + b"\n")
            fh.write(b"z" * 9999 + b"\n")  # the rest of a rotated file, over max_read
        path.write_bytes(b"new\n")
        got = follower.poll()
        assert len(b"".join(got)) <= follower.max_read
        got += poll_all(follower)
        assert got == [b"x" * 9, b"y" * 9, b"z" * 9999, b"new"]
    finally:
        follower.close()


# --- counting ---------------------------------------------------------------------------------


def test_count_lines_and_stats_never_open_a_fifo_or_follow_a_symlink(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "auth-events.jsonl")
    (tmp_path / "tool-blocks.jsonl").symlink_to("/dev/zero")
    (tmp_path / "admin.jsonl").symlink_to(tmp_path / "real")
    (tmp_path / "real").write_bytes(b"{}\n" * 3)
    (tmp_path / "export.jsonl").write_bytes(b"{}\n" * 2)
    with pytest.raises(NotRegularFile):
        count_lines(tmp_path / "auth-events.jsonl")
    with pytest.raises(NotRegularFile):
        count_lines(tmp_path / "tool-blocks.jsonl")
    stats = get_audit_stats(tmp_path)
    assert list(stats) == ["auth", "injection", "tool_blocks", "api_audit", "export"]
    assert stats["auth"]["event_count"] == stats["tool_blocks"]["event_count"] == 0
    assert stats["auth"]["size_bytes"] == stats["tool_blocks"]["size_bytes"] == 0
    assert stats["export"]["event_count"] == 2
