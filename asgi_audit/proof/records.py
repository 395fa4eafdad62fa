"""The ledger's records: how one is built, sealed, split and read back.

PURE: no event loop, no file. The ledger (``checkpoints.log``) is one chain of
records per log directory, shared by every process writing there. A record is
one JSON object on one line::

    {"n": 7, "prev": "<sha-256 of record 6's line>", "type": "checkpoint",
     "timestamp": ..., "deployment": "...", "epoch": 12, "host": ..., "pid": ...,
     ..., "sig": "ed25519:<128 hex>"}

``n`` counts records from 0 (the genesis) without gaps; ``prev`` is the SHA-256
of the previous record's line (without its newline), so a record removed,
inserted or changed breaks the link of the next one. ``sig`` is always the last
field and covers the line's bytes up to ``,"sig":"`` plus the closing ``}``,
exactly as written: nothing is re-serialised, as for event lines (see
:mod:`asgi_audit.proof.integrity`).

Which types exist and what each says is :data:`FIELDS`; the checks that follow
the chain are :mod:`asgi_audit.proof.ledger`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = (
    "FIELDS",
    "SIG_MARKER",
    "build_body",
    "field_problem",
    "record_hash",
    "seal_record",
    "split_sig",
)

#: The bytes that start the signature field; always the last field of a record.
SIG_MARKER: Final = b',"sig":"'
_HEX64: Final = re.compile(r"[0-9a-f]{64}\Z")
_HEX16: Final = re.compile(r"[0-9a-f]{16}\Z")

#: Per record type, its own fields and their kinds (beyond the common ones).
#: Kinds: ``int`` (a non-negative integer, never a bool), ``str``, ``hex64``,
#: ``stream`` (16 lower-case hex), ``num`` (a number or null), ``bool``,
#: ``heads``, ``ranges``, ``follows`` (see :func:`field_problem`).
FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    # The first record of a directory's ledger, sealed with the key of epoch 0.
    "genesis": {"directory": "str", "scheme": "str"},
    # The first record of a ledger found missing at start (the genesis is lost).
    "reset": {"directory": "str", "scheme": "str", "lost": "str"},
    # The key of a later epoch, certified with the key of the epoch before it.
    "key": {"next_epoch": "int", "next_public_key": "hex64"},
    # A writer process started, or shut down cleanly.
    "start": {"interval_s": "num"},
    "stop": {},
    # A stream, announced before its first line.
    "stream": {"stream": "stream", "category": "str", "file": "str", "follows": "follows"},
    # Where streams stand: every interval (also with none), at rotation, epoch end, shutdown.
    "checkpoint": {"reason": "str", "streams": "heads"},
    # A category file was rotated: its new name, size, hash and the ranges it holds.
    "rotated": {"category": "str", "file": "str", "size": "int", "sha256": "hex64",
                "streams": "ranges"},
    # A rotated file was gzipped.
    "compressed": {"file": "str", "from": "str", "size": "int", "sha256": "hex64"},
    # Retention deleted a rotated (or compressed) file; ``record`` is the n that named it.
    "retired": {"file": "str", "sha256": "hex64", "record": "int"},
}  # fmt: skip

#: The fields every record has, in the order they are written.
COMMON: Final = ("n", "prev", "type", "timestamp", "deployment", "host", "pid")


def record_hash(line: bytes) -> str:
    """The SHA-256 (hex) of a record's line without its newline: the next one's ``prev``."""
    return hashlib.sha256(line).hexdigest()


def build_body(common: Mapping[str, Any], fields: Mapping[str, Any]) -> bytes:
    """The JSON object of a record without ``sig``: the bytes its signature covers."""
    return orjson.dumps({**common, **fields})


def seal_record(body: bytes, sig: str) -> bytes:
    """The record's line (with its newline): ``body`` with ``sig`` as its last field."""
    return b"".join((body[:-1], SIG_MARKER, sig.encode("ascii"), b'"}\n'))


def split_sig(line: bytes) -> tuple[bytes, str, str] | None:
    """``(body, label, value)`` of a record's line without its newline, or None.

    ``body`` is what the signature covers: the line up to ``,"sig":"`` with the
    closing ``}`` put back; ``label`` and ``value`` are the two halves of ``sig``.
    """
    at = line.rfind(SIG_MARKER)
    if at < 0 or not line.endswith(b'"}'):
        return None
    try:
        sig = line[at + len(SIG_MARKER) : -2].decode("ascii")
    except UnicodeDecodeError:
        return None
    label, sep, value = sig.partition(":")
    if not sep or not value:
        return None
    return line[:at] + b"}", label, value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kind_problem(kind: str, value: object) -> str | None:
    """Why ``value`` is not of ``kind``, or None."""
    if kind == "int":
        return None if _is_int(value) else "not a non-negative integer"
    if kind == "str":
        return None if isinstance(value, str) else "not a string"
    if kind == "hex64":
        return None if isinstance(value, str) and _HEX64.match(value) else "not 64 hex digits"
    if kind == "stream":
        return None if isinstance(value, str) and _HEX16.match(value) else "not a stream id"
    if kind == "num":
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        return None if ok else "not a number"
    if kind == "follows":
        if value is None:
            return None
        if not isinstance(value, dict):
            return "not an object"
        return (
            _kind_problem("stream", value.get("stream"))
            or _kind_problem("int", value.get("seq"))
            or _kind_problem("str", value.get("mac"))
        )
    if kind in ("heads", "ranges"):
        if not isinstance(value, dict):
            return "not an object"
        want = (
            {"seq": "int", "mac": "str", "root": "hex64", "file": "str"}
            if kind == "heads"
            else {"first_seq": "int", "last_seq": "int", "last_mac": "str"}
        )
        for stream, entry in value.items():
            if _kind_problem("stream", stream) or not isinstance(entry, dict):
                return "an entry is not a stream id with an object"
            for name, sub in want.items():
                if _kind_problem(sub, entry.get(name)):
                    return f"{name} of stream {stream} is {_kind_problem(sub, entry.get(name))}"
        return None
    return f"unknown kind {kind}"


def field_problem(record: Mapping[str, Any]) -> str | None:
    """What is wrong with a record's fields (types, missing ones), or None."""
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        return f"unknown record type {str(kind)[:40]!r}"
    for name in COMMON:
        if name not in record:
            return f"no {name}"
    for name, want in (("n", "int"), ("pid", "int"), ("timestamp", "str"), ("host", "str")):
        problem = _kind_problem(want, record[name])
        if problem is not None:
            return f"{name} is {problem}"
    prev = record["prev"]
    if not (prev == "" and record["n"] == 0) and _kind_problem("hex64", prev):
        return "prev is not 64 hex digits"
    if _kind_problem("stream", record["deployment"]):
        return "deployment is not 16 hex digits"
    epoch = record.get("epoch")
    if epoch is not None and not _is_int(epoch):
        return "epoch is not a non-negative integer"
    for name, want in FIELDS[kind].items():
        if name not in record:
            return f"no {name}"
        problem = _kind_problem(want, record[name])
        if problem is not None:
            return f"{name} is {problem}"
    return None
