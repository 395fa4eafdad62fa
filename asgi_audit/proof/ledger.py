"""Following the ledger: is every record there, in order, linked and signed?

PURE: no event loop, no file. A :class:`LedgerCheck` is fed every line of
``checkpoints.log`` in order. It checks that the records count up from the
genesis without a gap (``n``), that each links to the line before it (``prev``),
that each is signed with the key of its epoch (whose public key a record of an
earlier epoch certified, back to the verification key), and that its fields
have the right types. Each record that fails is a named break; the records
that hold become :class:`LedgerFacts`: which streams were announced (and
where), where each stood at each checkpoint, which files were rotated,
compressed and retired, and when writers started and stopped.

Break kinds (file ``checkpoints.log``, the record's line):

``bad checkpoint``
    a record that is not JSON, has fields of the wrong type, or whose
    signature does not hold;
``ledger gap``
    records are missing before this one (its ``n`` jumps), or this record
    does not link to the line before it (``prev``): one was removed or replaced;
``ledger missing``
    no genesis: the ledger is missing, empty, or starts after its first records
    (cut, or started again after it was deleted: a ``reset`` record says so), or
    holds under another key while the lines verify with the one given (replaced).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import orjson

from .findings import Break
from .records import field_problem, record_hash, split_sig

__all__ = (
    "LEDGER_BROKEN",
    "LEDGER_MISSING",
    "Announce",
    "Head",
    "LedgerCheck",
    "LedgerFacts",
    "RecordKeys",
    "Rotated",
)

#: The break kinds of the ledger.
BAD_RECORD: Final = "bad checkpoint"
LEDGER_GAP: Final = "ledger gap"
LEDGER_MISSING: Final = "ledger missing"
LEDGER_BROKEN: Final = (BAD_RECORD, LEDGER_GAP, LEDGER_MISSING)


class RecordKeys(Protocol):
    """What checks a record's signature (see :mod:`asgi_audit.proof.schemes`)."""

    #: ``forward-secure``, ``static`` or ``unkeyed``: what the key given checks.
    scheme: str

    def check(self, record: dict[str, Any], body: bytes, label: str, value: str) -> str:
        """``ok``, ``bad`` (fails), or ``uncertified`` (no key known for its epoch)."""
        ...

    def learn(self, record: dict[str, Any]) -> str | None:
        """Take in a verified record's certificate of a later key; why not, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Where:
    """A record's place: its line in the ledger and its ``n``."""

    line: int
    n: int


@dataclass(frozen=True, slots=True)
class Announce:
    """A stream as its ``stream`` record announced it."""

    where: Where
    stream: str
    category: str
    file: str
    host: str
    pid: int
    follows: tuple[str, int, str] | None  # (stream, seq, mac) it says it follows


@dataclass(frozen=True, slots=True)
class Head:
    """Where one stream stood at one checkpoint."""

    where: Where
    stream: str
    seq: int
    mac: str
    root: str
    file: str
    reason: str
    epoch: int | None = None  # the epoch the checkpoint was signed in (forward-secure)


@dataclass(frozen=True, slots=True)
class Rotated:
    """A rotated file as its ``rotated`` record names it."""

    where: Where
    category: str
    file: str
    size: int
    sha256: str
    timestamp: str
    ranges: dict[str, tuple[int, int, str]]  # stream -> (first_seq, last_seq, last_mac)


@dataclass(slots=True)
class Writer:
    """One writer process as its records show it."""

    started: str
    last: str
    where: Where
    stopped: bool = False


@dataclass(slots=True)
class LedgerFacts:
    """What the records that hold say (every field only from verified records)."""

    records: int = 0  # lines read
    verified: int = 0  # records whose signature holds
    scheme: str | None = None  # the genesis's
    deployment: str | None = None
    genesis: bool = False
    last: Where | None = None
    last_hash: str | None = None
    last_timestamp: str | None = None
    announced: dict[str, Announce] = field(default_factory=dict)
    heads: list[Head] = field(default_factory=list)
    rotated: dict[str, Rotated] = field(default_factory=dict)  # by file name
    by_n: dict[int, Rotated] = field(default_factory=dict)  # rotated, by record n
    compressed: dict[str, tuple[Where, str, int, str]] = field(default_factory=dict)
    retired: dict[str, tuple[Where, str, int]] = field(default_factory=dict)  # file -> (.., n)
    hashes: dict[int, str] = field(default_factory=dict)  # n -> the record line's SHA-256
    starts: list[tuple[Where, str, float | None]] = field(default_factory=list)
    stops: list[tuple[Where, str]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)  # the epochs records were sealed in
    #: Per writer (host, pid): its start, its last record, whether it stopped cleanly.
    writers: dict[tuple[str, int], Writer] = field(default_factory=dict)
    interval: float | None = None  # the longest checkpoint interval a writer announced
    breaks: list[Break] = field(default_factory=list)


class LedgerCheck:
    """Follows the ledger's chain line by line.

    Args:
        keys: what checks each record's signature.
        deployment: the deployment the key given belongs to (None: any).
        file: the ledger's file name, for the breaks.
    """

    def __init__(self, keys: RecordKeys, deployment: str | None, file: str) -> None:
        self._keys = keys
        self._deployment = deployment
        self._file = file
        self._expected = 0  # the n the next record should have
        self._prev: str | None = None  # the hash of the line before (None: none yet)
        self.facts = LedgerFacts()

    def _break(self, line: int, kind: str, detail: str, stream: str | None = None) -> None:
        self.facts.breaks.append(Break(self._file, line, kind, stream, detail))

    def feed(self, line_no: int, raw: bytes) -> None:
        """One line of the ledger as read (without its newline)."""
        facts = self.facts
        facts.records += 1
        prev, self._prev = self._prev, record_hash(raw)
        split = split_sig(raw)
        record: Any = None
        if split is not None:
            with contextlib.suppress(ValueError):
                record = orjson.loads(split[0])
        if not isinstance(record, dict):
            self._break(line_no, BAD_RECORD, "not a signed record")
            self._expected = -1  # resynchronise on the next record
            return
        problem = field_problem(record)
        if problem is not None:
            self._break(line_no, BAD_RECORD, f"malformed: {problem}")
            self._expected = -1
            return
        body, label, value = split  # type: ignore[misc]
        n: int = record["n"]
        where = Where(line_no, n)
        self._link(where, record, prev)
        verdict = self._keys.check(record, body, label, value)
        if verdict != "ok":
            detail = (
                "signed in an epoch whose key no verified record certifies"
                if verdict == "uncertified"
                else f"the signature does not hold ({label})"
            )
            self._break(line_no, BAD_RECORD, f"{record['type']} record n={n}: {detail}")
            return
        if self._deployment is not None and record["deployment"] != self._deployment:
            self._break(
                line_no,
                BAD_RECORD,
                f"record n={n} names deployment {record['deployment']}, "
                f"the key given is deployment {self._deployment}'s",
            )
            return
        self._take(where, record, self._prev)

    def _link(self, where: Where, record: dict[str, Any], prev: str | None) -> None:
        n = where.n
        if n > 0 and prev is None:
            self._break(
                where.line, LEDGER_MISSING, f"the ledger starts at n={n}: records before are gone"
            )
        elif self._expected >= 0 and n != self._expected:
            if n > self._expected:
                missing = f"records {self._expected}..{n - 1} are missing"
            else:
                missing = f"n={n} comes after n={self._expected - 1}"
            self._break(where.line, LEDGER_GAP, missing)
        elif n > 0 and prev is not None and record["prev"] != prev:
            self._break(where.line, LEDGER_GAP, f"record n={n} does not link to the line before it")
        self._expected = n + 1

    def _take(self, where: Where, record: dict[str, Any], line_hash: str | None) -> None:
        facts = self.facts
        facts.verified += 1
        facts.last = where
        facts.last_hash = line_hash
        facts.last_timestamp = record["timestamp"]
        if line_hash is not None:
            facts.hashes[where.n] = line_hash
        epoch = record.get("epoch")
        if isinstance(epoch, int):
            facts.epochs.append(epoch)
        kind = record["type"]
        who = (record["host"], record["pid"])
        writer = facts.writers.get(who)
        if writer is None or kind == "start":
            writer = facts.writers[who] = Writer(record["timestamp"], record["timestamp"], where)
        writer.last, writer.where = record["timestamp"], where
        writer.stopped = kind == "stop"
        if kind in ("genesis", "reset"):
            if where.n != 0:
                self._break(where.line, BAD_RECORD, f"a {kind} record at n={where.n}")
                return
            facts.genesis = kind == "genesis"
            facts.scheme = record["scheme"]
            facts.deployment = record["deployment"]
            if kind == "reset":
                self._break(
                    where.line,
                    LEDGER_MISSING,
                    "the ledger was missing when a writer started (deleted, or replaced); "
                    "everything it vouched for before is unproven",
                )
        problem = self._keys.learn(record)
        if problem is not None:
            self._break(where.line, BAD_RECORD, problem)
        getattr(self, f"_on_{kind}", _nothing)(where, record)

    # ------------------------------------------------------------ per record type

    def _on_start(self, where: Where, record: dict[str, Any]) -> None:
        interval = record["interval_s"]
        self.facts.starts.append((where, record["timestamp"], interval))
        if interval is not None:
            self.facts.interval = max(self.facts.interval or 0.0, float(interval))

    def _on_stop(self, where: Where, record: dict[str, Any]) -> None:
        self.facts.stops.append((where, record["timestamp"]))

    def _on_stream(self, where: Where, record: dict[str, Any]) -> None:
        follows = record["follows"]
        self.facts.announced.setdefault(
            record["stream"],
            Announce(
                where,
                record["stream"],
                record["category"],
                record["file"],
                record["host"],
                record["pid"],
                None if follows is None else (follows["stream"], follows["seq"], follows["mac"]),
            ),
        )

    def _on_checkpoint(self, where: Where, record: dict[str, Any]) -> None:
        for stream, head in record["streams"].items():
            self.facts.heads.append(
                Head(
                    where,
                    stream,
                    head["seq"],
                    head["mac"],
                    head["root"],
                    head["file"],
                    record["reason"],
                    record.get("epoch"),
                )
            )

    def _on_rotated(self, where: Where, record: dict[str, Any]) -> None:
        rotated = Rotated(
            where,
            record["category"],
            record["file"],
            record["size"],
            record["sha256"],
            record["timestamp"],
            {
                s: (r["first_seq"], r["last_seq"], r["last_mac"])
                for s, r in record["streams"].items()
            },
        )
        self.facts.rotated[rotated.file] = rotated
        self.facts.by_n[where.n] = rotated

    def _on_compressed(self, where: Where, record: dict[str, Any]) -> None:
        self.facts.compressed[record["file"]] = (
            where,
            record["from"],
            record["size"],
            record["sha256"],
        )

    def _on_retired(self, where: Where, record: dict[str, Any]) -> None:
        self.facts.retired[record["file"]] = (where, record["sha256"], record["record"])

    def finish(self) -> LedgerFacts:
        """The facts; a ledger with no genesis (and no reset) is named."""
        facts = self.facts
        if facts.records == 0:
            self._break(0, LEDGER_MISSING, "no ledger: nothing says what should exist")
        elif facts.scheme is None and not any(b.kind == LEDGER_MISSING for b in facts.breaks):
            self._break(1, LEDGER_MISSING, "no valid genesis record")
        return facts


def _nothing(where: Where, record: dict[str, Any]) -> None:
    return None
