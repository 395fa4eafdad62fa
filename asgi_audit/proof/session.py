"""One writer's part in the proof: its chains, its records, its epochs.

IO, run in the writer's thread. A :class:`ProofSession` makes each stream's
:class:`~asgi_audit.proof.integrity.Chain` and writes the writer's records to
the ledger (:class:`~asgi_audit.proof.checkpoints.Ledger`): the genesis when the
directory has none, ``start``, each stream's announcement before its first
line, checkpoints, rotations, ``stop``. Under forward-secure sealing it also
moves the key on when an epoch ends: it records where every stream stands and
the next epoch's public key, signed with the key about to go, then erases that
key (in memory and in the sealing key file) and re-keys the chains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..store.files import LogDirectory
from ..store.reporting import report
from .checkpoints import Ledger, Transaction, file_facts, head
from .integrity import Chain, Sealed
from .schemes import ForwardSealer, Sealer

__all__ = ("ProofSession",)


class ProofSession:
    """The proof side of one writer.

    Args:
        directory: the log directory.
        sealer: what seals lines and signs records.
        interval: seconds between checkpoints (None: at rotation, epoch end and
            shutdown only; no heartbeat).
        follows: per category, where the previous stream of its file ended
            (only ends the writer checked).
        store_state: persists the forward-secure sealing state after it moved on.
    """

    def __init__(
        self,
        directory: LogDirectory,
        sealer: Sealer,
        *,
        interval: float | None,
        follows: dict[str, Sealed] | None = None,
        store_state: Callable[[], object] | None = None,
    ) -> None:
        self._directory = directory
        self.sealer = sealer
        self.ledger = Ledger(directory, sealer)
        self.interval = interval
        self._follows = follows or {}
        self._store_state = store_state
        self._announced: set[str] = set()
        self.chains: dict[str, Chain] = {}

    # ------------------------------------------------------------------ chains

    def chain(self, category: str) -> Chain:
        """The chain of ``category``'s stream (made on first use)."""
        chain = self.chains.get(category)
        if chain is None:
            sealer = self.sealer
            label = sealer.line_label() if isinstance(sealer, ForwardSealer) else None
            chain = Chain(sealer.line_key(), prev=self._follows.get(category), label=label)
            self.chains[category] = chain
        return chain

    # ------------------------------------------------------------------ records

    def start(self) -> None:
        """The genesis if the ledger is empty, the key of the current epoch, ``start``.

        Raises:
            OSError: the ledger or the sealing key file could not be written.
        """
        sealer = self.sealer
        with self.ledger.transaction() as tx:
            if tx.empty:
                fields: dict[str, Any] = {
                    "directory": str(self._directory.path.resolve()),
                    "scheme": sealer.scheme,
                }
                lost = sealer.lost_genesis()
                if lost is None:
                    tx.write([("genesis", fields)])
                    sealer.genesis_written(tx.head)
                else:
                    report(
                        f"the ledger of '{self._directory.path}' is missing, but the sealing "
                        "key says one was started: writing a reset record (verify will name "
                        "everything before it as unproven)"
                    )
                    tx.write([("reset", {**fields, "lost": lost})])
            target = self._certify(tx, time.time(), None)
        self._advance(target)
        with self.ledger.transaction() as tx:
            tx.write([("start", {"interval_s": self.interval})])
        self._persist()

    def announced(self, category: str) -> bool:
        """Whether ``category``'s stream is in the ledger (its lines may be written)."""
        chain = self.chains.get(category)
        return chain is not None and chain.stream in self._announced

    def announce(self, category: str, file_name: str) -> None:
        """Announce ``category``'s stream before its first line (once).

        Raises:
            OSError: the ledger could not be written (the lines must wait).
        """
        self.announce_all([(category, file_name)])

    def announce_all(self, files: list[tuple[str, str]]) -> None:
        """:meth:`announce` for each ``(category, file name)`` whose stream is not
        announced yet, in one append to the ledger (its lock, write and fsync once).

        Raises:
            OSError: the ledger could not be written (none of them is announced).
        """
        records: list[tuple[str, dict[str, Any]]] = []
        streams: list[str] = []
        for category, file_name in files:
            chain = self.chains[category]
            if chain.stream in self._announced or chain.stream in streams:
                continue
            prev = chain.prev
            follows = (
                None
                if prev is None
                else {
                    "stream": prev.stream,
                    "seq": prev.seq,
                    "mac": f"{prev.label}:{prev.mac.hex()}",
                }
            )
            record = {"stream": chain.stream, "category": category, "file": file_name}
            records.append(("stream", {**record, "follows": follows}))
            streams.append(chain.stream)
        if records:
            self.ledger.append(records)
            self._announced.update(streams)

    def checkpoint(self, reason: str, ends: dict[str, tuple[Sealed, str]]) -> None:
        """Where each stream stands (also with none: a heartbeat); moves the epoch on
        when it ended.

        Raises:
            OSError: the ledger could not be written.
        """
        heads = {end.stream: head(end, file_name) for end, file_name in ends.values()}
        with self.ledger.transaction() as tx:
            tx.write([("checkpoint", {"reason": reason, "streams": heads})])
            target = self._certify(tx, time.time(), None)
        self._advance(target)

    def rotated(self, category: str, path: Path, end: tuple[Sealed, str] | None) -> None:
        """Record a rotated file (name, size, hash, the ranges it holds) and where
        the stream stood when it was rotated.

        Raises:
            OSError: the file could not be read or the ledger written.
        """
        facts = file_facts(path)
        records: list[tuple[str, dict[str, Any]]] = [
            ("rotated", {"category": category, "file": path.name, **facts})
        ]
        if end is not None:
            heads = {end[0].stream: head(end[0], path.name)}
            records.insert(0, ("checkpoint", {"reason": "rotation", "streams": heads}))
        self.ledger.append(records)

    def stop(self, ends: dict[str, tuple[Sealed, str]]) -> None:
        """The shutdown checkpoint and ``stop``.

        Raises:
            OSError: the ledger could not be written.
        """
        heads = {end.stream: head(end, file_name) for end, file_name in ends.values()}
        self.ledger.append([("checkpoint", {"reason": "shutdown", "streams": heads}), ("stop", {})])

    def close(self) -> None:
        self.ledger.close()

    # ------------------------------------------------- the writer's forms: never raise

    def try_start(self) -> None:
        """:meth:`start`; a failure is reported."""
        try:
            self.start()
        except OSError as exc:
            report(f"starting the ledger failed: {type(exc).__name__}: {exc}")

    def try_rotated(self, category: str, path: Path, end: tuple[Sealed, str] | None) -> None:
        """:meth:`rotated`; a failure is reported."""
        try:
            self.rotated(category, path, end)
        except OSError as exc:
            report(f"recording the rotation of '{path}' failed: {type(exc).__name__}: {exc}")

    def try_checkpoint(self, reason: str, ends: dict[str, tuple[Sealed, str]]) -> None:
        """:meth:`checkpoint` (:meth:`stop` for ``shutdown``); a failure is reported."""
        try:
            if reason == "shutdown":
                self.stop(ends)
            else:
                self.checkpoint(reason, ends)
        except OSError as exc:
            report(f"writing a {reason} checkpoint failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ epochs

    def _certify(self, tx: Transaction, now: float, heads: dict[str, Any] | None) -> int | None:
        """If the epoch of ``now`` is past the key's: write, signed with the old key,
        the streams' ``heads`` (None: the caller just wrote them) and the next
        epoch's public key, and return that epoch (the caller moves the key once the
        transaction is on disk: a key is never used before a record certifies it)."""
        sealer = self.sealer
        if not isinstance(sealer, ForwardSealer):
            return None
        state = sealer.state
        target = state.deployment.epoch_at(now)
        if target <= state.epoch:
            return None
        records: list[tuple[str, dict[str, Any]]] = []
        if heads:
            records.append(("checkpoint", {"reason": "epoch", "streams": heads}))
        ahead = state.copy()
        ahead.advance_to(target)
        public = ahead.public_key()
        ahead.erase()
        records.append(("key", {"next_epoch": target, "next_public_key": public.hex()}))
        tx.write(records)
        return target

    def _advance(self, target: int | None) -> None:
        """Erase the old key: move to ``target``'s, now certified on disk."""
        if target is None:
            return
        sealer = self.sealer
        assert isinstance(sealer, ForwardSealer)
        sealer.state.advance_to(target)
        for chain in self.chains.values():
            chain.rekey(sealer.line_key(), sealer.line_label())
        self._persist()

    def roll_due(self) -> bool:
        """Whether :meth:`roll_if_due` has a key to move now."""
        sealer = self.sealer
        if not isinstance(sealer, ForwardSealer):
            return False
        return sealer.state.deployment.epoch_at(time.time()) > sealer.state.epoch

    def roll_if_due(self, ends: dict[str, tuple[Sealed, str]]) -> None:
        """At an epoch's end: record where the streams stand (``ends``: what is
        written), certify the next key, erase the old one."""
        if not self.roll_due():
            return
        try:
            heads = {end.stream: head(end, file_name) for end, file_name in ends.values()}
            with self.ledger.transaction() as tx:
                target = self._certify(tx, time.time(), heads)
        except OSError as exc:
            report(
                f"moving the sealing key to the next epoch failed (the ledger could not be "
                f"written): {type(exc).__name__}: {exc}; still sealing with the old key"
            )
            return
        self._advance(target)

    def _persist(self) -> None:
        if self._store_state is None:
            return
        try:
            self._store_state()
        except OSError as exc:
            report(
                f"writing the sealing key file failed: {type(exc).__name__}: {exc}; the key "
                "of an ended epoch may still be on disk until it works"
            )
