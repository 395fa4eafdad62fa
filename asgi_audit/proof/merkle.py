"""Merkle trees over a stream's lines: RFC 9162 (Certificate Transparency v2), 2.1.

PURE: no event loop, no file. The hash chain of :mod:`asgi_audit.proof.integrity`
proves a stream line by line; a Merkle tree over the same lines proves one line
(an *inclusion proof*, about log2(n) hashes) or that a stream only grew between
two checkpoints (a *consistency proof*) without handing over every line.

Hashes (``||`` is concatenation, k the largest power of two smaller than n)::

    leaf_hash(d)     = SHA-256(0x00 || d)
    node_hash(l, r)  = SHA-256(0x01 || l || r)
    root([])         = SHA-256("")            root([h]) = h
    root(h[0:n])     = node_hash(root(h[0:k]), root(h[k:n]))

:func:`root` and the proofs take leaf HASHES, not lines. Proofs are built by
the recursive definitions of 2.1.3.1 and 2.1.4.1 (O(n) hashes each) and checked
by the algorithms of 2.1.3.2 and 2.1.4.2 (O(log n)). Verification is total:
malformed input (a hash that is not 32 bytes, an index or size out of range, a
proof too long or too short) verifies as False, never raises. A proof binds
roots, not sizes (the path of leaf 0 of 3 is also one of leaf 0 of 4): whatever
signs a root must sign its size with it.

A writer keeps a :class:`Frontier` (O(log n) hashes) to know the root after every
line; a verifier reading a file feeds a :class:`TreeBuilder` to answer proofs
about any prefix of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, overload

_sha256 = hashlib.sha256

__all__ = (
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
)

#: The size of every hash: SHA-256.
HASH_SIZE: Final = 32
#: The root of the tree with no leaves: SHA-256 of nothing.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: SHA-256(0x00 || ``data``)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || ``left`` || ``right``)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """The root of ``leaves[lo:hi]`` (hi > lo), without copying the slice."""
    if hi - lo == 1:
        return bytes(leaves[lo])
    k = lo + _split(hi - lo)
    return node_hash(_mth(leaves, lo, k), _mth(leaves, k, hi))


def root(leaves: Sequence[bytes]) -> bytes:
    """The root (MTH) of the tree over ``leaves``, a sequence of leaf hashes."""
    return _mth(leaves, 0, len(leaves)) if leaves else EMPTY_ROOT


def _path(leaves: Sequence[bytes], index: int, lo: int, hi: int) -> list[bytes]:
    if hi - lo == 1:
        return []
    k = lo + _split(hi - lo)
    if index < k:
        return [*_path(leaves, index, lo, k), _mth(leaves, k, hi)]
    return [*_path(leaves, index, k, hi), _mth(leaves, lo, k)]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof (RFC 9162 2.1.3.1) of leaf ``index`` in the tree of ``leaves``.

    Raises ValueError unless ``0 <= index < len(leaves)``.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {len(leaves)}")
    return _path(leaves, index, 0, len(leaves))


def _subproof(leaves: Sequence[bytes], old: int, lo: int, hi: int) -> list[bytes]:
    # The RFC's flag b is true exactly while the subtree starts at leaf 0.
    if lo + old == hi:
        return [_mth(leaves, lo, hi)] if lo else []
    k = _split(hi - lo)
    if old <= k:
        return [*_subproof(leaves, old, lo, lo + k), _mth(leaves, lo + k, hi)]
    return [*_subproof(leaves, old - k, lo + k, hi), _mth(leaves, lo, lo + k)]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof (RFC 9162 2.1.4.1) that the tree of ``leaves`` extends its first ``old_size``.

    Empty when ``old_size == len(leaves)``. Raises ValueError unless
    ``0 < old_size <= len(leaves)``: the RFC defines no proof from the empty tree.
    """
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"no consistency proof from size {old_size} to {len(leaves)}")
    return _subproof(leaves, old_size, 0, len(leaves))


def _hashes(*values: bytes) -> bool:
    # Only the inputs: what is computed from them is 32 bytes, and so never equal
    # to a root of another length.
    return all(len(value) == HASH_SIZE for value in values)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` is leaf ``index`` of the tree (``size``, ``root``).

    RFC 9162 2.1.3.2. False, never an exception, for a malformed proof.
    """
    if not 0 <= index < size or not _hashes(leaf_hash, *proof):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False  # the proof is too long
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``new_size``, ``new_root``) extends the old one.

    RFC 9162 2.1.4.2, with its bounds ``0 < old_size <= new_size``: equal sizes
    need equal roots and an empty proof; an empty old tree proves nothing and is
    False. False, never an exception, for a malformed proof.
    """
    if not 0 < old_size <= new_size or not _hashes(old_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # the proof is too long
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def _check_leaf(value: bytes) -> bytes:
    if len(value) != HASH_SIZE:
        raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(value)}")
    return bytes(value)


class Frontier:
    """The right edge of a growing tree: its root after every append, in O(log n) memory.

    It holds the roots of the perfect subtrees the leaves so far make, one per bit
    set in ``size``, largest (leftmost) first. :meth:`append` costs one SHA-256
    amortised, merging subtrees (the caller's :func:`leaf_hash` is one more);
    :meth:`root` costs one SHA-256 per bit set in ``size`` after the first, at
    most log2(n): cheap enough to call once per line.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """How many leaves were appended."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Adds a leaf by its hash. Raises ValueError if it is not 32 bytes."""
        value, n = _check_leaf(leaf_hash), self._size
        while n & 1:
            value = node_hash(self._hashes.pop(), value)
            n >>= 1
        self._hashes.append(value)
        self._size += 1

    def append_data(self, data: bytes) -> bytes:
        """Adds a leaf by its data: ``append(leaf_hash(data))`` in one step, without
        the checks (the hot path of sealing: one call per line). Returns the leaf hash."""
        leaf = value = _sha256(b"\x00" + data).digest()
        n, hashes = self._size, self._hashes
        while n & 1:
            value = _sha256(b"\x01" + hashes.pop() + value).digest()
            n >>= 1
        hashes.append(value)
        self._size += 1
        return leaf

    def root(self) -> bytes:
        """Equal to :func:`root` over every leaf appended."""
        if not self._hashes:
            return EMPTY_ROOT
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = node_hash(left, value)
        return value

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier.from_list(self._size, self._hashes)

    def to_list(self) -> list[bytes]:
        """The subtree roots; with :attr:`size`, all :meth:`from_list` needs to resume."""
        return list(self._hashes)

    @classmethod
    def from_list(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """The frontier of ``size`` leaves from its :meth:`to_list`.

        Raises ValueError if ``size`` is negative, or ``hashes`` is not one
        32-byte hash per bit set in ``size``.
        """
        if size < 0 or len(hashes) != bin(size).count("1"):
            raise ValueError(f"{len(hashes)} hashes cannot be a frontier of size {size}")
        frontier = cls()
        frontier._hashes = [_check_leaf(value) for value in hashes]
        frontier._size = size
        return frontier


class _Packed(Sequence[bytes]):
    """The first ``size`` hashes of a buffer of 32-byte hashes, as a sequence."""

    __slots__ = ("_buffer", "_size")

    def __init__(self, buffer: bytearray, size: int) -> None:
        self._buffer, self._size = buffer, size

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> bytes: ...
    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...
    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        at = index + self._size if index < 0 else index
        if not 0 <= at < self._size:
            raise IndexError(index)
        return bytes(self._buffer[at * HASH_SIZE : (at + 1) * HASH_SIZE])


class TreeBuilder:
    """Every leaf hash of a stream read one line at a time, for proofs about any prefix.

    The hashes are kept packed, 32 bytes a leaf: a stream of 10 million lines
    takes 320 MB. A root or a proof costs O(n) SHA-256 for a prefix of n leaves.
    Sizes and indexes outside the leaves appended raise ValueError.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def size(self) -> int:
        """How many leaves were appended."""
        return len(self._buffer) // HASH_SIZE

    def append(self, leaf_hash: bytes) -> None:
        """Adds a leaf by its hash. Raises ValueError if it is not 32 bytes."""
        self._buffer += _check_leaf(leaf_hash)

    def leaves(self, size: int) -> Sequence[bytes]:
        """The first ``size`` leaf hashes, without copying them."""
        if not 0 <= size <= self.size:
            raise ValueError(f"no prefix of size {size} in a tree of {self.size}")
        return _Packed(self._buffer, size)

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves."""
        return root(self.leaves(size))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the first ``size`` leaves."""
        return inclusion_proof(self.leaves(size), index)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The proof that the first ``new_size`` leaves extend the first ``old_size``."""
        return consistency_proof(self.leaves(new_size), old_size)
