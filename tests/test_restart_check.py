"""A restart names where the last stream of a file ended only when that line's MAC holds.

The first line of a new stream (``prev_*``) and its announcement in the ledger
(``follows``) are signed: if a restart copied an unchecked last line there, a cut
or a forged tail would be vouched for by the app itself. Real Auditors write,
stop, and start again on the same directory; in between the last line is left
alone, cut, or forged, and the new stream must follow it only in the first case.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final

import pytest

from asgi_audit import Auditor
from asgi_audit.proof.forward import SealingState
from asgi_audit.proof.integrity import split_mac
from asgi_audit.proof.keyfiles import load_state, read_verification_key
from asgi_audit.proof.readback import checked_end
from asgi_audit.proof.schemes import ForwardSealer, StaticSealer
from asgi_audit.proof.setup import SealingKeyMissing
from asgi_audit.proof.verify import verify_directory

KEY: Final = b"restart-check-key-0123456789abcdef-77"


async def write(log_dir: Path, key_dir: Path, n: int, key: bytes | None = None) -> None:
    async with Auditor(log_dir=log_dir, key_dir=key_dir, key=key, self_audit=False) as auditor:
        for i in range(n):
            await auditor.login_attempt("failed", user_id=f"u{i}", n=i)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def ledger(log_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(log_dir / "checkpoints.log")]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "logs", tmp_path / "keys"


def test_an_intact_last_line_is_followed(dirs: tuple[Path, Path]) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 3))
    last = json.loads(split_mac(lines(log_dir / "auth-events.jsonl")[-1])[0])  # type: ignore[index]
    asyncio.run(write(log_dir, key_dir, 2))
    first_of_new = json.loads(lines(log_dir / "auth-events.jsonl")[3])
    assert (first_of_new["prev_stream"], first_of_new["prev_seq"]) == (last["stream"], 3)
    announced = [r for r in ledger(log_dir) if r["type"] == "stream" and r["category"] == "auth"]
    assert announced[1]["follows"]["stream"] == last["stream"]
    assert announced[1]["follows"]["seq"] == 3
    key = read_verification_key(key_dir / "verification.key")
    assert verify_directory(log_dir, None, verification_key=key).ok


@pytest.mark.parametrize("damage", ["cut", "forged mac", "changed body"])
def test_a_damaged_last_line_is_not_followed_and_verify_names_it(
    dirs: tuple[Path, Path], damage: str
) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 3))
    path = log_dir / "auth-events.jsonl"
    kept = lines(path)
    if damage == "cut":
        kept = kept[:-1]  # the whole last line, as an intruder would
    elif damage == "forged mac":
        kept[-1] = kept[-1][:-3] + (b"0" if kept[-1][-3:-2] != b"0" else b"1") + kept[-1][-2:]
    else:
        kept[-1] = kept[-1].replace(b'"user_id":"u2"', b'"user_id":"u9"')
    path.write_bytes(b"".join(line + b"\n" for line in kept))
    asyncio.run(write(log_dir, key_dir, 2))
    new_first = json.loads(lines(path)[len(kept)])
    if damage == "cut":
        # seq 2 is intact: it is followed, and the cut line is named against the ledger.
        assert new_first["prev_seq"] == 2
    else:
        assert "prev_stream" not in new_first  # nothing unchecked is vouched for
        announced = [r for r in ledger(log_dir) if r["type"] == "stream"]
        assert announced[-1]["follows"] is None
    key = read_verification_key(key_dir / "verification.key")
    result = verify_directory(log_dir, None, verification_key=key)
    kinds = {(b.file, b.kind) for b in result.breaks}
    expected = ("auth-events.jsonl", "truncated" if damage == "cut" else "modified")
    assert expected in kinds, result.breaks


def test_checked_end_needs_the_key_of_the_line_s_epoch(dirs: tuple[Path, Path]) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 2))
    state = load_state(key_dir)
    path = log_dir / "auth-events.jsonl"
    end = checked_end(path, ForwardSealer(state))
    assert end is not None
    assert end.seq == 2
    assert end.label == f"fs-hmac-sha256:{state.epoch}"
    # The key moved on: the line was sealed in an epoch whose key is gone.
    later: SealingState = state.copy()
    later.advance_to(state.epoch + 1)
    assert checked_end(path, ForwardSealer(later)) is None
    # Another scheme's key cannot check it either.
    assert checked_end(path, StaticSealer(KEY, "0" * 16)) is None


def test_checked_end_with_a_static_key_and_a_first_line(dirs: tuple[Path, Path]) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 1, key=KEY))
    from asgi_audit.proof.integrity import derive_chain_key

    chain_key = derive_chain_key(KEY)
    assert chain_key is not None
    end = checked_end(log_dir / "auth-events.jsonl", StaticSealer(chain_key, "0" * 16))
    assert end is not None
    assert end.seq == 1
    assert checked_end(log_dir / "auth-events.jsonl", StaticSealer(b"x" * 32, "0" * 16)) is None
    assert checked_end(log_dir / "missing.jsonl", StaticSealer(chain_key, "0" * 16)) is None


def test_a_directory_with_a_ledger_and_no_sealing_key_refuses_to_start(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 1))
    with pytest.raises(SealingKeyMissing, match="has a ledger, but its sealing key is not in"):
        asyncio.run(write(log_dir, tmp_path / "elsewhere", 1))
    assert not (tmp_path / "elsewhere").exists()  # no second history was started


def test_a_deleted_ledger_is_named_after_a_restart(dirs: tuple[Path, Path]) -> None:
    log_dir, key_dir = dirs
    asyncio.run(write(log_dir, key_dir, 2))
    (log_dir / "checkpoints.log").unlink()
    asyncio.run(write(log_dir, key_dir, 2))
    first = ledger(log_dir)[0]
    assert (first["n"], first["type"]) == (0, "reset")
    assert len(first["lost"]) == 64  # the genesis the sealing key remembers
    key = read_verification_key(key_dir / "verification.key")
    result = verify_directory(log_dir, None, verification_key=key)
    assert ("checkpoints.log", 1, "ledger missing") in {
        (b.file, b.line, b.kind) for b in result.breaks
    }
    # The first run's stream is no longer announced anywhere: its lines are foreign now.
    assert "foreign stream" in {b.kind for b in result.breaks}


def test_the_key_moves_on_only_once_the_record_certifying_the_next_is_on_disk(
    dirs: tuple[Path, Path],
) -> None:
    import os
    import time

    from asgi_audit.proof.keyfiles import init_keys, store_state
    from asgi_audit.proof.session import ProofSession
    from asgi_audit.store.files import LogDirectory

    log_dir, key_dir = dirs
    init_keys(log_dir, key_dir, epoch_seconds=60, now=time.time() - 600)  # 10 epochs ago
    directory = LogDirectory(log_dir)
    directory.prepare()
    state = load_state(key_dir)
    session = ProofSession(
        directory,
        ForwardSealer(state),
        interval=None,
        store_state=lambda: store_state(key_dir, state),
    )
    ledger_path = log_dir / "checkpoints.log"
    os.mkdir(ledger_path)  # the ledger cannot be written
    with pytest.raises(IsADirectoryError):
        session.start()
    assert state.epoch == 0  # not moved on: nothing certifies epoch 10 yet
    os.rmdir(ledger_path)
    session.start()
    assert state.epoch >= 10
    records = ledger(log_dir)
    assert [r["type"] for r in records] == ["genesis", "key", "start"]
    assert records[1]["next_epoch"] == state.epoch
    assert (records[0]["epoch"], records[1]["epoch"], records[2]["epoch"]) == (0, 0, state.epoch)
    assert load_state(key_dir).epoch == state.epoch  # the file moved on too
