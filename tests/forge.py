"""What an attacker without a key does to an unkeyed log: recompute everything.

A SHA-256 chain and a ``sha256`` ledger prove nothing against someone who can
write the files: after editing lines they recompute the lines' chain, every
checkpoint's MAC and Merkle root, every rotated file's hash, and the ledger's
links and hashes. :func:`reseal_unkeyed` does exactly that, so the tests can show
that verify cannot tell (and why verify fails on an unkeyed log by default).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from asgi_audit.proof.integrity import CHECKPOINT_FILE, split_mac
from asgi_audit.proof.merkle import Frontier, leaf_hash
from asgi_audit.proof.records import build_body, record_hash, seal_record


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
        tree.append(leaf_hash(lines[n]))
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
