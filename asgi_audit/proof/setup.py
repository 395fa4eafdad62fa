"""Which key seals a directory, found (or made) when an Auditor starts.

IO, run in a thread at start. Three cases:

* a static deployment key was given (``Auditor(key=...)`` or
  ``$ASGI_AUDIT_KEY``): it seals everything (``static``);
* else the forward-secure sealing key of the directory, kept OUTSIDE it (see
  :mod:`asgi_audit.proof.keyfiles`). On the very first start, when there is no
  sealing key and the directory has no ledger, one is made and its verification
  keys are written beside it, with a loud report: move ``verification.key`` off
  the host. When the directory has a ledger but the sealing key is missing,
  the start fails: a new key would start a second history nobody could tell
  from a forged one;
* ``sealing="unkeyed"`` (an explicit opt-out): SHA-256, no key.

The sealing key also holds the key of the session-id hashes (it never evolves),
so they correlate across workers and restarts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..store.files import LogDirectory
from ..store.reporting import report
from . import keydir, keyfiles
from .checkpoints import first_record, read_last_record
from .forward import SealingState
from .integrity import CHECKPOINT_FILE, derive_chain_key, key_id
from .schemes import FORWARD, UNKEYED, ForwardSealer, Sealer, StaticSealer

__all__ = ("SealingKeyMissing", "SealingSetup", "prepare_sealing")


class SealingKeyMissing(RuntimeError):
    """The directory has a ledger, but the sealing key that wrote it is not found."""


@dataclass(slots=True)
class SealingSetup:
    """What the writer seals with, and the key of the session-id hashes."""

    sealer: Sealer
    session_key: bytes
    store_state: Callable[[], object] | None = None
    key_dir: Path | None = None


def prepare_sealing(
    directory: LogDirectory,
    *,
    key: bytes | None,
    key_dir: Path | None,
    sealing: str,
    integrity: bool = True,
) -> SealingSetup:
    """Find or make the directory's sealing key (see the module doc).

    Raises:
        SealingKeyMissing: the ledger exists and its sealing key does not.
        OSError: the key directory cannot be used (unsafe permissions, ...).
    """
    if key is not None:
        chain_key = derive_chain_key(key)
        assert chain_key is not None
        setup = SealingSetup(
            StaticSealer(chain_key, key_id(chain_key) or ""),
            hmac.new(key, b"asgi_audit session id", hashlib.sha256).digest(),
        )
        _same_history(directory, setup.sealer)
        return setup
    where = key_dir if key_dir is not None else keydir.default_key_dir(directory.path)
    state = _load_or_init(directory, where, announce=integrity and sealing == FORWARD)
    if not integrity:
        # Nothing is sealed and no ledger is written: the key only keys session ids.
        return SealingSetup(
            StaticSealer(None, state.deployment.deployment), state.pseudonym_key, key_dir=where
        )
    if sealing == UNKEYED:
        unkeyed = SealingSetup(
            StaticSealer(None, state.deployment.deployment), state.pseudonym_key, key_dir=where
        )
        _same_history(directory, unkeyed.sealer)
        return unkeyed
    assert sealing == FORWARD

    def store() -> None:
        keyfiles.store_state(where, state)

    setup = SealingSetup(ForwardSealer(state), state.pseudonym_key, store, where)
    _same_history(directory, setup.sealer)
    return setup


def _same_history(directory: LogDirectory, sealer: Sealer) -> None:
    """Refuse to go on a ledger that another key or scheme started.

    Records of two deployments in one chain would each look forged to the other's
    verification key: a new key (or scheme) starts a new log directory.
    """
    path = directory.path / CHECKPOINT_FILE
    try:
        first = first_record(path)
    except OSError as exc:
        raise SealingKeyMissing(f"the ledger '{path}' cannot be read: {exc}") from None
    if first is None:
        return  # no ledger, or a damaged first line: verify names it
    scheme, deployment = first.get("scheme"), first.get("deployment")
    if (scheme, deployment) != (sealer.scheme, sealer.deployment):
        raise SealingKeyMissing(
            f"the ledger of '{directory.path}' was started by deployment {str(deployment)[:40]} "
            f"({str(scheme)[:40]}); this Auditor seals as deployment {sealer.deployment} "
            f"({sealer.scheme}). A new key, or a new way of sealing, starts a new log "
            "directory: move this one aside (and keep its key to verify it), or give the "
            "key it was sealed with"
        )


def _load_or_init(directory: LogDirectory, where: Path, announce: bool) -> SealingState:
    root = directory.path.resolve()
    if (where / keyfiles.SEALING_KEY_FILE).exists():
        state = keyfiles.load_state(where)
        if Path(state.log_dir) != root:
            raise SealingKeyMissing(
                f"the sealing key in '{where}' is bound to '{state.log_dir}', not '{root}': "
                "give each log directory its own key directory (key_dir=...)"
            )
        return state
    if read_last_record(directory.path / CHECKPOINT_FILE) is not None:
        raise SealingKeyMissing(
            f"'{directory.path}' has a ledger, but its sealing key is not in '{where}'. "
            "Restore the key directory (or point key_dir / $ASGI_AUDIT_KEY_DIR to it); a new "
            "key would start a second history that no one could tell from a forged one. "
            "To start over on purpose, move the log directory aside."
        )
    try:
        state, verification = keyfiles.init_keys(root, where)
    except FileExistsError:
        # Another worker of the same app made it a moment ago.
        return keyfiles.load_state(where, log_dir=root)
    if not announce:
        return state  # unkeyed: the key only keys the session-id hashes
    secret = where / keyfiles.VERIFICATION_KEY_FILE
    keyfiles.write_verification_key(secret, verification)
    public = where / keyfiles.PUBLIC_KEY_FILE
    keyfiles.write_verification_key(public, verification.public())
    report(
        f"made a forward-secure sealing key for '{root}' in '{where}'. Its verification key "
        f"is '{secret}': MOVE IT OFF THIS HOST (a password manager, a vault, the auditors' "
        "machine) and delete it here: whoever holds it can check everything, and while it "
        "stays here, whoever takes this host can also forge the past. "
        f"'{public}' may be published; it checks the ledger, not lines. "
        "Or make the keys yourself beforehand: asgi-audit keys init"
    )
    return state
