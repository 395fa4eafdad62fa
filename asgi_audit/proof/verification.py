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
    the stream's lines were not sealed with the key given (or the key is wrong);
``bad checkpoint``
    a checkpoint record whose signature does not hold.

One line of look-ahead per stream tells a gap (a deletion) from a line out of
place: a line whose ``seq`` runs ahead is held until the next line of its stream
shows whether it follows it (the gap is real) or the missing line comes first
(the held line was out of place).
"""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson

from .integrity import (
    algorithm,
    chain_root,
    compute_mac,
    split_mac,
    verify_checkpoint,
)

__all__ = ("Break", "StreamSummary", "Verifier")


@dataclass(frozen=True, slots=True)
class Break:
    """One place where the log does not hold."""

    file: str
    line: int
    kind: str
    stream: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "stream": self.stream,
            "detail": self.detail,
        }


@dataclass(slots=True)
class StreamSummary:
    """What was checked of one stream."""

    stream: str
    category: str | None = None
    lines: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "category": self.category,
            "lines": self.lines,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "files": self.files,
        }


@dataclass(slots=True)
class _Line:
    file: str
    line: int
    seq: int
    body: bytes
    mac: bytes


@dataclass(slots=True)
class _State:
    summary: StreamSummary
    expected: int
    prev: bytes
    checking: bool = True  # MACs are checked (not an unknown key)
    started: bool = False  # the first line was seen
    pending: _Line | None = None
    suspect: _Line | None = None  # a first line whose MAC failed: modified or wrong key?
    suspect_true: bytes | None = None  # the MAC the suspect's bytes really have
    alternative: bytes | None = None  # the true MAC of a modified line, to chain from
    last: _Line | None = None


class Verifier:
    """Follows every stream's chain through the lines it is fed.

    Args:
        key: the chain key (derived from the deployment key), or None for
            unkeyed SHA-256 chains.
    """

    def __init__(self, key: bytes | None) -> None:
        self._key = key
        self._algo = algorithm(key)
        self._streams: dict[str, _State] = {}
        self.breaks: list[Break] = []
        self.lines = 0
        self._checkpoints: list[tuple[str, int, dict[str, Any]]] = []
        self._retired: dict[tuple[str, int], bytes] = {}
        self._retired_upto: dict[str, int] = {}
        self._checkpoint_macs: dict[tuple[str, int], bytes] = {}
        self._prev_refs: list[tuple[_Line, str, int, str]] = []

    # ----------------------------------------------------------------- input

    def add_checkpoint(self, file: str, line: int, record: dict[str, Any]) -> None:
        """A record of the checkpoints file (feed them before the lines)."""
        if not verify_checkpoint(self._key, record):
            self.breaks.append(
                Break(file, line, "bad checkpoint", record.get("stream"), "signature fails")
            )
            return
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
            if not isinstance(stream, str) or not isinstance(seq, int):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self.breaks.append(Break(file, line_no, "modified", None, "not a sealed event"))
            return
        state = self._streams.get(stream)
        if state is None:
            state = self._new_state(stream, seq, event)
        summary = state.summary
        summary.lines += 1
        if summary.category is None:
            summary.category = event.get("category")
        if not summary.files or summary.files[-1] != file:
            summary.files.append(file)
        item = _Line(file, line_no, seq, body, mac)
        if seq == 1 and "prev_stream" in event:
            self._prev_refs.append(
                (
                    item,
                    str(event["prev_stream"]),
                    int(event.get("prev_seq", 0)),
                    str(event.get("prev_mac", "")),
                )
            )
        if algo != self._algo and state.checking:
            if state.started or self._mac_ok(state.prev, item):
                # The stream verifies with this key: only the label was changed.
                self._break(item, "modified", stream, f"algorithm label changed to {algo}")
            else:
                state.checking = False
                detail = f"sealed with {algo}, checked with {self._algo}"
                self._break(item, "unknown key", stream, detail)
        self._accept(state, item)

    def _new_state(self, stream: str, seq: int, event: dict[str, Any]) -> _State:
        state = _State(StreamSummary(stream), 1, chain_root(self._key, stream))
        retired = self._retired.get((stream, seq - 1))
        if seq > 1 and retired is not None:
            # The lines before were in a rotated file that retention deleted (and said so).
            state.expected, state.prev = seq, retired
        self._streams[stream] = state
        return state

    # ----------------------------------------------------------------- the chain

    def _break(self, item: _Line, kind: str, stream: str | None, detail: str) -> None:
        self.breaks.append(Break(item.file, item.line, kind, stream, detail))

    def _mac_ok(self, prev: bytes, item: _Line) -> bool:
        return hmac.compare_digest(compute_mac(self._key, prev, item.body), item.mac)

    def _take(self, state: _State, item: _Line) -> None:
        """``item`` is the stream's next line: check its MAC and move on."""
        stream = state.summary.stream
        alternative, state.alternative = state.alternative, None
        true_mac = item.mac
        if state.checking and not self._mac_ok(state.prev, item):
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

    def _settle_suspect(self, state: _State, chained: bool) -> None:
        suspect, state.suspect = state.suspect, None
        if suspect is None:
            return
        stream = state.summary.stream
        if chained:
            self._break(suspect, "modified", stream, f"MAC does not match (seq {suspect.seq})")
        else:
            state.checking = False
            self._break(suspect, "unknown key", stream, "no line of the stream verifies")

    def _check_against_checkpoint(self, item: _Line, stream: str) -> None:
        # A signed checkpoint recorded this line's MAC: a chain recomputed after
        # the checkpoint (by someone without the key, or with it) shows here.
        recorded = self._checkpoint_macs.get((stream, item.seq))
        if recorded is not None and recorded != item.mac:
            self._break(item, "modified", stream, "MAC differs from the signed checkpoint's")

    def _accept(self, state: _State, item: _Line) -> None:
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

    def _gap(self, state: _State, item: _Line) -> None:
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

    def _stale(self, state: _State, item: _Line) -> None:
        kind = "inserted" if item.seq <= state.summary.last_seq else "reordered"
        self._break(item, kind, state.summary.stream, f"seq {item.seq} after {state.expected - 1}")

    # ----------------------------------------------------------------- the end

    def finish(self) -> tuple[list[StreamSummary], list[Break]]:
        """Settle what is still open; the streams checked and every break found."""
        for state in self._streams.values():
            if state.pending is not None:
                pending, state.pending = state.pending, None
                self._gap(state, pending)
            if state.suspect is not None:
                self._settle_suspect(state, chained=False)
        for file, line, record in self._checkpoints:
            stream, seq = record.get("stream"), record.get("seq")
            if not isinstance(stream, str) or not isinstance(seq, int) or seq < 1:
                continue
            found = self._streams.get(stream)
            reached = max(
                0 if found is None else found.summary.last_seq,
                self._retired_upto.get(stream, 0),  # deleted by retention, and said so
            )
            if reached < seq:
                where = found.last if found is not None else None
                self.breaks.append(
                    Break(
                        where.file if where else str(record.get("file")),
                        where.line if where else 0,
                        "truncated",
                        stream,
                        f"a checkpoint ({file}:{line}) says seq {seq} was written; "
                        f"the files end at seq {reached}",
                    )
                )
        for item, stream, seq, mac in self._prev_refs:
            named = self._streams.get(stream)
            if named is None or named.last is None:
                continue  # that stream's files are gone by retention, or never were here
            last = named.last
            if last.seq < seq:
                self._break(
                    last,
                    "truncated",
                    stream,
                    f"the next stream ({item.file}:{item.line}) says it ended at seq {seq}",
                )
            elif last.seq == seq and mac.partition(":")[2] != last.mac.hex():
                self._break(last, "modified", stream, "does not match the next stream's prev_mac")
        summaries = [s.summary for s in self._streams.values()]
        # Several breaks can name one place; keep each once, in file order.
        unique = sorted(set(self.breaks), key=lambda b: (b.file, b.line, b.kind))
        return summaries, unique
