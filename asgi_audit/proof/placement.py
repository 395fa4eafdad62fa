"""What the ledger says about the lines: where each stream belongs, what each
checkpoint committed, and what retention deleted.

PURE: no event loop, no file. A :class:`LedgerView` is built from the verified
records (:class:`~asgi_audit.proof.ledger.LedgerFacts`) and answers the line
verifier's questions: is this line in the file and category its stream was
announced for (``wrong file``, ``wrong category``), does the Merkle tree of the
lines read so far match the root a checkpoint signed, and which ranges did
retention delete (and say so).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .findings import Break, Line, State
from .ledger import LedgerFacts
from .merkle import Frontier

__all__ = ("LedgerView",)


class LedgerView:
    """The verified ledger, as the line verifier asks about it."""

    def __init__(self, facts: LedgerFacts, file: str) -> None:
        self.announced = facts.announced
        self.vouched: set[str] = set(facts.announced)
        self.checkpoints: list[tuple[str, int, dict[str, Any]]] = []
        self.checkpoint_macs: dict[tuple[str, int], bytes] = {}
        self.roots: dict[tuple[str, int], tuple[bytes, int]] = {}
        self.retired: dict[tuple[str, int], bytes] = {}
        self.retired_upto: dict[str, int] = {}
        for h in facts.heads:
            self.vouched.add(h.stream)
            record = {"stream": h.stream, "seq": h.seq, "file": h.file}
            self.checkpoints.append((file, h.where.line, record))
            with contextlib.suppress(ValueError):
                self.checkpoint_macs[(h.stream, h.seq)] = bytes.fromhex(h.mac.rpartition(":")[2])
                self.roots[(h.stream, h.seq)] = (bytes.fromhex(h.root), h.where.n)
        for name, (_, digest, n) in facts.retired.items():
            rotated = facts.by_n.get(n)
            if rotated is None:
                continue  # names no verified record: the deletion is not vouched for
            compressed = facts.compressed.get(name)
            if rotated.file != name and (compressed is None or compressed[1] != rotated.file):
                continue
            if digest not in (rotated.sha256, compressed[3] if compressed else None):
                continue
            for stream, (_, last_seq, last_mac) in rotated.ranges.items():
                with contextlib.suppress(ValueError):
                    self.retired[(stream, last_seq)] = bytes.fromhex(last_mac.rpartition(":")[2])
                self.retired_upto[stream] = max(self.retired_upto.get(stream, 0), last_seq)

    def misplaced(
        self, state: State, file: str, line_no: int, event: dict[str, Any]
    ) -> list[Break]:
        """A stream's lines belong in the file and category the ledger announced."""
        found: list[Break] = []
        announce = self.announced.get(state.summary.stream)
        if announce is None:
            return []
        base = file.split(".jsonl.", 1)[0] + ".jsonl" if ".jsonl." in file else file
        if base != announce.file and (state.summary.stream, file) not in state.misplaced:
            state.misplaced.add((state.summary.stream, file))
            found.append(
                Break(
                    file,
                    line_no,
                    "wrong file",
                    state.summary.stream,
                    f"the stream was announced for {announce.file} (ledger line "
                    f"{announce.where.line})",
                )
            )
        category = event.get("category")
        for name in ("asgi_audit", "unmapped"):  # where the ECS and OCSF profiles keep it
            nested = event.get(name)
            if category is None and isinstance(nested, dict):
                category = nested.get("category")
        mark = ("category", str(category))
        if category is not None and category != announce.category and mark not in state.misplaced:
            state.misplaced.add(mark)
            found.append(
                Break(
                    file,
                    line_no,
                    "wrong category",
                    state.summary.stream,
                    f"category {str(category)[:64]!r}; the stream was announced for "
                    f"{announce.category!r}",
                )
            )
        return found

    def grow_tree(self, state: State, item: Line, flagged: bool) -> str | None:
        # The Merkle tree of a stream read from its first line: each checkpoint's
        # root must be the root of exactly the lines up to its seq.
        if item.seq == 1:
            state.tree = Frontier()
        tree = state.tree
        if tree is None or tree.size != item.seq - 1:
            state.tree = None  # a gap: the tree of the lines as read proves nothing
            return None
        tree.append(item.leaf)
        signed = self.roots.get((state.summary.stream, item.seq))
        if signed is not None and tree.root() != signed[0]:
            state.tree = None  # named once: every later root differs too
            if state.checking and flagged:
                return None  # the MACs already named the changed lines
            return (
                f"lines 1..{item.seq} do not match the Merkle root of ledger record n={signed[1]}"
            )
        return None
