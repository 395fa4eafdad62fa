"""The seal of a line, against a reference written from the format's definition alone.

A line's body is the JSON object without its MAC field; its Merkle leaf hash is
SHA-256(0x00 || body) (RFC 9162); its MAC is HMAC-SHA256(key, previous MAC ||
leaf hash), or SHA-256(previous MAC || leaf hash) without a key. The reference
below uses only the standard library's ``hmac`` and ``hashlib``, never the
package's helpers, so that the writer's inlined hot path (padded-key states
copied per line, the leaf computed once for the tree and the MAC) is checked
against the definition and not against itself.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit.proof.integrity import Chain, compute_mac, leaf_mac, split_mac
from asgi_audit.proof.merkle import leaf_hash

STREAM = "0123456789abcdef"


def ref_leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def ref_mac(key: bytes | None, previous: bytes, body: bytes) -> bytes:
    message = previous + ref_leaf(body)
    if key:
        return hmac.new(key, message, hashlib.sha256).digest()
    return hashlib.sha256(message).digest()


def ref_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_root(leaves[:k]) + ref_root(leaves[k:])).digest()


def body_of(event: dict[str, object], seq: int) -> bytes:
    return orjson.dumps({**event, "stream": STREAM, "seq": seq})


keys = st.none() | st.binary(min_size=1, max_size=130)
events = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in ("stream", "seq", "mac")),
    st.text(max_size=40) | st.integers(-(2**63), 2**63 - 1) | st.booleans(),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    key=keys,
    rekeys=st.lists(st.tuples(st.integers(0, 12), keys), max_size=3),
    batch=st.lists(events, min_size=1, max_size=12),
)
def test_every_sealed_line_is_the_reference_line_and_the_tree_is_the_reference_tree(
    key: bytes | None, rekeys: list[tuple[int, bytes | None]], batch: list[dict[str, object]]
) -> None:
    chain = Chain(key, stream_id=STREAM)
    start = b"asgi_audit stream " + STREAM.encode()
    previous = ref_mac(key, b"", start)
    current, label = key, "hmac-sha256" if key else "sha256"
    leaves = []
    for seq, event in enumerate(batch, start=1):
        for at, new_key in rekeys:
            if at == seq:
                current, label = new_key, f"fs-hmac-sha256:{seq}"
                chain.rekey(new_key, label)
        stamped: dict[str, object] = {}
        chain.stamp(stamped)
        assert stamped["seq"] == seq
        assert stamped["stream"] == STREAM
        body = body_of(event, seq)
        line = chain.seal(body + b"\n")
        previous = ref_mac(current, previous, body)
        expected = body[:-1] + f',"mac":"{label}:{previous.hex()}"}}\n'.encode()
        assert line == expected
        assert split_mac(line[:-1]) == (body, label, previous)
        leaves.append(ref_leaf(body))
    end = chain.end()
    assert (end.seq, end.mac, end.label) == (len(batch), previous, label)
    assert end.root == ref_root(leaves)


@given(key=keys, previous=st.binary(min_size=32, max_size=32), body=st.binary(max_size=300))
def test_the_verifiers_mac_is_the_reference_mac(
    key: bytes | None, previous: bytes, body: bytes
) -> None:
    assert compute_mac(key, previous, body) == ref_mac(key, previous, body)
    assert leaf_mac(key, previous, leaf_hash(body)) == ref_mac(key, previous, body)


def test_a_known_line_seals_to_its_published_mac() -> None:
    # A fixed vector, so that any change of the format shows here by name; the
    # same figures follow from `openssl` or any HMAC-SHA256 implementation:
    #   root = SHA-256(SHA-256(0x00 || "asgi_audit stream 0123456789abcdef"))
    #          (a forward-secure stream's root is unkeyed: its epoch key seals the lines)
    #   mac  = HMAC(k, root || SHA-256(0x00 || body))
    chain = Chain(b"k" * 32, stream_id=STREAM, label="fs-hmac-sha256:0")
    body = b'{"event_type":"login","stream":"0123456789abcdef","seq":1}'
    line = chain.seal(body + b"\n")
    assert line == (
        b'{"event_type":"login","stream":"0123456789abcdef","seq":1,"mac":"fs-hmac-sha256:0:'
        + PINNED.encode()
        + b'"}\n'
    )


PINNED = "6dfa4566ac9a19a1d528382e2a2752e49d6e12dc5a35fb7ba7fb083fbbf1cdc4"
