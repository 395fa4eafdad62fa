"""The ledger's pure parts: records, the chain check, the schemes, completeness.

Records are built and signed here with real keys (a forward-secure verification
key made by the schedule, a static key), then fed to
:class:`~asgi_audit.proof.ledger.LedgerCheck` in order, out of order, cut,
altered, or with fields of the wrong type; each case asserts the break's kind,
line and detail. Everything runs in process, so mutation testing sees it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Final

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.proof import forward
from asgi_audit.proof.completeness import (
    anchor_breaks,
    caveats,
    file_breaks,
    silences,
    stream_breaks,
    unrecorded,
)
from asgi_audit.proof.findings import Line, State, StreamSummary
from asgi_audit.proof.forward import Deployment, SealingState, VerificationKey
from asgi_audit.proof.ledger import LedgerCheck, LedgerFacts
from asgi_audit.proof.records import build_body, field_problem, record_hash, seal_record, split_sig
from asgi_audit.proof.schemes import (
    ForwardRecords,
    ForwardSealer,
    StaticRecords,
    StaticSealer,
    UnkeyedRecords,
    line_epoch,
)

DEPLOYMENT: Final = Deployment("0123456789abcdef", 1_700_000_000, 900)
SEED: Final = bytes(range(32))
STREAM: Final = "00112233445566ff"
HEX: Final = "ab" * 32
FILE: Final = "checkpoints.log"


def state(epoch: int = 0) -> SealingState:
    s = SealingState(DEPLOYMENT, 0, SEED, b"p" * 32, "/srv/logs")
    s.advance_to(epoch)
    return s


VK: Final = VerificationKey.from_seed(DEPLOYMENT, SEED)


class Chain:
    """Builds a ledger the way the writer does: numbered, linked, signed."""

    def __init__(self, sealer: Any) -> None:
        self.sealer = sealer
        self.lines: list[bytes] = []
        self.prev = ""

    def add(self, kind: str, **fields: Any) -> bytes:
        common: dict[str, Any] = {
            "n": len(self.lines),
            "prev": self.prev,
            "type": kind,
            "timestamp": "2026-12-04T10:00:00.000000+00:00",
            "deployment": self.sealer.deployment,
            "host": "h",
            "pid": 7,
        }
        epoch = self.sealer.epoch()
        if epoch is not None:
            common["epoch"] = epoch
        body = build_body(common, fields)
        line = seal_record(body, self.sealer.sign(body))[:-1]
        self.lines.append(line)
        self.prev = record_hash(line)
        return line

    def genesis(self) -> Chain:
        self.add("genesis", directory="/srv/logs", scheme=self.sealer.scheme)
        return self


def check(lines: list[bytes], keys: Any = None, deployment: str | None = None) -> LedgerFacts:
    ledger = LedgerCheck(keys or ForwardRecords(VK.public()), deployment, FILE)
    for number, line in enumerate(lines, start=1):
        ledger.feed(number, line)
    return ledger.finish()


def where(facts: LedgerFacts) -> list[tuple[int, str]]:
    return [(b.line, b.kind) for b in facts.breaks]


def forward_chain(epoch_after: int = 0) -> Chain:
    sealer = ForwardSealer(state())
    chain = Chain(sealer).genesis()
    if epoch_after:
        ahead = state(epoch_after)
        chain.add("key", next_epoch=epoch_after, next_public_key=ahead.public_key().hex())
        sealer.state.advance_to(epoch_after)
    chain.add("start", interval_s=60)
    chain.add("stream", stream=STREAM, category="auth", file="auth-events.jsonl", follows=None)
    chain.add(
        "checkpoint",
        reason="interval",
        streams={STREAM: {"seq": 3, "mac": f"fs-hmac-sha256:0:{HEX}", "root": HEX, "file": "a"}},
    )
    return chain


# --- the chain ----------------------------------------------------------------------------


def test_a_whole_ledger_verifies_and_says_what_it_holds() -> None:
    facts = check(forward_chain(5).lines)
    assert facts.breaks == []
    assert (facts.records, facts.verified, facts.scheme, facts.genesis) == (
        5,
        5,
        "forward-secure",
        True,
    )
    assert facts.deployment == DEPLOYMENT.deployment
    assert list(facts.announced) == [STREAM]
    assert facts.announced[STREAM].category == "auth"
    assert [(h.stream, h.seq) for h in facts.heads] == [(STREAM, 3)]
    assert facts.last is not None
    assert facts.last.n == 4
    assert facts.epochs == [0, 0, 5, 5, 5]
    assert facts.interval == 60.0


def test_a_removed_record_is_a_gap_at_the_next() -> None:
    lines = forward_chain().lines
    facts = check(lines[:1] + lines[2:])
    assert where(facts) == [(2, "ledger gap")]
    assert facts.breaks[0].detail == "records 1..1 are missing"


def test_a_replaced_record_does_not_link() -> None:
    chain = forward_chain()
    other = Chain(chain.sealer)
    other.lines, other.prev = chain.lines[:1], record_hash(b"something else")
    other.add("start", interval_s=5)
    facts = check([chain.lines[0], other.lines[1], *chain.lines[2:]])
    assert (2, "ledger gap") in where(facts)
    assert "does not link to the line before it" in facts.breaks[0].detail


def test_records_out_of_order() -> None:
    lines = forward_chain().lines
    facts = check([lines[0], lines[2], lines[1], lines[3]])
    assert where(facts)[:2] == [(2, "ledger gap"), (3, "ledger gap")]
    assert facts.breaks[1].detail == "n=1 comes after n=2"


def test_a_ledger_that_starts_late_or_is_empty_is_missing() -> None:
    lines = forward_chain().lines
    assert where(check(lines[2:]))[0] == (1, "ledger missing")
    facts = check([])
    assert where(facts) == [(0, "ledger missing")]
    assert facts.breaks[0].detail == "no ledger: nothing says what should exist"


def test_a_changed_byte_breaks_the_signature() -> None:
    lines = forward_chain().lines
    lines[2] = lines[2].replace(b'"auth"', b'"autz"')
    facts = check(lines)
    assert where(facts)[0] == (3, "bad checkpoint")
    assert facts.breaks[0].detail == "stream record n=2: the signature does not hold (ed25519)"
    assert STREAM not in facts.announced  # nothing an altered record says is believed


def test_a_genesis_sealed_after_epoch_0_is_refused() -> None:
    sealer = ForwardSealer(state(3))
    chain = Chain(sealer).genesis()
    facts = check(chain.lines, ForwardRecords(VK))  # even the secret key derives pk_3
    assert where(facts)[0] == (1, "bad checkpoint")


def test_an_uncertified_epoch_is_named_with_the_public_key() -> None:
    chain = Chain(ForwardSealer(state())).genesis()
    chain.sealer.state.advance_to(4)  # no key record certifies epoch 4
    chain.add("start", interval_s=1)
    facts = check(chain.lines)
    assert where(facts) == [(2, "bad checkpoint")]
    assert "no verified record certifies" in facts.breaks[0].detail
    # Nor with the secret key, which could derive it: every epoch's key must be
    # certified in the ledger by the one before, or whoever took the host at epoch 4
    # could re-sign the past as epoch 4.
    assert where(check(chain.lines, ForwardRecords(VK))) == [(2, "bad checkpoint")]


def test_a_certificate_the_secret_key_does_not_derive_is_refused() -> None:
    chain = Chain(ForwardSealer(state())).genesis()
    chain.add("key", next_epoch=2, next_public_key=state(3).public_key().hex())
    facts = check(chain.lines, ForwardRecords(VK))
    assert where(facts) == [(2, "bad checkpoint")]
    assert "does not derive" in facts.breaks[0].detail
    backwards = Chain(ForwardSealer(state()))
    backwards.genesis()
    backwards.add("key", next_epoch=2, next_public_key=state(2).public_key().hex())
    backwards.sealer.state.advance_to(2)
    backwards.add("key", next_epoch=1, next_public_key=state(1).public_key().hex())
    facts = check(backwards.lines, ForwardRecords(VK))
    assert "keys only move forward" in facts.breaks[-1].detail


def test_another_deployment_is_refused() -> None:
    chain = forward_chain()
    facts = check(chain.lines, deployment="fedcba9876543210")
    assert {b.kind for b in facts.breaks} == {"bad checkpoint", "ledger missing"}
    assert "names deployment 0123456789abcdef" in facts.breaks[0].detail


def test_a_reset_record_is_named() -> None:
    chain = Chain(ForwardSealer(state()))
    chain.add("reset", directory="/srv/logs", scheme="forward-secure", lost=HEX)
    facts = check(chain.lines)
    assert where(facts) == [(1, "ledger missing")]
    assert facts.scheme == "forward-secure"
    assert not facts.genesis


def test_static_and_unkeyed_records() -> None:
    key = hashlib.sha256(b"k").digest()
    static = Chain(StaticSealer(key, "0123456789abcdef")).genesis()
    static.add("stop")
    assert check(static.lines, StaticRecords(key)).breaks == []
    assert where(check(static.lines, StaticRecords(b"x" * 32)))[0] == (1, "bad checkpoint")
    unkeyed = Chain(StaticSealer(None, "0123456789abcdef")).genesis()
    assert check(unkeyed.lines, UnkeyedRecords()).breaks == []
    assert where(check(unkeyed.lines, StaticRecords(key)))[0] == (1, "bad checkpoint")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"n": -1}, "n is not a non-negative integer"),
        ({"n": True}, "n is not a non-negative integer"),
        ({"pid": "7"}, "pid is not a non-negative integer"),
        ({"host": 5}, "host is not a string"),
        ({"prev": "xyz"}, "prev is not 64 hex digits"),
        ({"deployment": "DEPLOY"}, "deployment is not 16 hex digits"),
        ({"epoch": 1.5}, "epoch is not a non-negative integer"),
        ({"type": "nonsense"}, "unknown record type 'nonsense'"),
        ({"stream": "s1"}, "stream is not a stream id"),
        ({"follows": 5}, "follows is not an object"),
        ({"follows": {"stream": STREAM, "seq": "1", "mac": "x"}},
         "follows is not a non-negative integer"),
        ({"category": None}, "category is not a string"),
    ],
)  # fmt: skip
def test_fields_of_the_wrong_type_are_a_malformed_record(
    change: dict[str, Any], problem: str
) -> None:
    record = {
        "n": 3, "prev": HEX, "type": "stream", "timestamp": "t", "deployment": "0123456789abcdef",
        "host": "h", "pid": 7, "stream": STREAM, "category": "auth", "file": "f", "follows": None,
    }  # fmt: skip
    assert field_problem(record) is None
    assert field_problem({**record, **change}) == problem
    sealer = StaticSealer(None, "0123456789abcdef")
    body = orjson.dumps({**record, **change})
    facts = check([seal_record(body, sealer.sign(body))[:-1]], UnkeyedRecords())
    assert facts.breaks[0].detail == f"malformed: {problem}"


def test_heads_and_ranges_are_checked_entry_by_entry() -> None:
    good = {"seq": 1, "mac": "m", "root": HEX, "file": "f"}
    base = {
        "n": 0,
        "prev": "",
        "type": "checkpoint",
        "timestamp": "t",
        "deployment": "0123456789abcdef",
        "host": "h",
        "pid": 1,
        "reason": "interval",
    }
    assert field_problem({**base, "streams": {STREAM: good}}) is None
    assert field_problem({**base, "streams": {"x": good}}) == (
        "streams is an entry is not a stream id with an object"
    )
    assert field_problem({**base, "streams": {STREAM: {**good, "root": "r"}}}) == (
        f"streams is root of stream {STREAM} is not 64 hex digits"
    )
    assert field_problem({**base, "streams": []}) == "streams is not an object"


@given(st.binary(max_size=300))
def test_any_bytes_are_a_named_break_never_an_error(raw: bytes) -> None:
    facts = check([raw])
    assert facts.breaks
    assert all(b.file == FILE for b in facts.breaks)


def test_split_sig_takes_the_last_field_only() -> None:
    body = b'{"a":1}'
    line = seal_record(body, "sha256:" + "0" * 64)[:-1]
    assert split_sig(line) == (body, "sha256", "0" * 64)
    assert split_sig(b'{"a":1,"sig":"nolabel"}') is None
    assert split_sig(b'{"a":1}') is None
    assert split_sig(b'{"a":1,"sig":"x:\xff"}') is None


@pytest.mark.parametrize(
    ("label", "epoch"),
    [("fs-hmac-sha256:0", 0), ("fs-hmac-sha256:12", 12), ("fs-hmac-sha256:012", None),
     ("fs-hmac-sha256:", None), ("fs-hmac-sha256:-1", None), ("fs-hmac-sha256:١", None),
     ("hmac-sha256", None), ("fs-hmac-sha256:1234567890123", None)],
)  # fmt: skip
def test_line_epoch(label: str, epoch: int | None) -> None:
    assert line_epoch(label) == epoch


def test_the_forward_line_keys_are_the_schedule_s() -> None:
    records = ForwardRecords(VK)
    for epoch in (0, 1, 63, 64, 65, 200, 3):
        assert records.line_key(epoch) == forward.line_key(forward.seed_at(SEED, 0, epoch))
        assert records.derived(epoch) == forward.public_key(forward.seed_at(SEED, 0, epoch))
    public = ForwardRecords(VK.public())
    assert public.line_key(3) is None
    assert public.derived(3) is None


# --- completeness -------------------------------------------------------------------------


def facts_with_rotation(**extra: Any) -> LedgerFacts:
    chain = forward_chain()
    chain.add(
        "rotated",
        category="auth",
        file="auth-events.jsonl.20261204_100000.rotated",
        size=10,
        sha256=HEX,
        streams={STREAM: {"first_seq": 1, "last_seq": 3, "last_mac": f"x:{HEX}"}},
    )
    for kind, fields in extra.items():
        chain.add(kind, **fields)
    return check(chain.lines)


NAME: Final = "auth-events.jsonl.20261204_100000.rotated"


def test_a_recorded_file_present_as_itself_or_gzipped_holds() -> None:
    facts = facts_with_rotation()
    assert file_breaks(facts, {NAME: (10, HEX, HEX)}, FILE) == []
    assert file_breaks(facts, {NAME + ".gz": (5, "cd" * 32, HEX)}, FILE) == []


def test_a_recorded_file_changed_missing_or_renamed_is_named() -> None:
    facts = facts_with_rotation()
    [changed] = file_breaks(facts, {NAME: (10, "cd" * 32, "cd" * 32)}, FILE)
    assert (changed.file, changed.kind) == (NAME, "modified")
    [gz] = file_breaks(facts, {NAME + ".gz": (5, "cd" * 32, "cd" * 32)}, FILE)
    assert (gz.file, gz.kind) == (NAME + ".gz", "modified")
    [missing] = file_breaks(facts, {}, FILE)
    assert (missing.file, missing.line, missing.kind) == (FILE, 5, "missing file")
    other = "auth-events.jsonl.20200101_000000.rotated"
    [renamed] = file_breaks(facts, {other: (10, HEX, HEX)}, FILE)
    assert (renamed.file, renamed.kind) == (other, "renamed file")
    assert NAME in renamed.detail


def test_a_file_retention_recorded_is_not_missing() -> None:
    facts = facts_with_rotation(retired={"file": NAME, "sha256": HEX, "record": 5})
    assert file_breaks(facts, {}, FILE) == []


def test_an_anchor_the_ledger_still_holds_and_one_it_does_not() -> None:
    chain = forward_chain()
    facts = check(chain.lines)
    assert anchor_breaks(facts, 3, record_hash(chain.lines[3]), FILE, "a") == []
    [cut] = anchor_breaks(facts, 7, "0" * 64, FILE, "a")
    assert cut.kind == "rolled back"
    assert "the ledger ends at n=3" in cut.detail
    [forked] = anchor_breaks(facts, 2, "0" * 64, FILE, "a")
    assert "differs from the anchor" in forked.detail


def test_caveats_say_what_cannot_be_ruled_out() -> None:
    facts = check(forward_chain().lines)
    said = caveats(facts, anchored=False, now=0.0)
    assert said[0].startswith("no anchor given")
    assert caveats(facts, anchored=True, now=0.0) == []
    facts.scheme = "static"
    assert caveats(facts, anchored=True, now=0.0)[0].startswith("sealed with a static key")
    facts.scheme = "unkeyed"
    assert caveats(facts, anchored=True, now=0.0) == [
        "sealed without a key: anyone could have rewritten all of it"
    ]


def test_a_writer_that_went_silent_without_stopping_is_said() -> None:
    facts = check(forward_chain().lines)  # a start (60 s), no stop, last record at 10:00
    when = 1_796_378_400.0  # 2026-12-04T10:00:00Z
    assert silences(facts, when + 100) == []
    [said] = silences(facts, when + 181)
    assert said.startswith("the writer pid 7 on h")
    stopped = forward_chain()
    stopped.add("stop")
    assert silences(check(stopped.lines), when + 10_000) == []


def test_a_random_key_is_not_this_deployment_s() -> None:
    other = VerificationKey.from_seed(DEPLOYMENT, os.urandom(32))
    facts = check(forward_chain().lines, ForwardRecords(other.public()))
    assert facts.verified == 0


def test_rotated_files_the_ledger_never_recorded_are_said() -> None:
    facts = facts_with_rotation()
    assert unrecorded(facts, {NAME: (10, HEX, HEX), NAME + ".gz": (3, "cd" * 32, HEX)}) == []
    planted = {
        f"auth-events.jsonl.2026120{n}_000000.rotated": (1, "ef" * 32, "ef" * 32) for n in range(5)
    }
    [said] = unrecorded(facts, planted)
    assert said.startswith("5 rotated file(s) the ledger never recorded (")
    assert said.count(".rotated") == 3
    assert "and 2 more" in said
    assert unrecorded(check([]), planted) == []


def test_what_the_ledger_says_of_its_writers_and_its_end() -> None:
    chain = forward_chain()  # pid 7 starts (line 2) and checkpoints
    chain.add("stop")
    chain.add("start", interval_s=120)  # the same pid again: a new run of it
    facts = check(chain.lines)
    assert facts.last_hash == record_hash(chain.lines[-1])
    assert facts.hashes[0] == record_hash(chain.lines[0])
    assert facts.last_timestamp == "2026-12-04T10:00:00.000000+00:00"
    writer = facts.writers[("h", 7)]
    assert (writer.started, writer.last, writer.where.n, writer.stopped) == (
        "2026-12-04T10:00:00.000000+00:00",
        "2026-12-04T10:00:00.000000+00:00",
        5,
        False,
    )
    assert facts.interval == 120.0
    assert [(w.line, t) for w, t in facts.stops] == [(5, "2026-12-04T10:00:00.000000+00:00")]
    assert [(w.n, i) for w, _, i in facts.starts] == [(1, 60), (5, 120)]
    stopped = forward_chain()
    stopped.add("stop")
    assert check(stopped.lines).writers[("h", 7)].stopped


def test_a_genesis_after_the_first_record_is_refused() -> None:
    chain = forward_chain()
    chain.add("genesis", directory="/elsewhere", scheme="forward-secure")
    facts = check(chain.lines)
    assert where(facts) == [(5, "bad checkpoint")]
    assert facts.breaks[0].detail == "a genesis record at n=4"
    assert facts.announced[STREAM].file == "auth-events.jsonl"


def test_what_a_stream_record_and_a_rotated_record_say() -> None:
    chain = forward_chain()
    chain.add(
        "stream",
        stream="aa" * 8,
        category="tool_blocks",
        file="tool-blocks.jsonl",
        follows={"stream": STREAM, "seq": 3, "mac": f"x:{HEX}"},
    )
    facts = facts_with_rotation()
    rotated = facts.rotated[NAME]
    assert (rotated.category, rotated.size, rotated.sha256) == ("auth", 10, HEX)
    assert rotated.ranges == {STREAM: (1, 3, f"x:{HEX}")}
    assert facts.by_n[4] is rotated
    announced = check(chain.lines).announced["aa" * 8]
    assert (announced.category, announced.file, announced.host, announced.pid) == (
        "tool_blocks",
        "tool-blocks.jsonl",
        "h",
        7,
    )
    assert announced.follows == (STREAM, 3, f"x:{HEX}")
    assert announced.where.line == 5
    [head] = check(chain.lines).heads
    assert (head.seq, head.mac, head.root, head.file, head.reason) == (
        3,
        f"fs-hmac-sha256:0:{HEX}",
        HEX,
        "a",
        "interval",
    )


def test_stream_breaks_name_the_place_and_the_writer() -> None:
    facts = check(forward_chain().lines)
    foreign = State(StreamSummary("bb" * 8), 1, b"")
    foreign.first = Line("auth-events.jsonl", 9, 1, b"{}", b"")
    ours = State(StreamSummary(STREAM), 1, b"")
    [planted] = stream_breaks(facts.announced, {"bb" * 8: foreign, STREAM: ours}, {}, FILE)
    assert (planted.file, planted.line, planted.kind, planted.stream) == (
        "auth-events.jsonl",
        9,
        "foreign stream",
        "bb" * 8,
    )
    assert planted.detail.startswith("the ledger never announced this stream")
    [gone] = stream_breaks(facts.announced, {}, {}, FILE)
    assert (gone.file, gone.line, gone.kind, gone.stream) == (FILE, 3, "missing stream", STREAM)
    assert gone.detail.startswith("announced for auth-events.jsonl (auth) by pid 7 on h")
    assert stream_breaks(facts.announced, {}, {STREAM: 3}, FILE) == []  # retention said so
    assert stream_breaks({}, {"bb" * 8: foreign}, {}, FILE) == []  # no ledger: said once


def test_anchor_breaks_say_where_the_ledger_ends() -> None:
    chain = forward_chain()
    facts = check(chain.lines)
    [cut] = anchor_breaks(facts, 9, "0" * 64, FILE, "head.jsonl")
    assert (cut.file, cut.line, cut.kind, cut.stream) == (FILE, 0, "rolled back", None)
    assert cut.detail == (
        "the anchor (head.jsonl) is record n=9; the ledger ends at n=3: records were cut, "
        "or the directory was rolled back to an earlier copy"
    )
    lines = [*chain.lines[:1], b"garbage", *chain.lines[2:]]
    [gone] = anchor_breaks(check(lines), 1, "0" * 64, FILE, "head.jsonl")
    assert gone.detail == "record n=1 of the anchor (head.jsonl) is missing or does not verify"
    [forked] = anchor_breaks(facts, 2, "0" * 64, FILE, "head.jsonl")
    assert forked.detail == (
        "record n=2 differs from the anchor (head.jsonl): the ledger was replaced or "
        "rewritten since"
    )


def _two_rotations(**extra: Any) -> LedgerFacts:
    """Two recorded rotated files (lines 5 and 6), then ``extra`` records."""
    chain = forward_chain()
    for name, digest, first, last in ((NAME, HEX, 1, 3), (NAME2, "cd" * 32, 4, 6)):
        chain.add(
            "rotated",
            category="auth",
            file=name,
            size=10,
            sha256=digest,
            streams={STREAM: {"first_seq": first, "last_seq": last, "last_mac": f"x:{HEX}"}},
        )
    for kind, fields in extra.items():
        chain.add(kind, **fields)
    return check(chain.lines)


NAME2: Final = "auth-events.jsonl.20261204_110000.rotated"


def places(breaks: list[Any]) -> list[tuple[str, int, str, str | None]]:
    return [(b.file, b.line, b.kind, b.stream) for b in breaks]


def test_every_recorded_file_is_checked_not_only_the_first() -> None:
    facts = _two_rotations()
    bad = {NAME: (10, "ee" * 32, "ee" * 32), NAME2 + ".gz": (4, "ff" * 32, "ff" * 32)}
    breaks = file_breaks(facts, bad, FILE)
    assert places(breaks) == [(NAME, 0, "modified", None), (NAME2 + ".gz", 0, "modified", None)]
    assert breaks[0].detail == (
        "its bytes are not those the ledger recorded at rotation (record n=4)"
    )
    assert breaks[1].detail == (
        f"what it holds is not what the ledger recorded of {NAME2} at rotation (record n=5)"
    )
    gone = file_breaks(facts, {}, FILE)
    assert places(gone) == [(FILE, 5, "missing file", None), (FILE, 6, "missing file", None)]
    assert gone[1].detail == (
        f"{NAME2} (rotated at 2026-12-04T10:00:00.000000+00:00, 1 stream(s)) is gone, and no "
        "retention record says it was deleted"
    )
    retired = _two_rotations(retired={"file": NAME, "sha256": HEX, "record": 4})
    assert places(file_breaks(retired, {}, FILE)) == [(FILE, 6, "missing file", None)]


def test_a_recorded_file_whose_every_line_was_read_elsewhere_is_merged() -> None:
    facts = _two_rotations()
    asked: list[tuple[str, int, int]] = []

    def covered(stream: str, first: int, last: int) -> bool:
        asked.append((stream, first, last))
        return last <= 3  # the first file's lines were read, the second's were not

    merged: list[str] = []
    breaks = file_breaks(facts, {}, FILE, covered, merged)
    assert asked == [(STREAM, 1, 3), (STREAM, 4, 6)]
    assert merged == [NAME]
    assert places(breaks) == [(FILE, 6, "missing file", None)]
    assert places(file_breaks(facts, {}, FILE, covered)) == [(FILE, 6, "missing file", None)]
    renamed = {"auth-events.jsonl.20200101_000000.rotated": (10, HEX, HEX)}
    merged = []
    found = file_breaks(facts, renamed, FILE, lambda s, f, last: True, merged)
    assert merged == [NAME2]  # the renamed one is named as renamed, not merged
    assert places(found) == [("auth-events.jsonl.20200101_000000.rotated", 0, "renamed file", None)]


def test_malformed_records_are_named_and_the_next_one_is_followed() -> None:
    chain = forward_chain()
    lines = [chain.lines[0], b"not json at all", b'{"n":1}', *chain.lines[1:]]
    facts = check(lines)
    assert [(b.line, b.kind, b.detail) for b in facts.breaks] == [
        (2, "bad checkpoint", "not a signed record"),
        (3, "bad checkpoint", "not a signed record"),
        # The next record links to the line before the inserted ones, not to them.
        (4, "ledger gap", "record n=1 does not link to the line before it"),
    ]
    assert facts.verified == 4  # and it, and those after it, still verify
    unsigned = seal_record(b'{"n":1,"type":"start"}', "sha256:" + "0" * 64)[:-1]
    facts = check([chain.lines[0], unsigned, *chain.lines[1:]])
    assert [(b.line, b.kind, b.detail) for b in facts.breaks] == [
        (2, "bad checkpoint", "malformed: no prev"),
        (3, "ledger gap", "record n=1 does not link to the line before it"),
    ]
    uncertified = Chain(ForwardSealer(state(5)))
    uncertified.lines, uncertified.prev = chain.lines[:1], record_hash(chain.lines[0])
    uncertified.add("start", interval_s=1)
    facts = check(uncertified.lines)
    assert [(b.line, b.kind, b.detail) for b in facts.breaks] == [
        (2, "bad checkpoint", "start record n=1: signed in an epoch whose key no verified "
         "record certifies"),
    ]  # fmt: skip


def test_silences_and_caveats_word_for_word() -> None:
    chain = forward_chain()
    chain.add("start", interval_s=30)
    # a second run of pid 7, never stopped
    facts = check(chain.lines)
    when = 1_796_378_400.0
    [said] = silences(facts, when + 60 * 3 + 1)
    assert said == (
        "the writer pid 7 on h (started 2026-12-04T10:00:00.000000+00:00) wrote its last "
        "record at 2026-12-04T10:00:00.000000+00:00 (n=4) and no stop record: it stopped "
        "then (killed, or its host went down), or its later records were cut"
    )
    assert silences(facts, when + 60 * 3) == []  # three intervals of the longest: not yet
    facts.interval = None
    assert silences(facts, when + 10**6) == []  # no heartbeat announced: nothing to say
    ended = check(forward_chain().lines)
    [anchorless] = caveats(ended, anchored=False, now=when)
    assert anchorless == (
        "no anchor given: the newest records could have been cut, or the whole directory "
        "rolled back to an earlier copy, without a trace (the ledger ends at n=3, "
        "2026-12-04T10:00:00.000000+00:00); give --anchor with a checkpoint shipped off the "
        "host to rule it out"
    )
    [nothing] = caveats(check([]), anchored=False, now=when)
    assert "(no ledger record verified)" in nothing
