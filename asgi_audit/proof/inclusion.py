"""Proofs a third party checks with the public verification key alone.

PURE: no event loop, no file. Two kinds, each a JSON document:

**Inclusion** (``asgi-audit prove EVENT_ID``): that one event line is line ``seq``
of its stream, as committed by a signed checkpoint. It carries the line, the
stream's Merkle audit path (RFC 9162, 2.1.3) from that line to the root the
checkpoint signed for ``tree_size`` lines, the checkpoint record itself, and the
ledger records that certify the checkpoint's signing key back to the
verification key (the genesis and the ``key`` records).

**Consistency** (``asgi-audit prove --since RECORD``): that a stream only grew
between an old checkpoint an auditor kept and a newer one: for each stream of
the old record, an RFC 9162 consistency proof (2.1.4) from its old size and root
to the new ones, the new checkpoint and its certificates, and the ledger's
records in between, whose hash links show that the new ledger extends the old.

The records are carried as the exact lines of the ledger, so their signatures
are checked over the bytes that were signed (as in C2SP signed notes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Final

import orjson

from .forward import VerificationKey
from .integrity import seal_fields
from .merkle import leaf_hash, verify_consistency, verify_inclusion
from .records import field_problem, record_hash, split_sig
from .schemes import ForwardRecords

__all__ = (
    "CONSISTENCY_FORMAT",
    "INCLUSION_FORMAT",
    "ProofError",
    "check_consistency",
    "check_inclusion",
    "consistency_document",
    "inclusion_document",
)

INCLUSION_FORMAT: Final = "asgi-audit-inclusion-proof/1"
CONSISTENCY_FORMAT: Final = "asgi-audit-consistency-proof/1"


class ProofError(ValueError):
    """A proof that does not hold, or is not a proof: the message says which part."""


def inclusion_document(
    line: bytes, seq: int, tree_size: int, path: Sequence[bytes], checkpoint: bytes,
    certificates: Sequence[bytes],
) -> dict[str, Any]:  # fmt: skip
    """The inclusion proof of ``line`` (line ``seq`` of its stream)."""
    return {
        "format": INCLUSION_FORMAT,
        "line": line.decode("utf-8", "surrogateescape"),
        "seq": seq,
        "tree_size": tree_size,
        "path": [node.hex() for node in path],
        "checkpoint": checkpoint.decode("utf-8"),
        "certificates": [c.decode("utf-8") for c in certificates],
    }


def consistency_document(
    streams: dict[str, dict[str, Any]], checkpoint: bytes, certificates: Sequence[bytes],
    between: Sequence[bytes], old: bytes,
) -> dict[str, Any]:  # fmt: skip
    """The consistency proof from the record ``old`` to ``checkpoint``."""
    return {
        "format": CONSISTENCY_FORMAT,
        "old": old.decode("utf-8"),
        "streams": streams,
        "checkpoint": checkpoint.decode("utf-8"),
        "certificates": [c.decode("utf-8") for c in certificates],
        "between": [b.decode("utf-8") for b in between],
    }


def _record(line: bytes, what: str) -> tuple[dict[str, Any], tuple[bytes, str, str]]:
    split = split_sig(line)
    record: Any = None
    if split is not None:
        with contextlib.suppress(ValueError):
            record = orjson.loads(split[0])
    if split is None or not isinstance(record, dict) or field_problem(record) is not None:
        raise ProofError(f"{what} is not a ledger record")
    return record, split


def _certified(key: VerificationKey, certificates: Sequence[Any]) -> ForwardRecords:
    """The keys the certificates establish, each checked from the verification key's."""
    keys = ForwardRecords(key.public())
    for number, text in enumerate(certificates, start=1):
        if not isinstance(text, str):
            raise ProofError(f"certificate {number} is not a ledger line")
        record, split = _record(text.encode(), f"certificate {number}")
        if record["deployment"] != key.deployment.deployment:
            raise ProofError(f"certificate {number} is another deployment's")
        if keys.check(record, *split) != "ok":
            raise ProofError(f"certificate {number} (n={record['n']}) is not signed by a key "
                             "the ones before it certify")  # fmt: skip
        problem = keys.learn(record)
        if problem is not None:
            raise ProofError(f"certificate {number}: {problem}")
    return keys


def _signed_checkpoint(
    key: VerificationKey, document: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    text = document.get("checkpoint")
    if not isinstance(text, str):
        raise ProofError("no checkpoint record")
    keys = _certified(key, document.get("certificates") or [])
    line = text.encode()
    record, split = _record(line, "the checkpoint")
    if record["type"] != "checkpoint" or record["deployment"] != key.deployment.deployment:
        raise ProofError("the checkpoint is not a checkpoint record of this deployment")
    verdict = keys.check(record, *split)
    if verdict != "ok":
        raise ProofError(f"the checkpoint's signature does not hold ({verdict})")
    return record, line


def check_inclusion(key: VerificationKey, document: dict[str, Any]) -> dict[str, Any]:
    """Check an inclusion proof; return the event and where it is committed.

    Raises:
        ProofError: which part does not hold.
    """
    if document.get("format") != INCLUSION_FORMAT:
        raise ProofError("not an inclusion proof")
    record, _ = _signed_checkpoint(key, document)
    line_text, seq, size = document.get("line"), document.get("seq"), document.get("tree_size")
    if not isinstance(line_text, str) or not isinstance(seq, int) or not isinstance(size, int):
        raise ProofError("no line, seq or tree_size")
    line = line_text.encode("utf-8", "surrogateescape")
    try:
        body = split_mac_body(line)
        event = seal_fields(orjson.loads(body), line)
        if event is None:
            raise TypeError("no object holds the seal")
        stream = event["stream"]
    except (ValueError, KeyError, TypeError):
        raise ProofError("the line is not a sealed event") from None
    if event.get("seq") != seq:
        raise ProofError("the line's seq is not the proof's")
    head = record["streams"].get(stream)
    if head is None or head["seq"] != size:
        raise ProofError(f"the checkpoint does not commit {size} lines of stream {stream}")
    path = _hashes(document.get("path"))
    root = bytes.fromhex(head["root"])
    if not verify_inclusion(leaf_hash(split_mac_body(line)), seq - 1, size, path, root):
        raise ProofError("the audit path does not lead from the line to the signed root")
    return {
        "event": event,
        "stream": stream,
        "seq": seq,
        "tree_size": size,
        "ledger_record": record["n"],
        "epoch": record.get("epoch"),
        "timestamp": record["timestamp"],
    }


def check_consistency(key: VerificationKey, document: dict[str, Any]) -> dict[str, Any]:
    """Check a consistency proof: the streams of the old record only grew.

    Raises:
        ProofError: which part does not hold.
    """
    if document.get("format") != CONSISTENCY_FORMAT:
        raise ProofError("not a consistency proof")
    record, line = _signed_checkpoint(key, document)
    old_text = document.get("old")
    if not isinstance(old_text, str):
        raise ProofError("no old record")
    old_line = old_text.encode()
    old, _ = _record(old_line, "the old record")
    # The ledger between: each line links to the one before, from the old to the new.
    prev = record_hash(old_line)
    chain = [b.encode() if isinstance(b, str) else b"" for b in document.get("between") or []]
    for n, text in enumerate([*chain, line], start=old["n"] + 1):
        linked, _ = _record(text, f"ledger record n={n}")
        if linked["n"] != n or linked["prev"] != prev:
            raise ProofError(f"ledger record n={n} does not follow the one before it")
        prev = record_hash(text)
    grown: dict[str, Any] = {}
    for stream, entry in (document.get("streams") or {}).items():
        before = (old.get("streams") or {}).get(stream)
        after = record["streams"].get(stream)
        if not isinstance(before, dict) or not isinstance(after, dict):
            raise ProofError(f"stream {stream} is not in both records")
        ok = verify_consistency(
            before["seq"], after["seq"], bytes.fromhex(before["root"]),
            bytes.fromhex(after["root"]), _hashes(entry.get("proof")),
        )  # fmt: skip
        if not ok:
            raise ProofError(f"stream {stream}: the new tree does not extend the old one")
        grown[stream] = {"from": before["seq"], "to": after["seq"]}
    missing = set(old.get("streams") or {}) - set(grown)
    if missing:
        raise ProofError(f"no proof for streams {sorted(missing)} of the old record")
    return {"streams": grown, "from_record": old["n"], "to_record": record["n"]}


def split_mac_body(line: bytes) -> bytes:
    """The JSON of a sealed line without its MAC field (the line itself if it has none)."""
    at = line.rfind(b',"mac":"')
    if at < 0:
        return line
    return line[:at] + (b"}}" if line.endswith(b'"}}') else b"}")


def _hashes(value: object) -> list[bytes]:
    if not isinstance(value, list):
        raise ProofError("no path")
    try:
        nodes = [bytes.fromhex(v) for v in value if isinstance(v, str)]
    except ValueError:
        raise ProofError("a path node is not hex") from None
    if len(nodes) != len(value) or any(len(n) != 32 for n in nodes):
        raise ProofError("a path node is not 32 bytes")
    return nodes
