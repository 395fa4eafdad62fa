"""Files planted in a log directory by someone who can write it, read by the real command.

The attacker can write the log directory, not the key: they plant files for
``asgi-audit verify``, ``query``, ``tail`` and ``stats`` to choke on. Each case
is planted in a copy of a real log (written by a real :class:`Auditor` with a
key, rotated, one rotated file gzipped) that also has one genuine alteration,
and each command runs as a user runs it (``python -m asgi_audit``) in a child
process with its address space limited (``RLIMIT_AS``) and a timeout: a crafted
file that made a command hold it in memory, read forever or wait forever fails
here instead of taking the machine.

Every command must: not crash, not hang, stay within the limit, name the planted
file (verify: as a break at its file and line; the others: a warning on stderr),
and still report everything else (verify: the genuine alteration; query and
tail: every genuine event, once).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

import asgi_audit
from asgi_audit import Auditor, rotate_audit_logs
from asgi_audit.auditor import KEY_ENV
from asgi_audit.proof.integrity import chain_root, compute_mac, derive_chain_key
from asgi_audit.proof.verify import verify_directory
from asgi_audit.store.rotation import compress_rotated, rotated_files

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS, FIFOs, /dev/zero")

KEY: Final = "hostile-files-key-5d1e0c7a92b84f36"
#: The address space each command may use. A normal run of any of the four
#: commands needs about 40 MiB here, one that meets a 16 MiB line about 60 MiB;
#: holding a 64 MiB line, a 2 GiB file or a 1 GiB gzip bomb needs far more.
MEMORY: Final = 256 << 20
TIMEOUT: Final = 60.0  # a bound on a hang, never an assertion
GENUINE: Final = 10  # events per category and run; two runs
CONTROL_BREAK: Final = "control.jsonl:3: modified ("
OLD: Final = "20200101_000000"  # a stamp older than the genuine rotations
MAX_LINE_TEXT: Final = "16,777,216"
TOOLS: Final = ("verify", "query", "tail", "stats")


# --- the genuine log -----------------------------------------------------------------------


async def _write(log_dir: Path, run: int) -> None:
    async with Auditor(log_dir=log_dir, key=KEY, self_audit=False, fsync="never") as auditor:
        for n in range(GENUINE):
            for category in ("hostile", "control"):
                await auditor.emit(category, "genuine", outcome="success", n=n, run=run)


@pytest.fixture(scope="module")
def genuine_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of two categories; between them every file rotated, hostile's gzipped."""
    log_dir = tmp_path_factory.mktemp("genuine") / "logs"
    asyncio.run(_write(log_dir, 0))
    assert rotate_audit_logs(log_dir, max_size_mb=0)
    (hostile_rotated,) = rotated_files(log_dir / "hostile.jsonl")
    compress_rotated(hostile_rotated)
    asyncio.run(_write(log_dir, 1))
    assert verify_directory(log_dir, KEY.encode()).ok
    return log_dir


@dataclass(frozen=True)
class Big:
    """The large plants, made once: a sparse file and a gzip bomb."""

    #: 2 GiB of zero bytes that take no disk, linked into each case's directory
    #: (the first read of a fresh one costs seconds, later ones come from memory).
    sparse: Path
    #: 1 GiB of zero bytes, gzipped into about 4.5 MB.
    bomb: bytes


#: What plants a case's file(s) in a log directory.
Plant = Callable[[Path, Big], object]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Big:
    sparse = tmp_path_factory.mktemp("sparse") / "sparse"
    with sparse.open("wb") as fh:
        fh.truncate(2 << 30)
    squeeze = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(squeeze.compress(chunk) for _ in range(1024)) + squeeze.flush()
    assert len(bomb) < 8 << 20
    return Big(sparse, bomb)


@pytest.fixture
def log_dir(genuine_log: Path, tmp_path: Path) -> Path:
    """A copy of the genuine log with one genuine alteration: control.jsonl line 3."""
    copy = tmp_path / "logs"
    shutil.copytree(genuine_log, copy, symlinks=True)
    path = copy / "control.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert b'"n":2,' in lines[2]
    lines[2] = lines[2].replace(b'"n":2,', b'"n":7,')
    path.write_bytes(b"\n".join(lines))
    return copy


# --- running the command -------------------------------------------------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def command(tool: str, log_dir: Path) -> subprocess.CompletedProcess[str]:
    """``asgi-audit <tool> <log_dir>`` as a user runs it, limited in memory and time."""
    argv = {
        "verify": ["verify"],
        "query": ["query"],
        "tail": ["tail", "-n", "1000", "--json"],  # as far back as the rotated files go
        "stats": ["stats", "--json"],
    }[tool]
    root = str(Path(asgi_audit.__file__).resolve().parents[1])  # the package under test
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-m", "asgi_audit", *argv, str(log_dir)],
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,  # the child's own limit, set before it runs the command
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "MemoryError" not in done.stderr
    return done


def genuine_events(out: str) -> list[tuple[str, int, int]]:
    """(category, run, n) of every genuine event printed as a JSON line."""
    found = []
    for line in out.splitlines():
        event = json.loads(line)
        if event.get("event_type") == "genuine":
            found.append((event["category"], event["run"], event["n"]))
    return found


PRISTINE: Final = sorted(
    (category, run, n) for category in ("control", "hostile") for run in (0, 1)
    for n in range(GENUINE)
)  # fmt: skip
#: What query and tail print of the copies: control.jsonl's 3rd line says n 7, not 2.
ALL_GENUINE: Final = sorted(
    ("control", 1, 7) if event == ("control", 1, 2) else event for event in PRISTINE
)


# --- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One planted file: what verify names, and what the others warn of."""

    plant: Plant
    #: (file, line, kind) breaks verify must report besides the genuine alteration.
    breaks: list[tuple[str, int, str]]
    #: Per tool other than verify: a text its stderr must hold (None: no warning asked).
    warnings: dict[str, str | None] = field(default_factory=dict)
    #: The genuine events query and tail print (by default each once).
    printed: list[tuple[str, int, int]] = field(default_factory=lambda: ALL_GENUINE)
    #: How many records at the end of checkpoints.log verify must call bad checkpoints.
    bad_records: int = 0
    #: Cheap and never hangs, even on a regression: also checked in this process.
    in_process: bool = False


def _write_file(name: str, data: bytes) -> Plant:
    def plant(log_dir: Path, big: Big) -> None:
        (log_dir / name).write_bytes(data)

    return plant


def _fifo(name: str) -> Plant:
    def plant(log_dir: Path, big: Big) -> None:
        os.mkfifo(log_dir / name)

    return plant


def _symlink(name: str, target: str) -> Plant:
    def plant(log_dir: Path, big: Big) -> None:
        (log_dir / name).symlink_to(target)

    return plant


def _sparse(name: str) -> Plant:
    def plant(log_dir: Path, big: Big) -> None:
        os.link(big.sparse, log_dir / name)  # 2 GiB of zero bytes, no newline

    return plant


def _long_line_appended(log_dir: Path, big: Big) -> None:
    with (log_dir / "hostile.jsonl").open("ab") as fh:
        fh.write(b"x" * (64 << 20) + b"\n")


def _checkpoints_fifo(log_dir: Path, big: Big) -> None:
    (log_dir / "checkpoints.log").unlink()
    os.mkfifo(log_dir / "checkpoints.log")


def _checkpoints_long_line(log_dir: Path, big: Big) -> None:
    path = log_dir / "checkpoints.log"
    path.write_bytes(b"x" * (64 << 20) + b"\n" + path.read_bytes())


def _twin(log_dir: Path, big: Big) -> None:
    # The rotated file beside its .gz, as a compression cut short leaves it.
    (gz,) = log_dir.glob("hostile.jsonl.*.rotated.gz")
    plain = gz.with_name(gz.name[: -len(".gz")])
    plain.write_bytes(zlib.decompress(gz.read_bytes(), 31))


def _twin_name(log_dir: Path) -> str:
    (gz,) = log_dir.glob("hostile.jsonl.*.rotated.gz")
    return gz.name[: -len(".gz")]


CHAIN_KEY: Final = derive_chain_key(KEY.encode())
STREAM: Final = "0123456789abcdef"


def _sealed(**fields: Any) -> bytes:
    """A line with these fields, sealed with the key as a stream's first line (when the
    stream is one): only its fields are wrong."""
    body = orjson.dumps({"event_type": "planted", **fields})
    stream = fields.get("stream")
    root = chain_root(CHAIN_KEY, stream) if isinstance(stream, str) and stream.isascii() else b""
    mac = compute_mac(CHAIN_KEY, root, body)
    return body[:-1] + f',"mac":"hmac-sha256:{mac.hex()}"}}\n'.encode()


def _malformed(log_dir: Path, big: Big) -> None:
    lines = [
        _sealed(stream=[1, 2], seq=1),
        _sealed(stream={"a": 1}, seq=1),
        _sealed(stream="not-a-stream-id!", seq=1),
        _sealed(stream="٠١٢٣٤٥٦٧٨٩abcdef", seq=1),
        _sealed(stream=STREAM, seq=True),
        _sealed(stream=STREAM, seq=-4),
        _sealed(stream=STREAM, seq="1"),
        _sealed(stream=STREAM, seq=1, prev_stream="fedcba9876543210", prev_seq="x"),
    ]
    (log_dir / f"hostile.jsonl.{OLD}.rotated").write_bytes(b"".join(lines))
    records: list[dict[str, Any]] = [
        {"type": "retired", "file": "x", "streams": [1, 2]},
        {"type": "retired", "file": "x", "streams": {STREAM: "last"}},
        {"type": "checkpoint", "stream": [STREAM], "seq": 1, "mac": "hmac-sha256:" + "0" * 64},
        {"type": "checkpoint", "stream": STREAM, "seq": "9", "mac": "hmac-sha256:" + "0" * 64},
    ]
    with (log_dir / "checkpoints.log").open("ab") as fh:
        for record in records:
            fh.write(orjson.dumps({**record, "sig": "hmac-sha256:" + "0" * 64}) + b"\n")


def _checkpoint_count(genuine_log: Path) -> int:
    return len((genuine_log / "checkpoints.log").read_bytes().splitlines())


def _long_at(where: str) -> dict[str, str | None]:
    """The warning of query and tail for a line over the cap at ``where`` (file:line)."""
    text = f"line longer than {MAX_LINE_TEXT} bytes (the first at {{dir}}/{where})"
    return {"query": text, "tail": text}


def _refused(what: str) -> dict[str, str | None]:
    return dict.fromkeys(("query", "tail", "stats"), f"': {what}")


ROTATED: Final = f"hostile.jsonl.{OLD}.rotated"
LONG: Final = f"line longer than {MAX_LINE_TEXT} bytes"
CASES: Final[dict[str, Case]] = {
    "arabic-indic-stamp": Case(
        _write_file("hostile.jsonl.٢٠٢٠٠١٠١_٠٠٠٠٠٠.rotated", b"{}\n"),
        [("hostile.jsonl.٢٠٢٠٠١٠١_٠٠٠٠٠٠.rotated", 0, "bad file name")],
        _refused("named like a rotated file, but not in its form"),
        in_process=True,
    ),
    "fullwidth-n": Case(
        _write_file(f"hostile.jsonl.{OLD}.３.rotated", b"{}\n"),
        [(f"hostile.jsonl.{OLD}.３.rotated", 0, "bad file name")],
        _refused("named like a rotated file, but not in its form"),
        in_process=True,
    ),
    "superscript-n": Case(  # str.isdigit() says yes, int() raises
        _write_file(f"hostile.jsonl.{OLD}.².rotated.gz", b"{}\n"),
        [(f"hostile.jsonl.{OLD}.².rotated.gz", 0, "bad file name")],
        _refused("named like a rotated file, but not in its form"),
        in_process=True,
    ),
    "fifo-current": Case(
        _fifo("auth-events.jsonl"),
        [("auth-events.jsonl", 0, "not a regular file")],
        _refused("a FIFO, not a regular file"),
    ),
    "fifo-rotated": Case(
        _fifo(ROTATED), [(ROTATED, 0, "not a regular file")], _refused("a FIFO, not a regular file")
    ),
    "symlink-current": Case(  # a second name for control.jsonl: never read twice
        _symlink("api-audit.jsonl", "control.jsonl"),
        [("api-audit.jsonl", 0, "not a regular file")],
        _refused("a symlink, not a regular file"),
        in_process=True,
    ),
    "symlink-current-dev-zero": Case(
        _symlink("tool-blocks.jsonl", "/dev/zero"),
        [("tool-blocks.jsonl", 0, "not a regular file")],
        _refused("a symlink, not a regular file"),
    ),
    "symlink-rotated-dev-zero": Case(
        _symlink(ROTATED, "/dev/zero"),
        [(ROTATED, 0, "not a regular file")],
        _refused("a symlink, not a regular file"),
    ),
    "directory": Case(
        lambda log_dir, big: (log_dir / ROTATED).mkdir(),
        [(ROTATED, 0, "not a regular file")],
        _refused("a directory, not a regular file"),
        in_process=True,
    ),
    "64-mib-line-rotated": Case(
        _write_file(ROTATED, b"first\n" + b"x" * (64 << 20) + b"\nlast\n"),
        [(ROTATED, 1, "modified"), (ROTATED, 2, "line too long"), (ROTATED, 3, "modified")],
        _long_at(f"{ROTATED}:2"),
    ),
    "64-mib-line-current": Case(
        _long_line_appended,
        [("hostile.jsonl", GENUINE + 1, "line too long")],
        {**_long_at(f"hostile.jsonl:{GENUINE + 1}"), "tail": LONG},
    ),
    "checkpoints-fifo": Case(_checkpoints_fifo, [("checkpoints.log", 0, "not a regular file")]),
    "64-mib-line-checkpoints": Case(
        _checkpoints_long_line, [("checkpoints.log", 1, "line too long")]
    ),
    "sparse-2-gib-rotated": Case(
        _sparse(ROTATED),
        [(ROTATED, 1, "line too long")],
        _long_at(f"{ROTATED}:1"),
    ),
    "sparse-2-gib-current": Case(
        _sparse("planted.jsonl"),
        [("planted.jsonl", 1, "line too long")],
        {"query": _long_at("planted.jsonl:1")["query"]},
    ),
    "gzip-bomb": Case(
        lambda log_dir, big: (log_dir / f"{ROTATED}.gz").write_bytes(big.bomb),
        [(f"{ROTATED}.gz", 1, "line too long")],
        _long_at(f"{ROTATED}.gz:1"),
    ),
    "plain-and-gz-twins": Case(
        _twin,
        [("{twin}", n, "inserted") for n in range(1, GENUINE + 1)],
        dict.fromkeys(("query", "tail", "stats"), "and its .gz exist: both are read"),
        printed=sorted([*ALL_GENUINE, *(("hostile", 0, n) for n in range(GENUINE))]),
        in_process=True,
    ),
    "malformed-fields": Case(
        _malformed,
        [(ROTATED, n, "modified") for n in range(1, 9)],
        bad_records=4,
        in_process=True,
    ),
}


def _expected_breaks(case: Case, log_dir: Path, genuine_log: Path) -> list[str]:
    found = []
    for file, line, kind in case.breaks:
        name = _twin_name(log_dir) if file == "{twin}" else file
        found.append(f"{name}:{line}: {kind} (")
    genuine = _checkpoint_count(genuine_log)
    for n in range(genuine + 1, genuine + case.bad_records + 1):
        found.append(f"checkpoints.log:{n}: bad checkpoint (")
    return found


def _check(
    tool: str, case: Case, log_dir: Path, genuine_log: Path, done: subprocess.CompletedProcess[str]
) -> None:
    if tool == "verify":
        assert done.returncode == 1, done.stdout + done.stderr
        assert CONTROL_BREAK in done.stdout, done.stdout
        for expected in _expected_breaks(case, log_dir, genuine_log):
            assert expected in done.stdout, (expected, done.stdout)
        assert done.stdout.splitlines()[-1].startswith("ALTERED: ")
        return
    assert done.returncode == 0, done.stderr
    warning = case.warnings.get(tool)
    if warning is not None:
        assert warning.replace("{dir}", str(log_dir)) in done.stderr, done.stderr
    if tool in ("query", "tail"):
        assert sorted(genuine_events(done.stdout)) == case.printed
    else:
        stats = json.loads(done.stdout)["categories"]
        assert stats["control"]["event_count"] == GENUINE
        assert stats["control"]["rotated"]["count"] == 1


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", CASES)
def test_a_planted_file_is_named_and_the_rest_still_reported(
    name: str, tool: str, log_dir: Path, genuine_log: Path, big: Big
) -> None:
    case = CASES[name]
    case.plant(log_dir, big)
    _check(tool, case, log_dir, genuine_log, command(tool, log_dir))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.in_process])
def test_the_cheap_cases_in_this_process(
    name: str, log_dir: Path, genuine_log: Path, big: Big
) -> None:
    # The same verify, run here where coverage and mutation testing see it.
    case = CASES[name]
    case.plant(log_dir, big)
    result = verify_directory(log_dir, KEY.encode())
    shown = [f"{b.file}:{b.line}: {b.kind} (" for b in result.breaks]
    assert CONTROL_BREAK in shown
    for expected in _expected_breaks(case, log_dir, genuine_log):
        assert expected in shown, (expected, shown)


@pytest.mark.parametrize("tool", TOOLS)
def test_the_untouched_log_passes_within_the_same_limits(
    tool: str, genuine_log: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "logs"
    shutil.copytree(genuine_log, copy)
    done = command(tool, copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    if tool == "verify":
        assert done.stdout.splitlines()[-1].startswith("OK: 4 streams, 40 lines in 4 files")
    elif tool in ("query", "tail"):
        assert sorted(genuine_events(done.stdout)) == PRISTINE


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_file_is_a_break_of_verify_and_a_warning_of_query(log_dir: Path) -> None:
    (control,) = log_dir.glob("control.jsonl.*.rotated")
    control.chmod(0)
    done = command("verify", log_dir)
    assert f"{control.name}:0: unreadable (no stream): " in done.stdout
    assert CONTROL_BREAK in done.stdout
    done = command("query", log_dir)
    assert f"cannot read {str(control)!r}: Permission denied" in done.stderr
    assert len(genuine_events(done.stdout)) == len(ALL_GENUINE) - GENUINE


def test_tail_follow_neither_waits_on_nor_reads_a_planted_current_file(log_dir: Path) -> None:
    os.mkfifo(log_dir / "auth-events.jsonl")
    (log_dir / "tool-blocks.jsonl").symlink_to("/dev/zero")
    argv = ["tail", "-f", "-c", "auth,tool_blocks,control", "-n", "1", "--json",
            "--timeout", "1", str(log_dir)]  # fmt: skip
    root = str(Path(asgi_audit.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-m", "asgi_audit", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"'{log_dir}/auth-events.jsonl': a FIFO, not a regular file" in done.stderr
    assert f"'{log_dir}/tool-blocks.jsonl': a symlink, not a regular file" in done.stderr
    assert done.stderr.count("auth-events.jsonl") == 1  # said once, not at every poll
    assert [e[0] for e in genuine_events(done.stdout)] == ["control"]
