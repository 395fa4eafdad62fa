"""Tests for proof.merkle: RFC 9162's Merkle tree, its proofs and their verification.

The known answers are those Certificate Transparency implementations test against,
taken from transparency-dev/merkle (the library Trillian's Merkle code moved to):

* proof/verify_test.go: the eight leaves, the roots of sizes 1 to 8, and the
  inclusion and consistency proofs (``leaves``, ``roots``, ``inclusionProofs``,
  ``consistencyProofs``), and the corrupted proofs a verifier must refuse;
* rfc6962/rfc6962_test.go (TestRFC6962Hasher): the hashes of the empty tree, of
  two leaves and of a node;
* proof/proof_test.go (TestInclusion, TestConsistency): which nodes make up a proof
  in trees of up to 95 leaves, written here as the leaf ranges those nodes cover.

Everything else is checked exhaustively on small trees and by properties.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit.proof import merkle
from asgi_audit.proof.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# transparency-dev/merkle, proof/verify_test.go: `leaves`.
DATA = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAVES = [leaf_hash(d) for d in DATA]

# transparency-dev/merkle, proof/verify_test.go: `roots`, of sizes 1 to 8.
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# transparency-dev/merkle, proof/verify_test.go: `inclusionProofs`, whose leaf
# numbers count from 1; here (0-based index, size, proof).
INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (0, 1, []),
]

# transparency-dev/merkle, proof/verify_test.go: `consistencyProofs`, (old, new, proof).
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# transparency-dev/merkle, proof/verify_test.go: sha256SomeHash, a hash of no tree.
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# transparency-dev/merkle, proof/proof_test.go: the nodes of proofs, as the leaf
# ranges [start, end) they cover (a single leaf is an int); the Go tests name the
# nodes by (level, index) and mark the ones recomputed from ragged right edges.
INCLUSION_NODES: list[tuple[int, int, list[int | tuple[int, int]]]] = [
    (0, 1, []),
    (0, 2, [1]),
    (1, 2, [0]),
    (1, 3, [0, 2]),
    (0, 7, [1, (2, 4), (4, 7)]),
    (1, 7, [0, (2, 4), (4, 7)]),
    (2, 7, [3, (0, 2), (4, 7)]),
    (3, 7, [2, (0, 2), (4, 7)]),
    (4, 7, [5, 6, (0, 4)]),
    (5, 7, [4, 6, (0, 4)]),
    (6, 7, [(4, 6), (0, 4)]),
    (2, 4, [3, (0, 2)]),
    (3, 5, [2, (0, 2), 4]),
    (3, 6, [2, (0, 2), (4, 6)]),
    (4, 6, [5, (0, 4)]),
    (10, 15, [11, (8, 10), (12, 15), (0, 8)]),
    (24, 31, [25, (26, 28), (28, 31), (16, 24), (0, 16)]),
    (81, 95, [80, (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
]
CONSISTENCY_NODES: list[tuple[int, int, list[int | tuple[int, int]]]] = [
    (1, 2, [1]),
    (1, 4, [1, (2, 4)]),
    (1, 6, [1, (2, 4), (4, 6)]),
    (2, 3, [2]),
    (2, 8, [(2, 4), (4, 8)]),
    (3, 7, [2, 3, (0, 2), (4, 7)]),
    (4, 7, [(4, 7)]),
    (5, 7, [4, 5, 6, (0, 4)]),
    (6, 7, [(4, 6), 6, (0, 4)]),
    (7, 8, [6, 7, (4, 6), (0, 4)]),
    (2, 4, [(2, 4)]),
    (3, 5, [2, 3, (0, 2), 4]),
    (3, 6, [2, 3, (0, 2), (4, 6)]),
    (4, 6, [(4, 6)]),
    (1, 7, [1, (2, 4), (4, 7)]),
    (10, 15, [(8, 10), (10, 12), (12, 15), (0, 8)]),
    (24, 31, [(16, 24), (24, 31), (0, 16)]),
    (81, 95, [80, 81, (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
    *((n, n, []) for n in (1, 2, 3, 4, 5, 7, 8)),
]


def distinct(n: int) -> list[bytes]:
    """``n`` distinct leaf hashes (no two subtrees of them share a hash)."""
    return [leaf_hash(b"line %d" % i) for i in range(n)]


BIG = distinct(96)


def flipped(value: bytes, bit: int) -> bytes:
    """``value`` with one bit flipped."""
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def one_flipped(proof: list[bytes], at: int, bit: int) -> list[bytes]:
    """``proof`` with one bit of its element ``at`` flipped."""
    return [*proof[:at], flipped(proof[at], bit), *proof[at + 1 :]]


def builder(leaves: Sequence[bytes]) -> TreeBuilder:
    tree = TreeBuilder()
    for value in leaves:
        tree.append(value)
    return tree


def frontier(leaves: Sequence[bytes]) -> Frontier:
    edge = Frontier()
    for value in leaves:
        edge.append(value)
    return edge


# Known answers.


def test_the_hashes() -> None:
    assert HASH_SIZE == 32
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_the_empty_tree() -> None:
    assert root([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT
    assert Frontier().size == 0
    assert Frontier().to_list() == []
    assert TreeBuilder().root(0) == EMPTY_ROOT
    assert TreeBuilder().size == 0


@pytest.mark.parametrize("size", range(1, 9))
def test_roots(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size - 1]
    assert frontier(LEAVES[:size]).root() == ROOTS[size - 1]
    assert builder(LEAVES).root(size) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == proof
    assert builder(LEAVES).inclusion_proof(index, size) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    good = ROOTS[size - 1]
    leaf = LEAVES[index]
    probes = [
        (leaf, index - 1, size, proof, good),
        (leaf, index + 1, size, proof, good),
        (leaf, index ^ 2, size, proof, good),
        (leaf, index, size * 2, proof, good),
        (leaf, index, size // 2, proof, good),
        (b"WrongLeaf", index, size, proof, good),
        (LEAVES[(index + 1) % 8], index, size, proof, good),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], good),
        (leaf, index, size, [*proof, good], good),
        (leaf, index, size, [b"", *proof], good),
        (leaf, index, size, [good, *proof], good),
    ]
    if proof:
        probes.append((leaf, index, size, proof[:-1], good))
        probes.append((leaf, index, size, proof[1:], good))
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], good))
    for i in range(len(proof)):
        for bit in (3, 100, 255):
            probes.append((leaf, index, size, one_flipped(proof, i, bit), good))
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES[:new], old) == proof
    assert builder(LEAVES).consistency_proof(old, new) == proof
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


@pytest.mark.parametrize(("old", "new", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[bytes]) -> None:
    old_root, new_root = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, b"WrongRoot", new_root, proof),
        (old, new, old_root, b"WrongRoot", proof),
        (old, new, SOME_HASH, new_root, proof),
        (old, new, old_root, SOME_HASH, proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, b""]),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [b"", *proof]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
        (old, new, old_root, new_root, proof[1:]),
    ]
    for i in range(len(proof)):
        for bit in (4, 100, 255):
            probes.append((old, new, old_root, new_root, one_flipped(proof, i, bit)))
    for probe in probes:
        assert not verify_consistency(*probe), probe


def covered(nodes: list[int | tuple[int, int]]) -> list[bytes]:
    return [BIG[n] if isinstance(n, int) else root(BIG[n[0] : n[1]]) for n in nodes]


@pytest.mark.parametrize(("index", "size", "nodes"), INCLUSION_NODES)
def test_inclusion_proof_nodes(index: int, size: int, nodes: list[int | tuple[int, int]]) -> None:
    proof = inclusion_proof(BIG[:size], index)
    assert proof == covered(nodes)
    assert verify_inclusion(BIG[index], index, size, proof, root(BIG[:size]))


@pytest.mark.parametrize(("old", "new", "nodes"), CONSISTENCY_NODES)
def test_consistency_proof_nodes(old: int, new: int, nodes: list[int | tuple[int, int]]) -> None:
    proof = consistency_proof(BIG[:new], old)
    assert proof == covered(nodes)
    assert verify_consistency(old, new, root(BIG[:old]), root(BIG[:new]), proof)


# Every proof of every tree up to 33 leaves (powers of two and their neighbours).

SMALL = range(1, 34)


@pytest.mark.parametrize("size", SMALL)
def test_every_inclusion_proof_of_a_small_tree(size: int) -> None:
    leaves = BIG[:size]
    top = root(leaves)
    for index in range(size):
        proof = inclusion_proof(leaves, index)
        assert len(proof) <= (size - 1).bit_length()
        assert verify_inclusion(leaves[index], index, size, proof, top)
        for other in range(-1, size + 2):
            if other != index:
                assert not verify_inclusion(leaves[index], other, size, proof, top)
                assert not verify_inclusion(leaves[other % size], other, size, proof, top)
        for bigger in range(index + 1, size + 3):
            if bigger != size:
                assert not verify_inclusion(leaves[index], index, bigger, proof, root(BIG[:bigger]))
        assert not verify_inclusion(leaves[index], index, size, [*proof, top], top)
        if proof:
            assert not verify_inclusion(leaves[index], index, size, proof[:-1], top)


@pytest.mark.parametrize("new", SMALL)
def test_every_consistency_proof_of_a_small_tree(new: int) -> None:
    leaves = BIG[:new]
    new_root = root(leaves)
    for old in range(1, new + 1):
        old_root = root(leaves[:old])
        proof = consistency_proof(leaves, old)
        assert (proof == []) == (old == new)
        assert verify_consistency(old, new, old_root, new_root, proof)
        for other in range(new + 2):
            if other != old:
                assert not verify_consistency(other, new, old_root, new_root, proof)
                assert not verify_consistency(other, new, root(BIG[:other]), new_root, proof)
        for bigger in range(old, new + 3):
            if bigger != new:
                assert not verify_consistency(old, bigger, old_root, root(BIG[:bigger]), proof)
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        if proof:
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            assert not verify_consistency(old, new, old_root, root(BIG[: new + 1]), proof)


# The edges of verification.


def test_an_index_outside_the_tree_fails_even_when_the_hashes_line_up() -> None:
    a, b = LEAVES[0], LEAVES[1]
    assert verify_inclusion(a, 0, 1, [], a)
    assert not verify_inclusion(a, 1, 1, [], a)
    assert not verify_inclusion(a, 0, 0, [], a)
    assert not verify_inclusion(a, -1, 1, [], a)
    assert verify_inclusion(a, 0, 2, [b], node_hash(a, b))
    assert not verify_inclusion(a, 2, 2, [b], node_hash(a, b))
    assert not verify_inclusion(a, -2, 2, [b], node_hash(a, b))
    assert not verify_inclusion(b, -1, 2, [a], node_hash(a, b))


def test_a_short_proof_of_an_inner_node_fails() -> None:
    # Leaf 0 of 4 with half its proof reaches node [0, 2), not the root.
    inner = node_hash(LEAVES[0], LEAVES[1])
    assert not verify_inclusion(LEAVES[0], 0, 4, [LEAVES[1]], inner)
    assert not verify_inclusion(LEAVES[2], 2, 3, [], LEAVES[2])
    # Consistency 2 -> 4 with proof [] reaches nothing; 3 -> 4 without its last node
    # reaches node [2, 4) in place of the root.
    assert not verify_consistency(2, 4, ROOTS[1], ROOTS[3], [])
    proof = consistency_proof(LEAVES[:4], 3)
    assert not verify_consistency(3, 4, ROOTS[2], proof[0], proof[:1])
    assert not verify_consistency(3, 4, ROOTS[2], node_hash(proof[0], proof[1]), proof[:2])


def test_hashes_of_the_wrong_size_fail_even_when_they_would_verify() -> None:
    short, other = b"x", LEAVES[1]
    assert not verify_inclusion(short, 0, 2, [other], node_hash(short, other))
    assert not verify_inclusion(other, 1, 2, [short], node_hash(short, other))
    assert not verify_inclusion(short, 0, 1, [], short)
    long = bytes(33)
    assert not verify_inclusion(long, 0, 1, [], long)
    # Consistency 1 -> 2: old root (a leaf) prepended, then the proof's one node.
    assert verify_consistency(1, 2, other, node_hash(other, other), [other])
    assert not verify_consistency(1, 2, short, node_hash(short, other), [other])
    assert not verify_consistency(1, 2, other, node_hash(other, short), [short])
    assert not verify_consistency(1, 1, short, short, [])
    assert not verify_consistency(1, 1, long, long, [])
    # A root of another length: nothing computed can be equal to it.
    assert not verify_inclusion(other, 0, 1, [], other + b"\x00")
    assert not verify_inclusion(other, 0, 1, [], other[:-1])
    assert not verify_consistency(1, 1, other, other + b"\x00", [])
    assert not verify_consistency(1, 2, other, node_hash(other, other) + b"\x00", [other])


def test_consistency_sizes() -> None:
    """RFC 9162 2.1.4: 0 < old <= new. transparency-dev also accepts an empty old tree."""
    r1, r2 = ROOTS[0], ROOTS[1]
    proof = consistency_proof(LEAVES[:2], 1)
    assert verify_consistency(1, 2, r1, r2, proof)
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 1, EMPTY_ROOT, r1, [])
    assert not verify_consistency(0, 2, EMPTY_ROOT, r2, proof)
    assert not verify_consistency(-1, 2, r1, r2, proof)
    assert not verify_consistency(2, 1, r2, r1, proof)
    assert not verify_consistency(2, 1, r2, r1, [])
    # Equal sizes: equal roots and an empty proof, nothing else.
    assert verify_consistency(2, 2, r2, r2, [])
    assert not verify_consistency(2, 2, r1, r2, [])
    assert not verify_consistency(2, 2, r2, r2, [r2])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    # An empty proof between different sizes, old a power of two or not.
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(3, 5, ROOTS[2], ROOTS[4], [])


def test_the_proof_binds_roots_not_sizes() -> None:
    """A proof checked against the wrong size and the right root may verify.

    RFC 9162 leaves the size to what signs it together with the root (a checkpoint
    must sign both): the proof of leaf 0 among 3 is also a valid path in a tree of 4
    leaves, and so is the proof of consistency from 2 to 3 one from 2 to 4.
    """
    proof = inclusion_proof(LEAVES[:3], 0)
    assert verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[2])
    assert not verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[3])
    proof = consistency_proof(LEAVES[:3], 2)
    assert verify_consistency(2, 4, ROOTS[1], ROOTS[2], proof)
    assert not verify_consistency(2, 4, ROOTS[1], ROOTS[3], proof)


# Proofs that cannot exist.


def test_impossible_proofs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^no leaf 0 in a tree of 0$"):
        inclusion_proof([], 0)
    with pytest.raises(ValueError, match=r"^no leaf 3 in a tree of 3$"):
        inclusion_proof(LEAVES[:3], 3)
    with pytest.raises(ValueError, match=r"^no leaf -1 in a tree of 3$"):
        inclusion_proof(LEAVES[:3], -1)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 0 to 3$"):
        consistency_proof(LEAVES[:3], 0)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 4 to 3$"):
        consistency_proof(LEAVES[:3], 4)
    with pytest.raises(ValueError, match=r"^no consistency proof from size -1 to 3$"):
        consistency_proof(LEAVES[:3], -1)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 0 to 0$"):
        consistency_proof([], 0)
    assert consistency_proof(LEAVES[:3], 3) == []
    assert inclusion_proof(LEAVES[:1], 0) == []


# The frontier.


def test_a_frontier_merges_once_per_append_amortised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting(left: bytes, right: bytes) -> bytes:
        calls.append(1)
        return node_hash(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    edge = Frontier()
    for n in range(1, 70):
        edge.append(BIG[n % 96])
        assert len(calls) == n - bin(n).count("1")
        assert len(edge.to_list()) == bin(n).count("1")
    calls.clear()
    edge.root()
    assert len(calls) == bin(69).count("1") - 1


def test_a_frontier_resumes_from_its_list() -> None:
    for size in (0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33):
        edge = frontier(BIG[:size])
        assert edge.size == size
        again = Frontier.from_list(edge.size, edge.to_list())
        assert again.size == size
        assert again.root() == root(BIG[:size])
        for value in BIG[size:40]:
            again.append(value)
        assert (again.size, again.root()) == (40, root(BIG[:40]))


def test_a_frontier_copy_and_list_are_its_own() -> None:
    edge = frontier(BIG[:5])
    copy = edge.copy()
    listed = edge.to_list()
    listed.append(SOME_HASH)
    copy.append(BIG[5])
    assert edge.size == 5
    assert edge.root() == root(BIG[:5])
    assert copy.size == 6
    assert copy.root() == root(BIG[:6])
    assert len(edge.to_list()) == 2


def test_a_frontier_refuses_what_cannot_be_one() -> None:
    edge = Frontier()
    for wrong in (b"", b"x" * 31, b"x" * 33):
        with pytest.raises(ValueError, match=rf"^a leaf hash is 32 bytes, not {len(wrong)}$"):
            edge.append(wrong)
    assert edge.size == 0
    with pytest.raises(ValueError, match=r"^1 hashes cannot be a frontier of size -1$"):
        Frontier.from_list(-1, [SOME_HASH])
    with pytest.raises(ValueError, match=r"^1 hashes cannot be a frontier of size 0$"):
        Frontier.from_list(0, [SOME_HASH])
    with pytest.raises(ValueError, match=r"^1 hashes cannot be a frontier of size 3$"):
        Frontier.from_list(3, [SOME_HASH])
    with pytest.raises(ValueError, match=r"^2 hashes cannot be a frontier of size 4$"):
        Frontier.from_list(4, [SOME_HASH, SOME_HASH])
    with pytest.raises(ValueError, match=r"^a leaf hash is 32 bytes, not 3$"):
        Frontier.from_list(3, [SOME_HASH, b"abc"])
    assert Frontier.from_list(0, []).root() == EMPTY_ROOT
    assert Frontier.from_list(1, [SOME_HASH]).root() == SOME_HASH


# The tree builder.


def test_a_builder_serves_every_prefix() -> None:
    tree = builder(BIG[:20])
    assert tree.size == 20
    assert tree.root(tree.size) == root(BIG[:20])
    for size in range(21):
        assert tree.root(size) == root(BIG[:size])
        assert list(tree.leaves(size)) == BIG[:size]
        assert len(tree.leaves(size)) == size
    assert tree.inclusion_proof(3, 9) == inclusion_proof(BIG[:9], 3)
    assert tree.consistency_proof(5, 17) == consistency_proof(BIG[:17], 5)


def test_a_builder_view_is_a_sequence() -> None:
    view = builder(BIG[:10]).leaves(6)
    assert view[0] == BIG[0]
    assert view[5] == BIG[5]
    assert view[-1] == BIG[5]
    assert view[-6] == BIG[0]
    assert view[1:3] == BIG[1:3]
    assert view[::-2] == BIG[5::-2]
    assert view[4:] == BIG[4:6]
    assert list(reversed(view)) == BIG[5::-1]
    assert BIG[2] in view
    assert BIG[7] not in view
    assert view.index(BIG[3]) == 3
    for wrong in (6, 7, -7):
        with pytest.raises(IndexError, match=rf"^{wrong}$"):
            view[wrong]


def test_a_builder_refuses_what_it_does_not_hold() -> None:
    tree = builder(BIG[:4])
    for size in (-1, 5):
        with pytest.raises(ValueError, match=rf"^no prefix of size {size} in a tree of 4$"):
            tree.leaves(size)
        with pytest.raises(ValueError, match=r"^no prefix"):
            tree.root(size)
    with pytest.raises(ValueError, match=r"^no prefix"):
        tree.inclusion_proof(0, 5)
    with pytest.raises(ValueError, match=r"^no leaf 4 in a tree of 4$"):
        tree.inclusion_proof(4, 4)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 0 to 4$"):
        tree.consistency_proof(0, 4)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 4 to 3$"):
        tree.consistency_proof(4, 3)
    with pytest.raises(ValueError, match=r"^no prefix"):
        tree.consistency_proof(2, 5)
    with pytest.raises(ValueError, match=r"^a leaf hash is 32 bytes, not 31$"):
        tree.append(bytes(31))
    assert tree.size == 4


# Properties.

hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=300)


@given(hashes)
def test_the_frontier_is_the_tree(leaves: list[bytes]) -> None:
    edge, tree = Frontier(), TreeBuilder()
    for n, value in enumerate(leaves, 1):
        edge.append(value)
        tree.append(value)
        assert edge.root() == root(leaves[:n])
    assert edge.size == tree.size == len(leaves)
    assert edge.root() == tree.root(len(leaves)) == root(leaves)


@given(hashes, st.integers(min_value=0, max_value=300))
def test_a_resumed_frontier_is_the_tree(leaves: list[bytes], cut: int) -> None:
    cut = min(cut, len(leaves))
    head = frontier(leaves[:cut])
    resumed = Frontier.from_list(head.size, head.to_list())
    for value in leaves[cut:]:
        resumed.append(value)
    assert resumed.root() == root(leaves)


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Distinct leaves (from distinct lines), and a size that leaves three of them out."""
    size = draw(st.integers(min_value=1, max_value=300))
    lines = draw(st.lists(st.binary(max_size=8), min_size=size + 3, max_size=size + 3, unique=True))
    return [leaf_hash(line) for line in lines], size


@settings(deadline=None)
@given(trees(), st.data())
def test_inclusion_proofs_verify_and_nothing_else(
    tree: tuple[list[bytes], int], data: st.DataObject
) -> None:
    more, size = tree
    leaves = more[:size]
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    top = root(leaves)
    proof = inclusion_proof(leaves, index)
    assert proof == builder(more).inclusion_proof(index, size)
    assert verify_inclusion(leaves[index], index, size, proof, top)
    other = data.draw(st.integers(min_value=-1, max_value=size + 2).filter(lambda i: i != index))
    assert not verify_inclusion(more[other], index, size, proof, top)
    assert not verify_inclusion(leaves[index], other, size, proof, top)
    assert not verify_inclusion(more[other], other, size, proof, top)
    resized = data.draw(
        st.integers(min_value=index + 1, max_value=size + 3).filter(lambda n: n != size)
    )
    assert not verify_inclusion(leaves[index], index, resized, proof, root(more[:resized]))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    assert not verify_inclusion(flipped(leaves[index], bit), index, size, proof, top)
    assert not verify_inclusion(leaves[index], index, size, proof, flipped(top, bit))
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = one_flipped(proof, at, bit)
        assert not verify_inclusion(leaves[index], index, size, bad, top)
        assert not verify_inclusion(leaves[index], index, size, proof[:at] + proof[at + 1 :], top)
    extra = data.draw(st.binary(min_size=32, max_size=32))
    assert not verify_inclusion(leaves[index], index, size, [*proof, extra], top)


@settings(deadline=None)
@given(trees(), st.data())
def test_consistency_proofs_verify_and_nothing_else(
    tree: tuple[list[bytes], int], data: st.DataObject
) -> None:
    more, new = tree
    leaves = more[:new]
    old = data.draw(st.integers(min_value=1, max_value=new))
    old_root, new_root = root(leaves[:old]), root(leaves)
    proof = consistency_proof(leaves, old)
    assert proof == builder(more).consistency_proof(old, new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    other = data.draw(st.integers(min_value=-1, max_value=new + 1).filter(lambda m: m != old))
    assert not verify_consistency(other, new, old_root, new_root, proof)
    assert not verify_consistency(other, new, root(more[: max(other, 0)]), new_root, proof)
    resized = data.draw(st.integers(min_value=old, max_value=new + 3).filter(lambda n: n != new))
    assert not verify_consistency(old, resized, old_root, root(more[:resized]), proof)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    assert not verify_consistency(old, new, flipped(old_root, bit), new_root, proof)
    assert not verify_consistency(old, new, old_root, flipped(new_root, bit), proof)
    if proof:
        at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = one_flipped(proof, at, bit)
        assert not verify_consistency(old, new, old_root, new_root, bad)
        assert not verify_consistency(old, new, old_root, new_root, proof[:at] + proof[at + 1 :])
    extra = data.draw(st.binary(min_size=32, max_size=32))
    assert not verify_consistency(old, new, old_root, new_root, [*proof, extra])


blobs = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))
sizes = st.one_of(st.integers(min_value=-3, max_value=70), st.integers())


@given(blobs, sizes, sizes, st.lists(blobs, max_size=80), blobs)
def test_verification_never_raises(
    value: bytes, a: int, b: int, proof: list[bytes], other: bytes
) -> None:
    assert verify_inclusion(value, a, b, proof, other) in (True, False)
    assert verify_consistency(a, b, value, other, proof) in (True, False)


@given(st.lists(st.binary(max_size=40), max_size=40), sizes)
def test_proofs_raise_only_for_sizes_that_cannot_be(leaves: list[bytes], n: int) -> None:
    if 0 <= n < len(leaves):
        assert len(inclusion_proof(leaves, n)) <= (len(leaves) - 1).bit_length()
    else:
        with pytest.raises(ValueError, match=r"^no leaf"):
            inclusion_proof(leaves, n)
    if 0 < n <= len(leaves):
        consistency_proof(leaves, n)
    else:
        with pytest.raises(ValueError, match=r"^no consistency proof"):
            consistency_proof(leaves, n)
    top = root(leaves)
    assert isinstance(top, bytes)
    if all(len(value) == HASH_SIZE for value in leaves):
        assert top == frontier(leaves).root()
