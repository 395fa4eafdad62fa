"""The three ways a log is sealed, for the writer that seals and the verifier that checks.

PURE: no event loop, no file.

``forward-secure`` (the default)
    Event lines are MACed with the line key of the current epoch
    (``"mac":"fs-hmac-sha256:<epoch>:<hex>"``) and ledger records are signed
    with the epoch's Ed25519 key (``"sig":"ed25519:<hex>"``). Both keys come from
    a seed that moves forward every epoch and is erased behind it (see
    :mod:`asgi_audit.proof.forward`): whoever takes the host later cannot seal
    anything in an epoch that ended before. The verification key is the seed of
    epoch 0 (secret: it checks every line) or the public key of epoch 0 (checks
    the ledger, its Merkle roots and proofs, not single lines); the keys of later
    epochs are certified in the ledger by the key of the epoch before.
``static``
    One deployment key (``ASGI_AUDIT_KEY``) for everything: ``hmac-sha256``
    lines and records. Tamper-evident against whoever does not hold the key, but
    whoever takes the host holds it, with the power to re-seal all history.
``unkeyed``
    Only by explicit opt-out: ``sha256`` lines and records, which anyone can
    recompute. They show accidents, not tampering; verify says so and fails
    unless told to accept it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Final

from . import forward
from .integrity import HMAC, SHA

__all__ = (
    "ED25519",
    "FORWARD",
    "FS_LABEL",
    "LEDGER_CONTEXT",
    "STATIC",
    "UNKEYED",
    "ForwardRecords",
    "ForwardSealer",
    "Sealer",
    "StaticRecords",
    "StaticSealer",
    "line_epoch",
    "static_ledger_key",
)

FORWARD: Final = "forward-secure"
STATIC: Final = "static"
UNKEYED: Final = "unkeyed"
#: The MAC label of a forward-secure line, followed by ``:<epoch>``.
FS_LABEL: Final = "fs-hmac-sha256"
ED25519: Final = "ed25519"
#: What a record's Ed25519 signature covers before the record's bytes.
LEDGER_CONTEXT: Final = b"asgi_audit ledger\n"


def static_ledger_key(chain_key: bytes) -> bytes:
    """The key of the ledger's HMACs under a static deployment key."""
    return hmac.digest(chain_key, b"asgi_audit ledger", "sha256")


def line_epoch(label: str) -> int | None:
    """The epoch of a forward-secure MAC label (``fs-hmac-sha256:12``), else None."""
    name, sep, epoch = label.partition(":")
    if name != FS_LABEL or not sep or not epoch.isascii() or not epoch.isdigit():
        return None
    if len(epoch) > 12 or (epoch != "0" and epoch.startswith("0")):
        return None
    return int(epoch)


# ------------------------------------------------------------------ sealing


class Sealer:
    """What the writer seals with: a line key and label, and a record signature.

    The base class is the static and unkeyed schemes; :class:`ForwardSealer`
    moves with the epochs.
    """

    scheme: str = UNKEYED
    deployment: str

    def epoch(self) -> int | None:
        """The epoch sealed in now (None: no epochs)."""
        return None

    def line_key(self) -> bytes | None:
        """The key of the MAC chain now (None: SHA-256)."""
        return None

    def line_label(self) -> str:
        """The label of the MAC field now."""
        return SHA

    def sign(self, body: bytes) -> str:
        """A record's ``sig`` value (``label:hex``) over its body."""
        return f"{SHA}:{hashlib.sha256(body).hexdigest()}"

    def lost_genesis(self) -> str | None:
        """The hash of a genesis this key wrote before ("" if unknown), or None
        when the key has not started a ledger (an empty ledger gets a genesis)."""
        return None

    def genesis_written(self, line_hash: str) -> None:
        """The key started a ledger: remember it, so a ledger found gone is named."""


class StaticSealer(Sealer):
    """One key for all time (``hmac-sha256``), or none (``sha256``)."""

    def __init__(self, chain_key: bytes | None, deployment: str) -> None:
        self._key = chain_key
        self._ledger_key = static_ledger_key(chain_key) if chain_key else None
        self.scheme = STATIC if chain_key else UNKEYED
        self.deployment = deployment

    def line_key(self) -> bytes | None:
        return self._key

    def line_label(self) -> str:
        return HMAC if self._key else SHA

    def sign(self, body: bytes) -> str:
        if self._ledger_key is None:
            return super().sign(body)
        return f"{HMAC}:{hmac.digest(self._ledger_key, body, 'sha256').hex()}"


class ForwardSealer(Sealer):
    """The forward-secure scheme on the host: the state of the current epoch."""

    scheme = FORWARD

    def __init__(self, state: forward.SealingState) -> None:
        self.state = state
        self.deployment = state.deployment.deployment
        self._epoch = -1
        self._key = b""
        self._label = ""

    def _refresh(self) -> None:
        if self._epoch != self.state.epoch:
            self._epoch = self.state.epoch
            self._key = self.state.line_key()
            self._label = f"{FS_LABEL}:{self._epoch}"

    def epoch(self) -> int | None:
        return self.state.epoch

    def line_key(self) -> bytes | None:
        self._refresh()
        return self._key

    def line_label(self) -> str:
        self._refresh()
        return self._label

    def sign(self, body: bytes) -> str:
        return f"{ED25519}:{self.state.sign(LEDGER_CONTEXT + body).hex()}"

    def lost_genesis(self) -> str | None:
        state = self.state
        if state.genesis is not None:
            return state.genesis
        # A key that moved past epoch 0 has sealed before: its ledger is gone.
        return "" if state.epoch > 0 else None

    def genesis_written(self, line_hash: str) -> None:
        self.state.genesis = line_hash


# ------------------------------------------------------------------ checking


class UnkeyedRecords:
    """Checks ``sha256`` records: accidents, not tampering."""

    scheme = UNKEYED

    def check(self, record: dict[str, Any], body: bytes, label: str, value: str) -> str:
        ok = label == SHA and hmac.compare_digest(hashlib.sha256(body).hexdigest(), value)
        return "ok" if ok else "bad"

    def learn(self, record: dict[str, Any]) -> str | None:
        return None


class StaticRecords(UnkeyedRecords):
    """Checks ``hmac-sha256`` records with the static deployment key."""

    scheme = STATIC

    def __init__(self, chain_key: bytes) -> None:
        self._key = static_ledger_key(chain_key)

    def check(self, record: dict[str, Any], body: bytes, label: str, value: str) -> str:
        mac = hmac.digest(self._key, body, "sha256").hex()
        return "ok" if label == HMAC and hmac.compare_digest(mac, value) else "bad"


class ForwardRecords:
    """Checks Ed25519 records with the key of their epoch.

    The key of epoch 0 is the verification key's; a later epoch's is the one a
    verified record earlier in the ledger (the genesis, or a ``key`` record)
    certified. That holds with the secret verification key too, which derives
    every epoch's key: a certificate must name exactly that key, and a record
    signed in an epoch no earlier record certified is refused however its
    signature verifies (whoever holds a later epoch's seed, the host taken over,
    could otherwise re-sign the ledger's past as that epoch). Only a ``reset``
    (the first record of a ledger started again) is checked with the key derived
    for its epoch.

    Args:
        key: the verification key, secret or public.
        latest: the last epoch that can have been sealed in yet (the verifier's
            clock, with some slack): nothing is derived past it, so a crafted
            epoch number costs no work, and nothing claiming a later one holds.
    """

    scheme = FORWARD

    def __init__(self, key: forward.VerificationKey, latest: int = forward.MAX_EPOCH) -> None:
        self._key = key
        self.latest = min(latest, forward.MAX_EPOCH)
        self.certified: dict[int, bytes] = {0: key.public_key}
        # Seeds already derived, by epoch: every 64th is kept, so any epoch is at
        # most 63 steps from one (a year of 15-minute epochs is 35,040 steps).
        self._seeds: dict[int, bytes] = {} if key.seed is None else {0: key.seed}
        self._line_keys: dict[int, bytes] = {}
        self._public: dict[int, bytes] = {}

    @property
    def is_secret(self) -> bool:
        """Whether the key derives line keys (the secret verification key)."""
        return self._key.seed is not None

    def _seed(self, epoch: int) -> bytes | None:
        if not self._seeds or not 0 <= epoch <= self.latest:
            return None
        base = max(e for e in self._seeds if e <= epoch) if epoch not in self._seeds else epoch
        seed = self._seeds[base]
        while base < epoch:
            seed = forward.evolve(seed)
            base += 1
            if not base % 64:
                self._seeds[base] = seed
        return seed

    def derived(self, epoch: int) -> bytes | None:
        """The public key of ``epoch`` from the secret seed (None with the public key,
        or past :attr:`latest`)."""
        public = self._public.get(epoch)
        if public is None:
            seed = self._seed(epoch)
            if seed is None:
                return None
            public = self._public[epoch] = forward.public_key(seed)
        return public

    def line_key(self, epoch: int) -> bytes | None:
        """The line key of ``epoch`` (None with the public verification key, or past
        :attr:`latest`)."""
        key = self._line_keys.get(epoch)
        if key is None:
            seed = self._seed(epoch)
            if seed is None:
                return None
            key = self._line_keys[epoch] = forward.line_key(seed)
        return key

    def check(
        self, record: dict[str, Any], body: bytes, label: str, value: str, *, alone: bool = False
    ) -> str:
        """``ok``, ``bad``, or ``uncertified``; ``alone``: a record checked apart from
        the ledger (an anchor), with the key the secret verification key derives."""
        epoch = record.get("epoch")
        if label != ED25519 or not isinstance(epoch, int) or isinstance(epoch, bool):
            return "bad"
        if record.get("type") == "genesis" and epoch != 0:
            return "bad"  # the genesis is sealed with the key of epoch 0, and only that one
        public = self.certified.get(epoch)
        reset = public is None and record.get("type") == "reset" and record.get("n") == 0
        if reset or (alone and public is None):
            public = self.derived(epoch)
        if public is None:
            return "uncertified"
        try:
            signature = bytes.fromhex(value)
        except ValueError:
            return "bad"
        if not forward.verify_signature(public, LEDGER_CONTEXT + body, signature):
            return "bad"
        if reset and not alone:
            self.certified[epoch] = public
        return "ok"

    def learn(self, record: dict[str, Any]) -> str | None:
        nxt, public_hex = record.get("next_epoch"), record.get("next_public_key")
        if nxt is None and public_hex is None:
            return None
        epoch = record.get("epoch")
        if (
            not isinstance(nxt, int)
            or not isinstance(public_hex, str)
            or not isinstance(epoch, int)
        ):
            return "a key certificate without its epoch or key"
        if nxt <= epoch:
            return f"certifies the key of epoch {nxt} from epoch {epoch}: keys only move forward"
        if nxt > self.latest:
            return (
                f"certifies the key of epoch {nxt}, which has not begun by the verifier's "
                f"clock (epoch {self.latest} at the latest)"
            )
        public = bytes.fromhex(public_hex)
        derived = self.derived(nxt)
        if derived is not None and derived != public:
            return f"certifies a key for epoch {nxt} that the verification key does not derive"
        known = self.certified.get(nxt)
        if known is not None and known != public:
            return f"certifies a second, different key for epoch {nxt}"
        self.certified[nxt] = public
        return None
