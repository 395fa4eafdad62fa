"""An adversarial corpus: a real log, altered as four attackers would, and what verify names.

The attacker models and the literature they come from: Schneier and Kelsey's secure
audit logs (MAC keys that evolve and are erased), journald's Forward Secure Sealing,
CloudTrail's log file integrity validation (signed digests naming every file's hash,
chained to the previous digest), Crosby and Wallach's tamper-evident history trees
(Merkle roots, and why only a commitment that left the host stops a rollback), and
Ma and Tsudik's truncation attacks on forward-secure logs.

A   writes the log directory (or a copy of it), holds no key;
B   owns the host at T: the sealing key of the current epoch (13) and everything else;
C   deletes, truncates, renames, rolls back files, the ledger too;
X   plants crafted files: each case runs as the real command in a child process
    limited in memory (``RLIMIT_AS``) and time.

The log is written once through the public API (tests/attack_log.py: two categories,
rotations, gzip, retention, four runs over epochs 10 to 13, one writer killed with
SIGKILL). Each case copies it, makes ONE alteration, verifies the copy in this process
(where coverage and mutation testing see it) and asserts every break it expects, by
file, line and kind, and that no break of another kind comes with them. A few cases
and the clean controls run as the real command too. What verify cannot see is asserted
as such (``LIMITS``): the security model cites these tests.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

import asgi_audit
from asgi_audit import Auditor
from asgi_audit.proof.forward import SealingState, VerificationKey
from asgi_audit.proof.inclusion import split_mac_body
from asgi_audit.proof.integrity import CHECKPOINT_FILE, split_mac
from asgi_audit.proof.merkle import Frontier, leaf_hash
from asgi_audit.proof.records import record_hash, seal_record
from asgi_audit.proof.verify import VerifyResult, verify_directory
from tests.attack_log import (
    NOW_EPOCH,
    GenuineLog,
    rebind_keys,
    write_genuine_log,
    writer_clock,
)
from tests.forge import (
    fs_root,
    record_of,
    reseal_unkeyed,
    resign_ledger,
    seal_run,
    sign_record,
)
from tests.helpers import rotation_key

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS, FIFOs, spawn")

LEDGER: Final = CHECKPOINT_FILE
ADMIN: Final = "admin.jsonl"
PAYMENTS: Final = "payments.jsonl"
OLD: Final = "20200101_000000"  # a rotation stamp older than any genuine one
#: The address space the command may use in the X cases: a normal run needs about 60 MiB.
MEMORY: Final = 512 << 20
TIMEOUT: Final = 60.0  # a bound on a hang, never an assertion


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> GenuineLog:
    log = write_genuine_log(tmp_path_factory.mktemp("genuine"))
    for key in (log.secret, log.public):
        result = verify_directory(log.log_dir, None, verification_key=key)
        assert result.ok, result.breaks
    return log


def test_the_genuine_log_is_what_the_cases_assume(genuine: GenuineLog) -> None:
    log_dir = genuine.log_dir
    admin = lines_of(log_dir / ADMIN)
    epochs = [[epoch_of(admin[i]) for i in at] for _, at in streams_in(admin)]
    assert epochs == [[10, 10, 10], [11, 11], [12, 12, 13, 13], [13, 13]]
    kinds = [r["type"] for r in records(log_dir)]
    assert kinds[:3] == ["genesis", "key", "start"]
    assert [r["next_epoch"] for r in records(log_dir) if r["type"] == "key"] == [10, 11, 12, 13]
    assert (kinds.count("start"), kinds.count("stop")) == (4, 3)  # run 2 was killed
    files = rotated(log_dir)
    assert len(files) == 8  # retain_count
    assert all(p.name.endswith(".gz") for p in files)
    assert all(rotated_record_line(log_dir, p) for p in files)  # every one recorded
    assert kinds.count("retired") >= 2
    assert genuine.sealing_state().epoch == NOW_EPOCH


# --- reading and writing the copy -----------------------------------------------------------


def lines_of(path: Path) -> list[bytes]:
    """The lines of a file (gunzipped), without their newlines."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def event(line: bytes) -> dict[str, Any]:
    split = split_mac(line)
    assert split is not None
    parsed: dict[str, Any] = orjson.loads(split[0])
    return parsed


def epoch_of(line: bytes) -> int:
    split = split_mac(line)
    assert split is not None
    return int(split[1].rpartition(":")[2])


def streams_in(lines: list[bytes]) -> list[tuple[str, list[int]]]:
    """Each stream of a file, in the order they start, with the indexes of its lines."""
    found: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        found.setdefault(event(line)["stream"], []).append(i)
    return list(found.items())


def records(log_dir: Path) -> list[dict[str, Any]]:
    """The ledger's records, in order (its line is the index plus one)."""
    return [record_of(line) for line in lines_of(log_dir / LEDGER)]


def record_line(log_dir: Path, **match: Any) -> int:
    """The ledger line of the first record whose fields have these values."""
    for i, record in enumerate(records(log_dir)):
        if all(record.get(k) == v for k, v in match.items()):
            return i + 1
    raise AssertionError(f"no record {match}")


def rotated(log_dir: Path) -> list[Path]:
    """The rotated payments files present, oldest first."""
    return sorted(log_dir.glob(f"{PAYMENTS}.*.rotated*"), key=rotation_key)


def rotated_record_line(log_dir: Path, path: Path) -> int:
    return record_line(log_dir, type="rotated", file=path.name.removesuffix(".gz"))


def append_record(log_dir: Path, **fields: Any) -> int:
    """Append a record linked to the last one, with these fields and a made-up
    signature (what someone without the key can write); its ledger line."""
    ledger = lines_of(log_dir / LEDGER)
    last = record_of(ledger[-1])
    common = {k: last[k] for k in ("timestamp", "deployment", "host", "pid", "epoch")}
    record = {"n": last["n"] + 1, "prev": record_hash(ledger[-1]), **common, **fields}
    line = seal_record(orjson.dumps(record), "ed25519:" + "5a" * 64)[:-1]
    write_lines(log_dir / LEDGER, [*ledger, line])
    return len(ledger) + 1


def sealed_again(path: Path, index: int, state_key: bytes, epoch: int) -> None:
    """Seal the stream of line ``index`` of ``path`` again from that line on, chained
    from the line before it (in this file or an earlier one of the category)."""
    lines = lines_of(path)
    stream, seq = event(lines[index])["stream"], event(lines[index])["seq"]
    mine = [i for i in range(index, len(lines)) if event(lines[i])["stream"] == stream]
    prev = fs_root(stream)
    for other in (*path.parent.glob(f"{path.name.split('.')[0]}.jsonl*"), path):
        for line in lines_of(other) if other != path else lines[:index]:
            if event(line)["stream"] == stream and event(line)["seq"] == seq - 1:
                prev = split_mac(line)[2]  # type: ignore[index]
    sealed = seal_run([lines[i] for i in mine], state_key, epoch, prev)
    for i, line in zip(mine, sealed, strict=True):
        lines[i] = line
    write_lines(path, lines)


# --- the cases ------------------------------------------------------------------------------

Place = tuple[str, int, str]  # file, line, kind


@dataclass(frozen=True)
class Expect:
    """What verify must name: every break in ``breaks`` (file, line, kind), and no break
    of a kind that is neither theirs nor in ``also`` (what the alteration knocks on)."""

    breaks: list[Place]
    also: frozenset[str] = frozenset()
    anchor: bytes | None = None


@dataclass
class Target:
    """A copy of the genuine log to alter, and what the attacker may use."""

    log_dir: Path
    genuine: GenuineLog
    tmp: Path
    key: VerificationKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.genuine.secret

    @property
    def admin(self) -> Path:
        return self.log_dir / ADMIN

    def admin_streams(self) -> list[tuple[str, list[int]]]:
        return streams_in(lines_of(self.admin))


Attack = Callable[[Target], Expect]


# A: writes the directory, no key ----------------------------------------------------------


def a_line_byte(t: Target) -> Expect:
    lines = lines_of(t.admin)
    assert b'"n":1,' in lines[1]
    lines[1] = lines[1].replace(b'"n":1,', b'"n":7,')
    write_lines(t.admin, lines)
    return Expect([(ADMIN, 2, "modified")])


def a_line_byte_public_key(t: Target) -> Expect:
    # The public key checks no line MAC: the Merkle root of the first checkpoint that
    # counts the changed line names it, at that checkpoint's last line.
    t.key = t.genuine.public
    a_line_byte(t)
    stream, _ = t.admin_streams()[0]
    counted = min(
        seq
        for r in records(t.log_dir)
        if r["type"] == "checkpoint"
        for s, head in r["streams"].items()
        if s == stream and (seq := head["seq"]) >= 2
    )
    return Expect([(ADMIN, counted, "modified")])  # the stream's lines are lines 1 to 3


def a_record_byte(t: Target) -> Expect:
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="checkpoint", epoch=11)
    ledger[at - 1] = ledger[at - 1].replace(b'"reason":"', b'"reason":"x', 1)
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "ledger gap")])


def a_reseal_with_a_guessed_key(t: Target) -> Expect:
    # The line changed, and its stream sealed again from there with a key of the
    # attacker's own (the label says epoch 10, as the genuine lines do).
    lines = lines_of(t.admin)
    lines[1] = lines[1].replace(b'"n":1,', b'"n":7,')
    write_lines(t.admin, lines)
    sealed_again(t.admin, 1, os.urandom(32), 10)
    return Expect([(ADMIN, 2, "modified"), (ADMIN, 3, "modified")])


def a_reseal_a_whole_stream_with_another_key(t: Target) -> Expect:
    _, at = t.admin_streams()[-1]
    sealed_again(t.admin, at[0], os.urandom(32), NOW_EPOCH)
    return Expect([(ADMIN, at[0] + 1, "modified")])


def a_lines_of_another_deployment(t: Target) -> Expect:
    foreign = lines_of(t.genuine.foreign / ADMIN)
    lines = lines_of(t.admin)
    write_lines(t.admin, [*lines, *foreign])
    return Expect([(ADMIN, len(lines) + 1, "foreign stream")], frozenset({"unknown key"}))


def a_lines_of_the_same_deployment_elsewhere(t: Target) -> Expect:
    # Sealed with this deployment's very keys (one seed for two directories): every
    # MAC holds, but this directory's ledger never announced the stream.
    sibling = lines_of(t.genuine.sibling / ADMIN)
    lines = lines_of(t.admin)
    write_lines(t.admin, [*lines, *sibling])
    return Expect([(ADMIN, len(lines) + 1, "foreign stream")])


def a_ledger_of_the_same_deployment_elsewhere(t: Target) -> Expect:
    # The other directory's ledger verifies with this key: its streams are missing
    # here, and every stream here is foreign to it.
    shutil.copy(t.genuine.sibling / LEDGER, t.log_dir / LEDGER)
    sibling = records(t.log_dir)
    expect: list[Place] = [
        (LEDGER, i + 1, "missing stream") for i, r in enumerate(sibling) if r["type"] == "stream"
    ]
    expect += [(ADMIN, at[0] + 1, "foreign stream") for _, at in t.admin_streams()]
    return Expect(expect, frozenset({"truncated", "deleted"}))


def a_line_moved_to_another_category(t: Target) -> Expect:
    lines = lines_of(t.admin)
    moved = lines.pop(1)
    write_lines(t.admin, lines)
    payments = lines_of(t.log_dir / PAYMENTS)
    write_lines(t.log_dir / PAYMENTS, [*payments, moved])
    # Read after admin.jsonl, the moved line leaves its stream's next line out of order.
    return Expect([(PAYMENTS, len(payments) + 1, "wrong file"), (ADMIN, 2, "reordered")])


def a_ledger_deleted(t: Target) -> Expect:
    (t.log_dir / LEDGER).unlink()
    # Nothing says the oldest lines were deleted by retention any more.
    first = rotated(t.log_dir)[0]
    return Expect([(LEDGER, 0, "ledger missing"), (first.name, 1, "deleted")])


def a_ledger_deleted_and_the_app_restarted(t: Target) -> Expect:
    (t.log_dir / LEDGER).unlink()
    keys = rebind_keys(t.genuine.key_dir, t.tmp / "keys", t.log_dir)

    async def restart() -> None:
        async with Auditor(log_dir=t.log_dir, key_dir=keys, self_audit=False) as auditor:
            await auditor.emit("admin", "after_the_ledger_was_deleted", outcome="success")

    with writer_clock(0):
        asyncio.run(restart())
    first = records(t.log_dir)[0]
    assert first["type"] == "reset"
    # The reset record itself is named; every stream written before it is foreign.
    return Expect([(LEDGER, 1, "ledger missing")], frozenset({"foreign stream", "deleted"}))


def a_forged_retired_record_for_a_deleted_file(t: Target) -> Expect:
    victim = rotated(t.log_dir)[3]
    victim.unlink()
    origin = records(t.log_dir)[rotated_record_line(t.log_dir, victim) - 1]
    at = append_record(
        t.log_dir, type="retired", file=victim.name, sha256=origin["sha256"], record=origin["n"]
    )
    nxt = rotated(t.log_dir)[3]
    return Expect(
        [
            (LEDGER, at, "bad checkpoint"),
            (LEDGER, rotated_record_line(t.log_dir, victim), "missing file"),
            (nxt.name, 1, "deleted"),
        ]
    )


def a_forged_rotated_record_for_a_planted_file(t: Target) -> Expect:
    planted = t.log_dir / f"{PAYMENTS}.{OLD}.rotated"
    lines = lines_of(t.admin)
    assert b'"n":0,' in lines[0]
    planted.write_bytes(lines[0].replace(b'"n":0,', b'"n":5,') + b"\n")
    at = append_record(
        t.log_dir,
        type="rotated",
        category="payments",
        file=planted.name,
        size=planted.stat().st_size,
        sha256="0" * 64,
        streams={},
    )
    # The planted line is read after admin.jsonl: a line its stream already had.
    return Expect(
        [(LEDGER, at, "bad checkpoint"), (planted.name, 1, "inserted")], frozenset({"wrong file"})
    )


def a_copy_under_a_rotated_name(t: Target) -> Expect:
    # Read first (its stamp is older), a copy would make the original's lines
    # look inserted: it is named, and not read.
    original = rotated(t.log_dir)[3]
    planted = t.log_dir / f"{PAYMENTS}.{OLD}.rotated.gz"
    shutil.copy(original, planted)
    return Expect([(planted.name, 0, "copied file")])


def a_foreign_file_under_a_rotated_name(t: Target) -> Expect:
    planted = t.log_dir / f"{PAYMENTS}.{OLD}.rotated"
    shutil.copy(t.genuine.foreign / PAYMENTS, planted)
    return Expect([(planted.name, 1, "foreign stream")], frozenset({"unknown key"}))


def a_lines_reordered(t: Target) -> Expect:
    lines = lines_of(t.admin)
    _, at = t.admin_streams()[2]
    lines[at[0]], lines[at[1]] = lines[at[1]], lines[at[0]]
    write_lines(t.admin, lines)
    return Expect([(ADMIN, at[0] + 1, "reordered")])


def a_line_replayed(t: Target) -> Expect:
    lines = lines_of(t.admin)
    lines.insert(3, lines[1])
    write_lines(t.admin, lines)
    return Expect([(ADMIN, 4, "inserted")])


def a_rotated_files_swapped(t: Target) -> Expect:
    one, two = rotated(t.log_dir)[2:4]
    swap = t.tmp / "swap"
    one.rename(swap)
    two.rename(one)
    swap.rename(two)
    return Expect(
        [(one.name, 0, "modified"), (two.name, 0, "modified")],
        frozenset({"reordered", "deleted", "inserted"}),
    )


def a_ledger_record_removed(t: Target) -> Expect:
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="checkpoint", epoch=12)
    del ledger[at - 1]
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect([(LEDGER, at, "ledger gap")])


def a_ledger_records_swapped(t: Target) -> Expect:
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="checkpoint", epoch=12)
    ledger[at - 1], ledger[at] = ledger[at], ledger[at - 1]
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect([(LEDGER, at, "ledger gap"), (LEDGER, at + 1, "ledger gap")])


def a_mac_label_downgraded(t: Target) -> Expect:
    lines = lines_of(t.admin)
    lines[1] = lines[1].replace(b'"mac":"fs-hmac-sha256:10:', b'"mac":"hmac-sha256:')
    write_lines(t.admin, lines)
    return Expect([(ADMIN, 2, "modified")])


def a_ledger_of_another_deployment(t: Target) -> Expect:
    # Its records hold under their own key only, while the lines verify with the key
    # given: the ledger was replaced (not a key mismatch). Nothing it says is taken in.
    shutil.copy(t.genuine.foreign / LEDGER, t.log_dir / LEDGER)
    return Expect([(LEDGER, 1, "ledger missing")], frozenset({"deleted"}))


def a_ledger_downgraded_to_unkeyed(t: Target) -> Expect:
    # Every record recomputed as an unkeyed ledger's (sha256), which anyone can do:
    # not the scheme the key checks, so nothing of it is taken in.
    ledger = lines_of(t.log_dir / LEDGER)
    assert b'"scheme":"forward-secure"' in ledger[0]
    ledger[0] = ledger[0].replace(b'"scheme":"forward-secure"', b'"scheme":"unkeyed"')
    write_lines(t.log_dir / LEDGER, ledger)
    reseal_unkeyed(t.log_dir)
    return Expect([(LEDGER, 1, "ledger missing")], frozenset({"deleted"}))


def a_key_record_certifies_another_key(t: Target) -> Expect:
    # The attacker's own key for epoch 12: the record no longer holds, and no record
    # of epoch 12 after it is taken in.
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="key", next_epoch=12)
    record = record_of(ledger[at - 1])
    mine = record["next_public_key"][::-1]
    ledger[at - 1] = ledger[at - 1].replace(record["next_public_key"].encode(), mine.encode())
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect(
        [(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "ledger gap"),
         (LEDGER, at + 1, "bad checkpoint")],
        frozenset({"foreign stream", "missing file", "deleted", "truncated"}),
    )  # fmt: skip


# B: the host at T, with the sealing key of epoch 13 ---------------------------------------


def b_earlier_line_sealed_again(t: Target) -> Expect:
    # Changed, and its stream sealed again with the key the host holds: the MACs hold,
    # but the checkpoints of epoch 10 counted those lines: they were sealed since.
    state = t.genuine.sealing_state()
    lines = lines_of(t.admin)
    assert epoch_of(lines[1]) == 10
    lines[1] = lines[1].replace(b'"n":1,', b'"n":7,')
    write_lines(t.admin, lines)
    sealed_again(t.admin, 1, state.line_key(), state.epoch)
    return Expect([(ADMIN, 2, "modified"), (ADMIN, 3, "modified")])


def b_earlier_line_sealed_again_public_key(t: Target) -> Expect:
    # The public key checks no MAC, yet sees the labels: an epoch-13 line that a
    # checkpoint of epoch 10 had counted.
    t.key = t.genuine.public
    return b_earlier_line_sealed_again(t)


def b_earlier_line_removed(t: Target) -> Expect:
    state = t.genuine.sealing_state()
    lines = lines_of(t.admin)
    del lines[1]
    lines[1] = lines[1].replace(b'"seq":3,', b'"seq":2,')
    write_lines(t.admin, lines)
    sealed_again(t.admin, 1, state.line_key(), state.epoch)
    return Expect([(ADMIN, 2, "modified"), (ADMIN, 2, "truncated")])


def b_line_inserted_into_an_earlier_stream(t: Target) -> Expect:
    state = t.genuine.sealing_state()
    lines = lines_of(t.admin)
    forged = lines[1].replace(b'"event_type":"genuine"', b'"event_type":"forged"')
    later = [line.replace(b'"seq":3,', b'"seq":4,').replace(b'"seq":2,', b'"seq":3,')
             for line in lines[1:3]]  # fmt: skip
    write_lines(t.admin, [lines[0], forged, *later, *lines[3:]])
    sealed_again(t.admin, 1, state.line_key(), state.epoch)
    return Expect(
        [(ADMIN, 2, "modified"), (ADMIN, 3, "modified")], frozenset({"inserted", "truncated"})
    )


def b_earlier_record_signed_again(t: Target) -> Expect:
    # A checkpoint of epoch 11, changed and signed with the key of epoch 13 as epoch 11's.
    state = t.genuine.sealing_state()
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="checkpoint", epoch=11)
    record = record_of(ledger[at - 1])
    record["reason"] = "forged"
    ledger[at - 1] = sign_record(record, state)
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "ledger gap")])


def b_earlier_record_signed_as_the_current_epoch(t: Target) -> Expect:
    state = t.genuine.sealing_state()
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="checkpoint", epoch=11)
    record = record_of(ledger[at - 1])
    record["reason"], record["epoch"] = "forged", state.epoch
    ledger[at - 1] = sign_record(record, state)
    write_lines(t.log_dir / LEDGER, ledger)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "ledger gap")])


def b_genesis_signed_again(t: Target) -> Expect:
    # The genesis is epoch 0's, whose key is long gone: signed again, it holds under
    # no key, whatever epoch it claims.
    state = t.genuine.sealing_state()
    ledger = lines_of(t.log_dir / LEDGER)
    for epoch in (0, state.epoch):
        record = record_of(lines_of(t.genuine.log_dir / LEDGER)[0])
        record["directory"], record["epoch"] = "/elsewhere", epoch
        ledger[0] = sign_record(record, state)
        write_lines(t.log_dir / LEDGER, ledger)
        result = verify_directory(t.log_dir, None, verification_key=t.key)
        assert (LEDGER, 1, "bad checkpoint") in {(b.file, b.line, b.kind) for b in result.breaks}
    return Expect(
        [(LEDGER, 1, "bad checkpoint"), (LEDGER, 2, "ledger gap")],
        frozenset({"bad checkpoint", "ledger missing", "foreign stream", "deleted",
                   "missing file", "truncated", "unknown key"}),
    )  # fmt: skip


def b_ledger_rewritten_from_epoch_10(t: Target) -> Expect:
    # Every record after the genesis signed again as epoch 13's, relinked and
    # renumbered, the key records left out so that none certifies an epoch the
    # secret verification key derives anyway: each is named, not one taken in.
    state = t.genuine.sealing_state()
    ledger = lines_of(t.log_dir / LEDGER)
    kept = [record_of(line) for line in ledger[1:] if record_of(line)["type"] != "key"]
    renumbered = {r["n"]: i + 1 for i, r in enumerate(kept)}
    out = [ledger[0]]
    for record in kept:
        record["n"], record["prev"], record["epoch"] = (
            renumbered[record["n"]],
            record_hash(out[-1]),
            state.epoch,
        )
        if record["type"] == "retired":
            record["record"] = renumbered[record["record"]]
        out.append(sign_record(record, state))
    write_lines(t.log_dir / LEDGER, out)
    return Expect(
        [(LEDGER, n, "bad checkpoint") for n in range(2, len(out) + 1)],
        frozenset({"ledger missing", "foreign stream", "deleted", "missing file"}),
    )


def b_history_rewritten(t: Target) -> Expect:
    # Every admin line sealed again as epoch 13's, and the ledger's records of epoch
    # 13 made to agree: the checkpoints of epochs 10 to 12 still hold the old MACs.
    state = t.genuine.sealing_state()
    for _, at in t.admin_streams():
        sealed_again(t.admin, at[0], state.line_key(), state.epoch)
    first = record_line(t.log_dir, type="key", next_epoch=NOW_EPOCH)
    resign_ledger(t.log_dir, state, first)
    earlier = [
        i + 1
        for _, at in t.admin_streams()
        for i in at
        if epoch_of(lines_of(t.genuine.log_dir / ADMIN)[i]) < NOW_EPOCH
    ]
    return Expect(
        [(ADMIN, line, "modified") for line in earlier], frozenset({"ledger gap", "bad checkpoint"})
    )


def b_earlier_rotated_file_rewritten(t: Target) -> Expect:
    state = t.genuine.sealing_state()
    victim = next(p for p in rotated(t.log_dir) if epoch_of(lines_of(p)[0]) == 11)
    lines = lines_of(victim)
    lines[0] = lines[0].replace(b'"event_type":"genuine"', b'"event_type":"forged"')
    write_lines(victim, lines)
    sealed_again(victim, 0, state.line_key(), state.epoch)
    return Expect(
        [(victim.name, 0, "modified"), (victim.name, 1, "modified"), (victim.name, 2, "modified")]
    )


# C: deletes, truncates, renames, rolls back -----------------------------------------------


def c_stream_deleted(t: Target) -> Expect:
    stream, at = t.admin_streams()[-1]
    lines = lines_of(t.admin)
    write_lines(t.admin, [line for i, line in enumerate(lines) if i not in at])
    announced = record_line(t.log_dir, type="stream", stream=stream)
    return Expect([(LEDGER, announced, "missing stream"), (ADMIN, 0, "truncated")])


def c_middle_rotated_file_deleted(t: Target) -> Expect:
    victim, nxt = rotated(t.log_dir)[3:5]
    victim.unlink()
    return Expect(
        [(LEDGER, rotated_record_line(t.log_dir, victim), "missing file"), (nxt.name, 1, "deleted")]
    )


def c_category_deleted(t: Target) -> Expect:
    gone = [*rotated(t.log_dir), t.log_dir / PAYMENTS]
    expect = [(LEDGER, rotated_record_line(t.log_dir, p), "missing file") for p in gone[:-1]]
    # A stream whose first lines retention deleted (and said so) is not missing.
    whole = {event(line)["stream"] for p in gone for line in lines_of(p) if event(line)["seq"] == 1}
    expect += [(LEDGER, record_line(t.log_dir, type="stream", stream=s), "missing stream")
               for s in whole]  # fmt: skip
    for path in gone:
        path.unlink()
    return Expect(expect, frozenset({"truncated"}))


def c_ledger_renamed_away(t: Target) -> Expect:
    (t.log_dir / LEDGER).rename(t.log_dir / "checkpoints.log.bak")
    return Expect([(LEDGER, 0, "ledger missing")], frozenset({"deleted"}))


def c_rotated_file_renamed(t: Target) -> Expect:
    victim = rotated(t.log_dir)[3]
    renamed = t.log_dir / f"{PAYMENTS}.{OLD}.rotated.gz"
    victim.rename(renamed)
    return Expect([(renamed.name, 0, "renamed file")])


def c_directory_emptied(t: Target) -> Expect:
    for path in t.log_dir.iterdir():
        path.unlink()
    return Expect([(LEDGER, 0, "ledger missing")])


def c_directory_emptied_with_an_anchor(t: Target) -> Expect:
    c_directory_emptied(t)
    return Expect(
        [(LEDGER, 0, "ledger missing"), (LEDGER, 0, "rolled back")],
        anchor=t.genuine.anchors[-1],
    )


def c_rolled_back_with_an_anchor_public_key(t: Target) -> Expect:
    # The public key cannot check an anchor of an epoch the ledger no longer reaches:
    # it is compared as the auditor gave it.
    t.key = t.genuine.public
    return c_rolled_back_with_an_anchor(t)


def _roll_back(t: Target, to: Path) -> None:
    shutil.rmtree(t.log_dir)
    shutil.copytree(to, t.log_dir)


def c_rolled_back_with_an_anchor(t: Target) -> Expect:
    _roll_back(t, t.genuine.snapshots[0])
    return Expect([(LEDGER, 0, "rolled back")], anchor=t.genuine.anchors[-1])


def c_rolled_back_one_run_with_an_anchor(t: Target) -> Expect:
    _roll_back(t, t.genuine.snapshots[2])
    return Expect([(LEDGER, 0, "rolled back")], anchor=t.genuine.anchors[-1])


def _cut_the_tail(t: Target) -> None:
    """The last line of the last stream, and the ledger from the first record that
    counts it (Ma and Tsudik's truncation): what is left agrees with itself."""
    stream, at = t.admin_streams()[-1]
    write_lines(t.admin, lines_of(t.admin)[: at[-1]])
    cut = next(
        i for i, r in enumerate(records(t.log_dir))
        if r["type"] == "checkpoint" and r["streams"].get(stream, {}).get("seq") == len(at)
    )  # fmt: skip
    write_lines(t.log_dir / LEDGER, lines_of(t.log_dir / LEDGER)[:cut])


def c_tail_cut_with_an_anchor(t: Target) -> Expect:
    _cut_the_tail(t)
    return Expect([(LEDGER, 0, "rolled back")], anchor=t.genuine.anchors[-1])


def c_current_file_truncated(t: Target) -> Expect:
    lines = lines_of(t.admin)
    write_lines(t.admin, lines[:-1])
    return Expect([(ADMIN, len(lines) - 1, "truncated")])


def c_rotated_file_truncated(t: Target) -> Expect:
    victim, nxt = rotated(t.log_dir)[3:5]
    lines = lines_of(victim)
    write_lines(victim, lines[:-1])
    # The stream goes on in the next file: its line there finds the one before missing.
    return Expect([(victim.name, 0, "modified"), (nxt.name, 1, "deleted")])


def c_killed_writers_last_line_cut(t: Target) -> Expect:
    # The writer killed in epoch 11 wrote no shutdown checkpoint: its last lines are
    # in none. The next run rotated its file (and recorded it), and its first line
    # names where that stream ended.
    lines = [(p, i, line) for p in rotated(t.log_dir) for i, line in enumerate(lines_of(p))]
    *before, (victim, at, last) = [x for x in lines if epoch_of(x[2]) == 11]
    killed = event(last)["stream"]
    content = lines_of(victim)
    del content[at]
    write_lines(victim, content)
    expect = [(victim.name, 0, "modified")]
    named = any((r.get("follows") or {}).get("stream") == killed for r in records(t.log_dir))
    if named:  # the restart could check the end (not when it was alone in the file)
        new_last = [(p, i) for p, i, line in before if event(line)["stream"] == killed][-1]
        expect.append((new_last[0].name, new_last[1] + 1, "truncated"))
    return Expect(expect)


def c_ledger_records_cut_from_the_middle(t: Target) -> Expect:
    ledger = lines_of(t.log_dir / LEDGER)
    at = record_line(t.log_dir, type="start", epoch=12)
    write_lines(t.log_dir / LEDGER, ledger[: at - 1] + ledger[at + 4 :])
    return Expect(
        [(LEDGER, at, "ledger gap")],
        frozenset({"foreign stream", "missing file", "bad checkpoint", "deleted"}),
    )


def b_current_epoch_line_rewritten_with_a_later_anchor(t: Target) -> Expect:
    # What LIMITS shows B doing unseen, caught by an anchor shipped after it.
    _rewrite_a_line_of_the_current_epoch(t)
    return Expect([(LEDGER, 0, "rolled back")], anchor=t.genuine.anchors[-1])


CASES: Final[dict[str, tuple[str, Attack]]] = {
    name: (name[0].upper(), attack)
    for name, attack in globals().items()
    if name[:2] in ("a_", "b_", "c_") and callable(attack)
}


def verified(t: Target, expect: Expect) -> VerifyResult:
    return verify_directory(t.log_dir, None, verification_key=t.key, anchor=expect.anchor)


def check(result: VerifyResult, expect: Expect) -> None:
    found = {(b.file, b.line, b.kind) for b in result.breaks}
    shown = "\n".join(f"{b.file}:{b.line}: {b.kind}: {b.detail}" for b in result.breaks)
    missing = [place for place in expect.breaks if place not in found]
    assert not missing, f"not named: {missing}\nfound:\n{shown}"
    kinds = {kind for _, _, kind in expect.breaks} | expect.also
    assert {b.kind for b in result.breaks} <= kinds, shown
    assert result.verdict == "altered"


@pytest.fixture
def target(genuine: GenuineLog, tmp_path: Path) -> Target:
    copy = tmp_path / "logs"
    shutil.copytree(genuine.log_dir, copy)
    return Target(copy, genuine, tmp_path)


@pytest.mark.parametrize("name", CASES)
def test_the_alteration_is_named(name: str, target: Target) -> None:
    _, attack = CASES[name]
    expect = attack(target)
    check(verified(target, expect), expect)


# --- what verify cannot see: the limits the security model cites --------------------------


@dataclass(frozen=True)
class Unseen:
    """An alteration verify cannot tell from the genuine log (also with ``anchor``)."""

    anchor: bytes | None = None


def _rewrite_a_line_of_the_current_epoch(t: Target) -> None:
    """B changes run 4's first line (epoch 13), seals its stream again, and signs the
    ledger again from run 4's ``start`` (every record there is epoch 13's)."""
    state = t.genuine.sealing_state()
    _, at = t.admin_streams()[-1]
    lines = lines_of(t.admin)
    assert epoch_of(lines[at[0]]) == state.epoch == NOW_EPOCH
    lines[at[0]] = lines[at[0]].replace(b'"event_type":"genuine"', b'"event_type":"forged"')
    write_lines(t.admin, lines)
    sealed_again(t.admin, at[0], state.line_key(), state.epoch)
    resign_ledger(t.log_dir, state, record_line(t.log_dir, type="start", epoch=NOW_EPOCH) - 1)


def limit_b_rewrites_a_line_of_the_current_epoch(t: Target) -> Unseen:
    # Even with an anchor shipped before that line was written.
    _rewrite_a_line_of_the_current_epoch(t)
    return Unseen(anchor=t.genuine.anchors[2])


def _forged_stream(
    t: Target, signer: SealingState, sealer: SealingState, records_before: list[dict[str, Any]]
) -> None:
    """Append records (``records_before``, then start, stream, checkpoint, stop) and
    two admin lines of a new stream: what a writer in ``sealer``'s epoch writes."""
    ledger = lines_of(t.log_dir / LEDGER)
    last = record_of(ledger[-1])
    stream = os.urandom(8).hex()
    template = event(lines_of(t.admin)[-1])
    bodies = []
    for seq in (1, 2):
        forged = {**template, "event_type": "forged", "stream": stream, "seq": seq}
        forged.pop("prev_stream", None), forged.pop("prev_seq", None), forged.pop("prev_mac", None)
        bodies.append(orjson.dumps(forged)[:-1] + b',"mac":"x:' + b"0" * 64 + b'"}')
    sealed = seal_run(bodies, sealer.line_key(), sealer.epoch, fs_root(stream))
    tree = Frontier()
    for line in sealed:
        tree.append(leaf_hash(split_mac_body(line)))
    mac = f"fs-hmac-sha256:{sealer.epoch}:{split_mac(sealed[-1])[2].hex()}"  # type: ignore[index]
    head = {"seq": 2, "mac": mac, "root": tree.root().hex(), "file": ADMIN}
    common = {k: last[k] for k in ("timestamp", "deployment", "host")}
    new = [
        *[(signer, r) for r in records_before],
        (sealer, {"type": "start", "interval_s": 0.05}),
        (sealer, {"type": "stream", "stream": stream, "category": "admin", "file": ADMIN,
                  "follows": None}),
        (sealer, {"type": "checkpoint", "reason": "shutdown", "streams": {stream: head}}),
        (sealer, {"type": "stop"}),
    ]  # fmt: skip
    for state, fields in new:
        record = {"n": last["n"] + 1, "prev": record_hash(ledger[-1]), **common, "pid": 4242,
                  "epoch": state.epoch, **fields}  # fmt: skip
        ledger.append(sign_record(record, state))
        last = record
    write_lines(t.log_dir / LEDGER, ledger)
    write_lines(t.admin, [*lines_of(t.admin), *sealed])


def limit_b_appends_forged_events_in_the_current_epoch(t: Target) -> Unseen:
    # A writer that never ran: a start, a stream, its lines, a checkpoint, a stop,
    # all sealed in epoch 13. The last anchor is still in the ledger.
    state = t.genuine.sealing_state()
    _forged_stream(t, state, state, [])
    return Unseen(anchor=t.genuine.anchors[-1])


def limit_b_forges_a_later_epoch(t: Target) -> Unseen:
    # The seed of epoch 13 evolves into every later one: a key record certifying
    # epoch 14, and a writer of epoch 14.
    state = t.genuine.sealing_state()
    later = state.copy()
    later.advance_to(NOW_EPOCH + 1)
    key = {"type": "key", "next_epoch": later.epoch, "next_public_key": later.public_key().hex()}
    _forged_stream(t, state, later, [key])
    return Unseen(anchor=t.genuine.anchors[-1])


def _unchecked_tail(t: Target) -> tuple[list[bytes], int]:
    """Run 2 as it was killed: payments.jsonl's lines, and how many at its end no
    checkpoint counts."""
    _roll_back(t, t.genuine.snapshots[1])
    lines = lines_of(t.log_dir / PAYMENTS)
    stream = event(lines[-1])["stream"]
    counted = max(
        r["streams"][stream]["seq"]
        for r in records(t.log_dir)
        if r["type"] == "checkpoint" and stream in r["streams"]
    )
    tail = sum(
        1 for line in lines if event(line)["stream"] == stream and event(line)["seq"] > counted
    )
    assert tail >= 1
    return lines, tail


def limit_c_cuts_what_a_killed_writer_wrote_after_its_last_checkpoint(t: Target) -> Unseen:
    # Until a restart names where the stream ended, nothing else does: Ma and
    # Tsudik's truncation, at most one checkpoint interval of lines.
    lines, tail = _unchecked_tail(t)
    write_lines(t.log_dir / PAYMENTS, lines[:-tail])
    return Unseen(anchor=t.genuine.anchors[1])


def limit_b_rewrites_what_a_killed_writer_wrote_after_its_last_checkpoint(t: Target) -> Unseen:
    # The host taken in epoch 11, when the writer died: its key seals those lines again.
    lines, tail = _unchecked_tail(t)
    secret = t.genuine.secret
    assert secret.seed is not None
    state = SealingState(secret.deployment, 11, secret.seed_at(11), bytes(32), "/")
    at = len(lines) - tail
    lines[at] = lines[at].replace(b'"event_type":"genuine"', b'"event_type":"forged"')
    write_lines(t.log_dir / PAYMENTS, lines)
    sealed_again(t.log_dir / PAYMENTS, at, state.line_key(), state.epoch)
    return Unseen(anchor=t.genuine.anchors[1])


def limit_c_rolls_back_without_an_anchor(t: Target) -> Unseen:
    _roll_back(t, t.genuine.snapshots[2])
    return Unseen()


def limit_c_cuts_the_tail_without_an_anchor(t: Target) -> Unseen:
    _cut_the_tail(t)
    return Unseen()


def limit_c_rolls_back_to_the_first_run_without_an_anchor(t: Target) -> Unseen:
    _roll_back(t, t.genuine.snapshots[0])
    return Unseen()


LIMITS: Final[dict[str, Callable[[Target], Unseen]]] = {
    name: attack for name, attack in globals().items() if name.startswith("limit_")
}


@pytest.mark.parametrize("name", LIMITS)
def test_what_verify_cannot_see(name: str, target: Target) -> None:
    unseen = LIMITS[name](target)
    result = verify_directory(
        target.log_dir, None, verification_key=target.key, anchor=unseen.anchor
    )
    assert result.ok, [f"{b.file}:{b.line}: {b.kind}: {b.detail}" for b in result.breaks]
    # Writers whose heartbeat stops without a stop record (run 2's was killed; a cut
    # or forged tail can make others look so) are said apart from the rest.
    said = [c for c in result.caveats if not c.startswith("the writer pid ")]
    if unseen.anchor is None:
        # What it says it cannot rule out.
        (caveat,) = said
        assert caveat.startswith("no anchor given: the newest records could have been cut, or ")
    else:
        assert said == []


# --- X: crafted files, read by the real command in a child process ------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def command(log_dir: Path, key_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``asgi-audit verify --json`` as a user runs it, limited in memory and time."""
    root = str(Path(asgi_audit.__file__).resolve().parents[1])  # the package under test
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGI_AUDIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "asgi_audit", "verify", "--json", "--verification-key",
         str(key_file), *args, str(log_dir)],
        capture_output=True,
        text=True,
        errors="replace",
        env={**env, "PYTHONPATH": root},
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,  # the child's own limit, set before it runs the command
        check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "MemoryError" not in done.stderr
    return done


def check_command(done: subprocess.CompletedProcess[str], expect: Expect) -> None:
    """What :func:`check` asserts, on the command's JSON output and exit status."""
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["verdict"] == "altered"
    found = {(b["file"], b["line"], b["kind"]) for b in out["breaks"]}
    missing = [place for place in expect.breaks if place not in found]
    assert not missing, (missing, out["breaks"][:50])
    kinds = {kind for _, _, kind in expect.breaks} | expect.also
    assert {b["kind"] for b in out["breaks"]} <= kinds, out["breaks"][:50]


def _append_ledger(log_dir: Path, *lines: bytes) -> int:
    """Append raw lines to the ledger; the line number of the first."""
    ledger = lines_of(log_dir / LEDGER)
    write_lines(log_dir / LEDGER, [*ledger, *lines])
    return len(ledger) + 1


def _next_record(log_dir: Path, **fields: Any) -> bytes:
    """A record after the ledger's last one, with ``fields`` over a copy of it and a
    made-up signature."""
    ledger = lines_of(log_dir / LEDGER)
    last = record_of(ledger[-1])
    record = {**last, "n": last["n"] + 1, "prev": record_hash(ledger[-1]), **fields}
    return seal_record(orjson.dumps(record), "ed25519:" + "5a" * 64)[:-1]


def x_a_64_mib_ledger_line(t: Target) -> Expect:
    # Skipped, not held: the records around it still link.
    ledger = lines_of(t.log_dir / LEDGER)
    write_lines(t.log_dir / LEDGER, [*ledger[:50], b"x" * (64 << 20), *ledger[50:]])
    return Expect([(LEDGER, 51, "line too long")])


def _no_ledger(t: Target, detail: Place) -> Expect:
    # Nothing says what should exist: the lines retention deleted look deleted.
    first = rotated(t.log_dir)[0]
    return Expect([detail, (LEDGER, 0, "ledger missing"), (first.name, 1, "deleted")])


def x_the_ledger_is_a_fifo(t: Target) -> Expect:
    (t.log_dir / LEDGER).unlink()
    os.mkfifo(t.log_dir / LEDGER)
    return _no_ledger(t, (LEDGER, 0, "not a regular file"))


def x_the_ledger_is_a_symlink(t: Target) -> Expect:
    # To the genuine ledger: still never followed.
    (t.log_dir / LEDGER).unlink()
    (t.log_dir / LEDGER).symlink_to(t.genuine.log_dir / LEDGER)
    return _no_ledger(t, (LEDGER, 0, "not a regular file"))


def x_the_ledger_is_a_directory(t: Target) -> Expect:
    (t.log_dir / LEDGER).unlink()
    (t.log_dir / LEDGER).mkdir()
    return _no_ledger(t, (LEDGER, 0, "not a regular file"))


def x_records_with_fields_of_the_wrong_type(t: Target) -> Expect:
    at = _append_ledger(
        t.log_dir,
        _next_record(t.log_dir, n="113"),
        _next_record(t.log_dir, type="checkpoint", reason=1, streams=[]),
        _next_record(t.log_dir, type="rotated", category="payments", file=5, size=-1,
                     sha256="x", streams={}),
        _next_record(t.log_dir, type="key", next_epoch=True, next_public_key="00" * 32),
        _next_record(t.log_dir, type="stream", stream="x", category="admin", file=ADMIN,
                     follows={"stream": "0" * 16, "seq": -1, "mac": ""}),
        _next_record(t.log_dir, type="retired", file=ADMIN, sha256="0" * 64, record="7"),
    )  # fmt: skip
    return Expect([(LEDGER, at + i, "bad checkpoint") for i in range(6)])


def x_a_record_with_a_huge_n(t: Target) -> Expect:
    at = _append_ledger(t.log_dir, _next_record(t.log_dir, n=2**62))
    return Expect([(LEDGER, at, "ledger gap"), (LEDGER, at, "bad checkpoint")])


def x_a_record_whose_n_is_past_64_bits(t: Target) -> Expect:
    record = _next_record(t.log_dir).replace(b'{"n":', b'{"n":1' + b"0" * 40, 1)
    at = _append_ledger(t.log_dir, record)
    return Expect([(LEDGER, at, "bad checkpoint")])


def x_a_record_with_a_prev_not_in_hex(t: Target) -> Expect:
    at = _append_ledger(t.log_dir, _next_record(t.log_dir, prev="zz" * 32))
    return Expect([(LEDGER, at, "bad checkpoint")])


def x_a_record_claiming_epoch_2_to_the_40(t: Target) -> Expect:
    # No key is derived for it: the epoch has not begun.
    at = _append_ledger(t.log_dir, _next_record(t.log_dir, epoch=2**40))
    return Expect([(LEDGER, at, "bad checkpoint")])


def x_a_key_record_certifying_epoch_2_to_the_40(t: Target) -> Expect:
    fields = {"type": "key", "next_epoch": 2**40, "next_public_key": "00" * 32}
    at = _append_ledger(t.log_dir, _next_record(t.log_dir, **fields))
    return Expect([(LEDGER, at, "bad checkpoint")])


def x_a_line_claiming_epoch_10_to_the_12(t: Target) -> Expect:
    lines = lines_of(t.admin)
    far = lines[-1].replace(b'"mac":"fs-hmac-sha256:13:', b'"mac":"fs-hmac-sha256:999999999999:')
    write_lines(t.admin, [*lines, far])
    return Expect([(ADMIN, len(lines) + 1, "modified")], frozenset({"inserted"}))


def x_a_nested_ledger_line(t: Target) -> Expect:
    at = _append_ledger(t.log_dir, b"[" * 100_000 + b"]" * 100_000, b'{"n":' * 50_000)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "bad checkpoint")])


def x_ledger_lines_not_in_utf8(t: Target) -> Expect:
    record = _next_record(t.log_dir).replace(b'"type":"', b'"type":"\xff\xfe\x00', 1)
    at = _append_ledger(t.log_dir, record, b"\x00" * 1000)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 1, "bad checkpoint")])


def x_a_hundred_thousand_junk_records(t: Target) -> Expect:
    at = _append_ledger(t.log_dir, *[b"{}"] * 100_000)
    return Expect([(LEDGER, at, "bad checkpoint"), (LEDGER, at + 99_999, "bad checkpoint")])


X_CASES: Final[dict[str, Attack]] = {
    name: attack for name, attack in globals().items() if name.startswith("x_")
}
#: Cheap to plant and to read, and harmless even on a regression: also run in process.
X_IN_PROCESS: Final = (
    "x_records_with_fields_of_the_wrong_type",
    "x_a_record_with_a_huge_n",
    "x_a_record_whose_n_is_past_64_bits",
    "x_a_record_with_a_prev_not_in_hex",
    "x_ledger_lines_not_in_utf8",
    "x_the_ledger_is_a_directory",
    "x_the_ledger_is_a_symlink",
)


@pytest.mark.parametrize("name", X_CASES)
def test_a_crafted_file_is_named_by_the_command_within_its_limits(
    name: str, target: Target
) -> None:
    expect = X_CASES[name](target)
    check_command(command(target.log_dir, target.genuine.secret_file), expect)


@pytest.mark.parametrize("name", X_IN_PROCESS)
def test_a_crafted_file_is_named_in_this_process(name: str, target: Target) -> None:
    expect = X_CASES[name](target)
    check(verified(target, expect), expect)


# --- the real command: clean controls and a sample -----------------------------------------


@pytest.mark.parametrize("key", ["secret", "public"])
def test_the_genuine_log_passes_the_real_command(
    key: str, genuine: GenuineLog, tmp_path: Path
) -> None:
    copy = tmp_path / "logs"  # another path than the one the ledger's genesis names
    shutil.copytree(genuine.log_dir, copy)
    key_file = genuine.secret_file if key == "secret" else genuine.public_file
    anchor = tmp_path / "anchor"
    anchor.write_bytes(genuine.anchors[-1] + b"\n")
    for args in ((), ("--anchor", str(anchor))):
        done = command(copy, key_file, *args)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        out = json.loads(done.stdout)
        assert (out["verdict"], out["breaks"], out["scheme"]) == ("ok", [], "forward-secure")
        # The killed writer's silence, and without an anchor what cannot be ruled out.
        assert len(out["caveats"]) == (1 if args else 2)
        assert out["caveats"][-1].startswith("the writer pid ")
    for snapshot in genuine.snapshots:  # and as it was after runs 1, 2 and 3
        assert command(snapshot, key_file).returncode == 0


@pytest.mark.parametrize(
    "name",
    [
        "a_line_byte",
        "a_lines_of_the_same_deployment_elsewhere",
        "b_earlier_line_sealed_again",
        "b_ledger_rewritten_from_epoch_10",
        "c_middle_rotated_file_deleted",
        "c_rolled_back_with_an_anchor",
    ],
)
def test_a_sample_of_the_cases_fails_the_real_command(name: str, target: Target) -> None:
    _, attack = CASES[name]
    expect = attack(target)
    args: list[str] = []
    if expect.anchor is not None:
        anchor = target.tmp / "anchor"
        anchor.write_bytes(expect.anchor + b"\n")
        args = ["--anchor", str(anchor)]
    check_command(command(target.log_dir, target.genuine.secret_file, *args), expect)


def test_a_changed_mac_field_alone_is_named_with_the_secret_key_only(target: Target) -> None:
    # The security model's one public-key limit: the Merkle leaves are the lines
    # without their MAC field, so the signed roots prove the events, not the MACs.
    # A line no signed checkpoint ends at: a checkpoint's head carries its MAC, which
    # the public key does check (where checkpoints fall depends on the writer's pace).
    ledger = [json.loads(r) for r in (target.log_dir / CHECKPOINT_FILE).read_bytes().splitlines()]
    heads = {
        (stream, head["seq"])
        for record in ledger
        if record.get("type") == "checkpoint"
        for stream, head in record["streams"].items()
    }
    lines = lines_of(target.admin)
    index = next(
        i
        for i, raw in enumerate(lines)
        if i and (json.loads(raw)["stream"], json.loads(raw)["seq"]) not in heads
    )
    line = lines[index]
    at = line.rindex(b":") + 1
    flipped = b"0" if line[at : at + 1] != b"0" else b"1"
    lines[index] = line[:at] + flipped + line[at + 1 :]
    write_lines(target.admin, lines)
    public = verify_directory(target.log_dir, None, verification_key=target.key.public())
    assert [b for b in public.breaks if b.file == ADMIN] == []
    secret = verify_directory(target.log_dir, None, verification_key=target.key)
    number = index + 1
    assert any(
        b.file == ADMIN and b.line == number and b.kind == "modified" for b in secret.breaks
    ), [f"{b.file}:{b.line}: {b.kind}" for b in secret.breaks]
