"""What an attacker does to a log once the files are theirs: recompute what they can.

A SHA-256 chain and a ``sha256`` ledger prove nothing against someone who can
write the files: after editing lines they recompute the lines' chain, every
checkpoint's MAC and Merkle root, every rotated file's hash, and the ledger's
links and hashes. :func:`reseal_unkeyed` does exactly that, so the tests can show
that verify cannot tell (and why verify fails on an unkeyed log by default).

Under forward-secure sealing, whoever takes the host holds the sealing state of
the current epoch only: :func:`seal_run`, :func:`sign_record` and
:func:`resign_ledger` are what that key lets them forge (lines and records of
that epoch, or any later one), and the attack corpus shows what it does not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import orjson

from asgi_audit.proof.forward import SealingState
from asgi_audit.proof.inclusion import split_mac_body
from asgi_audit.proof.integrity import CHECKPOINT_FILE, chain_root, compute_mac, split_mac
from asgi_audit.proof.merkle import Frontier, leaf_hash
from asgi_audit.proof.records import build_body, record_hash, seal_record, split_sig
from asgi_audit.proof.schemes import FS_LABEL, LEDGER_CONTEXT


def _lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [line for line in data.split(b"\n") if line]


def _streams(log_dir: Path) -> dict[str, dict[int, bytes]]:
    streams: dict[str, dict[int, bytes]] = {}
    for path in log_dir.iterdir():
        if ".jsonl" not in path.name or path.name.startswith("."):
            continue
        for line in _lines(path):
            split = split_mac(line)
            if split is None:
                continue
            event = json.loads(split[0])
            streams.setdefault(event["stream"], {})[event["seq"]] = line
    return streams


def _head(lines: dict[int, bytes], seq: int, head: dict[str, Any]) -> dict[str, Any]:
    tree = Frontier()
    for n in range(1, seq + 1):
        if n not in lines:
            return head
        tree.append(leaf_hash(split_mac_body(lines[n])))
    split = split_mac(lines[seq])
    assert split is not None
    return {**head, "mac": f"{split[1]}:{split[2].hex()}", "root": tree.root().hex()}


def reseal_unkeyed(log_dir: Path) -> None:
    """Make the ledger of an unkeyed log agree with its lines as they are now."""
    streams = _streams(log_dir)
    path = log_dir / CHECKPOINT_FILE
    out: list[bytes] = []
    prev = ""
    for n, raw in enumerate(path.read_bytes().split(b"\n")[:-1]):
        record = json.loads(raw)
        record.pop("sig")
        record["n"], record["prev"] = n, prev
        if record["type"] == "checkpoint":
            record["streams"] = {
                s: _head(streams.get(s, {}), h["seq"], h) for s, h in record["streams"].items()
            }
        if record["type"] == "rotated" and (log_dir / record["file"]).exists():
            data = (log_dir / record["file"]).read_bytes()
            record["size"], record["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        body = build_body(record, {})
        line = seal_record(body, f"sha256:{hashlib.sha256(body).hexdigest()}")
        out.append(line)
        prev = record_hash(line[:-1])
    path.write_bytes(b"".join(out))


# --- forward-secure: what one epoch's key forges -----------------------------------------


def fs_root(stream: str) -> bytes:
    """What a forward-secure stream's first line chains from (no key: public)."""
    return chain_root(None, stream)


def seal_run(lines: list[bytes], key: bytes, epoch: int, prev: bytes) -> list[bytes]:
    """Lines of one stream, in order, sealed again with ``key`` as epoch ``epoch``'s:
    the first chained from ``prev`` (the MAC of the line before it, or the stream's
    root), each next one from the one before. Bodies are kept as they are."""
    out = []
    for line in lines:
        split = split_mac(line)
        assert split is not None, line[:80]
        mac = compute_mac(key, prev, split[0])
        label = f"{FS_LABEL}:{epoch}:{mac.hex()}".encode()
        out.append(split[0][:-1] + b',"mac":"' + label + b'"}')
        prev = mac
    return out


def record_of(line: bytes) -> dict[str, Any]:
    """A ledger line's record, without ``sig``."""
    split = split_sig(line)
    assert split is not None, line[:80]
    record: dict[str, Any] = orjson.loads(split[0])
    return record


def sign_record(record: dict[str, Any], state: SealingState) -> bytes:
    """``record`` (its fields in order, ``sig`` dropped) signed with the state's key,
    as the epoch it names: its line, without the newline."""
    body = build_body({k: v for k, v in record.items() if k != "sig"}, {})
    return seal_record(body, f"ed25519:{state.sign(LEDGER_CONTEXT + body).hex()}")[:-1]


def resign_ledger(log_dir: Path, state: SealingState, first: int) -> None:
    """Make the ledger's records from line ``first`` (0-based) on agree with the lines
    as they are now (checkpoint MACs and Merkle roots), linked and signed with
    ``state``'s key, each naming its epoch: what the holder of that key can do to
    the records it could have written."""
    streams = _streams(log_dir)
    path = log_dir / CHECKPOINT_FILE
    lines = path.read_bytes().split(b"\n")[:-1]
    prev = record_hash(lines[first - 1]) if first else ""
    for i in range(first, len(lines)):
        record = record_of(lines[i])
        record["prev"], record["epoch"] = prev, state.epoch
        if record["type"] == "checkpoint":
            record["streams"] = {
                s: _head(streams.get(s, {}), h["seq"], h) for s, h in record["streams"].items()
            }
        lines[i] = sign_record(record, state)
        prev = record_hash(lines[i])
    path.write_bytes(b"".join(line + b"\n" for line in lines))
