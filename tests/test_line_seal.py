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
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit.proof.integrity import (
    Chain,
    Sealed,
    compute_mac,
    derive_chain_key,
    key_id,
    leaf_mac,
    split_mac,
)
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


# --- the fields a chain stamps, and how a line is split ------------------------------------


def test_a_static_chain_names_its_key_on_its_first_line_only() -> None:
    key = b"s" * 32
    chain = Chain(key, stream_id=STREAM)
    first: dict[str, object] = {}
    chain.stamp(first)
    expected = hmac.new(key, b"asgi_audit key id", hashlib.sha256).digest()[:8].hex()
    assert first == {"mac_key_id": expected, "stream": STREAM, "seq": 1}
    chain.seal(orjson.dumps(first) + b"\n")
    second: dict[str, object] = {}
    chain.stamp(second)
    assert second == {"stream": STREAM, "seq": 2}
    # A forward-secure chain's lines name their epoch instead.
    labelled: dict[str, object] = {}
    Chain(key, stream_id=STREAM, label="fs-hmac-sha256:3").stamp(labelled)
    assert labelled == {"stream": STREAM, "seq": 1}


def test_the_chain_key_and_its_id_are_the_published_derivations() -> None:
    deployment = b"d" * 32
    chain_key = hmac.new(deployment, b"asgi_audit chain", hashlib.sha256).digest()
    assert derive_chain_key(deployment) == chain_key
    assert derive_chain_key(None) is None
    assert key_id(chain_key) == hmac.new(chain_key, b"asgi_audit key id", "sha256").hexdigest()[:16]
    assert key_id(None) is None


def test_the_first_line_names_where_the_previous_stream_ended_under_its_own_label() -> None:
    prev = Sealed("f" * 16, 7, b"\x01" * 32, "fs-hmac-sha256:3")
    chain = Chain(b"k" * 32, stream_id=STREAM, prev=prev, label="fs-hmac-sha256:4")
    event: dict[str, object] = {}
    chain.stamp(event)
    assert event["prev_mac"] == "fs-hmac-sha256:3:" + "01" * 32
    assert (event["prev_stream"], event["prev_seq"]) == ("f" * 16, 7)
    # A previous end without a label of its own is named under the chain's.
    unlabelled = Chain(None, stream_id=STREAM, prev=Sealed("f" * 16, 7, b"\x02" * 32))
    event = {}
    unlabelled.stamp(event)
    assert event["prev_mac"] == "sha256:" + "02" * 32


@pytest.mark.parametrize("size", [63, 64, 65, 200])
def test_keys_around_the_hmac_block_size_seal_as_hmac_does(size: int) -> None:
    key = bytes(range(256))[:size]
    body = b'{"seq":1}'
    line = Chain(key, stream_id=STREAM).seal(body + b"\n")
    root = ref_mac(key, b"", b"asgi_audit stream " + STREAM.encode())
    assert split_mac(line[:-1]) == (body, "hmac-sha256", ref_mac(key, root, body))


def test_a_line_splits_at_its_last_mac_field() -> None:
    mac = "ab" * 32
    nested = b'{"details":{"mac":"x","n":1},"mac":"hmac-sha256:' + mac.encode() + b'"}'
    assert split_mac(nested) == (
        b'{"details":{"mac":"x","n":1}}',
        "hmac-sha256",
        bytes.fromhex(mac),
    )
    inner = b'{"a":1,"mac":"x","b":2,"mac":"sha256:' + mac.encode() + b'"}'
    assert split_mac(inner) == (b'{"a":1,"mac":"x","b":2}', "sha256", bytes.fromhex(mac))


@pytest.mark.parametrize(
    "value",
    [
        b"ab" * 32,  # no label
        b"sha256:" + b"AB" * 32,  # upper-case hex
        b"sha256:" + b"ab" * 31,  # too short
        b"sha256:" + b"zz" * 32,  # not hex
    ],
)
def test_a_mac_field_of_any_other_spelling_is_not_a_seal(value: bytes) -> None:
    assert split_mac(b'{"a":1,"mac":"' + value + b'"}') is None


def test_a_line_that_does_not_end_with_its_mac_field_is_not_sealed() -> None:
    sealed = b'{"a":1,"mac":"sha256:' + b"ab" * 32 + b'"}'
    assert split_mac(sealed) is not None
    assert split_mac(sealed + b" ") is None
    assert split_mac(sealed[:-1] + b"]") is None


def test_a_label_that_is_not_ascii_is_read_with_a_replacement_character() -> None:
    split = split_mac(b'{"a":1,"mac":"sha\xc3\xa9:' + b"ab" * 32 + b'"}')
    assert split is not None
    assert split[1] == "sha\ufffd\ufffd"
