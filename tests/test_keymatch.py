"""Tests for proof.keymatch: the words verify uses for a key mismatch, exactly.

The end-to-end cases (real logs, the real command) are in test_verify_keys.py;
these pin each class's wording and each claim a checkpoint record can make.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgi_audit.proof.integrity import HMAC, KEY_ID_FIELD, SHA
from asgi_audit.proof.keymatch import (
    KEY_MISMATCH,
    MISMATCH_CLASSES,
    line_detail,
    record_claim,
    record_detail,
    record_streams,
)

OURS = "1111222233334444"
THEIRS = "aaaabbbbccccdddd"


def test_the_mismatch_kind_and_classes() -> None:
    assert KEY_MISMATCH == "unknown key"
    assert MISMATCH_CLASSES == ("unkeyed", "keyed", "other key", "unknown key")


@pytest.mark.parametrize(
    ("kind", "claimed", "detail"),
    [
        ("unkeyed", None, "sealed without a key (sha256); the key given cannot check it"),
        ("unkeyed", THEIRS, "sealed without a key (sha256); the key given cannot check it"),
        ("keyed", None, "sealed with a key (hmac-sha256), and none was given"),
        ("keyed", THEIRS, f"sealed with a key (hmac-sha256, key id {THEIRS}), and none was given"),
        (
            "other key",
            THEIRS,
            f"sealed with another key (key id {THEIRS}); the key given has key id {OURS}",
        ),
        ("other key", None, f"sealed with another key; the key given has key id {OURS}"),
        (
            "unknown key",
            None,
            "no line of the stream verifies with the key given: sealed with another key, "
            "or altered",
        ),
    ],
)
def test_line_detail_says_which_key_sealed_the_stream(
    kind: str, claimed: str | None, detail: str
) -> None:
    assert line_detail(kind, claimed, OURS) == detail


def record(sig: object, **fields: Any) -> dict[str, Any]:
    return {"type": "checkpoint", "stream": "s1", "sig": sig, **fields}


@pytest.mark.parametrize(
    ("rec", "key_given", "claim"),
    [
        # unkeyed records: a mismatch only when a key was given
        (record(f"{SHA}:00"), True, "unkeyed"),
        (record(f"{SHA}:00"), False, "same"),
        # keyed records checked without a key
        (record(f"{HMAC}:00"), False, "keyed"),
        (record(f"{HMAC}:00", **{KEY_ID_FIELD: THEIRS}), False, "keyed"),
        # keyed records checked with a key: their key id decides
        (record(f"{HMAC}:00", **{KEY_ID_FIELD: OURS}), True, "same"),
        (record(f"{HMAC}:00", **{KEY_ID_FIELD: THEIRS}), True, "other key"),
        (record(f"{HMAC}:00"), True, None),  # written before records named their key
        (record(f"{HMAC}:00", **{KEY_ID_FIELD: 7}), True, None),
        # a scheme that is none of ours, or no signature: changed, not another key
        (record("md5:00"), True, "same"),
        (record("md5:00"), False, "same"),
        (record(None), True, "same"),
        (record(f"x{HMAC}:00"), True, "same"),
        (record(f"{HMAC}"), True, None),  # no ':' still names the scheme
    ],
)
def test_record_claim(rec: dict[str, Any], key_given: bool, claim: str | None) -> None:
    assert record_claim(rec, key_given, OURS) == claim


def test_a_scheme_is_read_before_the_first_colon_only() -> None:
    assert record_claim(record(f"{SHA}:{HMAC}:00"), True, OURS) == "unkeyed"


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("unkeyed", "signed without a key (sha256)"),
        ("keyed", "signed with a key (hmac-sha256), and none was given"),
        ("other key", f"signed with another key (key id {THEIRS})"),
        ("unknown key", "its signature fails with the key given, like its stream's lines"),
    ],
)
def test_record_detail(kind: str, detail: str) -> None:
    assert record_detail(kind, record(f"{HMAC}:00", **{KEY_ID_FIELD: THEIRS})) == detail


@pytest.mark.parametrize(
    ("rec", "streams"),
    [
        ({"type": "checkpoint", "stream": "s1"}, ["s1"]),
        ({"stream": "s1"}, ["s1"]),
        ({"type": "checkpoint", "stream": 5}, []),
        ({"type": "checkpoint"}, []),
        ({"type": "retired", "streams": {"s1": [1, 4], "s2": [1, 2]}}, ["s1", "s2"]),
        ({"type": "retired", "streams": {"s1": [1, 4], 3: [1, 2]}}, ["s1"]),
        ({"type": "retired", "streams": ["s1", "s2"]}, []),
        ({"type": "retired", "stream": "s1"}, []),
        ({"type": "retired"}, []),
    ],
)
def test_record_streams(rec: dict[str, Any], streams: list[str]) -> None:
    assert record_streams(rec) == streams
