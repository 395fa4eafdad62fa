"""Tests for proof.keymatch: the words verify uses for a key mismatch, exactly.

The end-to-end cases (real logs, the real command) are in test_verify_keys.py;
these pin each class's wording and each claim a checkpoint record can make.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgi_audit.proof.keymatch import (
    KEY_MISMATCH,
    MISMATCH_CLASSES,
    line_detail,
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
