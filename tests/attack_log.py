"""The genuine log the attack corpus alters: written through the public API, as an app does.

Four writer runs share one log directory and one forward-secure sealing key, in
epochs of 60 seconds (the shortest a deployment may have). The key was made 13
epochs ago, and the writers' clock is set back so that they write in epochs 10 to
13 (the last one is the verifier's now, so nothing is sealed in its future):

1. in this process, in epoch 10 (the genesis is signed in epoch 0, and a ``key``
   record certifies epoch 10);
2. a spawned process in epoch 11, killed with SIGKILL while it writes, at a moment
   its last line is in no checkpoint (no shutdown checkpoint, no ``stop``); the next
   run rotates that file, and records it;
3. in this process again, in epoch 12 then 13: its streams cross an epoch, which
   the writer closes with a checkpoint and a ``key`` record;
4. in this process, epoch 13, two admin events: the directory as it is left.

``payments`` events are large: that file is rotated every few lines (at 8 KiB),
rotated files are gzipped and the oldest deleted by retention (each deletion
recorded). ``admin`` events are few and small: ``admin.jsonl`` is never rotated and
holds a stream of every run, in every epoch. A checkpoint is written every 50 ms.
Epochs pass by setting the writer's clock (the proof session reads the time
through ``time.time``); nothing else is faked.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import asgi_audit.proof.session as proof_session
from asgi_audit import Auditor
from asgi_audit.proof.forward import SealingState, VerificationKey
from asgi_audit.proof.integrity import CHECKPOINT_FILE
from asgi_audit.proof.keyfiles import (
    PUBLIC_KEY_FILE,
    SEALING_KEY_FILE,
    VERIFICATION_KEY_FILE,
    init_keys,
    load_state,
    read_verification_key,
)

CATEGORIES: Final = ("payments", "admin")
EPOCH_SECONDS: Final = 60
#: The epoch of the verifier's clock when the log is written; run 1 writes three before.
NOW_EPOCH: Final = 13
MEMO: Final = "m" * 2400  # makes a payments line about 2.7 KB
OPTIONS: Final[dict[str, Any]] = {
    "rotate_max_mb": 8 / 1024,  # 8 KiB
    "compress_rotated": True,
    "retain_count": 8,
    "checkpoint_interval_s": 0.05,
    "self_audit": False,
    "fsync": "never",
}


@dataclass(frozen=True)
class GenuineLog:
    """The log as its writers left it, and the keys an auditor (and an attacker) holds."""

    log_dir: Path
    key_dir: Path
    #: The verification key files, secret and public, kept off the host.
    secret_file: Path
    public_file: Path
    #: The ledger's last line after each run (without its newline): anchors shipped
    #: off the host at those moments.
    anchors: tuple[bytes, ...]
    #: Copies of the whole directory after run 1, run 2 (killed) and run 3.
    snapshots: tuple[Path, ...]
    #: A log of another deployment, and one of this deployment's seed in another
    #: directory (see :func:`write_other_log`).
    foreign: Path
    sibling: Path

    @property
    def secret(self) -> VerificationKey:
        return read_verification_key(self.secret_file)

    @property
    def public(self) -> VerificationKey:
        return read_verification_key(self.public_file)

    def sealing_state(self) -> SealingState:
        """What the host holds now: the seed of the current epoch (13)."""
        return load_state(self.key_dir)


# ------------------------------------------------------------------ the writer's clock


@contextmanager
def writer_clock(offset: float) -> Iterator[SimpleNamespace]:
    """The proof session's clock ``offset`` seconds off (``clock.offset`` moves it)."""
    clock = SimpleNamespace(offset=offset)
    shim = SimpleNamespace(time=lambda: time.time() + clock.offset)
    names = vars(proof_session)  # the module reads ``time.time()`` through this name
    saved = names["time"]
    names["time"] = shim
    try:
        yield clock
    finally:
        names["time"] = saved


def _back(epochs: int) -> float:
    return -epochs * EPOCH_SECONDS


# ------------------------------------------------------------------ the runs


async def _emit(auditor: Auditor, category: str, run: int, n: int) -> None:
    memo: dict[str, Any] = {"memo": MEMO} if category == "payments" else {}
    await auditor.emit(category, "genuine", outcome="success", run=run, n=n, **memo)


async def _run(
    log_dir: Path, key_dir: Path, run: int, phases: list[tuple[int, int]], clock: Any = None
) -> None:
    """Per phase (admin events, payments events); the clock moves one epoch on between."""
    async with Auditor(log_dir=log_dir, key_dir=key_dir, **OPTIONS) as auditor:
        n = 0
        for phase, (admins, payments) in enumerate(phases):
            if phase:
                clock.offset += EPOCH_SECONDS  # the epoch ends while the streams are open
                await asyncio.sleep(0.15)  # the writer checkpoints and moves its key on
            for _ in range(max(admins, payments)):
                for category, count in (("admin", admins), ("payments", payments)):
                    if count:
                        await _emit(auditor, category, run, n)
                admins, payments, n = max(admins - 1, 0), max(payments - 1, 0), n + 1
                await auditor.flush()
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # an interval checkpoint after the last line


def killed_writer(log_dir: str, key_dir: str, offset: float) -> None:
    """Run 2, in a spawned process: two admin events, then payments until it is killed."""
    with writer_clock(offset):
        asyncio.run(_run(Path(log_dir), Path(key_dir), 2, [(2, 10_000)]))


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _unchecked_tail(log_dir: Path, pid: int) -> bool:
    """Whether the last line of ``pid``'s payments stream is in no checkpoint yet (and
    the writer is not between rotating a file and recording it)."""
    ledger = [json.loads(line) for line in _whole(log_dir / CHECKPOINT_FILE)]
    mine = [r for r in ledger if r["pid"] == pid]
    streams = [r["stream"] for r in mine if r["type"] == "stream" and r["category"] == "payments"]
    try:
        data = (log_dir / "payments.jsonl").read_bytes()
    except FileNotFoundError:
        return False  # (rotated a moment ago)
    lines = data.split(b"\n")[:-1]
    if not streams or not lines or not data.endswith(b"\n"):
        return False  # (stopped in the middle of a line: let it go on)
    last = json.loads(lines[-1])
    counted = [
        r["streams"][streams[0]]["seq"]
        for r in mine
        if r["type"] == "checkpoint" and streams[0] in r["streams"]
    ]
    # Not between a rotation and its record either: every rotated file is recorded.
    recorded = {r["file"] for r in ledger if r["type"] in ("rotated", "compressed")}
    unrecorded = [p for p in log_dir.glob("payments.jsonl.*.rotated*") if p.name not in recorded]
    return not unrecorded and last["stream"] == streams[0] and last["seq"] > max(counted, default=0)


def _whole(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data.split(b"\n")[:-1]  # a partial last line is left out


def _kill_mid_run(log_dir: Path, key_dir: Path, offset: float) -> None:
    """Run 2: SIGKILL once it has rotated a few times, at a moment when its last
    line is in no checkpoint (it is stopped to look, and let go on when not)."""
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=killed_writer, args=(str(log_dir), str(key_dir), offset))
    writer.start()
    assert writer.pid is not None
    try:
        ledger = log_dir / CHECKPOINT_FILE
        before = _lines(ledger)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.01)
            if _lines(ledger) < before + 30:
                continue
            os.kill(writer.pid, signal.SIGSTOP)
            if _unchecked_tail(log_dir, writer.pid):
                break
            os.kill(writer.pid, signal.SIGCONT)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(10)
    assert writer.exitcode == -signal.SIGKILL, writer.exitcode
    assert _unchecked_tail(log_dir, writer.pid)


def last_record(log_dir: Path) -> bytes:
    """The ledger's last line, without its newline."""
    return (log_dir / CHECKPOINT_FILE).read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]


def rebind_keys(key_dir: Path, to: Path, log_dir: Path) -> Path:
    """A copy of ``key_dir`` in ``to`` whose sealing key is bound to ``log_dir``: the
    host's keys, for a copy of its directory."""
    shutil.copytree(key_dir, to)
    fields = json.loads(load_state(to).to_json())
    fields["log_dir"] = str(log_dir.resolve())
    moved = SealingState.from_json(json.dumps(fields))
    (to / SEALING_KEY_FILE).write_bytes(moved.to_json())
    return to


def write_other_log(base: Path, seed_of: VerificationKey | None) -> Path:
    """One short run of both categories in another directory, in epoch 10: sealed by
    a deployment of its own (``seed_of`` None), or by ``seed_of``'s deployment with
    the same seed (one deployment, two directories: what sharing keys leads to)."""
    log_dir, key_dir = base / "logs", base / "keys"
    log_dir.mkdir(parents=True, mode=0o700)
    made = time.time() - NOW_EPOCH * EPOCH_SECONDS - 1
    init_keys(log_dir, key_dir, epoch_seconds=EPOCH_SECONDS, now=made)
    if seed_of is not None:
        assert seed_of.seed is not None
        shared = SealingState(
            seed_of.deployment, 0, seed_of.seed, os.urandom(32), str(log_dir.resolve())
        )
        (key_dir / SEALING_KEY_FILE).write_bytes(shared.to_json())
    with writer_clock(_back(3)):
        asyncio.run(_run(log_dir, key_dir, 9, [(2, 2)]))
    return log_dir


def write_genuine_log(base: Path) -> GenuineLog:
    """Write the four runs under ``base`` (see the module's doc)."""
    log_dir, key_dir = base / "logs", base / "keys"
    log_dir.mkdir(mode=0o700)
    made = time.time() - NOW_EPOCH * EPOCH_SECONDS - 1
    _, secret = init_keys(log_dir, key_dir, epoch_seconds=EPOCH_SECONDS, now=made)
    secret_file, public_file = base / VERIFICATION_KEY_FILE, base / PUBLIC_KEY_FILE
    secret_file.write_bytes(secret.to_json())
    public_file.write_bytes(secret.public().to_json())
    anchors, snapshots = [], []
    with writer_clock(_back(3)) as clock:
        asyncio.run(_run(log_dir, key_dir, 1, [(3, 12)]))
        anchors.append(last_record(log_dir))
        snapshots.append(base / "after-run-1")
        shutil.copytree(log_dir, snapshots[-1])
        _kill_mid_run(log_dir, key_dir, _back(2))
        anchors.append(last_record(log_dir))
        snapshots.append(base / "after-run-2")
        shutil.copytree(log_dir, snapshots[-1])
        clock.offset = _back(1)
        asyncio.run(_run(log_dir, key_dir, 3, [(2, 6), (2, 6)], clock))
        anchors.append(last_record(log_dir))
        snapshots.append(base / "after-run-3")
        shutil.copytree(log_dir, snapshots[-1])
        asyncio.run(_run(log_dir, key_dir, 4, [(2, 0)]))
        anchors.append(last_record(log_dir))
    return GenuineLog(
        log_dir,
        key_dir,
        secret_file,
        public_file,
        tuple(anchors),
        tuple(snapshots),
        write_other_log(base / "foreign", None),
        write_other_log(base / "sibling", secret),
    )
