"""The key schedule of forward-secure sealing, and a deployment's epochs.

PURE: no event loop, no file. Time is cut into epochs of ``epoch_seconds`` from the
deployment's ``origin``: ``epoch(t) = floor((t - origin) / epoch_seconds)``, never
below 0. The keys of epoch ``i`` all come from its seed ``S_i`` (HMAC-SHA256, labels
in ASCII)::

    S_{i+1} = HMAC(S_i, "asgi_audit evolve")      one way: S_i cannot be had from S_{i+1}
    K_i     = HMAC(S_i, "asgi_audit line")        the line MAC key of epoch i
    sk_i    = Ed25519 key whose private seed is HMAC(S_i, "asgi_audit sign")
    pk_i    = sk_i's raw 32-byte public key

:mod:`asgi_audit.proof.forward` builds the key forms on these functions and
re-exports them.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keyformat import KeyFormatError, int_field, str_field

__all__ = (
    "EVOLVE_LABEL",
    "HEX_DIGITS",
    "LINE_LABEL",
    "MAX_EPOCH",
    "MAX_EPOCH_SECONDS",
    "MIN_EPOCH_SECONDS",
    "SEED_BYTES",
    "SIGN_LABEL",
    "Deployment",
    "check_epoch",
    "check_seed",
    "evolve",
    "hmac_label",
    "line_key",
    "public_key",
    "seed_at",
    "sign",
    "signing_key",
    "verify_signature",
)

SEED_BYTES: Final = 32
EVOLVE_LABEL: Final = b"asgi_audit evolve"
LINE_LABEL: Final = b"asgi_audit line"
SIGN_LABEL: Final = b"asgi_audit sign"
MIN_EPOCH_SECONDS: Final = 60
MAX_EPOCH_SECONDS: Final = 86400 * 7
#: The last epoch any function here accepts: 2**26, 127 years of one-minute epochs.
#: A bound on the work a crafted epoch number can ask for.
MAX_EPOCH: Final = 2**26
#: The last ``origin`` accepted: 2**33 seconds, in the year 2242.
_MAX_ORIGIN: Final = 2**33
HEX_DIGITS: Final = frozenset("0123456789abcdef")
_Bytes = bytes | bytearray | memoryview


def hmac_label(key: bytes | bytearray, label: bytes) -> bytes:
    """``HMAC-SHA256(key, label)``."""
    return hmac.digest(key, label, "sha256")


def check_seed(seed: bytes | bytearray, what: str = "seed") -> None:
    """Raise ValueError unless ``seed`` is 32 bytes."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise ValueError(f"{what} must be {SEED_BYTES} bytes")


def check_epoch(epoch: int, what: str = "epoch") -> int:
    """``epoch``, once it is a whole number from 0 to :data:`MAX_EPOCH` (else ValueError)."""
    if type(epoch) is not int or not 0 <= epoch <= MAX_EPOCH:
        raise ValueError(f"{what} must be a whole number from 0 to {MAX_EPOCH}, got {epoch!r}")
    return epoch


# ---------------------------------------------------------------------------- schedule


def evolve(seed: bytes | bytearray) -> bytes:
    """``S_{i+1}`` from ``S_i``: ``HMAC-SHA256(S_i, "asgi_audit evolve")``."""
    check_seed(seed)
    return hmac_label(seed, EVOLVE_LABEL)


def seed_at(seed: bytes | bytearray, from_epoch: int, to_epoch: int) -> bytes:
    """The seed of ``to_epoch`` from the seed of ``from_epoch`` (``evolve`` repeated).

    Raises:
        ValueError: ``to_epoch`` is before ``from_epoch`` (a seed cannot go back), an
            epoch is not a whole number from 0 to :data:`MAX_EPOCH`, or the seed is not
            32 bytes.
    """
    check_seed(seed)
    check_epoch(from_epoch, "from_epoch")
    check_epoch(to_epoch, "to_epoch")
    if to_epoch < from_epoch:
        raise ValueError(f"a seed only moves forward: epoch {to_epoch} is before {from_epoch}")
    current = bytes(seed)
    for _ in range(to_epoch - from_epoch):
        current = hmac_label(current, EVOLVE_LABEL)
    return current


def line_key(seed: bytes | bytearray) -> bytes:
    """``K_i``, the line MAC key of the seed's epoch: ``HMAC(S_i, "asgi_audit line")``."""
    check_seed(seed)
    return hmac_label(seed, LINE_LABEL)


def signing_key(seed: bytes | bytearray) -> Ed25519PrivateKey:
    """``sk_i``: the Ed25519 key whose private seed is ``HMAC(S_i, "asgi_audit sign")``."""
    check_seed(seed)
    return Ed25519PrivateKey.from_private_bytes(hmac_label(seed, SIGN_LABEL))


def public_key(seed: bytes | bytearray) -> bytes:
    """``pk_i``: the raw 32-byte public key of the seed's epoch."""
    return signing_key(seed).public_key().public_bytes_raw()


def sign(seed: bytes | bytearray, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` with the seed's epoch key."""
    return signing_key(seed).sign(bytes(message))


def verify_signature(public: _Bytes, message: _Bytes, signature: _Bytes) -> bool:
    """Whether ``signature`` is ``public``'s Ed25519 signature of ``message``.

    Never raises: anything malformed (a wrong length, not bytes, not a curve point)
    is simply not a valid signature. This is OpenSSL's Ed25519, which takes a public key
    of small order as it comes (all zeros verifies a signature of zeros on any message):
    a public key must come from where it is trusted (the verification key, or a key
    record signed by the epoch before), never from an unsigned source.
    """
    buffers = (bytes, bytearray, memoryview)
    if not all(isinstance(x, buffers) for x in (public, message, signature)):
        return False
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes(public))
        key.verify(bytes(signature), bytes(message))
    except Exception:  # InvalidSignature, or whatever a malformed point raises
        return False
    return True


# ---------------------------------------------------------------------------- epochs


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment's id and its epochs: epoch ``i`` starts at
    ``origin + i * epoch_seconds`` (unix seconds).

    Raises:
        ValueError: ``deployment`` is not 16 lowercase hex digits, ``origin`` is not a
            whole number of seconds from 0 to 2**33, or ``epoch_seconds`` is not a whole
            number from 60 to 604800 (a week).
    """

    deployment: str
    origin: int
    epoch_seconds: int

    def __post_init__(self) -> None:
        d = self.deployment
        if not isinstance(d, str) or len(d) != 16 or not set(d) <= HEX_DIGITS:
            raise ValueError("deployment must be 16 lowercase hex digits")
        if type(self.origin) is not int or not 0 <= self.origin <= _MAX_ORIGIN:
            raise ValueError(f"origin must be whole unix seconds from 0 to {_MAX_ORIGIN}")
        s = self.epoch_seconds
        if type(s) is not int or not MIN_EPOCH_SECONDS <= s <= MAX_EPOCH_SECONDS:
            raise ValueError(
                f"epoch_seconds must be a whole number from {MIN_EPOCH_SECONDS} "
                f"to {MAX_EPOCH_SECONDS}, got {s!r}"
            )

    def epoch_at(self, unix_seconds: float) -> int:
        """The epoch that holds the moment: ``floor((t - origin) / epoch_seconds)``, at
        least 0 (a clock before the origin is in epoch 0).

        Raises:
            ValueError: the moment is not a finite number, or past :data:`MAX_EPOCH`.
        """
        if isinstance(unix_seconds, bool) or not isinstance(unix_seconds, (int, float)):
            raise ValueError(f"a moment must be a number of seconds, got {unix_seconds!r}")
        if not math.isfinite(unix_seconds):
            raise ValueError(f"a moment must be finite, got {unix_seconds!r}")
        epoch = max(0, int((unix_seconds - self.origin) // self.epoch_seconds))
        if epoch > MAX_EPOCH:
            raise ValueError(f"{unix_seconds!r} is past the last epoch ({MAX_EPOCH})")
        return epoch

    def epoch_start(self, epoch: int) -> float:
        """The unix time at which ``epoch`` starts."""
        return float(self.origin + check_epoch(epoch) * self.epoch_seconds)

    def fields(self) -> dict[str, Any]:
        """``deployment``, ``origin`` and ``epoch_seconds``, as in every key file."""
        return {
            "deployment": self.deployment,
            "origin": self.origin,
            "epoch_seconds": self.epoch_seconds,
        }

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Deployment:
        """The deployment of a parsed key file.

        Raises:
            KeyFormatError: a field is missing, of the wrong type or out of range.
        """
        deployment = str_field(data, "deployment")
        origin = int_field(data, "origin")
        epoch_seconds = int_field(data, "epoch_seconds")
        try:
            return cls(deployment, origin, epoch_seconds)
        except ValueError as exc:
            raise KeyFormatError(str(exc)) from None
