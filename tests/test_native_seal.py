"""The compiled core's sealing of lines against the reference.

Skipped where the core is not installed (``make native`` builds and installs it).
Each chain below is made with the core or without it whatever ``ASGI_AUDIT_PURE``
says, so that the two run side by side. The properties: ``Chain.seal_many`` on
the core gives the same bytes as ``Chain.seal`` in a loop on the reference, and
leaves the chain (``last`` and the tree) where the loop leaves it, for any lines
(bytes ending in ``}`` and a newline as ``encode_line`` gives, and any bytes at
all), keys (none, empty, short, longer than HMAC's block), labels, starting
states (the first line, or mid-stream with any MAC and any tree) and ``rekey``
between the batches; ``Chain.seal`` on the core does too. The lines sealed by
the core verify with the project's verifier, and the tree's root is the root of
their leaves.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asgi_audit.proof import merkle
from asgi_audit.proof.integrity import Chain, derive_chain_key, split_mac
from asgi_audit.proof.merkle import Frontier
from asgi_audit.proof.verification import Verifier
from asgi_audit.record import engine
from asgi_audit.record.encoding import encode_line

native: Any = pytest.importorskip("asgi_audit_native")
if getattr(native, "SEAL", None) != engine.SEAL:
    pytest.skip("the compiled core does not seal lines", allow_module_level=True)

STREAM = "0123456789abcdef"


@contextmanager
def core(on: bool) -> Iterator[None]:
    """Chains made (and rekeyed) inside seal with the core or with the reference."""
    saved = os.environ.get(engine.PURE_VARIABLE)
    os.environ[engine.PURE_VARIABLE] = "" if on else "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ[engine.PURE_VARIABLE]
        else:
            os.environ[engine.PURE_VARIABLE] = saved


def state(chain: Chain) -> tuple[object, ...]:
    last, tree = chain.last, chain.tree
    return (last.stream, last.seq, last.mac, last.label, tree.size, tree.to_list(), tree.root())


# --- strategies ----------------------------------------------------------------------------

keys = (
    st.none()
    | st.just(b"")
    | st.binary(min_size=1, max_size=20)
    | st.binary(min_size=60, max_size=140)
)
labels = (
    st.sampled_from(["hmac-sha256", "sha256"])
    | st.integers(0, 2**40).map(lambda epoch: f"fs-hmac-sha256:{epoch}")
    | st.text(st.characters(max_codepoint=127), max_size=20)
)
json_text = st.text(max_size=60).map(lambda text: encode_line({"seq": 1, "text": text}))
huge = st.integers(16 * 1024, 300_000).map(lambda n: b'{"x":"' + b"\xc3\xa9" * (n // 2) + b'"}\n')
lines = (
    json_text
    | st.binary(max_size=600).map(lambda data: data + b"}\n")
    | st.binary(max_size=3)
    | huge
)
hashes32 = st.binary(min_size=32, max_size=32)
sizes = (
    st.integers(0, 70)
    | st.integers(0, 2**48)
    | st.integers(1, 62).map(lambda bits: 2**bits - 1)
    | st.integers(1, 62).map(lambda bits: 2**bits)
)


@st.composite
def starts(draw: st.DrawFn) -> tuple[int, bytes, int, list[bytes]] | None:
    """None (a new chain), or ``(seq, mac, tree size, tree hashes)`` mid-stream."""
    if draw(st.booleans()):
        return None
    size = draw(sizes)
    roots = draw(st.lists(hashes32, min_size=size.bit_count(), max_size=size.bit_count()))
    return draw(st.integers(0, 2**62)), draw(hashes32), size, roots


#: Per batch: a rekey first or not, the lines, and whether the core seals them
#: one by one (``seal``) or at once (``seal_many``).
batches = st.lists(
    st.tuples(
        st.none() | st.tuples(keys, labels),
        st.lists(lines, max_size=12),
        st.booleans(),
    ),
    min_size=1,
    max_size=5,
)


def chain_at(key: bytes | None, label: str | None, start: Any) -> Chain:
    chain = Chain(key, stream_id=STREAM, label=label)
    if start is not None:
        seq, mac, size, roots = start
        chain.last.seq, chain.last.mac = seq, mac
        chain.tree = Frontier.from_list(size, roots)
    return chain


# --- the reference and the core side by side -----------------------------------------------


@settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(key=keys, label=st.none() | labels, start=starts(), batches=batches)
def test_the_core_seals_as_the_reference_loop(
    key: bytes | None,
    label: str | None,
    start: tuple[int, bytes, int, list[bytes]] | None,
    batches: list[tuple[tuple[bytes | None, str] | None, list[bytes], bool]],
) -> None:
    with core(False):
        reference = chain_at(key, label, start)
    with core(True):
        compiled = chain_at(key, label, start)
    assert reference._core is None
    assert compiled._core is not None
    assert state(compiled) == state(reference)
    for rekey, batch, at_once in batches:
        if rekey is not None:
            with core(False):
                reference.rekey(*rekey)
            with core(True):
                compiled.rekey(*rekey)
        expected = [reference.seal(line) for line in batch]
        sealed = compiled.seal_many(batch) if at_once else [compiled.seal(line) for line in batch]
        assert sealed == expected
        assert state(compiled) == state(reference)
        assert compiled.end() == reference.end()


@settings(max_examples=300, deadline=None)
@given(key=keys, start=starts(), batch=st.lists(lines, max_size=8))
def test_seal_many_on_the_reference_is_the_loop(
    key: bytes | None, start: tuple[int, bytes, int, list[bytes]] | None, batch: list[bytes]
) -> None:
    with core(False):
        looped, at_once = chain_at(key, None, start), chain_at(key, None, start)
    assert at_once.seal_many(batch) == [looped.seal(line) for line in batch]
    assert state(at_once) == state(looped)


# --- what the core seals verifies ----------------------------------------------------------

events = st.lists(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in ("stream", "seq", "mac")),
        st.text(max_size=200) | st.integers(-(2**63), 2**63 - 1) | st.booleans(),
        max_size=5,
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deployment=st.none() | st.binary(min_size=1, max_size=80),
    batch=events,
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_lines_the_core_seals_verify_and_the_root_is_the_root_of_their_leaves(
    deployment: bytes | None, batch: list[dict[str, object]], cuts: list[int]
) -> None:
    key = derive_chain_key(deployment)
    with core(True):
        chain = Chain(key)
    assert chain._core is not None
    encoded = []
    for seq, event in enumerate(batch, start=1):
        stamped = dict(event)
        chain.stamp(stamped)  # the first line's fields; the seq as the writer would
        stamped["seq"] = seq
        encoded.append(encode_line(stamped))
    sealed: list[bytes] = []
    bounds = sorted({0, len(encoded), *(c for c in cuts if c < len(encoded))})
    for lo, hi in itertools.pairwise(bounds):
        sealed += chain.seal_many(encoded[lo:hi])
    verifier = Verifier(key)
    leaves = []
    for number, line in enumerate(sealed, start=1):
        verifier.feed("api.jsonl", number, line.rstrip(b"\n"))
        split = split_mac(line.rstrip(b"\n"))
        assert split is not None
        leaves.append(merkle.leaf_hash(split[0]))
    summaries, breaks = verifier.finish()
    assert breaks == []
    assert [s.lines for s in summaries] == [len(batch)]
    assert chain.tree.root() == merkle.root(leaves)
    assert chain.tree.size == chain.last.seq == len(batch)


def test_lines_the_core_seals_verify_as_a_file(tmp_path: Path) -> None:
    from asgi_audit.proof.verify import verify_directory

    key = derive_chain_key(b"a deployment key")
    with core(True):
        chain = Chain(key)
    events: list[dict[str, object]] = [
        {"event_type": "api_access", "note": "é" * n} for n in range(50)
    ]
    stamped = []
    for seq, event in enumerate(events, start=1):
        chain.stamp(event)
        event["seq"] = seq
        stamped.append(encode_line(event))
    path = tmp_path / "api.jsonl"
    path.write_bytes(b"".join(chain.seal_many(stamped)))
    # No checkpoints were written: the ledger is missing, and nothing else.
    result = verify_directory(tmp_path, b"a deployment key")
    assert [b.kind for b in result.breaks] == ["ledger missing"]
    assert [(s.lines, s.sealed) for s in result.streams] == [(50, "hmac-sha256")]
    # One character changed shows at its line.
    lines = path.read_bytes().splitlines(keepends=True)
    lines[9] = lines[9].replace("é".encode(), b"e", 1)
    path.write_bytes(b"".join(lines))
    result = verify_directory(tmp_path, b"a deployment key")
    assert [(b.kind, b.line) for b in result.breaks] == [("ledger missing", 0), ("modified", 10)]


# --- edges ---------------------------------------------------------------------------------


def test_no_lines_change_nothing() -> None:
    with core(True):
        chain = Chain(b"k" * 32, stream_id=STREAM)
    before = state(chain)
    assert chain.seal_many([]) == []
    assert state(chain) == before


def test_a_frontier_that_does_not_match_its_size_is_refused() -> None:
    sealer = native.Sealer(b"k", b',"mac":"hmac-sha256:')
    with pytest.raises(ValueError, match="frontier"):
        sealer.seal(bytes(32), 3, [bytes(32)], b"{}\n")
    with pytest.raises(ValueError, match="frontier"):
        sealer.seal_many(bytes(32), 1, [], [b"{}\n"])
    with pytest.raises(ValueError, match="32 bytes"):
        sealer.seal(bytes(32), 1, [b"short"], b"{}\n")
    with pytest.raises(TypeError):
        sealer.seal_many(bytes(32), 0, [], ["{}\n"])


def test_two_threads_seal_lists_at_once_as_the_reference() -> None:
    # The hashing of a list runs without the GIL, so another thread's chain seals
    # meanwhile: each ends where the reference ends.
    batch = [encode_line({"seq": n, "text": "x" * 400}) for n in range(20_000)]
    with core(True):
        chains = [Chain(b"k" * 32, stream_id=STREAM) for _ in range(2)]
    with core(False):
        reference = Chain(b"k" * 32, stream_id=STREAM)
    expected = [reference.seal(line) for line in batch]
    results: list[list[bytes]] = [[], []]

    def run(i: int) -> None:
        results[i] = chains[i].seal_many(batch)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected, expected]
    assert state(chains[0]) == state(chains[1]) == state(reference)


@pytest.mark.skipif(
    not os.environ.get("ASGI_AUDIT_REQUIRE_NATIVE"),
    reason="ASGI_AUDIT_REQUIRE_NATIVE is not set (CI sets it where it builds the core)",
)
def test_the_compiled_core_seals_where_it_is_required() -> None:
    assert not os.environ.get(engine.PURE_VARIABLE)
    assert Chain(b"k" * 32)._core is not None
