"""A real rsyslogd ships the log directory while an Auditor writes, rotates and gzips it.

rsyslogd (Debian's ``rsyslog``; ``.ci/run`` installs it) runs in the foreground as a
child process with ``docs/shipping/rsyslog-imfile.conf`` as it is, its two paths pointed
under ``tmp_path`` and a state directory of its own in front: no system socket and no
system file are touched. imfile (inotify) follows ``*.jsonl`` and ``checkpoints.log`` and
writes each line raw into one copy per source file.

Each round writes both categories with rsyslogd running, then stops it (SIGSTOP, and
waits until every thread of it is stopped), writes on until the writer rotates each
file by size (``rotate_max_mb``), waits until the rotated files are gzipped
(``compress_rotated``: the renamed file is removed), writes into the fresh files and
lets rsyslogd go on (SIGCONT). So every rotation renames, then removes, a file whose
last lines imfile has not read yet. In the end every line of the source files (current,
rotated and gzipped) must be in the copies exactly once, byte for byte and in order.
With the key, ``verify`` on the copies finds every chain and the signed ledger intact
and names only the rotated files, which the copies hold merged into their category's
copy; laid out again by the ledger's ``rotated`` records, the copies give back each
rotated file byte for byte and ``verify`` holds on all of it.

Between rounds the test waits until the copies hold everything written so far. A file
created and rotated before imfile has opened it is never shipped (imfile only follows
names that match its pattern): a limit that docs/shipping/README.md states, not what this
test is about.

Every wait is a bounded poll that fails with a message; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from asgi_audit import Auditor
from asgi_audit.proof.verify import verify_directory
from tests.helpers import ROTATED_RE, rotation_key, whole_lines

CONFIG: Final = Path(__file__).resolve().parents[1] / "docs" / "shipping" / "rsyslog-imfile.conf"
#: The paths the documented configuration uses, replaced by directories under tmp_path.
CONFIG_LOG_DIR: Final = "/var/log/asgi-audit"
CONFIG_COPY_DIR: Final = "/var/log/shipped/asgi-audit"
RSYSLOGD: Final = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")

CHECKPOINTS: Final = "checkpoints.log"
KEY: Final = b"shipping-test-key-0123456789abcdef"
DEADLINE: Final = 60.0  # a bound on each wait for rsyslogd, never an assertion on speed

ROUNDS: Final = 5
ROTATE_MB: Final = 0.5  # 524,288 bytes: the running part of a round stays under it
RUNNING_EVENTS: Final = 500  # per category and round, rsyslogd running (~240 KB)
HEAD_EVENTS: Final = 20  # per category, into the fresh files while rsyslogd is stopped
BATCH: Final = 25
#: rsyslog's default maxMessageSize: longer lines are cut unless the config raises it.
RSYSLOG_DEFAULT_MAX_LINE: Final = 8096
#: Escaped by the encoder (control characters, U+2028) or kept as UTF-8: the copy
#: must hold the same bytes either way.
NOTE: Final = 'é 漢字 🙂 "quoted" back\\slash tab\t ctrl\x01 line\u2028sep'
BIG: Final = "lorem ipsum dolor " * 222  # 3,996 characters, under max_string_chars

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        RSYSLOGD is None,
        reason="rsyslogd is not installed (Debian: apt-get install rsyslog; CI installs it)",
    ),
]


# --- rsyslogd ----------------------------------------------------------------------------


def render_config(log_dir: Path, copies: Path, state: Path) -> str:
    """The documented configuration with its paths under tmp_path, and a state directory."""
    text = CONFIG.read_text(encoding="utf-8")
    for path in (CONFIG_LOG_DIR, CONFIG_COPY_DIR):
        assert path in text, f"{CONFIG.name} no longer uses {path}"
    text = text.replace(CONFIG_COPY_DIR, str(copies)).replace(CONFIG_LOG_DIR, str(log_dir))
    return (
        f'# Added by the test: imfile state files here.\nglobal(workDirectory="{state}")\n\n{text}'
    )


class Rsyslog:
    """rsyslogd in the foreground (``-n``) with its own config, pid file and state."""

    def __init__(self, tmp_path: Path, log_dir: Path) -> None:
        assert RSYSLOGD is not None
        self.state = tmp_path / "rsyslog"
        self.state.mkdir()
        self.copies = tmp_path / "shipped"
        self.config = self.state / "rsyslog.conf"
        self.config.write_text(render_config(log_dir, self.copies, self.state), encoding="utf-8")
        self.output = self.state / "rsyslogd.out"
        self.argv = [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.state / "pid")]
        self.process: subprocess.Popen[bytes] | None = None

    def check_config(self) -> None:
        assert RSYSLOGD is not None
        checked = subprocess.run(
            [RSYSLOGD, "-N1", "-f", str(self.config)],
            capture_output=True,
            timeout=DEADLINE,
            check=False,
        )
        assert checked.returncode == 0, (
            f"rsyslogd -N1 refuses the configuration:\n{checked.stderr.decode(errors='replace')}"
        )

    def start(self) -> None:
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def messages(self) -> str:
        """What rsyslogd said (its stdout and stderr), for failure messages."""
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return text[-3000:] or "(nothing)"

    def assert_running(self) -> None:
        assert self.process is not None
        code = self.process.poll()
        assert code is None, f"rsyslogd exited with {code}:\n{self.messages()}"

    def pause(self) -> None:
        """SIGSTOP, then wait until every thread of rsyslogd is stopped."""
        self.assert_running()
        os.kill(self.pid, signal.SIGSTOP)
        tasks = Path(f"/proc/{self.pid}/task")

        def all_stopped() -> bool:
            states = []
            for task in tasks.iterdir():
                try:
                    stat = (task / "stat").read_text()
                except FileNotFoundError:  # a thread that just ended
                    continue
                states.append(stat.rsplit(")", 1)[1].split()[0])
            return bool(states) and all(state in "tT" for state in states)

        assert poll_sync(all_stopped), f"rsyslogd not stopped within {DEADLINE}s"

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> int:
        """SIGTERM (after SIGCONT, in case it is stopped); its exit status."""
        process = self.process
        assert process is not None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(f"rsyslogd ignored SIGTERM for {DEADLINE}s") from None
        return process.returncode


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def rsyslog(tmp_path: Path, log_dir: Path) -> Iterator[Rsyslog]:
    daemon = Rsyslog(tmp_path, log_dir)
    daemon.check_config()
    daemon.start()
    try:
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            os.kill(daemon.pid, signal.SIGCONT)
            daemon.process.kill()
            daemon.process.wait()


# --- reading the source files and the copies ----------------------------------------------


def poll_sync(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(0.01)
    return True


async def poll(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    """Whether ``condition`` came true within ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() >= end:
            return False
        await asyncio.sleep(0.05)
    return True


def source_files(log_dir: Path) -> dict[str, list[Path]]:
    """Per name a copy should have: the rotated files in rotation order, then the current."""
    rotated: dict[str, list[Path]] = {}
    current: dict[str, Path] = {}
    names = {p.name for p in log_dir.iterdir()}
    for path in log_dir.iterdir():
        match = ROTATED_RE.fullmatch(path.name)
        if match is not None:
            if path.name + ".gz" not in names:  # both only while being gzipped
                rotated.setdefault(match["file"], []).append(path)
        elif path.name.endswith(".jsonl") or path.name == CHECKPOINTS:
            current[path.name] = path
    files: dict[str, list[Path]] = {}
    for name in sorted({*rotated, *current}):
        files[name] = sorted(rotated.get(name, []), key=rotation_key)
        if name in current:
            files[name].append(current[name])
    return files


def source_lines(log_dir: Path) -> dict[str, list[bytes]]:
    return {
        name: [line for path in paths for line in whole_lines(path)]
        for name, paths in source_files(log_dir).items()
    }


def copy_lines(copies: Path) -> dict[str, list[bytes]]:
    if not copies.exists():
        return {}
    return {path.name: whole_lines(path) for path in sorted(copies.iterdir())}


def records(directory: Path, kind: str) -> list[dict[str, Any]]:
    """The records of type ``kind`` of a directory's ledger."""
    lines = (directory / CHECKPOINTS).read_bytes().split(b"\n")[:-1]
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def split_by_the_ledger(copies: Path, into: Path) -> dict[str, str]:
    """The copies laid out in ``into`` as the source directory was: each rotated file
    the ledger recorded, its lines taken out of its category's copy by the stream
    ranges of its ``rotated`` record (in the ledger's order); what is left is the
    current file. Returns each rotated file's SHA-256."""
    into.mkdir(mode=0o700)
    shutil.copyfile(copies / CHECKPOINTS, into / CHECKPOINTS)
    left = {name: lines for name, lines in copy_lines(copies).items() if name != CHECKPOINTS}
    digests: dict[str, str] = {}
    for record in records(copies, "rotated"):
        ranges = record["streams"]

        def inside(line: bytes, ranges: dict[str, dict[str, int]] = ranges) -> bool:
            event = json.loads(line)
            span = ranges.get(event["stream"])
            return span is not None and span["first_seq"] <= event["seq"] <= span["last_seq"]

        base = record["file"].split(".jsonl.", 1)[0] + ".jsonl"
        data = b"".join(line + b"\n" for line in left[base] if inside(line))
        left[base] = [line for line in left[base] if not inside(line)]
        (into / record["file"]).write_bytes(data)
        digests[record["file"]] = hashlib.sha256(data).hexdigest()
    for name, lines in left.items():
        (into / name).write_bytes(b"".join(line + b"\n" for line in lines))
    return digests


def difference(source: dict[str, list[bytes]], copies: dict[str, list[bytes]]) -> str:
    """Per name: lines missing from the copy and lines only in it, with a few examples."""
    out = []
    for name in sorted({*source, *copies}):
        want, got = Counter(source.get(name, [])), Counter(copies.get(name, []))
        missing, extra = want - got, got - want
        order = "" if missing or extra or source.get(name) == copies.get(name) else " (reordered)"
        out.append(
            f"{name}: {len(source.get(name, []))} lines, copy {len(copies.get(name, []))}, "
            f"missing {sum(missing.values())}, extra {sum(extra.values())}{order}"
        )
        out += [f"  missing ({len(line)} bytes): {line[:120]!r}" for line in list(missing)[:3]]
        out += [f"  extra ({len(line)} bytes):   {line[:120]!r}" for line in list(extra)[:3]]
    return "\n".join(out)


async def wait_until_shipped(log_dir: Path, daemon: Rsyslog, what: str) -> None:
    """Wait until each copy holds as many lines as its source; fail showing what differs.

    Only a wait: whether they are the same lines is asserted at the end.
    """
    expected = {name: len(lines) for name, lines in source_lines(log_dir).items()}

    def shipped() -> bool:
        daemon.assert_running()
        for name, count in expected.items():
            copy = daemon.copies / name
            if not copy.exists() or copy.read_bytes().count(b"\n") < count:
                return False
        return True

    if not await poll(shipped):
        diff = difference(source_lines(log_dir), copy_lines(daemon.copies))
        raise AssertionError(
            f"not shipped within {DEADLINE}s ({what}):\n{diff}\nrsyslogd:\n{daemon.messages()}"
        )


# --- the load ------------------------------------------------------------------------------


class Load:
    """Numbered login attempts (``auth``) and API accesses (``api_audit``), every 250th
    one over rsyslog's default line limit."""

    CATEGORIES: Final = ("auth", "api_audit")

    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor
        self.written = 0

    async def write(self, category: str, count: int) -> None:
        for _ in range(count):
            n = self.written
            self.written += 1
            details: dict[str, object] = {"n": n, "note": NOTE}
            if n % 250 == 0:
                details.update(a=BIG, b=BIG, c=BIG)
            if category == "auth":
                await self.auditor.login_attempt("failed", user_id=f"user-{n}", details=details)
            else:
                await self.auditor.api_access(
                    method="POST",
                    request_path=f"/items/{n}",
                    status_code=201,
                    duration_ms=1.5,
                    details=details,
                )
        await self.auditor.flush()

    def rotations(self, category: str) -> int:
        entry = self.auditor.stats()["categories"].get(category, {})
        return int(entry.get("rotations", 0))

    async def write_until_rotated(self, category: str) -> int:
        """Write batches until the writer rotated the file once more; the batches before."""
        before = self.rotations(category)
        batches = 0
        while self.rotations(category) == before:
            await self.write(category, BATCH)
            batches += 1
            assert batches < 1000, f"{category}: no rotation after {batches} batches"
        assert self.rotations(category) == before + 1, f"{category} rotated more than once"
        return batches - 1


def plain_rotated(log_dir: Path) -> list[str]:
    return sorted(
        p.name for p in log_dir.iterdir() if (m := ROTATED_RE.fullmatch(p.name)) and not m["gz"]
    )


# --- the test ------------------------------------------------------------------------------


async def test_rsyslog_imfile_ships_every_line_once_byte_for_byte_across_rotations_and_gzip(
    log_dir: Path, rsyslog: Rsyslog
) -> None:
    async with Auditor(
        log_dir=log_dir, key=KEY, rotate_max_mb=ROTATE_MB, compress_rotated=True
    ) as auditor:
        load = Load(auditor)
        for category in Load.CATEGORIES:
            await load.write(category, HEAD_EVENTS)
        # imfile has every file open before anything is rotated.
        await wait_until_shipped(log_dir, rsyslog, "the first lines")
        for round_ in range(ROUNDS):
            for category in Load.CATEGORIES:
                await load.write(category, RUNNING_EVENTS)
            assert [load.rotations(c) for c in Load.CATEGORIES] == [round_] * 2, (
                "rotated while rsyslogd was running: make RUNNING_EVENTS smaller"
            )
            rsyslog.pause()
            for category in Load.CATEGORIES:
                unread = await load.write_until_rotated(category)
                # Batches imfile cannot have read: written after it stopped, then renamed.
                assert unread > 0, f"round {round_}: {category} rotated with no unread line"
            assert await poll(lambda: not plain_rotated(log_dir)), (
                f"not gzipped within {DEADLINE}s: {plain_rotated(log_dir)}"
            )
            for category in Load.CATEGORIES:
                await load.write(category, HEAD_EVENTS)
            rsyslog.resume()
            await wait_until_shipped(log_dir, rsyslog, f"round {round_}")
        rotations = {c: load.rotations(c) for c in Load.CATEGORIES}
        written = load.written

    await wait_until_shipped(log_dir, rsyslog, "after the Auditor stopped")
    status = rsyslog.stop()
    assert status == 0, f"rsyslogd exited with {status}:\n{rsyslog.messages()}"

    # At least 3 rotations of each category, each into a gzipped file never tailed.
    assert rotations == dict.fromkeys(Load.CATEGORIES, ROUNDS)
    assert ROUNDS >= 3
    files = source_files(log_dir)
    for name in ("auth-events.jsonl", "api-audit.jsonl"):
        assert [p.name.endswith(".rotated.gz") for p in files[name]] == [True] * ROUNDS + [False]

    # Every line once, byte for byte, in order; a copy per source file and no other.
    source = source_lines(log_dir)
    copies = copy_lines(rsyslog.copies)
    assert set(source) == {"auth-events.jsonl", "api-audit.jsonl", "audit.jsonl", CHECKPOINTS}
    assert copies == source, difference(source, copies)

    # By event id: each event arrived exactly once, and nothing else did.
    shipped_ids = Counter(
        json.loads(line)["event_id"]
        for name, lines in copies.items()
        if name != CHECKPOINTS
        for line in lines
    )
    source_ids = {
        json.loads(line)["event_id"]
        for name, lines in source.items()
        if name != CHECKPOINTS
        for line in lines
    }
    assert set(shipped_ids) == source_ids
    assert max(shipped_ids.values()) == 1
    assert len(source_ids) == written + 2  # and audit_started, audit_stopped

    # Lines over rsyslog's default limit arrived whole (the config raises it).
    long_lines = [line for lines in copies.values() for line in lines]
    assert sum(len(line) > RSYSLOG_DEFAULT_MAX_LINE for line in long_lines) >= written // 250

    # The copies prove themselves: the chains, the signed ledger and its Merkle roots
    # hold there. The copy of a category holds its rotated files' lines too, not the
    # files by their names: verify says so (every line of them is there), and nothing
    # is amiss.
    result = verify_directory(rsyslog.copies, KEY)
    assert result.keyed
    assert result.lines == len(source_ids)
    rotated = {r["file"]: r for r in records(rsyslog.copies, "rotated")}
    assert len(rotated) == 2 * ROUNDS
    assert result.ok, [b.as_dict() for b in result.breaks]
    assert any(
        c.startswith(f"{len(rotated)} rotated file(s) the ledger recorded are not here by name")
        for c in result.caveats
    ), result.caveats

    # Laid out as the source directory was, by the ranges the ledger recorded, the
    # copies give back every rotated file byte for byte (its recorded SHA-256), and
    # verify holds on all of it.
    laid_out = split_by_the_ledger(rsyslog.copies, log_dir.parent / "laid-out")
    assert laid_out == {name: r["sha256"] for name, r in rotated.items()}
    result = verify_directory(log_dir.parent / "laid-out", KEY)
    assert result.ok, [b.as_dict() for b in result.breaks]
    assert result.lines == len(source_ids)
