"""Which key sealed what: telling "sealed with another key" from "altered".

PURE: no event loop, no file. A line whose MAC does not verify was either
changed or sealed under another key (or none). What a verifier can read decides
which, and says so in the break's ``detail``; the kind stays ``unknown key``
for every mismatch, so that ``asgi-audit verify`` reports it apart from the
alterations (exit status 3 when nothing else is wrong, not 1):

``unkeyed``
    the lines say ``sha256`` (sealed without a key) and a key was given;
``keyed``
    the lines say ``hmac-sha256`` or ``fs-hmac-sha256`` and no key was given;
``other key``
    the stream's first line names another static key (``mac_key_id``, see
    :func:`asgi_audit.proof.integrity.key_id`), or forward-secure lines were
    checked with a static key;
``unknown key``
    no line verifies and nothing names the key (lines written before keys were
    named): another key, or an alteration of every line.

A claim is only believed where it cannot hide an alteration: a stream that a
verified ledger record announces or checkpoints, or whose first line names the
given key, is the given key's, and a line of it that does not verify is
``modified``. The ledger's own records are checked by
:mod:`asgi_audit.proof.ledger`: one that does not verify is a ``bad checkpoint``
whatever key it claims, and a whole ledger is another key's only when no line
verifies either (see :mod:`asgi_audit.proof.verify`).
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "KEY_MISMATCH",
    "MISMATCH_CLASSES",
    "line_detail",
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
