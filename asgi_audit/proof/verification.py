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

import contextlib
import hmac
from typing import Any

import orjson

from .findings import (
    Break,
    Line,
    PrevRef,
    State,
    StreamSummary,
    ends_named_elsewhere,
    is_stream_id,
    line_fault,
    prev_fault,
    record_fault,
)
from .integrity import (
    HMAC,
    KEY_ID_FIELD,
    SHA,
    algorithm,
    chain_root,
    compute_mac,
    key_id,
    split_mac,
    verify_checkpoint,
)
from .keymatch import KEY_MISMATCH, line_detail, record_claim, record_detail, record_streams

__all__ = ("Break", "StreamSummary", "Verifier")


class Verifier:
    """Follows every stream's chain through the lines it is fed.

    Args:
        key: the chain key (derived from the deployment key), or None for
            unkeyed SHA-256 chains.
    """

    def __init__(self, key: bytes | None) -> None:
        self._key = key
        self._algo = algorithm(key)
        #: The public name of the key given (None without one).
        self.key_id = key_id(key)
        self._vouched: set[str] = set()
        self._unsigned: list[tuple[str, int, dict[str, Any], str | None]] = []
        # stream -> (mismatch class, key id) that unverified records claim for it.
        self._claims: dict[str, tuple[str, str | None]] = {}
        self._verified_any = False  # a line or a checkpoint verified with the key given
        self._streams: dict[str, State] = {}
        self.breaks: list[Break] = []
        self.lines = 0
        self._checkpoints: list[tuple[str, int, dict[str, Any]]] = []
        self._retired: dict[tuple[str, int], bytes] = {}
        self._retired_upto: dict[str, int] = {}
        self._checkpoint_macs: dict[tuple[str, int], bytes] = {}
        self._prev_refs: list[PrevRef] = []

    # ----------------------------------------------------------------- input

    def add_checkpoint(self, file: str, line: int, record: dict[str, Any]) -> None:
        """A record of the checkpoints file (feed them before the lines)."""
        if not verify_checkpoint(self._key, record):
            # Altered, or signed with another key: told apart in finish().
            claim = record_claim(record, self._key is not None, self.key_id)
            self._unsigned.append((file, line, record, claim))
            if claim not in (None, "same"):
                named = record.get(KEY_ID_FIELD)
                for claimed in record_streams(record):
                    self._claims[claimed] = (claim, named if isinstance(named, str) else None)
            return
        self._verified_any = True
        fault = record_fault(record)
        if fault is not None:
            stream = record.get("stream")
            named = stream if is_stream_id(stream) else None
            self.breaks.append(Break(file, line, "bad checkpoint", named, fault))
            return
        self._vouched.update(record_streams(record))
        if record.get("type") == "retired":
            for stream, r in (record.get("streams") or {}).items():
                try:
                    last_seq = int(r["last_seq"])
                    self._retired[(stream, last_seq)] = bytes.fromhex(r["last_mac"])
                except (KeyError, TypeError, ValueError):
                    continue
                self._retired_upto[stream] = max(self._retired_upto.get(stream, 0), last_seq)
        elif record.get("type") == "checkpoint":
            self._checkpoints.append((file, line, record))
            stream, seq, mac = record.get("stream"), record.get("seq"), record.get("mac")
            if isinstance(stream, str) and isinstance(seq, int) and isinstance(mac, str):
                with contextlib.suppress(ValueError):
                    self._checkpoint_macs[(stream, seq)] = bytes.fromhex(mac.partition(":")[2])

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
            stream, seq = event["stream"], event["seq"]
        except (ValueError, KeyError, TypeError):
            self.breaks.append(Break(file, line_no, "modified", None, "not a sealed event"))
            return
        fault = line_fault(stream, seq)
        if fault is not None:
            self.breaks.append(Break(file, line_no, "modified", None, fault))
            return
        state = self._streams.get(stream)
        if state is None:
            state = self._new_state(stream, seq, event)
        summary = state.summary
        summary.lines += 1
        if summary.category is None and isinstance(event.get("category"), str):
            summary.category = event["category"]
        if summary.sealed is None:
            summary.sealed = algo
        named = event.get(KEY_ID_FIELD) if seq == 1 else None
        if isinstance(named, str):
            summary.key_id = named
        if not summary.files or summary.files[-1] != file:
            summary.files.append(file)
        item = Line(file, line_no, seq, body, mac)
        if seq == 1 and "prev_stream" in event:
            fault = prev_fault(event)
            if fault is not None:
                self._break(item, "modified", stream, fault)
            else:
                prev = (event["prev_stream"], event.get("prev_seq", 0))
                self._prev_refs.append((item, state, *prev, event.get("prev_mac", "")))
        if state.expected == 1 < seq and not state.started and not state.vouched:
            # Its first lines are gone and no record signed with the key given says
            # why: if its checkpoints claim another key, that is what it is.
            claim = self._claims.get(stream)
            if claim is not None:
                summary.key_id = summary.key_id or claim[1]
                self._mismatch(state, item, claim[0])
        if algo != self._algo and state.checking:
            if (
                algo in (HMAC, SHA)
                and not state.started
                and not state.vouched
                and not (self.key_id is not None and named == self.key_id)
                and not self._mac_ok(state.prev, item)
            ):
                self._mismatch(state, item, "unkeyed" if algo == SHA else "keyed")
            else:
                # The stream is the key's (or the label no scheme's): the label was changed.
                self._break(item, "modified", stream, f"algorithm label changed to {algo}")
        self._accept(state, item)

    def _new_state(self, stream: str, seq: int, event: dict[str, Any]) -> State:
        state = State(StreamSummary(stream), 1, chain_root(self._key, stream))
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

    def _mac_ok(self, prev: bytes, item: Line) -> bool:
        return hmac.compare_digest(compute_mac(self._key, prev, item.body), item.mac)

    def _mismatch(self, state: State, item: Line, kind: str) -> None:
        """The stream was not sealed with the key given: say how, check it no further."""
        state.checking = False
        summary = state.summary
        summary.mismatch = kind
        detail = line_detail(kind, summary.key_id, self.key_id)
        self._break(item, KEY_MISMATCH, summary.stream, detail)

    def _take(self, state: State, item: Line) -> None:
        """``item`` is the stream's next line: check its MAC and move on."""
        stream = state.summary.stream
        alternative, state.alternative = state.alternative, None
        true_mac = item.mac
        verified = state.checking and self._mac_ok(state.prev, item)
        self._verified_any = self._verified_any or verified
        if state.checking and not verified:
            if alternative is not None and self._mac_ok(alternative, item):
                # The previous line's MAC field was the changed part (reported
                # there); this line chains from that line's true MAC.
                pass
            elif not state.started:
                state.suspect = item  # the next line tells: modified, or the wrong key
                state.suspect_true = compute_mac(self._key, state.prev, item.body)
            else:
                self._break(item, "modified", stream, f"MAC does not match (seq {item.seq})")
                # The next line chains from the stored MAC if the body was changed,
                # from the true one if the MAC field was: keep both.
                state.alternative = compute_mac(self._key, state.prev, item.body)
        elif state.suspect is not None:
            self._settle_suspect(state, chained=True)
        self._check_against_checkpoint(item, stream)
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
        elif state.vouched or named_ours or self._key is None:
            # No line verifies, yet the stream is the key's (or sha256 needs none).
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

    def _settle_unsigned(self) -> None:
        """Checkpoint records whose signature failed: altered, or another key's.

        A record is a ``bad checkpoint`` when it claims the key given, or when a
        stream it names verifies with that key (a claim of another key must not
        hide an alteration); else an ``unknown key`` like its streams.
        """
        for file, line, record, claim in self._unsigned:
            named = [self._streams[s] for s in record_streams(record) if s in self._streams]
            stream = record.get("stream") if isinstance(record.get("stream"), str) else None
            ours = any(state.summary.mismatch is None for state in named)
            if claim == "same" or ours or (claim is None and not named and self._verified_any):
                self.breaks.append(Break(file, line, "bad checkpoint", stream, "signature fails"))
            else:
                detail = record_detail(claim or KEY_MISMATCH, record)
                self.breaks.append(Break(file, line, KEY_MISMATCH, stream, detail))

    def finish(self) -> tuple[list[StreamSummary], list[Break]]:
        """Settle what is still open; the streams checked and every break found."""
        for state in self._streams.values():
            if state.pending is not None and state.summary.mismatch is None:
                pending, state.pending = state.pending, None
                self._gap(state, pending)
            if state.suspect is not None:
                self._settle_suspect(state, chained=False)
        self._settle_unsigned()
        self.breaks += ends_named_elsewhere(
            self._checkpoints, self._streams, self._retired_upto, self._prev_refs
        )
        summaries = [s.summary for s in self._streams.values()]
        # Several breaks can name one place; keep each once, in file order.
        unique = sorted(set(self.breaks), key=lambda b: (b.file, b.line, b.kind))
        return summaries, unique
