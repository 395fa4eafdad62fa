"""The tamper corpus: every single alteration of a real log is found where it was made.

One real log is written per module by spawned processes (three at once, then a
restart of one of them, then two more after every file was rotated), with
rotations by size and by ``rotate_audit_logs``, two rotated files gzipped, and
checkpoints every 50 ms. Each case of the corpus copies that directory, makes
ONE alteration (a byte of a value, of a ``seq``, of a MAC; a line deleted,
duplicated, swapped, brought in from elsewhere; a file's tail cut; a rotated file
deleted; the key changed; a checkpoint record altered) chosen by a seeded random
generator from the case's id, and checks that ``verify_directory`` names the file
and line where the alteration shows, and its kind.

Where the alteration shows (line numbers as they are after the alteration):

* a changed byte: that line;
* a deleted line: the next line of its stream in file order (rotated files
  oldest first, then the current one), which now stands where the deleted
  one was expected; ``truncated`` at the stream's last remaining line when the
  deleted line was the stream's last (every stream has a later checkpoint);
* a duplicated or inserted line: the copy. When no line of that stream lies
  between the copy and the original, the two orders are the same bytes, so
  either place is accepted;
* two lines of a stream swapped: either of the two places;
* a file's tail cut: per stream that lost lines, the first of its lines after
  the gap (a later file) or else its last remaining line (``truncated``);
* a rotated file deleted: the same, per stream of the deleted file;
* another key: every stream ``unknown key``;
* a checkpoint altered: that record, ``bad checkpoint``.

Kinds relaxed (the place is still required), see :data:`KINDS`: a changed
``seq`` digit, a changed stream id, a changed MAC algorithm, and lines
duplicated or inserted before their original (``reordered`` there).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import random
import re
import shutil
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from asgi_audit import Auditor, rotate_audit_logs
from asgi_audit.auditor import KEY_ENV
from asgi_audit.proof.integrity import (
    CHECKPOINT_FILE,
    MAC_MARKER,
    compute_mac,
    split_mac,
)
from asgi_audit.proof.verification import Break
from asgi_audit.proof.verify import VerifyResult, verify_directory
from asgi_audit.store.rotation import compress_rotated, rotated_files
from tests.forge import reseal_unkeyed
from tests.helpers import join_all

KEY: Final = b"tamper-corpus-key-0123456789abcdef"
CATEGORIES: Final = ("auth", "tamper_a", "tamper_b")
#: Non-ASCII words too, so that a changed byte can also break a UTF-8 sequence.
WORDS: Final = ("alpha", "bravo", "charlie", "délta", "echo", "foxtrot", "✓", "hôtel", "india")
HEADER_KEYS: Final = frozenset({"stream", "seq", "mac", "prev_stream", "prev_seq", "prev_mac"})
SPAWN: Final = multiprocessing.get_context("spawn")
PROCESS_DEADLINE: Final = 90.0  # a bound on a hang, never an assertion on speed

#: ``<file>.jsonl.<UTC YYYYmmdd_HHMMSS>[.N].rotated[.gz]``
ROTATED_RE: Final = re.compile(
    r"(?P<base>[a-z0-9][a-z0-9_-]*\.jsonl)\.(?P<stamp>\d{8}_\d{6})(?:\.(?P<n>\d+))?"
    r"\.rotated(?P<gz>\.gz)?"
)
#: ``"key":scalar`` at any depth of an orjson line (no spaces; our strings hold no quotes).
PAIR_RE: Final = re.compile(
    rb'"((?:[^"\\]|\\.)*)":("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)'
)
HEX: Final = "0123456789abcdef"

MODIFIED: Final = "modified"
DELETED: Final = "deleted"
INSERTED: Final = "inserted"
REORDERED: Final = "reordered"
TRUNCATED: Final = "truncated"
UNKNOWN_KEY: Final = "unknown key"
BAD_CHECKPOINT: Final = "bad checkpoint"

#: The corpus: how many cases of each alteration.
CORPUS: Final[dict[str, int]] = {
    "value_byte": 45,  # a byte of a field's value (not stream/seq/mac)
    "seq_byte": 25,  # a digit of seq
    "mac_byte": 25,  # a hex digit of the MAC (of a line after a stream's first)
    "mac_byte_first_line": 6,  # a hex digit of the MAC of a stream's first line
    "mac_algorithm_byte": 5,  # a byte of "hmac-sha256"
    "mac_uppercase": 4,  # a hex letter of the MAC in upper case
    "stream_byte": 6,  # a hex digit of the stream id
    "line_deleted": 30,
    "duplicated_adjacent": 15,  # right after itself
    "duplicated_elsewhere": 15,  # anywhere in any file
    "swapped": 20,  # two consecutive lines of one stream
    "inserted_from_elsewhere": 15,  # a line of another file inserted
    "tail_cut": 12,  # the last lines of a file, which later checkpoints name
    "rotated_file_deleted": 8,
    "key_changed": 6,
    "checkpoint_altered": 20,
}

#: The kinds accepted per alteration. Relaxed where the verifier names the right
#: place with another defensible word:
#: * ``seq_byte``: a changed ``seq`` reads as a repeated seq (``inserted``) or a gap
#:   (``deleted``, when it was the stream's last line) before the MAC tells;
#: * ``stream_byte``: the line starts a stream no one else has (``deleted``: lines
#:   missing before it; ``unknown key`` for a seq 1 line);
#: * ``mac_algorithm_byte``: the line says another algorithm (``unknown key``);
#: * ``duplicated_elsewhere`` / ``inserted_from_elsewhere``: a copy placed before its
#:   original is the line out of place (``reordered``), the original then ``inserted``.
KINDS: Final[dict[str, frozenset[str]]] = {
    "value_byte": frozenset({MODIFIED}),
    "seq_byte": frozenset({MODIFIED, INSERTED, DELETED}),
    "mac_byte": frozenset({MODIFIED}),
    "mac_byte_first_line": frozenset({MODIFIED}),
    "mac_algorithm_byte": frozenset({MODIFIED, UNKNOWN_KEY}),
    "mac_uppercase": frozenset({MODIFIED}),
    "stream_byte": frozenset({MODIFIED, DELETED, UNKNOWN_KEY}),
    "line_deleted": frozenset({DELETED}),  # TRUNCATED for a stream's last line
    "duplicated_adjacent": frozenset({INSERTED}),
    "duplicated_elsewhere": frozenset({INSERTED, REORDERED}),
    "swapped": frozenset({REORDERED}),
    "inserted_from_elsewhere": frozenset({INSERTED, REORDERED}),
    # Per stream: DELETED where it goes on in a later file, else TRUNCATED (gap_spots).
    "tail_cut": frozenset({DELETED, TRUNCATED}),
    "rotated_file_deleted": frozenset({DELETED, TRUNCATED}),
    "key_changed": frozenset({UNKNOWN_KEY}),
    "checkpoint_altered": frozenset({BAD_CHECKPOINT}),
}

CASE_IDS: Final = [f"{kind}-{n:02d}" for kind, count in CORPUS.items() for n in range(count)]


# --- writing the log: spawned processes ----------------------------------------------------


def write_run(
    log_dir: str, writer: int, run: int, events: int, rotate_mb: float | None, key: bytes | None
) -> None:
    """A spawned writer: one Auditor emitting ``events`` events into the three categories."""
    if key is None:
        os.environ.pop(KEY_ENV, None)
    asyncio.run(_write_run(Path(log_dir), writer, run, events, rotate_mb, key))


async def _write_run(
    log_dir: Path, writer: int, run: int, events: int, rotate_mb: float | None, key: bytes | None
) -> None:
    rng = random.Random(f"writer {writer} run {run}")
    auditor = Auditor(
        log_dir=log_dir,
        key=key,
        checkpoint_interval_s=0.05,
        self_audit=True,
        rotate_max_mb=rotate_mb,
        # Without a key: the explicit opt-out of sealing (SHA-256 chains).
        sealing="forward-secure" if key else "unkeyed",
    )
    async with auditor:
        for number in range(events):
            await auditor.emit(
                rng.choice(CATEGORIES),
                "tamper_corpus_event",
                outcome=rng.choice(("success", "failed")),
                writer_no=writer,
                run=run,
                event_no=number,
                user_id=f"user-{rng.randrange(1000)}",
                details={
                    "text": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 12))),
                    "amount": rng.randrange(10**6),
                },
            )
            if number % 15 == 14:
                await auditor.flush()
                await asyncio.sleep(0.02)  # room for interval checkpoints


def run_writers(runs: Sequence[tuple[str, int, int, int, float | None, bytes | None]]) -> None:
    processes = [SPAWN.Process(target=write_run, args=args, name=f"w{args[1]}") for args in runs]
    for process in processes:
        process.start()
    join_all(processes, PROCESS_DEADLINE)


# --- reading the log back: the model the cases are computed from ---------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One event line of the pristine log."""

    file: str
    index: int  # 0-based line index in its file
    stream: str
    seq: int
    rank: tuple[int, int, int]  # (file position, index, 1): the order verify reads lines in


@dataclass
class TamperLog:
    """A log directory read back: every event file's lines in verify order."""

    path: Path
    key: bytes | None
    files: list[str]
    lines: dict[str, list[bytes]]
    checkpoints: list[bytes]
    entries: list[Entry] = field(default_factory=list)
    streams: dict[str, list[Entry]] = field(default_factory=dict)
    checkpointed: dict[str, int] = field(default_factory=dict)

    @property
    def rotated(self) -> list[str]:
        return [name for name in self.files if ROTATED_RE.fullmatch(name)]

    def position(self, name: str) -> int:
        return self.files.index(name)


def ordered_event_files(log_dir: Path) -> list[str]:
    """Per category file (by name): its rotated files oldest first, then the current one."""
    groups: dict[str, list[tuple[tuple[str, int], str]]] = {}
    for path in log_dir.iterdir():
        match = ROTATED_RE.fullmatch(path.name)
        if match:
            order = (match["stamp"], int(match["n"] or 0))
            groups.setdefault(match["base"], []).append((order, path.name))
        elif path.name.endswith(".jsonl"):
            groups.setdefault(path.name, [])
    names: list[str] = []
    for base in sorted(groups):
        names.extend(name for _, name in sorted(groups[base]))
        if (log_dir / base).exists():
            names.append(base)
    return names


def file_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n") or not data, f"{path.name} ends inside a line"
    return data.split(b"\n")[:-1]


def read_log(log_dir: Path, key: bytes | None) -> TamperLog:
    files = ordered_event_files(log_dir)
    log = TamperLog(
        log_dir,
        key,
        files,
        {name: file_lines(log_dir / name) for name in files},
        file_lines(log_dir / CHECKPOINT_FILE),
    )
    for position, name in enumerate(files):
        for index, raw in enumerate(log.lines[name]):
            event = json.loads(raw)
            entry = Entry(name, index, event["stream"], event["seq"], (position, index, 1))
            log.entries.append(entry)
            log.streams.setdefault(entry.stream, []).append(entry)
    for raw in log.checkpoints:
        record = json.loads(raw)
        if record.get("type") == "checkpoint":
            for stream, head in record["streams"].items():
                log.checkpointed[stream] = max(log.checkpointed.get(stream, 0), head["seq"])
    return log


def event(raw: bytes) -> dict[str, Any]:
    parsed = json.loads(raw)
    assert isinstance(parsed, dict)
    return parsed


# --- the corpus: one alteration per case ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spot:
    """A break the verifier must report: at one of ``places`` (None: anywhere), of one
    of ``kinds``, naming ``stream`` when given."""

    places: tuple[tuple[str, int], ...] | None
    kinds: frozenset[str]
    stream: str | None = None

    def matches(self, found: Break) -> bool:
        if self.places is not None and (found.file, found.line) not in self.places:
            return False
        return self.stream is None or found.stream == self.stream

    def found_in(self, breaks: Sequence[Break]) -> bool:
        return any(self.matches(b) and b.kind in self.kinds for b in breaks)

    def __str__(self) -> str:
        where = (
            "anywhere" if self.places is None else " or ".join(f"{f}:{n}" for f, n in self.places)
        )
        named = f" of stream {self.stream}" if self.stream else ""
        return f"{'/'.join(sorted(self.kinds))} at {where}{named}"


@dataclass
class Case:
    """One alteration: the files it changes (None: deleted) and the breaks it must give."""

    description: str
    changes: dict[str, list[bytes] | None] = field(default_factory=dict)
    spots: list[Spot] = field(default_factory=list)
    key: bytes | None = KEY


def at(name: str, index: int) -> tuple[str, int]:
    """A place as verify names it: the file and the 1-based line."""
    return (name, index + 1)


def pick_file(log: TamperLog, rng: random.Random, names: Sequence[str] | None = None) -> str:
    """A file, uniformly: a small file (gzipped, a restart's) is hit as often as a big one."""
    return rng.choice(list(names if names is not None else log.files))


def pick_entry(
    log: TamperLog, rng: random.Random, accept: Callable[[Entry], bool] = lambda e: True
) -> Entry:
    """A file first, then a line in it (of the lines ``accept`` takes)."""
    candidates = [e for e in log.entries if accept(e)]
    assert candidates, "no line of the log fits the case"
    name = pick_file(log, rng, sorted({e.file for e in candidates}, key=log.position))
    return rng.choice([e for e in candidates if e.file == name])


def other_byte(value: int, rng: random.Random, alphabet: str | None = None) -> int:
    char = chr(value)
    if alphabet is not None:
        return ord(rng.choice(alphabet.replace(char, "")))
    for letters in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        if char in letters:
            return ord(rng.choice(letters.replace(char, "")))
    return ord("x")


def value_spans(raw: bytes, keys: Callable[[str], bool]) -> list[tuple[int, int]]:
    """The byte spans of scalar values (inside the quotes of a string) whose key is wanted."""
    spans = []
    for match in PAIR_RE.finditer(raw):
        if not keys(match[1].decode()):
            continue
        start, end = match.span(2)
        if raw[start : start + 1] == b'"':
            start, end = start + 1, end - 1
        if end > start:
            spans.append((start, end))
    return spans


def change_byte(raw: bytes, at_: int, new: int) -> bytes:
    assert raw[at_] != new
    return raw[:at_] + bytes([new]) + raw[at_ + 1 :]


def mac_hex_span(raw: bytes) -> tuple[int, int]:
    start = raw.rindex(MAC_MARKER) + len(MAC_MARKER)
    colon = raw.index(b":", start)
    return colon + 1, len(raw) - 2


def with_line(log: TamperLog, name: str, index: int, raw: bytes) -> list[bytes]:
    lines = list(log.lines[name])
    lines[index] = raw
    return lines


def next_of_stream(log: TamperLog, entry: Entry) -> Entry | None:
    entries = log.streams[entry.stream]
    at_ = entries.index(entry)
    return entries[at_ + 1] if at_ + 1 < len(entries) else None


def byte_case(kind: str, log: TamperLog, rng: random.Random) -> Case:
    """One byte of a line changed: found at that line."""
    if kind == "mac_byte_first_line":
        entry = pick_entry(log, rng, lambda e: e.seq == 1)
    elif kind == "mac_byte":
        entry = pick_entry(log, rng, lambda e: e.seq > 1)  # the first lines: the case above
    else:
        entry = pick_entry(log, rng)
    raw = log.lines[entry.file][entry.index]
    if kind == "value_byte":
        spans = value_spans(raw, lambda k: k not in HEADER_KEYS)
        start, end = rng.choice(spans)
        offset = rng.randrange(start, end)
        new = other_byte(raw[offset], rng)
    elif kind == "seq_byte":
        (start, end) = value_spans(raw, lambda k: k == "seq")[0]
        offset = rng.randrange(start, end)
        new = other_byte(raw[offset], rng, string.digits)
    elif kind == "stream_byte":
        start, end = value_spans(raw, lambda k: k == "stream")[0]
        offset = rng.randrange(start, end)
        new = other_byte(raw[offset], rng, HEX)
    elif kind in ("mac_byte", "mac_byte_first_line"):
        start, end = mac_hex_span(raw)
        offset = rng.randrange(start, end)
        new = other_byte(raw[offset], rng, HEX)
    elif kind == "mac_algorithm_byte":
        start = raw.rindex(MAC_MARKER) + len(MAC_MARKER)
        offset = rng.choice([i for i in range(start, raw.index(b":", start)) if raw[i] != ord("-")])
        new = other_byte(raw[offset], rng)
    else:
        assert kind == "mac_uppercase"
        start, end = mac_hex_span(raw)
        letters = [i for i in range(start, end) if chr(raw[i]) in "abcdef"]
        offset = rng.choice(letters)
        new = ord(chr(raw[offset]).upper())
    altered = change_byte(raw, offset, new)
    place = at(entry.file, entry.index)
    return Case(
        f"{entry.file}:{entry.index + 1} (stream {entry.stream} seq {entry.seq}): byte "
        f"{offset} {chr(raw[offset])!r} -> {chr(new)!r}",
        {entry.file: with_line(log, entry.file, entry.index, altered)},
        [Spot((place,), KINDS[kind])],
    )


def line_deleted_case(log: TamperLog, rng: random.Random) -> Case:
    """A line deleted: the next line of its stream shows the gap; else the stream is cut."""
    entry = pick_entry(log, rng)
    lines = list(log.lines[entry.file])
    del lines[entry.index]
    after = next_of_stream(log, entry)
    if after is not None:
        index = after.index - 1 if after.file == entry.file else after.index
        spot = Spot((at(after.file, index),), KINDS["line_deleted"])
    else:
        last = log.streams[entry.stream][-2]
        assert log.checkpointed[entry.stream] >= entry.seq
        spot = Spot((at(last.file, last.index),), frozenset({TRUNCATED}))
    return Case(
        f"{entry.file}:{entry.index + 1} (stream {entry.stream} seq {entry.seq}) deleted",
        {entry.file: lines},
        [spot],
    )


def copy_case(kind: str, log: TamperLog, source: Entry, name: str, index: int) -> Case:
    """``source`` copied into ``name`` before line ``index``: found at the copy, or at
    either place when no line of its stream lies between (the same bytes either way)."""
    lines = list(log.lines[name])
    lines.insert(index, log.lines[source.file][source.index])
    copy_rank = (log.position(name), index, 0)
    low, high = sorted((copy_rank, source.rank))
    between = [e for e in log.streams[source.stream] if e is not source and low < e.rank < high]
    places = [at(name, index)]
    if not between:
        shifted = (
            source.index + 1 if source.file == name and source.index >= index else source.index
        )
        places.append(at(source.file, shifted))
    return Case(
        f"{source.file}:{source.index + 1} (stream {source.stream} seq {source.seq}) copied "
        f"to {name}:{index + 1}",
        {name: lines},
        [Spot(tuple(places), KINDS[kind])],
    )


def duplicated_case(kind: str, log: TamperLog, rng: random.Random) -> Case:
    source = pick_entry(log, rng)
    if kind == "duplicated_adjacent":
        return copy_case(kind, log, source, source.file, source.index + 1)
    name = pick_file(log, rng)
    return copy_case(kind, log, source, name, rng.randrange(len(log.lines[name]) + 1))


def inserted_case(log: TamperLog, rng: random.Random) -> Case:
    """A line of another file (so of another stream or place) inserted."""
    name = pick_file(log, rng)
    source = pick_entry(log, rng, lambda e: e.file != name)
    return copy_case(
        "inserted_from_elsewhere", log, source, name, rng.randrange(len(log.lines[name]) + 1)
    )


def swapped_case(log: TamperLog, rng: random.Random) -> Case:
    """Two consecutive lines of one stream (in one file) swapped: either place."""
    first = pick_entry(
        log, rng, lambda e: (n := next_of_stream(log, e)) is not None and n.file == e.file
    )
    second = next_of_stream(log, first)
    assert second is not None
    lines = list(log.lines[first.file])
    lines[first.index], lines[second.index] = lines[second.index], lines[first.index]
    return Case(
        f"{first.file}:{first.index + 1} and :{second.index + 1} (stream {first.stream} seq "
        f"{first.seq}, {second.seq}) swapped",
        {first.file: lines},
        [Spot((at(first.file, first.index), at(first.file, second.index)), KINDS["swapped"])],
    )


def gap_spots(log: TamperLog, removed: Sequence[Entry]) -> list[Spot] | None:
    """Per stream that lost the ``removed`` lines (a file's tail, or a whole file): the
    first of its lines after the gap (``deleted``), or else its last remaining line
    (``truncated``: a later checkpoint names more); None when a stream lost every line."""
    spots = []
    for stream in sorted({e.stream for e in removed}):
        lost = {e for e in removed if e.stream == stream}
        remaining = [e for e in log.streams[stream] if e not in lost]
        later = [e for e in remaining if e.rank > max(e.rank for e in lost)]
        if later:
            spots.append(Spot((at(later[0].file, later[0].index),), frozenset({DELETED}), stream))
            continue
        if not remaining:
            return None
        assert log.checkpointed[stream] >= max(e.seq for e in lost), "no later checkpoint"
        last = remaining[-1]
        spots.append(Spot((at(last.file, last.index),), frozenset({TRUNCATED}), stream))
    return spots


def tail_cut_case(log: TamperLog, rng: random.Random) -> Case:
    """The last lines of a file cut (mostly a current file)."""
    cuttable = [name for name in log.files if len(log.lines[name]) >= 2]
    current = [name for name in cuttable if name not in log.rotated]
    rotated = [name for name in cuttable if name in log.rotated]
    for _ in range(100):
        name = pick_file(log, rng, current if rng.random() < 0.7 else rotated)
        count = rng.randint(1, min(6, len(log.lines[name]) - 1))
        keep = len(log.lines[name]) - count
        removed = [e for e in log.entries if e.file == name and e.index >= keep]
        spots = gap_spots(log, removed)
        if spots is not None:
            return Case(
                f"the last {count} lines of {name} cut", {name: log.lines[name][:keep]}, spots
            )
    raise AssertionError("no tail to cut")


def rotated_deleted_case(log: TamperLog, rng: random.Random) -> Case:
    for _ in range(100):
        name = pick_file(log, rng, log.rotated)
        removed = [e for e in log.entries if e.file == name]
        spots = gap_spots(log, removed)
        if spots is not None:
            return Case(f"{name} deleted", {name: None}, spots)
    raise AssertionError("no rotated file to delete")


def key_changed_case(log: TamperLog, rng: random.Random, number: int) -> Case:
    """Verified with another key: every stream of the log is ``unknown key``."""
    keys: list[bytes | None] = [
        None,  # unkeyed verification of a keyed log
        KEY[:-1] + bytes([KEY[-1] ^ 1]),  # one bit of the key
        KEY + b"x",
        b"k",
    ]
    other = keys[number] if number < len(keys) else bytes(rng.randrange(256) for _ in range(32))
    spots = [Spot(None, KINDS["key_changed"], stream) for stream in sorted(log.streams)]
    return Case(f"verified with the key {other!r}", {}, spots, key=other)


def checkpoint_case(log: TamperLog, rng: random.Random) -> Case:
    index = rng.randrange(len(log.checkpoints))
    raw = log.checkpoints[index]
    start, end = rng.choice(value_spans(raw, lambda k: True))
    offset = rng.randrange(start, end)
    new = other_byte(raw[offset], rng)
    checkpoints = list(log.checkpoints)
    checkpoints[index] = change_byte(raw, offset, new)
    return Case(
        f"{CHECKPOINT_FILE}:{index + 1}: byte {offset} {chr(raw[offset])!r} -> {chr(new)!r}",
        {CHECKPOINT_FILE: checkpoints},
        [Spot((at(CHECKPOINT_FILE, index),), KINDS["checkpoint_altered"])],
    )


def build_case(log: TamperLog, case_id: str, rng: random.Random) -> Case:
    kind, _, number = case_id.rpartition("-")
    if kind.endswith("_byte") or kind in ("mac_byte_first_line", "mac_uppercase"):
        return byte_case(kind, log, rng)
    builders: dict[str, Callable[[], Case]] = {
        "line_deleted": lambda: line_deleted_case(log, rng),
        "duplicated_adjacent": lambda: duplicated_case(kind, log, rng),
        "duplicated_elsewhere": lambda: duplicated_case(kind, log, rng),
        "swapped": lambda: swapped_case(log, rng),
        "inserted_from_elsewhere": lambda: inserted_case(log, rng),
        "tail_cut": lambda: tail_cut_case(log, rng),
        "rotated_file_deleted": lambda: rotated_deleted_case(log, rng),
        "key_changed": lambda: key_changed_case(log, rng, int(number)),
        "checkpoint_altered": lambda: checkpoint_case(log, rng),
    }
    return builders[kind]()


def build_corpus(log: TamperLog) -> dict[str, Case]:
    """Every case, each from a generator seeded with its id; a case that alters the
    same thing as an earlier one draws again (from its generator, so still the same)."""
    corpus: dict[str, Case] = {}
    seen: set[str] = set()
    for case_id in CASE_IDS:
        rng = random.Random(case_id)
        for _ in range(50):
            case = build_case(log, case_id, rng)
            if case.description not in seen:
                break
        seen.add(case.description)
        corpus[case_id] = case
    return corpus


def materialize(log: TamperLog, changes: dict[str, list[bytes] | None], target: Path) -> Path:
    """A fresh copy of the log with ``changes`` applied (gzipped files recompressed)."""
    shutil.copytree(log.path, target)
    for name, lines in changes.items():
        path = target / name
        if lines is None:
            path.unlink()
            continue
        data = b"".join(line + b"\n" for line in lines)
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return target


def describe(result: VerifyResult) -> str:
    shown = [f"{b.file}:{b.line} {b.kind} ({b.stream}: {b.detail})" for b in result.breaks[:12]]
    more = f"\n  ... {len(result.breaks) - 12} more" if len(result.breaks) > 12 else ""
    return "\n  ".join(shown) + more if shown else "no break"


# --- the logs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tamper_log(tmp_path_factory: pytest.TempPathFactory) -> TamperLog:
    """The real log: several processes, rotations, two gzipped files, a restart."""
    log_dir = tmp_path_factory.mktemp("tamper") / "logs"
    log_dir.mkdir(mode=0o700)
    d = str(log_dir)
    # Three processes at once; writer 0 rotates every ~10 KB.
    run_writers([(d, w, 0, 150, 0.01 if w == 0 else None, KEY) for w in range(3)])
    # Writer 0 restarted on the same files: its new streams name where the files ended.
    run_writers([(d, 0, 1, 60, None, KEY)])
    assert rotate_audit_logs(log_dir, max_size_mb=0)
    # Two processes on fresh files; writer 1 rotates every ~10 KB.
    run_writers([(d, w, 2, 100, 0.01 if w == 1 else None, KEY) for w in (1, 2)])
    compress_rotated(rotated_files(log_dir / "tamper_a.jsonl")[1])
    compress_rotated(rotated_files(log_dir / "auth-events.jsonl")[-1])
    log = read_log(log_dir, KEY)

    # The log has what the corpus needs.
    assert sum(name.endswith(".gz") for name in log.files) == 2
    assert len(log.rotated) >= 6
    restarted = [e for e in log.entries if e.seq == 1 and "prev_stream" in event(_raw(log, e))]
    assert len(restarted) >= 3, "no restarted stream names where the previous one ended"
    pids = {event(_raw(log, e)).get("details", {}).get("pid") for e in log.entries}
    assert len(pids - {None}) == 6  # 3 + 1 + 2 runs, each its own process
    reasons = {json.loads(raw).get("reason") for raw in log.checkpoints}
    assert {"interval", "rotation", "shutdown"} <= reasons
    for stream, entries in log.streams.items():
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1)), stream
        assert len(entries) >= 2, f"stream {stream} has one line"
        assert log.checkpointed[stream] == len(entries), "every stream ends at its checkpoint"
    assert len(log.streams) == 6 * (len(CATEGORIES) + 1)
    return log


def _raw(log: TamperLog, entry: Entry) -> bytes:
    return log.lines[entry.file][entry.index]


@pytest.fixture(scope="module")
def corpus(tamper_log: TamperLog) -> dict[str, Case]:
    return build_corpus(tamper_log)


# --- the untouched log ---------------------------------------------------------------------


def test_the_untouched_log_verifies_every_line_of_every_file(tamper_log: TamperLog) -> None:
    result = verify_directory(tamper_log.path, KEY)
    assert result.ok, describe(result)
    assert result.breaks == []
    assert result.lines == len(tamper_log.entries) == sum(map(len, tamper_log.lines.values()))
    assert sorted(result.files) == sorted(tamper_log.files)
    assert result.keyed
    checked = {s.stream: s for s in result.streams}
    assert set(checked) == set(tamper_log.streams)
    for stream, entries in tamper_log.streams.items():
        summary = checked[stream]
        assert (summary.lines, summary.first_seq, summary.last_seq) == (
            len(entries),
            1,
            len(entries),
        )
        assert summary.files == list(dict.fromkeys(e.file for e in entries))


def test_the_corpus_is_deterministic_and_touches_every_kind_of_file(
    tamper_log: TamperLog, corpus: dict[str, Case]
) -> None:
    cases = list(corpus.values())
    again = build_corpus(tamper_log)
    assert [c.description for c in cases] == [again[i].description for i in CASE_IDS]
    assert len(cases) >= 200
    touched = {name for case in cases for name in case.changes}
    assert any(name.endswith(".gz") for name in touched)
    assert touched & set(tamper_log.rotated)
    assert touched & {name for name in tamper_log.files if name.endswith(".jsonl")}
    assert CHECKPOINT_FILE in touched
    assert len({c.description for c in cases}) == len(cases), "two cases are the same"


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_an_alteration_is_found_where_it_was_made(
    tamper_log: TamperLog, corpus: dict[str, Case], tmp_path: Path, case_id: str
) -> None:
    case = corpus[case_id]
    altered = materialize(tamper_log, case.changes, tmp_path / "logs")
    result = verify_directory(altered, case.key)
    report = f"{case_id}: {case.description}\n verify said:\n  {describe(result)}"
    assert not result.ok, report
    missing = [str(spot) for spot in case.spots if not spot.found_in(result.breaks)]
    assert not missing, f"{report}\n expected: {'; '.join(missing)}"


# --- one altered MAC must not switch off the checking of its stream -----------------------


def alter_mac_then_edit(log: TamperLog, stream: str, seq: int, algorithm: bool) -> Case:
    """Two alterations in one stream: a byte of the MAC of line ``seq`` (of its hex, or of
    its algorithm), then a byte of a value five lines later, which must still be found."""
    entries = log.streams[stream]
    marked, edited = entries[seq - 1], entries[seq + 4]
    raw = _raw(log, marked)
    start = raw.rindex(MAC_MARKER) + len(MAC_MARKER)
    offset = start + 5 if algorithm else mac_hex_span(raw)[0]  # "hmac-[s]ha256" / hex
    changes: dict[str, list[bytes] | None] = {}
    for entry, at_ in ((marked, offset), (edited, None)):
        lines = changes.setdefault(entry.file, list(log.lines[entry.file]))
        assert lines is not None
        line = lines[entry.index]
        if at_ is None:
            at_ = value_spans(line, lambda k: k == "outcome")[0][0]
        new = (
            ord("0" if line[at_] != ord("0") else "1")
            if at_ == offset and not algorithm
            else ord("z")
        )
        lines[entry.index] = change_byte(line, at_, new)
    return Case(
        f"{'the algorithm' if algorithm else 'the MAC'} of seq {seq} altered, then seq {seq + 5}",
        changes,
        [Spot((at(edited.file, edited.index),), frozenset({MODIFIED}))],
    )


@pytest.mark.parametrize(
    ("seq", "algorithm"),
    [(1, False), (1, True), (4, True)],
    ids=["mac-of-first-line", "algorithm-of-first-line", "algorithm-of-a-later-line"],
)
def test_an_edit_after_a_line_whose_mac_was_altered_is_still_found(
    tamper_log: TamperLog, tmp_path: Path, seq: int, algorithm: bool
) -> None:
    case = alter_mac_then_edit(tamper_log, event_stream(tamper_log), seq, algorithm)
    result = verify_directory(materialize(tamper_log, case.changes, tmp_path / "logs"), KEY)
    missing = [str(spot) for spot in case.spots if not spot.found_in(result.breaks)]
    assert not missing, f"{case.description}: expected {missing}; verify said {describe(result)}"


# --- a keyed log rewritten without the key -------------------------------------------------


def reseal(lines: list[bytes], key: bytes | None, previous: bytes, algorithm: bytes) -> list[bytes]:
    """Reseal ``lines`` (in place) in one chain from ``previous``; return their MACs."""
    macs = []
    for number, raw in enumerate(lines):
        split = split_mac(raw)
        assert split is not None
        body = split[0]
        previous = compute_mac(key, previous, body)
        lines[number] = body[:-1] + MAC_MARKER + algorithm + b":" + previous.hex().encode() + b'"}'
        macs.append(previous)
    return macs


def rewrite_rest_of_stream(
    log: TamperLog, stream: str, first_seq: int, key: bytes | None, algorithm: bytes
) -> tuple[dict[str, list[bytes] | None], Entry, dict[int, bytes]]:
    """Change the outcome of a stream's line ``first_seq`` and reseal it and every later
    line of the stream with ``key``; return the changed files, that line, and the new
    MAC of every resealed seq."""
    entries = [e for e in log.streams[stream] if e.seq >= first_seq]
    if first_seq > 1:
        split = split_mac(_raw(log, log.streams[stream][first_seq - 2]))
        assert split is not None
        previous = split[2]
    else:
        previous = compute_mac(key, b"", b"asgi_audit stream " + stream.encode())
    raws = [_raw(log, e) for e in entries]
    first = raws[0]
    raws[0] = re.sub(rb'"outcome":"[a-z]+"', b'"outcome":"blocked"', first, count=1)
    assert raws[0] != first
    macs = reseal(raws, key, previous, algorithm)
    changes: dict[str, list[bytes] | None] = {}
    for entry, raw in zip(entries, raws, strict=True):
        lines = changes.setdefault(entry.file, list(log.lines[entry.file]))
        assert lines is not None
        lines[entry.index] = raw
    return changes, entries[0], {e.seq: mac for e, mac in zip(entries, macs, strict=True)}


def event_stream(log: TamperLog, lines: int = 10) -> str:
    """A stream of events (not the audit category) with at least ``lines`` lines."""
    return next(
        s
        for s, entries in sorted(log.streams.items())
        if len(entries) >= lines and not entries[0].file.startswith("audit.")
    )


@pytest.mark.parametrize("algorithm", [b"sha256", b"hmac-sha256"])
def test_a_keyed_stream_rewritten_with_sha256_is_caught_at_the_first_rewritten_line(
    tamper_log: TamperLog, tmp_path: Path, algorithm: bytes
) -> None:
    stream = event_stream(tamper_log)
    first_seq = len(tamper_log.streams[stream]) // 2
    changes, first, _ = rewrite_rest_of_stream(tamper_log, stream, first_seq, None, algorithm)
    result = verify_directory(materialize(tamper_log, changes, tmp_path / "logs"), KEY)
    spot = Spot((at(first.file, first.index),), frozenset({UNKNOWN_KEY, MODIFIED}))
    assert spot.found_in(result.breaks), describe(result)


# --- a log without a key -------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_log(tmp_path_factory: pytest.TempPathFactory) -> TamperLog:
    """A log written without a key (none given, no ``ASGI_AUDIT_KEY``): SHA-256 chains."""
    log_dir = tmp_path_factory.mktemp("plain") / "logs"
    log_dir.mkdir(mode=0o700)
    run_writers([(str(log_dir), 0, 0, 60, None, None)])
    return read_log(log_dir, None)


def test_without_a_key_every_line_says_sha256_and_the_log_verifies(plain_log: TamperLog) -> None:
    for entry in plain_log.entries:
        assert b',"mac":"sha256:' in _raw(plain_log, entry)
    for raw in plain_log.checkpoints:
        assert json.loads(raw)["sig"].startswith("sha256:")
    result = verify_directory(plain_log.path, None)
    assert result.ok, describe(result)
    assert not result.keyed
    assert result.lines == len(plain_log.entries)
    # A keyed verification of an unkeyed log: no stream holds.
    keyed = verify_directory(plain_log.path, KEY)
    mismatched = {b.stream for b in keyed.breaks if b.kind == UNKNOWN_KEY}
    assert mismatched == {*plain_log.streams, None}  # None: the ledger's own records


@pytest.mark.parametrize("case_id", [f"value_byte-{n:02d}" for n in range(8)])
def test_without_a_key_an_edited_line_is_still_caught(
    plain_log: TamperLog, tmp_path: Path, case_id: str
) -> None:
    case = build_case(plain_log, case_id, random.Random(case_id))
    result = verify_directory(materialize(plain_log, case.changes, tmp_path / "logs"), None)
    missing = [str(spot) for spot in case.spots if not spot.found_in(result.breaks)]
    assert not missing, f"{case.description}: verify said {describe(result)}"


def test_without_a_key_a_full_recompute_of_the_rest_of_a_stream_passes(
    plain_log: TamperLog, tmp_path: Path
) -> None:
    """The README's warning, proven: SHA-256 without a key catches accidents and careless
    edits, not someone who rewrites the rest of the stream and re-signs its checkpoints."""
    stream = event_stream(plain_log)
    first_seq = len(plain_log.streams[stream]) // 2
    changes, _, _ = rewrite_rest_of_stream(plain_log, stream, first_seq, None, b"sha256")
    forged = materialize(plain_log, changes, tmp_path / "logs")
    assert not verify_directory(forged, None).ok  # the edit shows until the ledger is redone
    reseal_unkeyed(forged)
    result = verify_directory(forged, None)
    assert result.ok, describe(result)
    assert result.verdict == "unkeyed"  # which is why the command fails on it by default
    assert result.lines == len(plain_log.entries)


# --- files deleted by retention are not breaks ---------------------------------------------


async def test_rotated_files_deleted_by_retention_are_not_breaks(tmp_path: Path) -> None:
    """Retention records (signed) what it deletes: the streams of the deleted files,
    even one whose every line is gone, are not reported."""
    log_dir = tmp_path / "logs"
    for run in range(2):
        auditor = Auditor(
            log_dir=log_dir,
            key=KEY,
            rotate_max_mb=0.001,  # 1 KiB: about one line per file
            retain_count=2 if run else None,
            checkpoint_interval_s=0.05,
            self_audit=False,
        )
        async with auditor:
            for number in range(16):
                await auditor.emit("retained", "retained_event", event_no=number, run=run)
                await auditor.flush()
                await asyncio.sleep(0.01)  # retention runs after each rotation, off the writer
    records = [json.loads(raw) for raw in file_lines(log_dir / CHECKPOINT_FILE)]
    assert any(r["type"] == "retired" for r in records)
    first_stream = next(r["stream"] for r in records if r["type"] == "stream")
    remaining = {e.stream for e in read_log(log_dir, KEY).entries}
    assert first_stream not in remaining, "the first run's lines were all deleted"
    result = verify_directory(log_dir, KEY)
    assert result.ok, describe(result)


# --- the command -----------------------------------------------------------------------------


def cli_main() -> Callable[[list[str]], int]:
    from asgi_audit import cli

    main: Callable[[list[str]], int] = cli.main
    return main


def test_the_verify_command_exits_0_on_the_untouched_log(
    tamper_log: TamperLog, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert cli_main()(["verify", str(tamper_log.path)]) == 0
    capsys.readouterr()
    assert cli_main()(["verify", str(tamper_log.path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["lines"] == len(tamper_log.entries)


def test_the_verify_command_exits_1_on_an_altered_log_and_names_the_line(
    tamper_log: TamperLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    case = build_case(tamper_log, "value_byte-00", random.Random("cli"))
    altered = materialize(tamper_log, case.changes, tmp_path / "logs")
    ((name, line),) = case.spots[0].places or ()
    assert cli_main()(["verify", str(altered)]) == 1
    capsys.readouterr()
    assert cli_main()(["verify", str(altered), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert {"file": name, "line": line, "kind": MODIFIED} in [
        {k: b[k] for k in ("file", "line", "kind")} for b in report["breaks"]
    ]


def test_the_verify_command_exits_2_on_a_missing_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert cli_main()(["verify", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" not in err, "there is no verify command"
    assert err.startswith("asgi-audit: ")
    assert "nowhere" in err
