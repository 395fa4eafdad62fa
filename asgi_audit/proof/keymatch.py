"""Which key sealed what: telling "sealed with another key" from "altered".

PURE: no event loop, no file. A line whose MAC does not verify was either
changed or sealed under another key (or none). What a verifier can read decides
which, and says so in the break's ``detail``; the kind stays ``unknown key``
for every mismatch, so that ``asgi-audit verify`` reports it apart from the
alterations (exit status 3 when nothing else is wrong, not 1):

``unkeyed``
    the lines say ``sha256`` (sealed without a key) and a key was given;
``keyed``
    the lines say ``hmac-sha256`` and no key was given;
``other key``
    the stream's first line names another key (``mac_key_id``, see
    :func:`asgi_audit.proof.integrity.key_id`);
``unknown key``
    no line verifies and nothing names the key (lines written before keys were
    named): another key, or an alteration of every line.

A claim is only believed where it cannot hide an alteration: a stream that a
checkpoint signed with the given key names, or whose first line names the given
key, is the given key's, and a line of it that does not verify is ``modified``;
a checkpoint record whose stream verifies with the given key is a ``bad
checkpoint`` whatever key it claims.
"""

from __future__ import annotations

from typing import Any, Final

from .integrity import HMAC, KEY_ID_FIELD, SHA

__all__ = (
    "KEY_MISMATCH",
    "MISMATCH_CLASSES",
    "line_detail",
    "record_claim",
    "record_detail",
    "record_streams",
)

#: The kind of a break that is a key mismatch, not an alteration.
KEY_MISMATCH: Final = "unknown key"
#: The mismatch classes, in the order they are reported.
MISMATCH_CLASSES: Final = ("unkeyed", "keyed", "other key", "unknown key")


def line_detail(kind: str, claimed: str | None, ours: str | None, label: str | None = None) -> str:
    """The ``detail`` of a stream's ``unknown key`` break, for mismatch class ``kind``."""
    named = f" (key id {claimed})" if claimed else ""
    if kind == "unkeyed":
        return "sealed without a key (sha256); the key given cannot check it"
    if kind == "keyed" and label and label.startswith("fs-"):
        return "sealed forward-secure, and no verification key was given"
    if kind == "keyed":
        which = f"hmac-sha256, key id {claimed}" if claimed else "hmac-sha256"
        return f"sealed with a key ({which}), and none was given"
    if kind == "other key":
        return f"sealed with another key{named}; the key given has key id {ours}"
    return "no line of the stream verifies with the key given: sealed with another key, or altered"


def record_claim(record: dict[str, Any], key_given: bool, ours: str | None) -> str | None:
    """What a checkpoint record whose signature fails says of its key.

    A mismatch class (``unkeyed``, ``keyed``, ``other key``), ``"same"`` when it
    claims the given key (or a scheme that is none of ours: it was changed), or
    None when it cannot tell (written before records named their key).
    """
    sig = record.get("sig")
    label = sig.partition(":")[0] if isinstance(sig, str) else ""
    if label not in (HMAC, SHA):
        return "same"
    if label == SHA:
        return "unkeyed" if key_given else "same"
    if not key_given:
        return "keyed"
    named = record.get(KEY_ID_FIELD)
    if isinstance(named, str):
        return "same" if named == ours else "other key"
    return None


def record_detail(kind: str, record: dict[str, Any]) -> str:
    """The ``detail`` of a checkpoint record's ``unknown key`` break."""
    if kind == "unkeyed":
        return "signed without a key (sha256)"
    if kind == "keyed":
        return "signed with a key (hmac-sha256), and none was given"
    if kind == "other key":
        return f"signed with another key (key id {record.get(KEY_ID_FIELD)})"
    return "its signature fails with the key given, like its stream's lines"


def record_streams(record: dict[str, Any]) -> list[str]:
    """The streams a checkpoint (its ``stream``) or retirement record (its ``streams``) names."""
    if record.get("type") == "retired":
        streams = record.get("streams")
        return [s for s in streams if isinstance(s, str)] if isinstance(streams, dict) else []
    stream = record.get("stream")
    return [stream] if isinstance(stream, str) else []
