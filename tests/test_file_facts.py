"""What a ``rotated`` or ``compressed`` record says of a file, read in one pass from a
real file: its size and SHA-256 are of every byte on disk (a last line without its
newline and an over-long line included), its stream ranges of the sealed lines only."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import orjson

from asgi_audit.proof.checkpoints import file_facts
from asgi_audit.proof.integrity import Chain
from asgi_audit.store.opening import MAX_LINE


def sealed(chain: Chain, n: int) -> list[bytes]:
    lines = []
    for _ in range(n):
        event: dict[str, object] = {"event_type": "login"}
        chain.stamp(event)
        lines.append(chain.seal(orjson.dumps(event) + b"\n"))
    return lines


def test_the_facts_are_of_every_byte_and_the_ranges_of_the_sealed_lines(tmp_path: Path) -> None:
    a, b = Chain(b"k" * 32, stream_id="a" * 16), Chain(b"k" * 32, stream_id="b" * 16)
    first_a, rest_b, rest_a = sealed(a, 2), sealed(b, 3), sealed(a, 1)
    data = b"".join(
        [
            *first_a,
            b"not json\n",
            b'{"stream":"' + b"c" * 16 + b'","seq":1}\n',  # no MAC: not counted
            *rest_b,
            b"x" * (MAX_LINE + 10) + b"\n",  # too long to read as a line, still hashed
            *rest_a,
            rest_b[0][:40],  # a last line without its newline
        ]
    )
    path = tmp_path / "auth-events.2026-12-04T10-00-00.jsonl"
    path.write_bytes(data)
    facts = file_facts(path)
    assert facts["size"] == len(data)
    assert facts["sha256"] == hashlib.sha256(data).hexdigest()
    end_a, end_b = a.end(), b.end()
    assert facts["streams"] == {
        "a" * 16: {"first_seq": 1, "last_seq": 3, "last_mac": f"hmac-sha256:{end_a.mac.hex()}"},
        "b" * 16: {"first_seq": 1, "last_seq": 3, "last_mac": f"hmac-sha256:{end_b.mac.hex()}"},
    }


def test_a_gzipped_file_has_its_hash_and_size_and_no_ranges(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(sealed(Chain(b"k" * 32), 5)))
    path = tmp_path / "auth-events.2026-12-04T10-00-00.jsonl.gz"
    path.write_bytes(data)
    assert file_facts(path) == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
