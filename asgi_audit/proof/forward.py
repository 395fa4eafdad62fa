"""Forward-secure sealing keys: the verifier's key and the host's sealing state.

PURE: no event loop, no file. The key schedule and the epochs are in
:mod:`asgi_audit.proof.schedule` and re-exported here. The host holds the seed
``S_i`` of its current epoch only (:class:`SealingState`, the ``sealing.key`` file
that :mod:`asgi_audit.proof.keyfiles` reads and writes); moving to a later epoch
overwrites it, so someone who takes the host later cannot forge what was sealed
before (Schneier-Kelsey, journald's Forward Secure Sealing). The verifier keeps
``S_0`` off the host (the secret :class:`VerificationKey`) and derives every epoch's
keys from it; the public form holds ``pk_0`` only, checks signatures, and learns later
public keys from the certified ``key`` records of the ledger. The JSON forms and
their strict parsing are in :mod:`asgi_audit.proof.keyformat`.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
from dataclasses import dataclass, field
from typing import Any, Final

from .keyformat import (
    PUBLIC_FORMAT,
    SEALING_FORMAT,
    SECRET_FORMAT,
    KeyFormatError,
    dump,
    hex_field,
    int_field,
    parse,
    str_field,
)
from .schedule import (
    EVOLVE_LABEL,
    HEX_DIGITS,
    LINE_LABEL,
    MAX_EPOCH,
    MAX_EPOCH_SECONDS,
    MIN_EPOCH_SECONDS,
    SEED_BYTES,
    SIGN_LABEL,
    Deployment,
    check_epoch,
    check_seed,
    evolve,
    hmac_label,
    line_key,
    public_key,
    seed_at,
    sign,
    signing_key,
    verify_signature,
)

__all__ = (
    "EVOLVE_LABEL",
    "LINE_LABEL",
    "MAX_EPOCH",
    "MAX_EPOCH_SECONDS",
    "MIN_EPOCH_SECONDS",
    "SEED_BYTES",
    "SIGN_LABEL",
    "Deployment",
    "KeyFormatError",
    "NoSeedError",
    "SealingState",
    "VerificationKey",
    "evolve",
    "line_key",
    "public_key",
    "seed_at",
    "sign",
    "signing_key",
    "verify_signature",
)

#: The fields of each key file besides ``format``, in the order written.
_DEPLOYMENT_FIELDS: Final = ("deployment", "origin", "epoch_seconds")
_FORMS: Final = {
    SECRET_FORMAT: (*_DEPLOYMENT_FIELDS, "public_key", "seed"),
    PUBLIC_FORMAT: (*_DEPLOYMENT_FIELDS, "public_key"),
}
_SEALING_FIELDS: Final = (
    *_DEPLOYMENT_FIELDS,
    "epoch",
    "seed",
    "pseudonym_key",
    "log_dir",
    "genesis",
)
#: :class:`VerificationKey` keeps the seed of every epoch that is a multiple of this.
_CACHE_STEP: Final = 1024


# ---------------------------------------------------------------------------- verification


class NoSeedError(ValueError):
    """A public verification key was asked for what only the secret one can derive."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What checks a deployment's seals: ``pk_0`` and, in the secret form, ``S_0``.

    The secret form (``seed`` is ``S_0``) derives every epoch's line key and public key;
    it belongs off the host. The public form (``seed`` None) checks signatures with
    ``pk_0`` and learns later public keys from the ledger's certified ``key`` records.
    ``key_id`` names the key publicly: the first 16 hex digits of
    ``SHA-256(pk_0 || deployment)``.

    Raises:
        ValueError: a length is wrong, or ``public_key`` is not the seed's ``pk_0``.
    """

    deployment: Deployment
    public_key: bytes
    seed: bytes | None = field(default=None, repr=False)
    #: Seeds derived so far, by epoch: every 1024th and the last one asked for.
    _cache: dict[int, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.deployment, Deployment):
            raise ValueError("deployment must be a Deployment")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise ValueError("public_key must be 32 bytes")
        if self.seed is not None:
            if not isinstance(self.seed, bytes):
                raise ValueError(f"seed must be {SEED_BYTES} bytes")
            if public_key(self.seed) != self.public_key:
                raise ValueError("public_key is not the public key of the seed")
            self._cache[0] = self.seed

    @classmethod
    def from_seed(cls, deployment: Deployment, seed: bytes) -> VerificationKey:
        """The secret verification key of ``S_0``."""
        check_seed(seed)
        return cls(deployment, public_key(seed), bytes(seed))

    @property
    def is_secret(self) -> bool:
        return self.seed is not None

    @property
    def key_id(self) -> str:
        """16 hex digits naming this key, the same for its secret and public forms."""
        digest = hashlib.sha256(self.public_key + self.deployment.deployment.encode("ascii"))
        return digest.hexdigest()[:16]

    def public(self) -> VerificationKey:
        """The public form: the same deployment and ``pk_0``, no seed."""
        return VerificationKey(self.deployment, self.public_key)

    def seed_at(self, epoch: int) -> bytes:
        """``S_epoch``, derived from ``S_0`` (the secret form only).

        Raises:
            NoSeedError: this is the public form.
        """
        check_epoch(epoch)
        if self.seed is None:
            raise NoSeedError(
                f"the public verification key {self.key_id} holds no seed: it cannot derive "
                "the keys of an epoch (the ledger's key records certify the public keys)"
            )
        known = list(self._cache)
        start = max(e for e in known if e <= epoch)
        seed = self._cache[start]
        for e in range(start + 1, epoch + 1):
            seed = hmac_label(seed, EVOLVE_LABEL)
            if e % _CACHE_STEP == 0:
                self._cache[e] = seed
        for e in known:
            if e % _CACHE_STEP:
                self._cache.pop(e, None)
        self._cache[epoch] = seed
        return seed

    def line_key_at(self, epoch: int) -> bytes:
        """``K_epoch``, the line MAC key of ``epoch`` (the secret form only)."""
        return line_key(self.seed_at(epoch))

    def public_key_at(self, epoch: int) -> bytes:
        """``pk_epoch`` (the secret form only; the public form knows ``pk_0``)."""
        if check_epoch(epoch) == 0:
            return self.public_key
        return public_key(self.seed_at(epoch))

    def to_json(self) -> bytes:
        """The key file: ``asgi-audit-verification-key/1`` (secret) or ``.../public/1``."""
        data: dict[str, Any] = {
            "format": SECRET_FORMAT if self.seed is not None else PUBLIC_FORMAT,
            **self.deployment.fields(),
            "public_key": self.public_key.hex(),
        }
        if self.seed is not None:
            data["seed"] = self.seed.hex()
        return dump(data)

    @classmethod
    def from_json(cls, text: bytes | str) -> VerificationKey:
        """A verification key file, secret or public, parsed strictly.

        Raises:
            KeyFormatError: anything but a well-formed key file; the message names the
                field and never holds a secret value.
        """
        data, form = parse(text, _FORMS, "verification key")
        deployment = Deployment.from_fields(data)
        public = hex_field(data, "public_key", 32)
        seed = hex_field(data, "seed", SEED_BYTES) if form == SECRET_FORMAT else None
        if seed is not None and public_key(seed) != public:
            raise KeyFormatError("public_key is not the public key of the seed")
        return cls(deployment, public, seed)


# ---------------------------------------------------------------------------- host state


class SealingState:
    """What the host holds to seal: the seed of its current epoch, and what never evolves.

    ``pseudonym_key`` (32 bytes) keys the hashes of session ids; ``log_dir`` is the
    absolute path of the log directory the key is bound to; ``genesis`` the hex SHA-256
    of the ledger's first record once it is written (None before).

    The seed is held in one ``bytearray`` that :meth:`advance_to` overwrites in place.
    That erasure is best effort: Python may hold other copies for a while (the
    intermediate ``bytes`` of each HMAC, what was read from the file), and the real
    concern is the file on disk, which :mod:`asgi_audit.proof.keyfiles` replaces.
    """

    __slots__ = ("_epoch", "_seed", "deployment", "genesis", "log_dir", "pseudonym_key")

    def __init__(
        self,
        deployment: Deployment,
        epoch: int,
        seed: bytes | bytearray,
        pseudonym_key: bytes,
        log_dir: str,
        genesis: str | None = None,
    ) -> None:
        if not isinstance(deployment, Deployment):
            raise ValueError("deployment must be a Deployment")
        check_seed(seed)
        if not isinstance(pseudonym_key, bytes) or len(pseudonym_key) != 32:
            raise ValueError("pseudonym_key must be 32 bytes")
        if not isinstance(log_dir, str) or not posixpath.isabs(log_dir) or "\0" in log_dir:
            raise ValueError("log_dir must be an absolute path")
        if genesis is not None and (
            not isinstance(genesis, str) or len(genesis) != 64 or not set(genesis) <= HEX_DIGITS
        ):
            raise ValueError("genesis must be 64 lowercase hex digits or None")
        self.deployment = deployment
        self._epoch = check_epoch(epoch)
        self._seed = bytearray(seed)
        self.pseudonym_key = pseudonym_key
        self.log_dir = log_dir
        self.genesis = genesis

    def __repr__(self) -> str:
        return (
            f"SealingState(deployment={self.deployment.deployment!r}, epoch={self._epoch}, "
            f"log_dir={self.log_dir!r})"
        )

    @property
    def epoch(self) -> int:
        return self._epoch

    def advance_to(self, epoch: int) -> None:
        """Evolve the seed to ``epoch``, overwriting the old one in place.

        Raises:
            ValueError: ``epoch`` is before the current one (the old seed is gone).
        """
        check_epoch(epoch)
        if epoch < self._epoch:
            raise ValueError(
                f"the sealing key is at epoch {self._epoch}: it cannot go back to {epoch}"
            )
        for _ in range(epoch - self._epoch):
            self._seed[:] = hmac_label(self._seed, EVOLVE_LABEL)
        self._epoch = epoch

    def erase(self) -> None:
        """Overwrite the seed with zeros (best effort, as :meth:`advance_to`); unusable after."""
        self._seed[:] = bytes(SEED_BYTES)

    def line_key(self) -> bytes:
        """``K_epoch`` of the current epoch."""
        return line_key(self._seed)

    def sign(self, message: bytes) -> bytes:
        """``message`` signed with ``sk_epoch`` of the current epoch."""
        return sign(self._seed, message)

    def public_key(self) -> bytes:
        """``pk_epoch`` of the current epoch."""
        return public_key(self._seed)

    def public_key_at(self, epoch: int) -> bytes:
        """``pk_epoch`` of the current or a later epoch, without moving to it: what a
        ``key`` record certifies before the current seed is erased.

        Raises:
            ValueError: ``epoch`` is before the current one (its seed is gone).
        """
        if check_epoch(epoch) < self._epoch:
            raise ValueError(
                f"the sealing key is at epoch {self._epoch}: epoch {epoch}'s key is gone"
            )
        return public_key(seed_at(self._seed, self._epoch, epoch))

    def agrees_with(self, other: SealingState) -> bool:
        """Whether ``other`` is this state at another epoch: the same deployment,
        pseudonym key and log directory, and the seed of the earlier evolves into the
        seed of the later one."""
        if (self.deployment, self.pseudonym_key, self.log_dir) != (
            other.deployment,
            other.pseudonym_key,
            other.log_dir,
        ):
            return False
        earlier, later = sorted((self, other), key=lambda s: s.epoch)
        moved = earlier.copy()
        try:
            moved.advance_to(later.epoch)
            return hmac.compare_digest(moved._seed, later._seed)
        finally:
            moved.erase()

    def copy(self) -> SealingState:
        """Another state at the same epoch, with its own seed buffer."""
        return SealingState(
            self.deployment, self._epoch, self._seed, self.pseudonym_key, self.log_dir, self.genesis
        )

    def to_json(self) -> bytes:
        """The ``sealing.key`` file (``asgi-audit-sealing-key/1``)."""
        return dump(
            {
                "format": SEALING_FORMAT,
                **self.deployment.fields(),
                "epoch": self._epoch,
                "seed": self._seed.hex(),
                "pseudonym_key": self.pseudonym_key.hex(),
                "log_dir": self.log_dir,
                "genesis": self.genesis,
            }
        )

    @classmethod
    def from_json(cls, text: bytes | str) -> SealingState:
        """A ``sealing.key`` file, parsed strictly.

        Raises:
            KeyFormatError: anything but a well-formed sealing key file; the message
                names the field and never holds a secret value.
        """
        data, _ = parse(text, {SEALING_FORMAT: _SEALING_FIELDS}, "sealing key")
        deployment = Deployment.from_fields(data)
        epoch = int_field(data, "epoch")
        seed = hex_field(data, "seed", SEED_BYTES)
        pseudonym = hex_field(data, "pseudonym_key", 32)
        log_dir = str_field(data, "log_dir")
        genesis = None if data["genesis"] is None else hex_field(data, "genesis", 32).hex()
        try:
            return cls(deployment, epoch, seed, pseudonym, log_dir, genesis)
        except ValueError as exc:
            raise KeyFormatError(str(exc)) from None
