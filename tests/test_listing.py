"""store.listing: the one list of a log directory's event files that every tool reads.

Real directories in ``tmp_path`` with real FIFOs, symlinks, sockets and
directories at event files' names; names with digits of other scripts (which
Python's ``\\d`` and ``int()`` take) never parse and never raise, checked with
hypothesis over any text and over real files.
"""

from __future__ import annotations

import gzip
import os
import re
import socket
import string
import unicodedata
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_audit import get_audit_stats
from asgi_audit.store.listing import (
    BAD_NAME,
    EventFile,
    Refused,
    category_of_file,
    list_event_files,
    list_rotated,
    parse_rotated,
)
from asgi_audit.store.rotation import RotationPolicy, apply_retention, rotated_files

STAMP: Final = "20260101_000000"
#: The name of a rotated file, ASCII digits only: the independent oracle.
ASCII_ROTATED: Final = re.compile(
    r"[a-z0-9][a-z0-9_-]*\.jsonl\.[0-9]{8}_[0-9]{6}(\.[0-9]{1,9})?\.rotated(\.gz)?", re.ASCII
)
#: Digits of other scripts: Arabic-Indic, Devanagari, fullwidth, mathematical bold.
OTHER_DIGITS: Final = ("٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")


def touch(path: Path, data: bytes = b"{}\n") -> Path:
    path.write_bytes(data)
    return path


def names(files: list[EventFile]) -> list[str]:
    return [f.path.name for f in files]


# --- names ------------------------------------------------------------------------------


def test_parse_rotated_reads_the_stamp_and_n() -> None:
    assert parse_rotated(f"auth-events.jsonl.{STAMP}.rotated") == (
        "auth-events.jsonl",
        1767225600.0,
        0,
        False,
    )
    assert parse_rotated(f"admin.jsonl.{STAMP}.12.rotated.gz") == (
        "admin.jsonl",
        1767225600.0,
        12,
        True,
    )


@pytest.mark.parametrize(
    "name",
    [
        f"auth-events.jsonl.{STAMP}.partial",
        f"auth-events.jsonl.{STAMP}.rotated.tmp",
        "auth-events.jsonl.20261399_000000.rotated",  # no such month
        "auth-events.jsonl.2026010_000000.rotated",
        f"auth-events.jsonl.{STAMP}.1234567890.rotated",  # N past 9 digits
        f"auth-events.jsonl.{STAMP}..rotated",
        f"auth-events.jsonl.{STAMP}.-1.rotated",
        f"auth-events.jsonl.{STAMP}.+1.rotated",
        f"auth-events.jsonl.{STAMP}. 1.rotated",
        f"auth-events.jsonl.{STAMP}.1_0.rotated",
        f"auth-events.jsonl.{STAMP}.¹.rotated",  # isdigit() but not int()-able
        f"auth-events.jsonl.{STAMP}.².rotated",
        f"auth-events.jsonl.{STAMP}.rotated\n",
        *(f"auth-events.jsonl.{STAMP}.{d[3]}.rotated" for d in OTHER_DIGITS),
        *(
            "auth-events.jsonl." + STAMP.translate(str.maketrans(string.digits, d)) + ".rotated"
            for d in OTHER_DIGITS
        ),
    ],
)
def test_names_that_are_no_rotated_file_do_not_parse(name: str) -> None:
    assert parse_rotated(name) is None


@given(st.text())
def test_parse_rotated_never_raises_and_takes_ascii_digits_only(name: str) -> None:
    parsed = parse_rotated(name)
    if parsed is not None:
        assert name[len(parsed[0]) :].isascii(), name


@given(
    st.sampled_from([string.digits, *OTHER_DIGITS]),
    st.lists(st.integers(0, 9), min_size=15, max_size=15),
    st.booleans(),
)
def test_a_stamp_is_listed_only_in_ascii_digits(
    digits: str, picks: list[int], with_n: bool
) -> None:
    # 2026MMDD_HHMMSS from the picks, spelled in one script's digits.
    stamp = f"2026{1 + picks[0]:02d}{1 + picks[1]:02d}_{picks[2]:02d}{picks[3]:02d}{picks[4]:02d}"
    n = f".{picks[8]}{picks[9]}" if with_n else ""
    name = f"admin.jsonl.{stamp}{n}.rotated".translate(str.maketrans(string.digits, digits))
    assert (parse_rotated(name) is not None) == (digits == string.digits)


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=3))
def test_an_n_of_any_script_but_ascii_is_refused_not_parsed(n: str) -> None:
    name = f"admin.jsonl.{STAMP}.{n}.rotated"
    parsed = parse_rotated(name)
    if n.isascii():
        assert parsed is not None
        assert parsed[2] == int(n)
    else:
        assert parsed is None


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("auth-events.jsonl", "auth"),
        ("api-audit.jsonl", "api_audit"),
        ("admin.jsonl", "admin"),
        ("checkpoints.jsonl", None),
        ("checkpoints.log", None),
        ("auth.jsonl", None),  # the built-in category's file has its kept name
        ("Admin.jsonl", None),
        ("ａdmin.jsonl", None),
        ("admin٣.jsonl", None),
        ("admin.jsonl.bak", None),
        ("a" * 65 + ".jsonl", None),
    ],
)
def test_category_of_file(name: str, category: str | None) -> None:
    assert category_of_file(name) == category


# --- a directory ------------------------------------------------------------------------


def test_files_per_category_in_time_order_and_what_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "auth-events.jsonl")
    touch(tmp_path / "auth-events.jsonl.20260102_000000.rotated")
    touch(tmp_path / "auth-events.jsonl.20260101_000000.2.rotated.gz")
    touch(tmp_path / "auth-events.jsonl.20260101_000000.rotated.gz")
    touch(tmp_path / "auth-events.jsonl.20260101_000000.rotated")  # the .gz's twin
    touch(tmp_path / "auth-events.jsonl.20260101_000000.10.rotated")
    touch(tmp_path / "zeta.jsonl.20260101_000000.rotated")  # rotated only
    touch(tmp_path / "admin.jsonl")
    for ignored in (
        ".auth-events.jsonl.lock",
        ".asgi-audit-key",
        "checkpoints.log",
        "checkpoints.jsonl",
        "checkpoints.jsonl.20260101_000000.rotated",
        "auth-events.jsonl.20260101_000000.partial",
        "Not A Category.jsonl",
        "notes.txt",
    ):
        touch(tmp_path / ignored)
    os.mkfifo(tmp_path / "tool-blocks.jsonl")
    (tmp_path / "api-audit.jsonl").symlink_to(tmp_path / "admin.jsonl")
    (tmp_path / "admin.jsonl.20260101_000000.rotated").symlink_to("/dev/zero")
    (tmp_path / "export.jsonl").mkdir()
    touch(tmp_path / "admin.jsonl.٢٠٢٦٠١٠١_000000.rotated")
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("ops.jsonl")
        listing = list_event_files(tmp_path)

    assert list(listing.categories) == ["auth", "admin", "zeta"]
    auth = listing.categories["auth"]
    assert names(auth) == [
        "auth-events.jsonl.20260101_000000.rotated.gz",
        "auth-events.jsonl.20260101_000000.rotated",
        "auth-events.jsonl.20260101_000000.2.rotated.gz",
        "auth-events.jsonl.20260101_000000.10.rotated",
        "auth-events.jsonl.20260102_000000.rotated",
        "auth-events.jsonl",
    ]
    assert [f.twin for f in auth] == [False, True, False, False, False, False]
    assert [f.compressed for f in auth] == [True, False, True, False, False, False]
    assert [f.index for f in auth] == [0, 0, 2, 10, 0, 0]
    assert auth[-1].current
    assert not auth[0].current
    assert {f.category for f in auth} == {"auth"}
    assert names(listing.categories["admin"]) == ["admin.jsonl"]
    assert names(listing.categories["zeta"]) == ["zeta.jsonl.20260101_000000.rotated"]
    assert listing.refused == [
        Refused("admin.jsonl.20260101_000000.rotated", "symlink"),
        Refused("admin.jsonl.٢٠٢٦٠١٠١_000000.rotated", BAD_NAME),
        Refused("api-audit.jsonl", "symlink"),
        Refused("export.jsonl", "directory"),
        Refused("ops.jsonl", "socket"),
        Refused("tool-blocks.jsonl", "FIFO"),
    ]
    assert [r.detail for r in listing.refused] == [
        "a symlink, not a regular file",
        "named like a rotated file, but not in its form (ASCII digits only)",
        "a symlink, not a regular file",
        "a directory, not a regular file",
        "a socket, not a regular file",
        "a FIFO, not a regular file",
    ]


def test_a_device_at_an_event_files_name_is_refused(tmp_path: Path) -> None:
    # Only root can make a device node; a hard link to /dev/null needs the same
    # file system. Skip where neither can be done.
    try:
        os.mknod(tmp_path / "auth-events.jsonl", 0o600 | 0o020000, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("cannot make a device node here")
    assert list_event_files(tmp_path).refused == [Refused("auth-events.jsonl", "device")]


def test_rotated_files_leave_out_the_plain_twin_and_whatever_is_refused(tmp_path: Path) -> None:
    current = touch(tmp_path / "admin.jsonl")
    touch(tmp_path / f"admin.jsonl.{STAMP}.rotated")
    gz = touch(tmp_path / f"admin.jsonl.{STAMP}.rotated.gz", gzip.compress(b"{}\n"))
    later = touch(tmp_path / "admin.jsonl.20260101_000001.rotated")
    os.mkfifo(tmp_path / "admin.jsonl.20260101_000002.rotated")
    (tmp_path / "admin.jsonl.20260101_000003.rotated").symlink_to("/dev/zero")
    touch(tmp_path / "admin.jsonl.20260101_000004.¹.rotated")
    touch(tmp_path / "other.jsonl.20260101_000005.rotated")
    assert rotated_files(current) == [gz, later]
    files, refused = list_rotated(current)
    assert names(files) == [f"admin.jsonl.{STAMP}.rotated.gz", f"admin.jsonl.{STAMP}.rotated",
                            later.name]  # fmt: skip
    assert [r.reason for r in refused] == ["FIFO", "symlink", BAD_NAME]
    # Retention never opens, compresses or deletes what is refused.
    apply_retention(current, RotationPolicy(keep=0, compress=True))
    assert (tmp_path / "admin.jsonl.20260101_000002.rotated").exists()
    assert (tmp_path / "admin.jsonl.20260101_000003.rotated").is_symlink()
    assert not later.exists()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.text(
                alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="/\0"),
                min_size=1,
                max_size=40,
            ),
            st.builds(
                lambda stamp, n, gz: f"admin.jsonl.{stamp}{n}.rotated{gz}",
                st.text(alphabet=st.characters(categories=["Nd"]) | st.just("_"),
                        min_size=15, max_size=15),
                st.sampled_from(["", ".1", ".٣", ".３", ".²"]),
                st.sampled_from(["", ".gz"]),
            ),
        ),
        max_size=8,
        unique=True,
    )
)  # fmt: skip
def test_any_names_in_a_real_directory_never_raise(tmp_path: Path, found: list[str]) -> None:
    root = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
    root.mkdir()
    for name in found:
        if name in (".", "..") or len(os.fsencode(name)) > 255:
            continue
        touch(root / name)
    listing = list_event_files(root)
    for files in listing.categories.values():
        for f in files:
            assert f.current or ASCII_ROTATED.fullmatch(f.path.name), f.path.name
    for refused in listing.refused:
        assert refused.reason == BAD_NAME
        assert not ASCII_ROTATED.fullmatch(refused.name)
    assert get_audit_stats(root)  # never raises either
    rotated_files(root / "admin.jsonl")


def test_the_oracle_and_unicodedata_agree_on_what_a_digit_is() -> None:
    # The reason for [0-9]: these are digits to Python, and int() takes them.
    for digits in OTHER_DIGITS:
        assert all(unicodedata.decimal(c) == i for i, c in enumerate(digits))
        assert int(digits) == 123456789
        assert re.fullmatch(r"\d+", digits)
        assert not re.fullmatch(r"[0-9]+", digits)
