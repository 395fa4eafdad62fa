"""``asgi-audit verify`` with a key the lines were not sealed with: a key mismatch, not ALTERED.

Logs are written by real Auditors (unkeyed, with key A, forward-secure) and checked
by the real command in a subprocess (``python -m asgi_audit verify``): no key for
keyed lines, a key for unkeyed lines, key B for key A's lines are each a key
mismatch (exit status 3) that says which key sealed them and what to do, the
ledger's included; a real alteration checked with the right key is ALTERED (exit
status 1), also on a stream of one line, and neither one ledger record nor a whole
ledger can hide one by claiming another key. An unkeyed log in which nothing is
altered proves nothing: exit status 4, 0 only with ``--accept-unkeyed``. The key
ids are recomputed here from their definition, not read from the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import pytest

from asgi_audit import Auditor, cli
from asgi_audit.auditor import KEY_ENV

KEY_A: Final = "verify-key-a-5f0c2e9a71d84b36a0e1c7f2"
KEY_B: Final = "verify-key-b-c81e4d07b2a9f6153e7d0a94"
Sealing: TypeAlias = Literal["forward-secure", "unkeyed"]
DEADLINE: Final = 60.0  # a bound on a hang, never an assertion
#: (category, events): 3 streams, one of a single line.
WRITTEN: Final = (("auth", 3), ("admin", 2), ("export", 1))
FILES: Final = {"auth": "auth-events.jsonl", "admin": "admin.jsonl", "export": "export.jsonl"}


def key_id(key: str) -> str:
    chain = hmac.new(key.encode(), b"asgi_audit chain", hashlib.sha256).digest()
    return hmac.new(chain, b"asgi_audit key id", hashlib.sha256).hexdigest()[:16]


def write_log(
    log_dir: Path,
    key: str | None,
    written: tuple[tuple[str, int], ...] = WRITTEN,
    *,
    forward: bool = False,
) -> Path:
    """Events by a real Auditor: with static ``key``; without one, unkeyed (the
    explicit opt-out), or with ``forward`` the default forward-secure sealing, whose
    verification key verify finds beside the directory's sealing key."""
    sealing: Sealing = "forward-secure" if key is not None or forward else "unkeyed"

    async def write() -> None:
        async with Auditor(
            log_dir=log_dir, key=key, self_audit=False, fsync="never", sealing=sealing
        ) as a:
            for category, count in written:
                for n in range(count):
                    await a.emit(category, "written", outcome="success", user_id=f"u{n}", n=n)

    asyncio.run(write())
    return log_dir


#: How verify runs: "subprocess" (the real command, as a user runs it) or
#: "in-process" (the same ``main`` called here, so that every line of the verifier
#: runs in this process, where coverage and mutation testing see it).
RUNS: dict[str, str] = {"mode": "subprocess"}


@pytest.fixture(autouse=True, params=["subprocess", "in-process"])
def _run_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    RUNS["mode"] = request.param
    yield
    RUNS["mode"] = "subprocess"


def verify(log_dir: Path, key: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = ["verify", str(log_dir), *extra]
    if RUNS["mode"] == "in-process":
        return _verify_in_process(argv, key)
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    if key is not None:
        env[KEY_ENV] = key
    return subprocess.run(
        [sys.executable, "-m", "asgi_audit", "verify", str(log_dir), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
        check=False,
    )


def _verify_in_process(argv: list[str], key: str | None) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.pop(KEY_ENV, None)
    if key is not None:
        os.environ[KEY_ENV] = key
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
    finally:
        os.environ.pop(KEY_ENV, None)
        if saved is not None:
            os.environ[KEY_ENV] = saved
    return subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())


def report(log_dir: Path, key: str | None) -> dict[str, Any]:
    done = verify(log_dir, key, "--json")
    data = json.loads(done.stdout)
    assert isinstance(data, dict)
    data["status"] = done.returncode
    return data


@pytest.fixture(autouse=True)
def _no_key_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_unkeyed_lines_checked_with_a_key_are_a_key_mismatch_that_says_to_unset_it(
    tmp_path: Path,
) -> None:
    log_dir = write_log(tmp_path / "logs", None)
    # They hold as unkeyed chains, which prove nothing: exit status 4, unless accepted.
    unkeyed = verify(log_dir, None)
    assert unkeyed.returncode == 4, unkeyed.stdout
    assert unkeyed.stdout.splitlines()[-1].startswith("OK: 3 streams, 6 lines in 3 files, ")
    assert verify(log_dir, None, "--accept-unkeyed").returncode == 0

    done = verify(log_dir, KEY_A)
    assert done.returncode == 3, done.stdout
    assert "ALTERED" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[-1] == (
        "KEY MISMATCH: 3 streams (6 lines) not checked: 3 sealed without a key; "
        f"checked with the key in $ASGI_AUDIT_KEY (key id {key_id(KEY_A)})"
    )
    assert (
        "checkpoints.log:1: unknown key (no stream): the ledger was sealed unkeyed; "
        "the key given checks static"
    ) in lines, done.stdout
    assert done.stderr == (
        "asgi-audit: warning: some streams were sealed without a key: unset $ASGI_AUDIT_KEY "
        "to check their sha256 chains; if the app ran with this key when they were written, "
        "they were rewritten\n"
    )
    data = report(log_dir, KEY_A)
    assert (data["status"], data["ok"], data["verdict"]) == (3, False, "key mismatch")
    assert data["key_id"] == key_id(KEY_A)
    assert {s["mismatch"] for s in data["streams"]} == {"unkeyed"}
    assert {b["kind"] for b in data["breaks"]} == {"unknown key"}
    # The ledger, signed without a key: one break for all of it, at its genesis.
    ledger = [(b["line"], b["detail"]) for b in data["breaks"] if b["file"] == "checkpoints.log"]
    assert ledger == [(1, "the ledger was sealed unkeyed; the key given checks static")]


def test_key_a_lines_checked_with_key_b_name_both_key_ids_and_the_remedy(tmp_path: Path) -> None:
    log_dir = write_log(tmp_path / "logs", KEY_A)
    first = json.loads((log_dir / FILES["auth"]).read_bytes().splitlines()[0])
    assert first["mac_key_id"] == key_id(KEY_A)
    assert KEY_A not in (log_dir / FILES["auth"]).read_text()

    done = verify(log_dir, KEY_B)
    assert done.returncode == 3, done.stdout
    lines = done.stdout.splitlines()
    # The ledger names the deployment that sealed it: for a static key, its key id.
    assert (
        f"checkpoints.log:1: unknown key (no stream): the ledger was sealed by deployment "
        f"{key_id(KEY_A)}; the key given is {key_id(KEY_B)}'s"
    ) in lines, done.stdout
    assert lines[-1] == (
        f"KEY MISMATCH: 3 streams (6 lines) not checked: 3 sealed with another key "
        f"(key id {key_id(KEY_A)}); checked with the key in $ASGI_AUDIT_KEY "
        f"(key id {key_id(KEY_B)})"
    )
    for category in FILES.values():  # the single-line stream too
        assert any(
            line.startswith(f"{category}:1: unknown key (stream ")
            and line.endswith(
                f"sealed with another key (key id {key_id(KEY_A)}); "
                f"the key given has key id {key_id(KEY_B)}"
            )
            for line in lines
        ), done.stdout
    assert done.stderr == (
        "asgi-audit: warning: some streams were not sealed with the key in $ASGI_AUDIT_KEY: "
        "set it to the key the app ran with (or name the variable that holds it with "
        "--key-env); if the app ran with this key, they were rewritten\n"
    )
    data = report(log_dir, KEY_B)
    assert (data["status"], data["verdict"]) == (3, "key mismatch")
    assert {(s["mismatch"], s["key_id"]) for s in data["streams"]} == {("other key", key_id(KEY_A))}

    right = verify(log_dir, KEY_B, "--key-env", "ARCHIVE_KEY")  # ARCHIVE_KEY unset: no key
    assert right.returncode == 3
    assert right.stdout.splitlines()[-1] == (
        "KEY MISMATCH: 3 streams (6 lines) not checked: 3 sealed with a key "
        f"(key id {key_id(KEY_A)}); checked with no key ($ARCHIVE_KEY is not set or empty)"
    )
    assert right.stderr.endswith(
        "asgi-audit: warning: some streams were sealed with a key: set $ARCHIVE_KEY to it "
        "(or name another variable with --key-env)\n"
    )
    os.environ["ARCHIVE_KEY"] = KEY_A
    try:
        good = verify(log_dir, KEY_B, "--key-env", "ARCHIVE_KEY")
    finally:
        del os.environ["ARCHIVE_KEY"]
    assert (good.returncode, good.stderr) == (0, ""), good.stdout


def alter(path: Path, line: int, old: bytes, new: bytes) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    path.write_bytes(b"".join(lines))


def test_a_real_alteration_checked_with_the_right_key_is_altered_even_on_one_line(
    tmp_path: Path,
) -> None:
    log_dir = write_log(tmp_path / "logs", KEY_A)
    alter(log_dir / FILES["auth"], 2, b'"user_id":"u1"', b'"user_id":"eve"')
    alter(log_dir / FILES["export"], 1, b'"user_id":"u0"', b'"user_id":"eve"')

    done = verify(log_dir, KEY_A)
    assert (done.returncode, done.stderr) == (1, ""), done.stdout
    lines = done.stdout.splitlines()
    # The line of the one-line stream is named twice: by its MAC, and by the Merkle
    # root of the signed checkpoint, which no longer covers it.
    assert lines[-1] == "ALTERED: 3 breaks in 3 streams"
    named = [line.split(" (stream ")[0] for line in lines if " (stream " in line[:40]]
    assert named == [
        "auth-events.jsonl:2: modified",
        "export.jsonl:1: modified",
        "export.jsonl:1: modified",
    ]
    export = sorted(line.split("): ", 1)[1] for line in lines if line.startswith("export.jsonl:1:"))
    assert export[0].startswith("MAC does not match (seq 1)"), export
    assert export[1].startswith("lines 1..1 do not match the Merkle root"), export
    assert "unknown key" not in done.stdout
    data = report(log_dir, KEY_A)
    assert (data["status"], data["verdict"]) == (1, "altered")

    # The same files with key B: nothing can be checked, and verify says so.
    assert verify(log_dir, KEY_B).returncode == 3


def rewrite_ledger(log_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change records of the ledger as someone without the key can: every field but
    ``sig`` (which they cannot recompute), the ``prev`` links made to hold again."""
    path = log_dir / "checkpoints.log"
    out, prev = [], ""
    for raw in path.read_bytes().splitlines():
        record = json.loads(raw)
        change(record)
        record["prev"] = prev if record["n"] else ""
        line = json.dumps(record, separators=(",", ":")).encode()  # "sig" stays the last field
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    path.write_bytes(b"".join(out))


def test_a_ledger_record_cannot_hide_an_alteration_by_claiming_another_deployment(
    tmp_path: Path,
) -> None:
    log_dir = write_log(tmp_path / "logs", KEY_A)
    auth = log_dir / FILES["auth"]
    stream = json.loads(auth.read_bytes().splitlines()[0])["stream"]
    auth.write_bytes(b"".join(auth.read_bytes().splitlines(keepends=True)[:2]))  # cut seq 3
    checkpoints = log_dir / "checkpoints.log"
    records = checkpoints.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(records) if b'"type":"checkpoint"' in line)
    record = json.loads(records[at])
    assert record["deployment"] == key_id(KEY_A)
    assert record["streams"][stream]["seq"] == 3
    record["deployment"] = "0" * 16  # "not yours: another deployment's"
    record["streams"][stream]["seq"] = 2  # and the cut stream ends where it now does
    records[at] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    checkpoints.write_bytes(b"".join(records))

    done = verify(log_dir, KEY_A)
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    assert (
        f"checkpoints.log:{at + 1}: bad checkpoint (no stream): checkpoint record n={at}: "
        "the signature does not hold (hmac-sha256)"
    ) in lines, done.stdout
    # The next record no longer links to it.
    assert any(line.startswith(f"checkpoints.log:{at + 2}: ledger gap ") for line in lines)
    assert "unknown key" not in done.stdout
    assert lines[-1].startswith("ALTERED: ")
    assert report(log_dir, KEY_A)["verdict"] == "altered"


@pytest.mark.parametrize("sealing", ["static", "forward-secure"])
def test_a_whole_ledger_cannot_hide_an_alteration_by_claiming_another_deployment(
    tmp_path: Path, sealing: str
) -> None:
    """Every record rewritten to name another deployment, and linked again: nothing
    in the ledger verifies, as with a log of another key; but the lines verify with
    the key given, so the directory is the key's and its ledger was altered."""
    key = KEY_A if sealing == "static" else None
    log_dir = write_log(tmp_path / "logs", key, forward=key is None)
    auth = log_dir / FILES["auth"]
    auth.write_bytes(b"".join(auth.read_bytes().splitlines(keepends=True)[:2]))  # cut seq 3
    assert verify(log_dir, key).returncode == 1  # the signed checkpoint says seq 3

    def claim_another_deployment(record: dict[str, Any]) -> None:
        record["deployment"] = "0" * 16

    rewrite_ledger(log_dir, claim_another_deployment)

    done = verify(log_dir, key)
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    [named] = [line for line in lines if line.startswith("checkpoints.log:1: ")]
    assert named.startswith(
        "checkpoints.log:1: ledger missing (no stream): the ledger was sealed by deployment "
        "0000000000000000; "
    ), done.stdout
    assert named.endswith(
        "but lines here verify with the key given: the ledger was replaced, and nothing it "
        "vouched for is proven"
    )
    assert "unknown key" not in done.stdout
    assert lines[-1].startswith("ALTERED: ")
    data = report(log_dir, key)
    assert (data["status"], data["verdict"]) == (1, "altered")
    assert {s["mismatch"] for s in data["streams"]} == {None}  # every stream checked
    assert {b["file"] for b in data["breaks"]} == {"checkpoints.log"}  # and only there


def test_a_stream_of_another_key_brought_among_good_ones_is_altered_and_its_key_said(
    tmp_path: Path,
) -> None:
    """Files and ledger records of key B brought into key A's directory: one ledger
    chain per directory, so the records appended break it and the stream is one the
    ledger never announced; the stream itself is still named as key B's, unchecked."""
    log_dir = write_log(tmp_path / "logs", KEY_A, (("auth", 3), ("export", 1)))
    other = write_log(tmp_path / "other", KEY_B, (("admin", 2),))
    (log_dir / FILES["admin"]).write_bytes((other / FILES["admin"]).read_bytes())
    own = len((log_dir / "checkpoints.log").read_bytes().splitlines())
    with (log_dir / "checkpoints.log").open("ab") as fh:
        fh.write((other / "checkpoints.log").read_bytes())

    done = verify(log_dir, KEY_A)
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    assert f"checkpoints.log:{own + 1}: ledger gap (no stream): n=0 comes after n={own - 1}" in (
        lines
    ), done.stdout
    admin = json.loads((log_dir / FILES["admin"]).read_bytes().splitlines()[0])["stream"]
    assert any(
        line.startswith(f"admin.jsonl:1: foreign stream (stream {admin}): ") for line in lines
    )
    assert (
        f"admin.jsonl:1: unknown key (stream {admin}): sealed with another key "
        f"(key id {key_id(KEY_B)}); the key given has key id {key_id(KEY_A)}"
    ) in lines, done.stdout
    assert lines[-1].endswith("; 1 stream (2 lines) not checked: sealed with another key")
    data = report(log_dir, KEY_A)
    assert (data["status"], data["verdict"]) == (1, "altered")
    assert sorted((s["category"], s["mismatch"], s["key_id"]) for s in data["streams"]) == [
        ("admin", "other key", key_id(KEY_B)),
        ("auth", None, key_id(KEY_A)),
        ("export", None, key_id(KEY_A)),
    ]


def test_a_stream_replaced_by_one_of_another_key_is_altered_and_the_mismatch_said(
    tmp_path: Path,
) -> None:
    log_dir = write_log(tmp_path / "logs", KEY_A)
    other = write_log(tmp_path / "other", KEY_B)
    (log_dir / FILES["admin"]).write_bytes((other / FILES["admin"]).read_bytes())

    done = verify(log_dir, KEY_A)
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    # Key A's ledger names the admin stream that is gone (announced, and checkpointed
    # at seq 2), and never announced the one in its place.
    kinds = [line.split(" (stream ")[0].split(": ", 1)[1] for line in lines if " (stream " in line]
    assert sorted(kinds) == [
        "foreign stream",
        "missing stream",
        "truncated",
        "unknown key",
    ], done.stdout
    assert lines[-1] == (
        "ALTERED: 3 breaks in 3 streams; 1 stream (2 lines) not checked: sealed with another key"
    )
    assert "some streams were not sealed with the key in $ASGI_AUDIT_KEY" in done.stderr


def test_the_start_record_names_the_key_id_the_app_runs_with(tmp_path: Path) -> None:
    async def start(log_dir: Path, key: str | None, sealing: Sealing) -> None:
        async with Auditor(log_dir=log_dir, key=key, fsync="never", sealing=sealing):
            pass

    cases: tuple[tuple[str | None, Sealing, str | None, str], ...] = (
        (KEY_A, "forward-secure", key_id(KEY_A), "static key (hmac-sha256, not forward-secure)"),
        (None, "unkeyed", None, "unkeyed (sha256: not tamper-proof)"),
        (None, "forward-secure", None, "forward-secure"),
    )
    for n, (key, sealing, expected, how) in enumerate(cases):
        log_dir = tmp_path / str(n)
        asyncio.run(start(log_dir, key, sealing))
        started = json.loads((log_dir / "audit.jsonl").read_bytes().splitlines()[0])
        assert started["event_type"] == "audit_started"
        configuration = started["details"]["configuration"]
        assert (configuration.get("mac_key_id"), configuration["sealing"]) == (expected, how)


def test_a_log_trimmed_by_retention_checked_with_another_key_is_a_key_mismatch(
    tmp_path: Path,
) -> None:
    """A stream whose first lines retention deleted: its first line (which names the key)
    is gone, and the records that say so are signed with key A. Key B verifies no record
    and no line: the gap before the first line left proves nothing, and the ledger names
    the deployment (key A's key id) that sealed it."""
    log_dir = tmp_path / "logs"

    async def write() -> None:
        async with Auditor(
            log_dir=log_dir, key=KEY_A, rotate_max_mb=0.001, self_audit=False, fsync="never"
        ) as a:
            for n in range(24):
                await a.emit("retained", "written", n=n, pad="x" * 100)
                await a.flush()
        # Retention runs once as an Auditor starts: wait (bounded) for its record.
        async with Auditor(log_dir=log_dir, key=KEY_A, retain_count=1, self_audit=False):
            for _ in range(400):
                if b'"type":"retired"' in (log_dir / "checkpoints.log").read_bytes():
                    break
                await asyncio.sleep(0.05)

    asyncio.run(write())
    good = report(log_dir, KEY_A)
    assert (good["status"], good["verdict"]) == (0, "ok"), good["breaks"]
    [stream] = good["streams"]
    assert stream["first_seq"] > 1, "retention deleted the start of the stream"

    other = report(log_dir, KEY_B)
    assert (other["status"], other["verdict"]) == (3, "key mismatch"), other["breaks"]
    assert [(s["mismatch"], s["key_id"]) for s in other["streams"]] == [("unknown key", None)]
    assert {b["kind"] for b in other["breaks"]} == {"unknown key"}
    assert {
        "file": "checkpoints.log",
        "line": 1,
        "kind": "unknown key",
        "stream": None,
        "detail": f"the ledger was sealed by deployment {key_id(KEY_A)}; "
        f"the key given is {key_id(KEY_B)}'s",
    } in other["breaks"]

    # Its lines altered, key A names it: the mismatch of key B hides nothing from A.
    current = log_dir / "retained.jsonl"
    alter(current, 1, b'"n":22', b'"n":99')
    assert report(log_dir, KEY_A)["status"] == 1
    assert report(log_dir, KEY_B)["status"] == 3
