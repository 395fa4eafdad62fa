"""``asgi-audit prove``: proofs a third party checks with the public verification key.

A real log is written (forward-secure, several epochs passed, checkpoints), then
inclusion and consistency proofs are made by the real command and checked with
``verification.pub`` only. Each part of a proof is then altered in turn, and the
check must fail naming that part; the same checks also run in process.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest

from asgi_audit import Auditor
from asgi_audit.proof.inclusion import ProofError, check_consistency, check_inclusion
from asgi_audit.proof.keyfiles import init_keys, read_verification_key, write_verification_key

DEADLINE: Final = 60.0  # a bound on a hang, never an assertion


async def _write(log_dir: Path, key_dir: Path, run: int) -> None:
    async with Auditor(
        log_dir=log_dir, key_dir=key_dir, checkpoint_interval_s=0.05, self_audit=False
    ) as auditor:
        for n in range(12):
            await auditor.login_attempt("failed", user_id=f"u{n}", run=run, n=n)
            await auditor.tool_blocked(
                tool_name="read_file", blocked_path=f"/p/{n}", blocked_reason="r", n=n
            )
            if n % 4 == 3:
                await auditor.flush()
                await asyncio.sleep(0.08)  # room for interval checkpoints


@pytest.fixture(scope="module")
def proved_log(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("prove")
    log_dir, key_dir = base / "logs", base / "keys"
    # Keys made an hour ago with 60-second epochs: the first start moves 60 epochs on,
    # so the checkpoints are signed by a key the genesis and key records certify.
    _, verification = init_keys(log_dir, key_dir, epoch_seconds=60, now=time.time() - 3600)
    write_verification_key(base / "verification.pub", verification.public())
    write_verification_key(base / "verification.key", verification)
    asyncio.run(_write(log_dir, key_dir, 0))
    asyncio.run(_write(log_dir, key_dir, 1))
    return {"logs": log_dir, "pub": base / "verification.pub", "base": base}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asgi_audit", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def prove(log: dict[str, Path], *args: str) -> dict[str, Any]:
    out = log["base"] / "proof.json"
    done = cli("prove", *args, str(log["logs"]), "--out", str(out))
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert isinstance(document, dict)
    return document


def check(log: dict[str, Path], document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = log["base"] / "checked.json"
    path.write_text(json.dumps(document))
    return cli("prove", "--check", str(path), "--verification-key", str(log["pub"]))


def test_an_event_proved_is_valid_with_the_public_key_alone(proved_log: dict[str, Path]) -> None:
    login = events(proved_log["logs"] / "auth-events.jsonl")[5]
    document = prove(proved_log, login["event_id"])
    assert document["format"] == "asgi-audit-inclusion-proof/1"
    assert json.loads(document["line"])["event_id"] == login["event_id"]
    assert document["seq"] == login["seq"] <= document["tree_size"]
    done = check(proved_log, document)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith(
        f"VALID: event {login['event_id']} is line {login['seq']} of stream {login['stream']}"
    )
    certificates = [json.loads(c) for c in document["certificates"]]
    assert certificates[0]["type"] == "genesis"
    assert certificates[0]["epoch"] == 0
    assert any(c["type"] == "key" or "next_public_key" in c for c in certificates)


def _altered(document: dict[str, Any], part: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    if part == "line":
        changed["line"] = changed["line"].replace('"u', '"x', 1)
    elif part == "path":
        changed["path"][0] = ("0" if changed["path"][0][0] != "0" else "1") + changed["path"][0][1:]
    elif part == "seq":
        changed["seq"] += 1
    elif part == "tree_size":
        changed["tree_size"] += 1
    elif part == "checkpoint":
        changed["checkpoint"] = changed["checkpoint"].replace('"reason":"', '"reason":"x', 1)
    elif part == "certificates":
        changed["certificates"] = changed["certificates"][:1]
    elif part == "forged certificate":
        # A key record certifying another key: its signature no longer holds.
        at = next(i for i, c in enumerate(changed["certificates"]) if '"type":"key"' in c)
        text = changed["certificates"][at]
        start = text.index('"next_public_key":"') + len('"next_public_key":"')
        flipped = "0" if text[start] != "0" else "1"
        changed["certificates"][at] = text[:start] + flipped + text[start + 1 :]
    return changed


MESSAGES: Final = {
    "line": "the audit path does not lead from the line to the signed root",
    "path": "the audit path does not lead from the line to the signed root",
    "seq": "the line's seq is not the proof's",
    "tree_size": "the checkpoint does not commit",
    "checkpoint": "the checkpoint's signature does not hold",
    "certificates": "the checkpoint's signature does not hold (uncertified)",
    "forged certificate": "is not signed by a key the ones before it certify",
}


@pytest.mark.parametrize("part", sorted(MESSAGES))
def test_any_part_of_an_inclusion_proof_changed_is_invalid(
    proved_log: dict[str, Path], part: str
) -> None:
    login = events(proved_log["logs"] / "auth-events.jsonl")[7]
    document = prove(proved_log, login["event_id"])
    key = read_verification_key(proved_log["pub"])
    assert check_inclusion(key, document)["seq"] == login["seq"]
    changed = _altered(document, part)
    with pytest.raises(ProofError, match=MESSAGES[part].replace("(", r"\(").replace(")", r"\)")):
        check_inclusion(key, changed)
    done = check(proved_log, changed)
    assert done.returncode == 1
    assert done.stdout.startswith("INVALID: ")


def test_a_proof_is_checked_as_a_third_party_would_even_with_the_secret_key(
    proved_log: dict[str, Path],
) -> None:
    login = events(proved_log["logs"] / "auth-events.jsonl")[2]
    document = prove(proved_log, login["event_id"])
    secret = read_verification_key(proved_log["base"] / "verification.key")
    assert check_inclusion(secret, document)["stream"] == login["stream"]
    with pytest.raises(ProofError, match="uncertified"):
        check_inclusion(secret, _altered(document, "certificates"))


def _checkpoints(log_dir: Path) -> list[str]:
    return [
        line
        for line in (log_dir / "checkpoints.log").read_text().splitlines()
        if json.loads(line)["type"] == "checkpoint" and json.loads(line)["streams"]
    ]


def test_the_log_only_grew_since_an_old_checkpoint(proved_log: dict[str, Path]) -> None:
    old = proved_log["base"] / "old.jsonl"
    old.write_text(_checkpoints(proved_log["logs"])[1] + "\n")
    document = prove(proved_log, "--since", str(old))
    assert document["format"] == "asgi-audit-consistency-proof/1"
    done = check(proved_log, document)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("VALID: from ledger record n=")
    key = read_verification_key(proved_log["pub"])
    grown = check_consistency(key, document)
    assert all(g["from"] <= g["to"] for g in grown["streams"].values())
    # A history that was rewritten since: the old record's root is not the new tree's.
    forked = copy.deepcopy(document)
    old_record = json.loads(forked["old"])
    stream = next(iter(old_record["streams"]))
    root = old_record["streams"][stream]["root"]
    forked["old"] = forked["old"].replace(root, ("0" if root[0] != "0" else "1") + root[1:])
    with pytest.raises(ProofError, match=r"does not follow the one before it|does not extend"):
        check_consistency(key, forked)
    # A record left out between the old one and the new: the links break.
    if forked["between"]:
        cut = copy.deepcopy(document)
        cut["between"] = cut["between"][1:]
        with pytest.raises(ProofError, match="does not follow the one before it"):
            check_consistency(key, cut)
