"""What a verification finds: breaks and stream summaries, and the state it keeps per stream.

PURE: no event loop, no file. :class:`Break` and :class:`StreamSummary` are what
:class:`~asgi_audit.proof.verification.Verifier` reports (and ``asgi-audit
verify`` prints or dumps as JSON); :class:`Line` and :class:`State` are its
working state for one line and one stream. :func:`line_fault`,
:func:`prev_fault` and :func:`record_fault` say why a line's or a record's fields
cannot be followed (a ``stream`` that is no stream id, a ``seq`` that is no whole
number, ...), so that the verifier names it instead of failing on it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias, TypeGuard

from .merkle import Frontier

__all__ = (
    "Break",
    "EpochBounds",
    "Line",
    "PrevRef",
    "State",
    "StreamSummary",
    "ends_named_elsewhere",
    "is_stream_id",
    "line_fault",
    "prev_fault",
)

_STREAM_ID: Final = re.compile(r"[0-9a-f]{16}\Z", re.ASCII)
_HEX_MAC: Final = re.compile(r"[0-9a-f]{64}\Z", re.ASCII)


def is_stream_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a stream id as writers make them: 16 lower-case hex digits."""
    return isinstance(value, str) and _STREAM_ID.match(value) is not None


def _whole(value: object, least: int) -> bool:
    # An int, not a bool (JSON true is no seq), at least ``least``.
    return type(value) is int and value >= least


def _hex_mac(value: object) -> bool:
    return isinstance(value, str) and _HEX_MAC.match(value) is not None


def line_fault(stream: object, seq: object) -> str | None:
    """Why a sealed line's ``stream`` and ``seq`` cannot place it in a chain, or None."""
    if not is_stream_id(stream):
        return "its stream is not a stream id (16 hex digits)"
    if not _whole(seq, 1):
        return "its seq is not a whole number from 1"
    return None


def prev_fault(event: Mapping[str, Any]) -> str | None:
    """Why a first line's ``prev_stream``, ``prev_seq`` and ``prev_mac`` (where the
    previous stream of its file ended) cannot be read, or None."""
    if not is_stream_id(event.get("prev_stream")):
        return "its prev_stream is not a stream id (16 hex digits)"
    if "prev_seq" in event and not _whole(event["prev_seq"], 0):
        return "its prev_seq is not a whole number"
    if "prev_mac" in event and not isinstance(event["prev_mac"], str):
        return "its prev_mac is not text"
    return None


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
    sealed: str | None = None  # the MAC label of its lines
    key_id: str | None = None  # the key its first line names
    mismatch: str | None = None  # not checked: a class of keymatch.MISMATCH_CLASSES

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "category": self.category,
            "lines": self.lines,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "files": self.files,
            "sealed": self.sealed,
            "key_id": self.key_id,
            "mismatch": self.mismatch,
        }


@dataclass(slots=True)
class Line:
    """One sealed line: where it is, its ``seq``, its body (the line without its
    MAC field), its MAC and its Merkle leaf hash (which the MAC covers)."""

    file: str
    line: int
    seq: int
    body: bytes
    mac: bytes
    leaf: bytes = b""  # leaf_hash(body)
    key: bytes | None = None  # the key its MAC label names (None: SHA-256)


@dataclass(slots=True)
class State:
    """Where the check of one stream stands."""

    summary: StreamSummary
    expected: int
    prev: bytes
    checking: bool = True  # MACs are checked (not an unknown key)
    started: bool = False  # the first line was seen
    vouched: bool = False  # a checkpoint signed with the key given names the stream
    pending: Line | None = None
    suspect: Line | None = None  # a first line whose MAC failed: modified or wrong key?
    suspect_true: bytes | None = None  # the MAC the suspect's bytes really have
    alternative: bytes | None = None  # the true MAC of a modified line, to chain from
    last: Line | None = None
    first: Line | None = None  # the first line seen
    tree: Frontier | None = None  # the Merkle tree of lines 1.. as read
    misplaced: set[tuple[str, str]] = field(default_factory=set)  # reported wrong places


#: A stream's first line naming where the previous stream of its file ended: the
#: line, its stream, and the ``prev_stream``, ``prev_seq`` and ``prev_mac`` it names.
PrevRef: TypeAlias = "tuple[Line, State, str, int, str]"


def ends_named_elsewhere(
    checkpoints: Iterable[tuple[str, int, dict[str, Any]]],
    streams: Mapping[str, State],
    retired_upto: Mapping[str, int],
    prev_refs: Iterable[PrevRef],
) -> list[Break]:
    """Streams that end before a signed checkpoint or the next stream says they reached.

    Args:
        checkpoints: the checkpoint records whose signature holds, with file and line.
        streams: every stream seen, by id.
        retired_upto: per stream, the last ``seq`` retention deleted (and said so).
        prev_refs: what first lines say of the previous stream of their file.
    """
    breaks: list[Break] = []
    for file, line, record in checkpoints:
        stream, seq = record.get("stream"), record.get("seq")
        if not isinstance(stream, str) or type(seq) is not int or seq < 1:
            continue
        found = streams.get(stream)
        reached = max(
            0 if found is None else found.summary.last_seq,
            retired_upto.get(stream, 0),  # deleted by retention, and said so
        )
        if reached < seq:
            where = found.last if found is not None else None
            breaks.append(
                Break(
                    where.file if where else str(record.get("file")),
                    where.line if where else 0,
                    "truncated",
                    stream,
                    f"a checkpoint ({file}:{line}) says seq {seq} was written; "
                    f"the files end at seq {reached}",
                )
            )
    for item, referrer, stream, seq, mac in prev_refs:
        if not isinstance(stream, str) or type(seq) is not int or not isinstance(mac, str):
            continue  # malformed: named a break where the line was read
        named = streams.get(stream)
        if named is None or named.last is None:
            continue  # that stream's files are gone by retention, or never were here
        if named.summary.mismatch or referrer.summary.mismatch:
            continue  # another key's word, or about another key's stream: not checked
        last = named.last
        if last.seq < seq:
            detail = f"the next stream ({item.file}:{item.line}) says it ended at seq {seq}"
            breaks.append(Break(last.file, last.line, "truncated", stream, detail))
        elif last.seq == seq and mac.rpartition(":")[2] != last.mac.hex():
            detail = "does not match the next stream's prev_mac"
            breaks.append(Break(last.file, last.line, "modified", stream, detail))
    return breaks


class EpochBounds:
    """The latest epoch each line of a stream can have been sealed in.

    A checkpoint signed in epoch ``e`` that counts a stream's lines up to ``seq``
    says those lines existed in epoch ``e``: none of them can be sealed in a later
    one. A line that is (its MAC's label names a later epoch) was sealed again
    afterwards, by whoever held that later epoch's key: the host, taken over.
    """

    def __init__(self) -> None:
        self._heads: dict[str, list[tuple[int, int, int]]] = {}  # stream -> (seq, epoch, line)
        self._bounds: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}

    def add(self, stream: str, seq: int, epoch: int | None, line: int) -> None:
        """A checkpoint (at ledger line ``line``) signed in ``epoch`` counts ``seq`` lines."""
        if epoch is not None:
            self._heads.setdefault(stream, []).append((seq, epoch, line))
            self._bounds.pop(stream, None)

    def _of(self, stream: str) -> tuple[list[int], list[tuple[int, int]]]:
        bounds = self._bounds.get(stream)
        if bounds is None:
            heads = sorted(self._heads.get(stream, ()))
            seqs = [seq for seq, _, _ in heads]
            # Per head, the earliest (epoch, line) of it and every head counting more.
            least: list[tuple[int, int]] = []
            for _, epoch, line in reversed(heads):
                least.append(min((epoch, line), least[-1]) if least else (epoch, line))
            bounds = self._bounds[stream] = (seqs, least[::-1])
        return bounds

    def late(self, stream: str, seq: int, epoch: int) -> tuple[int, int] | None:
        """``(epoch, ledger line)`` of a checkpoint that counted line ``seq`` in an epoch
        before ``epoch``, or None when ``epoch`` is not too late for it."""
        seqs, least = self._of(stream)
        at = bisect.bisect_left(seqs, seq)
        if at == len(seqs) or least[at][0] >= epoch:
            return None
        return least[at]
