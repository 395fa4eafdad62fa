"""Tamper evidence of the lines: one MAC chain and one Merkle tree per writer stream.

PURE: no event loop, no file. Each writer (one per process and category) is a
*stream* with a random id. Every line it writes carries ``stream``, ``seq`` (1,
2, 3, ... without gaps) and, as its last field, ``mac``::

    {"timestamp": ..., ..., "stream": "9f2c...", "seq": 42, "mac": "fs-hmac-sha256:7:<64 hex>"}

An output profile whose documents allow no field of ours at the top level (OCSF)
or want ours under one name (ECS) keeps them in the document's *last* top-level
object instead, ``mac`` last in it::

    {"time": ..., "unmapped": {..., "stream": "9f2c...", "seq": 42, "mac": "..."}}

The *body* of a line is its exact bytes as written, up to and excluding
``,"mac":"``, plus the closing ``}`` (``}}`` when the fields are in that last
object: the line then ends ``"}}``, and a line's own last bytes say which). Its
Merkle leaf hash (RFC 9162) is ``SHA-256(0x00 || body)``, and its MAC is
``HMAC-SHA256(key, previous MAC || leaf hash)``: the previous line's MAC and the
leaf as 32 raw bytes each. The line is hashed once, for the tree and the chain
together. A verifier strips the MAC field from the bytes it reads; nothing is
re-serialised, so no JSON library can make a difference. The first line of a
stream chains from a root derived from its id; it may name where the previous
stream of that file ended (``prev_stream``, ``prev_seq``, ``prev_mac``), when
the writer could check that line.

The label says how the line was sealed (see :mod:`asgi_audit.proof.schemes`):
``fs-hmac-sha256:<epoch>`` with the forward-secure key of that epoch,
``hmac-sha256`` with a static key (whose first line also names it:
``mac_key_id``, 16 hex digits of ``HMAC-SHA256(chain key, "asgi_audit key id")``),
``sha256`` without a key (an explicit opt-out: anyone can recompute it).

Each stream is also a Merkle tree (RFC 9162) whose leaves are its bodies, kept as a
frontier: the root at a ``seq`` is what the ledger's checkpoints commit (see
:mod:`asgi_audit.proof.checkpoints`) and what inclusion and consistency proofs
lead to (:mod:`asgi_audit.proof.inclusion`).
The sealing here is the reference. Where the compiled core is installed (see
:func:`asgi_audit.record.engine.seal_core`), :meth:`Chain.seal` and
:meth:`Chain.seal_many` run it instead: the same bytes, and the same ``last`` and
``tree`` after, with the hashing of a whole list done without the GIL.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..record.engine import SealCore, seal_core
from .merkle import Frontier, leaf_hash

if TYPE_CHECKING:
    from hashlib import _Hash

_hexlify = binascii.hexlify
_sha256 = hashlib.sha256

__all__ = (
    "CHECKPOINT_FILE",
    "HMAC",
    "KEY_ID_FIELD",
    "MAC_MARKER",
    "SEAL_BYTES",
    "SHA",
    "Chain",
    "Sealed",
    "algorithm",
    "chain_root",
    "compute_mac",
    "derive_chain_key",
    "hmac_pads",
    "key_id",
    "leaf_mac",
    "new_stream_id",
    "seal_fields",
    "split_mac",
)

#: Where checkpoints are written, beside the category files: JSON lines, but not
#: ``*.jsonl``, so that every ``*.jsonl`` file holds events and nothing else.
CHECKPOINT_FILE: Final = "checkpoints.log"
#: The bytes that start the MAC field; always the last field of a line.
MAC_MARKER: Final = b',"mac":"'
#: The most bytes sealing adds to a line (the MAC field).
SEAL_BYTES: Final = len(MAC_MARKER) + len("hmac-sha256:") + 64 + 2
#: The MAC labels: keyed and unkeyed.
HMAC: Final = "hmac-sha256"
SHA: Final = "sha256"
#: The field naming the static key on a stream's first line.
KEY_ID_FIELD: Final = "mac_key_id"


def new_stream_id() -> str:
    """A random stream id: 16 hex characters."""
    return os.urandom(8).hex()


def derive_chain_key(deployment_key: bytes | None) -> bytes | None:
    """The chain's own key, derived from the deployment key (None stays None)."""
    if deployment_key is None:
        return None
    return hmac.new(deployment_key, b"asgi_audit chain", hashlib.sha256).digest()


def key_id(chain_key: bytes | None) -> str | None:
    """The chain key's public name (16 hex digits), or None without a key."""
    if not chain_key:
        return None
    return hmac.digest(chain_key, b"asgi_audit key id", "sha256")[:8].hex()


def algorithm(key: bytes | None) -> str:
    """``hmac-sha256`` with a key, ``sha256`` without."""
    return HMAC if key else SHA


def leaf_mac(key: bytes | None, previous: bytes, leaf: bytes) -> bytes:
    """The 32-byte MAC of a line whose Merkle leaf hash is ``leaf``, chained to
    ``previous``: ``HMAC-SHA256(key, previous || leaf)``, or ``SHA-256(previous ||
    leaf)`` without a key."""
    if key:
        return hmac.digest(key, previous + leaf, "sha256")
    return hashlib.sha256(previous + leaf).digest()


def compute_mac(key: bytes | None, previous: bytes, body: bytes) -> bytes:
    """The 32-byte MAC of ``body`` chained to ``previous``: :func:`leaf_mac` of its
    Merkle leaf hash."""
    return leaf_mac(key, previous, leaf_hash(body))


def chain_root(key: bytes | None, stream_id: str) -> bytes:
    """The MAC a stream's first line chains from."""
    return compute_mac(key, b"", b"asgi_audit stream " + stream_id.encode("ascii"))


def split_mac(line: bytes) -> tuple[bytes, str, bytes] | None:
    """``(body, algorithm, mac)`` of a written line (without its newline), or None.

    ``body`` is exactly what the MAC covers: the line up to ``,"mac":"`` with the
    closing ``}`` put back (``}}`` for a line whose seal is in its last object).
    """
    at = line.rfind(MAC_MARKER)
    if at < 0:
        return None
    if line.endswith(b'"}}'):
        closing = 2
    elif line.endswith(b'"}'):
        closing = 1
    else:
        return None
    value = line[at + len(MAC_MARKER) : -(closing + 1)]
    # The label may hold a colon itself (``fs-hmac-sha256:<epoch>``): the MAC is after the last.
    algo, sep, hexmac = value.rpartition(b":")
    # Exactly 64 lower-case hex digits: any other spelling is a changed line.
    if not sep or len(hexmac) != 64 or hexmac != hexmac.lower():
        return None
    try:
        mac = bytes.fromhex(hexmac.decode("ascii"))
    except ValueError:
        return None
    return line[:at] + b"}" * closing, algo.decode("ascii", "replace"), mac


def seal_fields(event: object, line: bytes) -> dict[str, Any] | None:
    """The object of a parsed sealed line that holds its ``stream``, ``seq`` (and
    first line's fields): the event itself, or its last top-level object for a
    ``line`` (as written, without its newline) that ends ``"}}`` (see the module
    doc); None when there is no such object."""
    if not isinstance(event, dict):
        return None
    if not line.endswith(b'"}}'):
        return event
    if not event:
        return None
    last = event[next(reversed(event))]
    return last if isinstance(last, dict) else None


def hmac_pads(key: bytes) -> tuple[_Hash, _Hash]:
    """HMAC-SHA256's inner and outer hash states after the padded key (RFC 2104)."""
    if len(key) > 64:
        key = _sha256(key).digest()
    block = key.ljust(64, b"\0")
    inner = _sha256(bytes(b ^ 0x36 for b in block))
    outer = _sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


@dataclass(slots=True)
class Sealed:
    """Where a stream stands: its id, last ``seq`` and last MAC."""

    stream: str
    seq: int
    mac: bytes
    #: The MAC label of the last line (``hmac-sha256``, ``fs-hmac-sha256:<epoch>``, ...).
    label: str = ""
    #: The Merkle root (RFC 9162) over the stream's lines 1..seq.
    root: bytes = b""


class Chain:
    """One stream's chain: numbers its lines, seals each with its MAC, and keeps
    the Merkle tree of the lines (see :mod:`asgi_audit.proof.merkle`).

    Not thread-safe: the writer's one thread owns it.

    Args:
        key: the MAC key (None: SHA-256).
        stream_id: the stream's id (a random one by default).
        prev: where the previous stream of this file ended (named by the first line).
        label: the MAC label (default: :func:`algorithm` of ``key``); a
            forward-secure chain's label names the epoch of its key.
    """

    __slots__ = ("_core", "_key_id", "_label", "_pads", "_prefix", "last", "prev", "tree")

    def __init__(
        self,
        key: bytes | None,
        stream_id: str | None = None,
        prev: Sealed | None = None,
        label: str | None = None,
    ) -> None:
        self._key_id = key_id(key) if label is None else None
        stream = stream_id or new_stream_id()
        self.last = Sealed(stream, 0, chain_root(key if label is None else None, stream))
        self.rekey(key, label or algorithm(key))
        #: Where the previous stream of this file ended, named by the first line.
        self.prev = prev
        self.tree = Frontier()

    def rekey(self, key: bytes | None, label: str) -> None:
        """Seal the next lines with ``key`` under ``label`` (a new epoch's)."""
        # HMAC's two padded-key states (RFC 2104), hashed once per key rather than
        # once per line: each line then copies them, which costs a third of
        # hmac.digest on a 64-byte message.
        self._pads = hmac_pads(key) if key else None
        self._label = label
        self._prefix = MAC_MARKER + label.encode("ascii") + b":"
        self.last.label = label
        # The compiled core's sealing, when it is installed and wanted.
        self._core: SealCore | None = seal_core(key, self._prefix)

    @property
    def stream(self) -> str:
        return self.last.stream

    def stamp(self, event: dict[str, Any], seq: int | None = None) -> None:
        """Add ``stream``, ``seq`` (and on the first line ``prev_*`` and
        ``mac_key_id``) to an event dict; ``seq`` is the next line's unless given
        (a batch stamps lines before sealing them)."""
        if seq is None:
            seq = self.last.seq + 1
        if seq == 1:
            if self.prev is not None:
                event["prev_stream"] = self.prev.stream
                event["prev_seq"] = self.prev.seq
                event["prev_mac"] = f"{self.prev.label or self._label}:{self.prev.mac.hex()}"
            if self._key_id is not None:
                event[KEY_ID_FIELD] = self._key_id
        event["stream"] = self.last.stream
        event["seq"] = seq

    def seal(self, encoded: bytes) -> bytes:
        """Append the MAC to an encoded line stamped with the next ``seq``.

        Args:
            encoded: one JSON object and its newline, as :func:`encode_line` gives.
        """
        core = self._core
        closing = 2 if encoded.endswith(b"}}\n") else 1
        if core is not None and closing == 1:
            # The same steps in the core, on the frontier's own state.
            tree, last = self.tree, self.last
            sealed, last.mac = core.seal(last.mac, tree._size, tree._hashes, encoded)
            tree._size += 1
            last.seq += 1
            return sealed
        body = encoded[:-1]
        last = self.last
        # One hash of the line: its Merkle leaf, which the MAC then covers.
        leaf = self.tree.append_data(body)
        # leaf_mac, inlined: the padded-key states copied rather than derived again.
        pads = self._pads
        if pads is not None:
            inner = pads[0].copy()
            inner.update(last.mac + leaf)
            outer = pads[1].copy()
            outer.update(inner.digest())
            mac = outer.digest()
        else:
            mac = _sha256(last.mac + leaf).digest()
        # Updated in place: the writer copies ``last`` where it keeps one.
        last.seq += 1
        last.mac = mac
        if closing == 1:
            return b"".join((body[:-1], self._prefix, _hexlify(mac), b'"}\n'))
        # The seal in the line's last object: the MAC field goes last inside it.
        return b"".join((body[:-2], self._prefix, _hexlify(mac), b'"}}\n'))

    def seal_many(self, lines: list[bytes]) -> list[bytes]:
        """:meth:`seal` of each of ``lines`` in order: the same lines, and the chain
        where those calls would leave it.

        The compiled core hashes the whole list without the GIL.
        """
        core = self._core
        if core is None or any(line.endswith(b"}}\n") for line in lines):
            return [self.seal(line) for line in lines]
        tree, last = self.tree, self.last
        sealed, last.mac = core.seal_many(last.mac, tree._size, tree._hashes, lines)
        tree._size += len(lines)
        last.seq += len(lines)
        return sealed

    def core_state(self) -> tuple[SealCore, bytes, int, list[bytes]] | None:
        """What the compiled core needs to seal this chain's next lines within a
        batch of its own (``Pipeline.encode_grouped``): the sealer, the last MAC,
        and the frontier's size and hashes (the core updates the hashes in place;
        :meth:`advanced` then does the rest). None when the reference seals."""
        core = self._core
        if core is None:
            return None
        return core, self.last.mac, self.tree._size, self.tree._hashes

    def advanced(self, count: int, mac: bytes) -> None:
        """The chain after the core sealed ``count`` more lines from
        :meth:`core_state`, the last with ``mac``: where :meth:`seal_many` of the
        same lines would leave it."""
        if count:
            self.tree._size += count
            self.last.seq += count
            self.last.mac = mac

    def end(self) -> Sealed:
        """A copy of where the stream stands, with its Merkle root."""
        last = self.last
        return Sealed(last.stream, last.seq, last.mac, last.label, self.tree.root())
