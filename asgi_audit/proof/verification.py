"""Checking the chains: which line was changed, removed, reordered or inserted.

PURE: no event loop, no file. A :class:`Verifier` is fed every line of every
file of a log directory (rotated files oldest first, then the current one) and
the records of the checkpoints file; it follows each stream's chain and names
every break with its file, line number and kind:

``modified``
    the line's MAC does not match its bytes (or it is not a sealed line at all);
``deleted``
    lines of a stream are missing before this line (its ``seq`` jumps);
``inserted``
    a line whose ``seq`` the stream already had (a copy, or a line from
    another place);
``reordered``
    a line that belongs earlier in its stream;
``truncated``
    a stream ends before the ``seq`` a signed checkpoint (or the next stream's
    ``prev_seq``) says it reached: its last lines were cut;
``unknown key``
    the stream's lines (or a checkpoint record) were not sealed with the key
    given: without a key, with another key, or with a key when none was given
    (see :mod:`asgi_audit.proof.keymatch`, which tells this from an alteration);
``bad checkpoint``
    a checkpoint record whose signature does not hold, or whose fields are not
    what a writer writes (a line's malformed ``stream``/``seq``/``prev_*``: ``modified``).

One line of look-ahead per stream tells a gap (a deletion) from a line out of
place: a line whose ``seq`` runs ahead is held until the next line of its stream
shows whether it follows it (the gap is real) or the missing line comes first
(the held line was out of place).
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson

from .completeness import stream_breaks
from .findings import (
    Break,
    EpochBounds,
    Line,
    PrevRef,
    State,
    StreamSummary,
    ends_named_elsewhere,
    line_fault,
    prev_fault,
)
from .integrity import (
    CHECKPOINT_FILE,
    HMAC,
    KEY_ID_FIELD,
    SHA,
    algorithm,
    chain_root,
    key_id,
    leaf_mac,
    seal_fields,
    split_mac,
)
from .keymatch import KEY_MISMATCH, line_detail
from .ledger import LedgerFacts
from .merkle import leaf_hash
from .placement import LedgerView
from .schemes import FS_LABEL, ForwardRecords, line_epoch

__all__ = ("Break", "StreamSummary", "Verifier")


class Verifier:
    """Follows every stream's chain through the lines it is fed.

    Args:
        key: the chain key (derived from the deployment key), or None for
            unkeyed SHA-256 chains.
    """

    def __init__(self, key: bytes | None, forward: ForwardRecords | None = None) -> None:
        self._key = key
        self._forward = forward
        self._algo = FS_LABEL if forward is not None else algorithm(key)
        #: The public name of the key given (None without one).
        self.key_id = key_id(key)
        self._vouched: set[str] = set()
        self._verified_any = False  # a line or a checkpoint verified with the key given
        #: Whether a line's MAC verified with the key given (the lines are the key's).
        self.lines_verified = False
        self._streams: dict[str, State] = {}
        self.breaks: list[Break] = []
        self.lines = 0
        self._checkpoints: list[tuple[str, int, dict[str, Any]]] = []
        self._retired: dict[tuple[str, int], bytes] = {}
        self._retired_upto: dict[str, int] = {}
        self._checkpoint_macs: dict[tuple[str, int], bytes] = {}
        self._prev_refs: list[PrevRef] = []
        self._flagged: set[str] = set()  # streams with a break named
        self._view = LedgerView(LedgerFacts(), CHECKPOINT_FILE)
        self._epochs = EpochBounds()  # the latest epoch each line can be sealed in
        self.ledger_file = CHECKPOINT_FILE

    @property
    def verified_any(self) -> bool:
        """Whether a line or a checkpoint verified with the key given."""
        return self._verified_any

    # ----------------------------------------------------------------- input

    def use_ledger(self, facts: LedgerFacts, file: str) -> None:
        """What the verified records of the ledger say (before the lines are fed)."""
        self.ledger_file = file
        self._verified_any = self._verified_any or facts.verified > 0
        view = self._view = LedgerView(facts, file)
        self._vouched.update(view.vouched)
        self._checkpoints = view.checkpoints
        self._checkpoint_macs = view.checkpoint_macs
        self._retired = view.retired
        self._retired_upto = view.retired_upto
        for h in facts.heads:
            self._epochs.add(h.stream, h.seq, h.epoch, h.where.line)

    def feed(self, file: str, line_no: int, raw: bytes) -> None:
        """One line as read (without its newline)."""
        self.lines += 1
        split = split_mac(raw)
        if split is None:
            self.breaks.append(Break(file, line_no, "modified", None, "not a sealed line"))
            return
        body, algo, mac = split
        try:
            event = orjson.loads(body)
            fields = seal_fields(event, raw)
            if fields is None:
                raise TypeError("no object holds the seal")
            stream, seq = fields["stream"], fields["seq"]
        except (ValueError, KeyError, TypeError):
            self.breaks.append(Break(file, line_no, "modified", None, "not a sealed event"))
            return
        fault = line_fault(stream, seq)
        if fault is not None:
            self.breaks.append(Break(file, line_no, "modified", None, fault))
            return
        epoch = line_epoch(algo)
        family = FS_LABEL if epoch is not None else algo
        state = self._streams.get(stream)
        if state is None:
            state = self._new_state(stream, seq, event, epoch is not None)
        self.breaks += self._view.misplaced(state, file, line_no, event)
        summary = state.summary
        summary.lines += 1
        if summary.category is None:
            category = event.get("category", fields.get("category"))
            if isinstance(category, str):
                summary.category = category
        if summary.sealed is None:
            summary.sealed = algo
        named = fields.get(KEY_ID_FIELD) if seq == 1 else None
        if isinstance(named, str):
            summary.key_id = named
        if not summary.files or summary.files[-1] != file:
            summary.files.append(file)
        leaf = leaf_hash(body)
        item = Line(file, line_no, seq, body, mac, leaf, self._line_key(algo, epoch))
        late = None if epoch is None else self._epochs.late(stream, seq, epoch)
        if late is not None:
            detail = (
                f"sealed in epoch {epoch}, but a checkpoint signed in epoch {late[0]} "
                f"({self.ledger_file}:{late[1]}) had counted it: sealed again since"
            )
            self._break(item, "modified", stream, detail)
        if state.first is None:
            state.first = item
        if seq == 1 and "prev_stream" in fields:
            fault = prev_fault(fields)
            if fault is not None:
                self._break(item, "modified", stream, fault)
            else:
                prev = (fields["prev_stream"], fields.get("prev_seq", 0))
                self._prev_refs.append((item, state, *prev, fields.get("prev_mac", "")))
        if epoch is not None and self._forward is not None and item.key is None:
            if self._forward.is_secret:  # no key is derived past the verifier's clock
                detail = f"sealed in epoch {epoch}, which has not begun by the verifier's clock"
                self._break(item, "modified", stream, detail)
            else:
                state.checking = False  # the public verification key checks no line MAC
        if family != self._algo and state.checking:
            if (
                family in (HMAC, SHA, FS_LABEL)
                and not state.started
                and not state.vouched
                and not (self.key_id is not None and named == self.key_id)
                and not self._mac_ok(state.prev, item)
            ):
                kind = (
                    "unkeyed"
                    if algo == SHA
                    else "other key"
                    if family == FS_LABEL and self._key is not None
                    else "keyed"
                )
                self._mismatch(state, item, kind)
            else:
                # The stream is the key's (or the label no scheme's): the label was changed.
                self._break(item, "modified", stream, f"algorithm label changed to {algo}")
        self._accept(state, item)

    def _line_key(self, label: str, epoch: int | None) -> bytes | None:
        if epoch is None:
            return self._key
        return None if self._forward is None else self._forward.line_key(epoch)

    def _new_state(self, stream: str, seq: int, event: dict[str, Any], fs: bool) -> State:
        state = State(StreamSummary(stream), 1, chain_root(None if fs else self._key, stream))
        state.vouched = stream in self._vouched
        retired = self._retired.get((stream, seq - 1))
        if seq > 1 and retired is not None:
            # The lines before were in a rotated file that retention deleted (and said so).
            state.expected, state.prev = seq, retired
        self._streams[stream] = state
        return state

    # ----------------------------------------------------------------- the chain

    def _break(self, item: Line, kind: str, stream: str | None, detail: str) -> None:
        self.breaks.append(Break(item.file, item.line, kind, stream, detail))
        if stream is not None:
            self._flagged.add(stream)

    def _mac_ok(self, prev: bytes, item: Line) -> bool:
        return hmac.compare_digest(leaf_mac(item.key, prev, item.leaf), item.mac)

    def _mismatch(self, state: State, item: Line, kind: str) -> None:
        """The stream was not sealed with the key given: say how, check it no further."""
        state.checking = False
        summary = state.summary
        summary.mismatch = kind
        detail = line_detail(kind, summary.key_id, self.key_id, summary.sealed)
        self._break(item, KEY_MISMATCH, summary.stream, detail)

    def _take(self, state: State, item: Line) -> None:
        """``item`` is the stream's next line: check its MAC and move on."""
        stream = state.summary.stream
        alternative, state.alternative = state.alternative, None
        true_mac = item.mac
        verified = state.checking and self._mac_ok(state.prev, item)
        self._verified_any = self._verified_any or verified
        self.lines_verified = self.lines_verified or verified
        if state.checking and not verified:
            if alternative is not None and self._mac_ok(alternative, item):
                # The previous line's MAC field was the changed part (reported
                # there); this line chains from that line's true MAC.
                pass
            elif not state.started:
                state.suspect = item  # the next line tells: modified, or the wrong key
                state.suspect_true = leaf_mac(item.key, state.prev, item.leaf)
            else:
                self._break(item, "modified", stream, f"MAC does not match (seq {item.seq})")
                # The next line chains from the stored MAC if the body was changed,
                # from the true one if the MAC field was: keep both.
                state.alternative = leaf_mac(item.key, state.prev, item.leaf)
        elif state.suspect is not None:
            self._settle_suspect(state, chained=True)
        self._check_against_checkpoint(item, stream)
        root = self._view.grow_tree(state, item, state.summary.stream in self._flagged)
        if root is not None:
            self._break(item, "modified", state.summary.stream, root)
        state.started = True
        state.prev = true_mac
        state.expected = item.seq + 1
        state.last = item
        summary = state.summary
        summary.last_seq = max(summary.last_seq, item.seq)
        if summary.first_seq is None:
            summary.first_seq = item.seq

    def _settle_suspect(self, state: State, chained: bool) -> None:
        suspect, state.suspect = state.suspect, None
        if suspect is None:
            return
        summary = state.summary
        stream = summary.stream
        named_ours = self.key_id is not None and summary.key_id == self.key_id
        if chained:
            self._break(suspect, "modified", stream, f"MAC does not match (seq {suspect.seq})")
        elif state.vouched or named_ours or (self._key is None and self._forward is None):
            # No line verifies, yet the stream is the key's (or sha256 needs none; a
            # forward-secure stream no record vouches for may be another deployment's).
            why = (
                "a checkpoint signed with the key given names the stream"
                if state.vouched
                else "the stream names the key given"
                if named_ours
                else "no line of the stream verifies"
            )
            detail = f"MAC does not match (seq {suspect.seq}); {why}"
            self._break(suspect, "modified", stream, detail)
        else:
            self._mismatch(state, suspect, "other key" if summary.key_id else "unknown key")

    def _check_against_checkpoint(self, item: Line, stream: str) -> None:
        # A signed checkpoint recorded this line's MAC: a chain recomputed after
        # the checkpoint (by someone without the key, or with it) shows here.
        recorded = self._checkpoint_macs.get((stream, item.seq))
        if recorded is not None and recorded != item.mac:
            self._break(item, "modified", stream, "MAC differs from the signed checkpoint's")

    def _accept(self, state: State, item: Line) -> None:
        # After a first line that failed: if this one verifies from the first
        # line's stored MAC (its body was changed) or its true MAC (its MAC field
        # was), that line was modified; if neither, the key is not the stream's.
        if state.suspect is not None and state.checking and item.seq == state.expected:
            if self._mac_ok(state.prev, item):
                pass
            elif state.suspect_true is not None and self._mac_ok(state.suspect_true, item):
                state.prev = state.suspect_true
            else:
                self._settle_suspect(state, chained=False)
        if state.summary.mismatch is not None:
            self._skip(state, item)
            return
        pending = state.pending
        if pending is None:
            if item.seq == state.expected:
                self._take(state, item)
            elif item.seq > state.expected:
                state.pending = item
            else:
                self._stale(state, item)
            return
        if item.seq == state.expected:
            self._take(state, item)
            if pending.seq == state.expected:
                state.pending = None
                self._take(state, pending)
                self._break(pending, "reordered", state.summary.stream, f"seq {pending.seq}")
            elif pending.seq < state.expected:
                state.pending = None
                self._break(pending, "inserted", state.summary.stream, f"seq {pending.seq} again")
            return
        if state.checking and self._mac_ok(pending.mac, item):
            # The held line really precedes this one.
            state.pending = None
            if pending.seq == item.seq - 1:
                self._gap(state, pending)
            else:
                self._break(pending, "modified", state.summary.stream, "its seq was changed")
                state.prev, state.expected = pending.mac, item.seq
                state.started = True
            self._take(state, item) if item.seq == state.expected else self._accept(state, item)
            return
        if item.seq == pending.seq:
            self._break(item, "inserted", state.summary.stream, f"seq {item.seq} again")
            return
        state.pending = None
        self._gap(state, pending)
        self._accept(state, item)

    def _disown(self) -> None:
        """Every stream with a break but no line the key given verifies: a key mismatch."""
        broken = {b.stream for b in self.breaks if b.stream is not None and b.kind != KEY_MISMATCH}
        for stream in broken:
            state = self._streams.get(stream)
            if state is None or state.first is None or state.summary.mismatch is not None:
                continue
            self._mismatch(
                state, state.first, "other key" if state.summary.key_id else "unknown key"
            )
        self.breaks = [
            b
            for b in self.breaks
            if b.stream is None or b.kind == KEY_MISMATCH or b.stream not in broken
        ]

    def _skip(self, state: State, item: Line) -> None:
        # A stream of another key: its seq numbers prove nothing either; count its lines.
        state.pending, state.started, state.last = None, True, item
        state.expected = max(state.expected, item.seq + 1)
        summary = state.summary
        summary.last_seq = max(summary.last_seq, item.seq)
        if summary.first_seq is None:
            summary.first_seq = item.seq

    def _gap(self, state: State, item: Line) -> None:
        missing = item.seq - state.expected
        first = state.expected
        self._break(
            item,
            "deleted",
            state.summary.stream,
            f"{missing} line(s) missing before it (seq {first}..{item.seq - 1})",
        )
        state.prev, state.expected, state.started = item.mac, item.seq + 1, True
        state.last = item
        state.summary.last_seq = max(state.summary.last_seq, item.seq)
        if state.summary.first_seq is None:
            state.summary.first_seq = item.seq

    def _stale(self, state: State, item: Line) -> None:
        kind = "inserted" if item.seq <= state.summary.last_seq else "reordered"
        self._break(item, kind, state.summary.stream, f"seq {item.seq} after {state.expected - 1}")

    # ----------------------------------------------------------------- the end

    def finish(self, foreign_ledger: bool = False) -> tuple[list[StreamSummary], list[Break]]:
        """Settle what is still open; the streams checked and every break found.

        Args:
            foreign_ledger: no record of the ledger verifies with the key given, and
                it says it was sealed another way or by another deployment. If no line
                verifies either, nothing in the directory is the key's: a stream's
                gaps and failing MACs then prove nothing (its first lines may be gone
                with retention records the key cannot check), and it is a key
                mismatch instead.
        """
        for state in self._streams.values():
            if state.pending is not None and state.summary.mismatch is None:
                pending, state.pending = state.pending, None
                self._gap(state, pending)
            if state.suspect is not None:
                self._settle_suspect(state, chained=False)
        self.breaks += ends_named_elsewhere(
            self._checkpoints, self._streams, self._retired_upto, self._prev_refs
        )
        self.breaks += stream_breaks(
            self._view.announced, self._streams, self._retired_upto, self.ledger_file
        )
        if foreign_ledger and not self.lines_verified:
            self._disown()
        summaries = [s.summary for s in self._streams.values()]
        # Several breaks can name one place; keep each once, in file order.
        unique = sorted(set(self.breaks), key=lambda b: (b.file, b.line, b.kind))
        return summaries, unique
