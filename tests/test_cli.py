"""The ``asgi-audit`` command: stats, rotate, tail and query on real log directories.

Directories are written by a real :class:`Auditor` (with rotations, gzipped rotated
files and the integrity files beside them) or crafted by hand where exact
timestamps matter. ``main([...])`` runs in-process with ``capsys``; the installed
console script runs as a real subprocess. What ``query`` prints is checked
against an independent reading of the files. Waits on ``tail -f`` are bounded
polls or reads with a deadline, never a sleep followed by an assertion.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import IO, Any, Final

import anyio
import pytest

from asgi_audit import Auditor, __version__, rotate_audit_logs
from asgi_audit.cli import main
from asgi_audit.cli.common import Record, parse_time
from asgi_audit.cli.query import reordered
from asgi_audit.proof.integrity import derive_chain_key, key_id
from asgi_audit.store.rotation import compress_rotated
from tests.helpers import reports

SCRIPT: Final = Path(sys.executable).with_name("asgi-audit")
DEADLINE: Final = 20.0  # a bound on a wait, never an assertion
IPS: Final = ("198.51.100.1", "198.51.100.2", "203.0.113.9")
USERS: Final = ("alice", "bob", "carol")
AGENTS: Final = ("agent-7", "agent-8")
#: The event files of the directories written here, current and rotated; an
#: oracle independent of asgi_audit.store.reading.
EVENT_FILE_RE: Final = re.compile(
    r"(auth-events|injection-events|tool-blocks|api-audit|admin|manual)\.jsonl"
    r"(\.\d{8}_\d{6}(\.\d+)?\.rotated(\.gz)?)?"
)


# --- writing and reading directories -----------------------------------------------------


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="microseconds")


def crafted(
    ts: str, category: str = "auth", event_type: str = "login_attempt", **fields: Any
) -> bytes:
    """One event line as the library writes it, with a chosen timestamp."""
    event = {
        "timestamp": ts,
        "epoch_ms": 0,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "category": category,
        "schema_version": 1,
        **fields,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def write_lines(path: Path, lines: list[bytes], *, gz: bool = False, tail: bytes = b"") -> None:
    data = b"".join(line + b"\n" for line in lines) + tail
    path.write_bytes(gzip.compress(data) if gz else data)


def file_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n") or not data, f"{path.name} ends inside a line"
    return data.split(b"\n")[:-1]


def every_line(log_dir: Path) -> list[bytes]:
    """Every line of every event file, read without asgi_audit."""
    return [
        line
        for path in sorted(log_dir.iterdir())
        if EVENT_FILE_RE.fullmatch(path.name)
        for line in file_lines(path)
    ]


def parsed(line: bytes) -> dict[str, Any]:
    event = json.loads(line)
    assert isinstance(event, dict)
    return event


def run(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> tuple[str, str]:
    assert main(list(argv)) == status
    captured = capsys.readouterr()
    return captured.out, captured.err


def query_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[bytes]:
    out, err = run(capsys, "query", *argv)
    assert err == ""
    return [line.encode() for line in out.splitlines()]


def assert_time_ordered(lines: list[bytes]) -> None:
    stamps = [parsed(line)["timestamp"] for line in lines]
    assert stamps == sorted(stamps)


async def write_batch(auditor: Auditor, batch: int) -> None:
    """48 events over four built-in categories and one custom one, tagged ``n``."""
    for i in range(48):
        n = batch * 100 + i
        ip, user, agent = IPS[i % 3], USERS[i % 3], AGENTS[i % 2]
        kind = i % 4
        if kind == 0:
            await auditor.login_attempt(
                "failed" if i % 8 else "success",
                user_id=user,
                ip_address=ip,
                request_id=f"req-{n:05d}",
                n=n,
            )
        elif kind == 1:
            await auditor.injection_attempt(
                rule_name="ignore_previous", severity="HIGH", agent_id=agent, ip_address=ip, n=n
            )
        elif kind == 2:
            await auditor.tool_blocked(
                tool_name="read_file",
                blocked_path="/home/u/.ssh/id_rsa",
                blocked_reason="SSH key file access denied",
                agent_id=agent,
                n=n,
            )
        else:
            await auditor.api_access(
                method="GET",
                request_path="/api/items",
                status_code=(200, 401, 500)[i % 3],
                ip_address=ip,
                request_id=f"req-{n:05d}",
                user_id=user,
                n=n,
            )
        if i % 6 == 0:
            admin = USERS[i // 6 % 3]
            await auditor.emit("admin", "export_requested", outcome="success", user_id=admin, n=n)


async def write_corpus(log_dir: Path) -> None:
    async with Auditor(log_dir=log_dir, self_audit=False, fsync="never") as auditor:
        await write_batch(auditor, 1)
        await auditor.flush()
        for rotated in rotate_audit_logs(log_dir, max_size_mb=0).values():
            if ".jsonl." in rotated:
                compress_rotated(Path(rotated))
        await write_batch(auditor, 2)
        await auditor.flush()
        rotate_audit_logs(log_dir, max_size_mb=0)
        await write_batch(auditor, 3)


@dataclass(frozen=True)
class Corpus:
    log_dir: Path
    lines: list[bytes]

    def matching(self, keep: Callable[[dict[str, Any]], bool]) -> list[bytes]:
        return [line for line in self.lines if keep(parsed(line))]

    @cached_property
    def stamps(self) -> list[str]:
        return sorted(parsed(line)["timestamp"] for line in self.lines)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Three batches by a real Auditor: gzipped rotated, plain rotated and current files."""
    log_dir = tmp_path_factory.mktemp("corpus") / "logs"
    asyncio.run(write_corpus(log_dir))
    names = [p.name for p in log_dir.iterdir()]
    assert any(n.endswith(".rotated.gz") for n in names), names
    assert any(n.endswith(".rotated") for n in names), names
    assert "auth-events.jsonl" in names, names
    lines = every_line(log_dir)
    assert len(lines) == 3 * (48 + 8)
    return Corpus(log_dir, lines)


# --- query -------------------------------------------------------------------------------


def test_query_prints_every_event_of_current_rotated_and_gzipped_files_in_time_order(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = query_lines(capsys, str(corpus.log_dir))
    # The lines exactly as written (stream, seq and mac included), each once.
    assert Counter(lines) == Counter(corpus.lines)
    assert_time_ordered(lines)
    assert {parsed(line)["n"] // 100 for line in lines} == {1, 2, 3}
    assert all("mac" in parsed(line) and "seq" in parsed(line) for line in lines)


Case = Callable[[Corpus], tuple[list[str], Callable[[dict[str, Any]], bool]]]

CASES: Final[dict[str, Case]] = {
    "category": lambda c: (["--category", "auth"], lambda e: e["category"] == "auth"),
    "custom category": lambda c: (["-c", "admin"], lambda e: e["category"] == "admin"),
    "two categories": lambda c: (
        ["-c", "auth,tool_blocks"],
        lambda e: e["category"] in ("auth", "tool_blocks"),
    ),
    "type": lambda c: (
        ["--type", "tool_path_blocked"],
        lambda e: e["event_type"] == "tool_path_blocked",
    ),
    "outcome": lambda c: (["--outcome", "failed"], lambda e: e.get("outcome") == "failed"),
    "two outcomes": lambda c: (
        ["--outcome", "denied", "--outcome", "error"],
        lambda e: e.get("outcome") in ("denied", "error"),
    ),
    "ip": lambda c: (["--ip", IPS[1]], lambda e: e.get("ip_address") == IPS[1]),
    "agent": lambda c: (["--agent", AGENTS[0]], lambda e: e.get("agent_id") == AGENTS[0]),
    "request id": lambda c: (
        ["--request-id", "req-00203"],
        lambda e: e.get("request_id") == "req-00203",
    ),
    "user": lambda c: (["--user", "carol"], lambda e: e.get("user_id") == "carol"),
    "two users": lambda c: (
        ["--user", "alice", "--user", "bob"],
        lambda e: e.get("user_id") in ("alice", "bob"),
    ),
    "since": lambda c: (
        ["--since", c.stamps[60]],
        lambda e: e["timestamp"] >= c.stamps[60],
    ),
    "until": lambda c: (
        ["--until", c.stamps[100]],
        lambda e: e["timestamp"] < c.stamps[100],
    ),
    "since and until": lambda c: (
        ["--since", c.stamps[30], "--until", c.stamps[130]],
        lambda e: c.stamps[30] <= e["timestamp"] < c.stamps[130],
    ),
    "category, outcome, ip and since": lambda c: (
        ["-c", "auth", "--outcome", "failed", "--ip", IPS[0], "--since", c.stamps[20]],
        lambda e: (
            e["category"] == "auth"
            and e.get("outcome") == "failed"
            and e.get("ip_address") == IPS[0]
            and e["timestamp"] >= c.stamps[20]
        ),
    ),
    "type, agent and until": lambda c: (
        ["-t", "injection_attempt", "--agent", AGENTS[1], "--until", c.stamps[120]],
        lambda e: (
            e["event_type"] == "injection_attempt"
            and e.get("agent_id") == AGENTS[1]
            and e["timestamp"] < c.stamps[120]
        ),
    ),
    "custom category and user": lambda c: (
        ["-c", "admin", "--user", "bob"],
        lambda e: e["category"] == "admin" and e.get("user_id") == "bob",
    ),
    "user and request id": lambda c: (
        ["--user", "alice", "--request-id", "req-00303"],
        lambda e: e.get("user_id") == "alice" and e.get("request_id") == "req-00303",
    ),
    "nothing": lambda c: (["--user", "nobody"], lambda e: False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_query_filters_print_exactly_the_matching_events_in_time_order(
    name: str, corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, keep = CASES[name](corpus)
    expected = corpus.matching(keep)
    assert expected or name == "nothing"
    lines = query_lines(capsys, str(corpus.log_dir), *argv)
    assert Counter(lines) == Counter(expected)
    assert_time_ordered(lines)


def test_query_filters_find_events_in_gzipped_and_plain_rotated_files(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    # Batch 1 is only in gzipped files, batch 2 only in plain rotated ones.
    for request_id, batch in (("req-00103", 1), ("req-00203", 2), ("req-00303", 3)):
        lines = query_lines(capsys, str(corpus.log_dir), "--request-id", request_id)
        assert [parsed(line)["n"] for line in lines] == [batch * 100 + 3]


def test_query_limit_and_table_format(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    lines = query_lines(capsys, str(corpus.log_dir), "-c", "auth", "--limit", "5")
    auth = sorted(
        corpus.matching(lambda e: e["category"] == "auth"), key=lambda b: parsed(b)["timestamp"]
    )
    assert lines == auth[:5]

    out, err = run(
        capsys, "query", str(corpus.log_dir), "--request-id", "req-00303", "--format", "table"
    )
    assert err == ""
    (row,) = out.splitlines()
    event = parsed(corpus.matching(lambda e: e.get("request_id") == "req-00303")[0])
    stamp = event["timestamp"]
    assert row.startswith(f"{stamp[:10]} {stamp[11:23]}Z  api_audit")
    for text in ("api_access", "success", IPS[0], "request_path=/api/items", "status_code=200"):
        assert text in row


def test_query_since_and_until_are_exact_on_crafted_timestamps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    stamps = [f"2026-11-20T10:00:{s:02d}.000000+00:00" for s in range(0, 60, 10)]
    write_lines(log_dir / "auth-events.jsonl", [crafted(ts, n=i) for i, ts in enumerate(stamps)])

    def ns(*argv: str) -> list[int]:
        return [parsed(line)["n"] for line in query_lines(capsys, str(log_dir), *argv)]

    # --since is inclusive, --until exclusive; both at microsecond precision.
    assert ns("--since", "2026-11-20T10:00:20+00:00") == [2, 3, 4, 5]
    assert ns("--since", "2026-11-20T10:00:20.000001Z") == [3, 4, 5]
    assert ns("--until", "2026-11-20T10:00:20Z") == [0, 1]
    assert ns("--since", "2026-11-20T10:00:10", "--until", "2026-11-20T10:00:40") == [1, 2, 3]
    # Another offset names the same instant.
    assert ns("--since", "2026-11-20T12:00:30+02:00") == [3, 4, 5]
    assert ns("--until", "2026-11-20") == []
    assert ns("--since", "2026-11-21") == []


def test_query_relative_times_mean_that_long_ago(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    now = time.time()
    ages = {"8d": 8 * 86400, "3h": 3 * 3600, "20m": 20 * 60, "40s": 40, "now": 0}
    write_lines(
        log_dir / "admin.jsonl",
        [crafted(iso(now - age), "admin", "tick", age=name) for name, age in ages.items()],
    )

    def ages_since(*argv: str) -> list[str]:
        return [parsed(line)["age"] for line in query_lines(capsys, str(log_dir), *argv)]

    assert ages_since("--since", "7d") == ["3h", "20m", "40s", "now"]
    assert ages_since("--since", "2h") == ["20m", "40s", "now"]
    assert ages_since("--since", "30m", "--until", "1m") == ["20m"]
    assert ages_since("--since", "90s") == ["40s", "now"]
    assert ages_since("--until", "1.5h") == ["8d", "3h"]
    moment = parse_time("15m", now=1_000_000.0)
    assert moment == datetime.fromtimestamp(1_000_000.0 - 900, timezone.utc)


def test_query_merges_timestamps_of_other_forms_and_reorders_lines_slightly_out_of_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    # Lines of several processes: a little out of order within the file.
    write_lines(
        log_dir / "auth-events.jsonl",
        [crafted(f"2026-11-20T10:00:0{s}.000000+00:00", n=s) for s in (1, 3, 2, 5, 4, 7, 6)],
    )
    # Same instants written with Z, another offset, or without microseconds.
    write_lines(
        log_dir / "admin.jsonl",
        [
            crafted("2026-11-20T10:00:02.5Z", "admin", "x", n=2.5),
            crafted("2026-11-20T12:00:04.500000+02:00", "admin", "x", n=4.5),
            crafted("2026-11-20T10:00:06", "admin", "x", n=6.5),
        ],
    )
    lines = query_lines(capsys, str(log_dir))
    assert [parsed(line)["n"] for line in lines] == [1, 2, 2.5, 3, 4, 4.5, 5, 6, 6.5, 7]
    assert query_lines(capsys, str(log_dir), "--since", "2026-11-20T10:00:04.4Z") == [
        line for line in lines if parsed(line)["n"] >= 4.5
    ]


def test_reorder_window_sorts_records_displaced_by_less_than_the_window() -> None:
    keys = [f"k{i:04d}" for i in range(1000)]
    shuffled = keys[:]
    for start in range(0, 1000, 7):  # displace within blocks of 7
        shuffled[start : start + 7] = reversed(shuffled[start : start + 7])
    records: list[Record] = [(k, i, b"", {}) for i, k in enumerate(shuffled)]
    assert [r[0] for r in reordered(records, window=8)] == keys
    # Ties keep their file order.
    ties: list[Record] = [("same", i, b"", {}) for i in range(50)]
    assert [r[1] for r in reordered(ties, window=4)] == list(range(50))


def test_query_skips_rotated_files_that_cannot_reach_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    now = time.time()
    # A rotated file named (and last written) a day ago, holding a line stamped now
    # (impossible for a real file): if it were read, --since would print it.
    old = log_dir / "auth-events.jsonl.20200101_000000.rotated"
    write_lines(old, [crafted(iso(now), n=1)])
    os.utime(old, (now - 86400, now - 86400))
    write_lines(log_dir / "auth-events.jsonl", [crafted(iso(now), n=2)])
    assert [parsed(x)["n"] for x in query_lines(capsys, str(log_dir))] == [1, 2]
    assert [parsed(x)["n"] for x in query_lines(capsys, str(log_dir), "--since", "1h")] == [2]


def test_query_skips_junk_lines_with_one_warning_and_waits_for_a_partial_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    good = [crafted(f"2026-11-20T10:00:0{s}.000000+00:00", n=s) for s in range(4)]
    write_lines(
        log_dir / "auth-events.jsonl",
        [good[0], b"not json at all", good[1], b"[1, 2, 3]", b"", good[2]],
        tail=good[3][:40],  # still being written
    )
    write_lines(log_dir / "auth-events.jsonl.20261120_100000.rotated.gz", [b"{broken"], gz=True)
    out, err = run(capsys, "query", str(log_dir))
    assert [parsed(line.encode())["n"] for line in out.splitlines()] == [0, 1, 2]
    assert err == (
        "asgi-audit: warning: skipped 4 lines that are not JSON objects "
        f"(the first at {log_dir / 'auth-events.jsonl.20261120_100000.rotated.gz'}:1)\n"
    )
    assert "Traceback" not in err


def test_query_reports_a_damaged_gzip_file_and_prints_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    lines = [crafted(f"2026-11-20T10:00:0{s}.000000+00:00", n=s) for s in range(3)]
    damaged = log_dir / "auth-events.jsonl.20261120_120000.rotated.gz"
    damaged.write_bytes(gzip.compress(b"".join(x + b"\n" for x in lines * 200))[:-30])
    write_lines(log_dir / "auth-events.jsonl", [crafted("2026-11-20T11:00:00.000000+00:00", n=9)])
    out, err = run(capsys, "query", str(log_dir), "--since", "2026-11-20T10:30Z")
    assert [parsed(line.encode())["n"] for line in out.splitlines()] == [9]
    assert err.startswith(f"asgi-audit: warning: cannot read {str(damaged)!r}: damaged gzip data")
    assert err.count("\n") == 1


def test_query_and_tail_on_files_of_many_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    start = datetime(2026, 11, 20, 10, tzinfo=timezone.utc).timestamp()
    lines = [
        crafted(
            iso(start + i / 1000),
            "api_audit",
            "api_access",
            user_id="needle-user" if i % 997 == 0 else f"user-{i % 50}",
            request_path="/p/" + "x" * 150,
            n=i,
        )
        for i in range(12_000)
    ]
    lines[9_001] = b"junk past the first blocks"
    write_lines(log_dir / "api-audit.jsonl", lines)
    assert (log_dir / "api-audit.jsonl").stat().st_size > 3 * 2**20  # several 1 MiB blocks

    found = query_lines(capsys, str(log_dir), "--user", "needle-user", "--user", "nobody")
    assert found == [line for i, line in enumerate(lines) if i % 997 == 0]

    # The junk line has no timestamp to rule it out by: it is parsed, counted, named.
    warning = (
        "asgi-audit: warning: skipped 1 line that is not a JSON object "
        f"(the first at {log_dir / 'api-audit.jsonl'}:9002)\n"
    )
    out, err = run(capsys, "query", str(log_dir), "--since", iso(start + 11.5))
    assert [parsed(x.encode())["n"] for x in out.splitlines()] == list(range(11_500, 12_000))
    assert err == warning
    out, err = run(capsys, "query", str(log_dir), "--until", iso(start + 9.5))
    assert len(out.splitlines()) == 9_500 - 1
    assert err == warning

    # Read backwards over many 64 KiB blocks and past the junk line.
    out, err = run(capsys, "tail", str(log_dir), "-n", "3500", "--json")
    tail = [line.encode() for line in out.splitlines()]
    assert tail == [line for line in lines if line.startswith(b"{")][-3500:]
    assert err == (
        "asgi-audit: warning: skipped 1 line that is not a JSON object "
        f"(the first in {str(log_dir / 'api-audit.jsonl')!r})\n"
    )


def test_query_values_with_quotes_and_non_ascii_written_either_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    user = 'Zoë "the admin"'
    ts = "2026-11-20T10:00:0{}.000000+00:00"
    event = {"timestamp": ts.format(1), "event_type": "login_attempt", "user_id": user}
    write_lines(
        log_dir / "auth-events.jsonl",
        [
            json.dumps(event, ensure_ascii=False).encode(),  # raw UTF-8, as orjson writes
            json.dumps({**event, "timestamp": ts.format(2)}).encode(),  # \u00eb escapes
            crafted(ts.format(3), user_id="Zoe"),
        ],
    )
    found = query_lines(capsys, str(log_dir), "--user", user)
    assert [parsed(line)["timestamp"] for line in found] == [ts.format(1), ts.format(2)]
    assert query_lines(capsys, str(log_dir), "--user", "Zo") == []


def test_query_ignores_checkpoints_partial_lock_key_and_foreign_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    ts = "2026-11-20T10:00:00.000000+00:00"
    write_lines(log_dir / "auth-events.jsonl", [crafted(ts, n=1)])
    for name in (
        "checkpoints.jsonl",
        "checkpoints.jsonl.20261120_100000.rotated",
        "checkpoints.log",
        "auth-events.jsonl.20261120_100000.partial",
        ".auth-events.jsonl.lock",
        "Not A Category.jsonl",
        "auth-events.jsonl.bak",
    ):
        write_lines(log_dir / name, [crafted(ts, n=666)])
    (log_dir / ".asgi-audit-key").write_bytes(os.urandom(32))
    assert [parsed(x)["n"] for x in query_lines(capsys, str(log_dir))] == [1]
    out, _ = run(capsys, "stats", str(log_dir), "--json")
    assert set(json.loads(out)["categories"]) == {"auth", "injection", "tool_blocks", "api_audit"}


# --- stats -------------------------------------------------------------------------------


def test_stats_numbers_match_the_files(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run(capsys, "stats", str(corpus.log_dir), "--json")
    assert err == ""
    stats = json.loads(out)
    names = {
        "auth": "auth-events.jsonl",
        "injection": "injection-events.jsonl",
        "tool_blocks": "tool-blocks.jsonl",
        "api_audit": "api-audit.jsonl",
        "admin": "admin.jsonl",
    }
    assert list(stats["categories"]) == list(names)  # built-ins first; no checkpoints
    total_rotated = 0
    for category, name in names.items():
        s = stats["categories"][category]
        path = corpus.log_dir / name
        lines = file_lines(path)
        rotated = sorted(corpus.log_dir.glob(f"{name}.*.rotated*"))
        assert s["file"] == str(path)
        assert s["exists"] is True
        assert s["size_bytes"] == path.stat().st_size
        assert s["event_count"] == len(lines)
        assert s["first_timestamp"] == parsed(lines[0])["timestamp"]
        assert s["last_timestamp"] == parsed(lines[-1])["timestamp"]
        assert s["rotated"]["count"] == len(rotated) == 2
        assert s["rotated"]["size_bytes"] == sum(p.stat().st_size for p in rotated)
        assert s["rotated"]["files"][0]["file"].endswith(".rotated.gz")  # oldest first
        total_rotated += len(rotated)
    assert stats["totals"]["event_count"] == 48 + 8
    assert stats["totals"]["rotated_count"] == total_rotated

    out, err = run(capsys, "stats", str(corpus.log_dir))
    assert err == ""
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == {"CATEGORY", *names, "total"}
    auth = stats["categories"]["auth"]
    first = auth["first_timestamp"]
    assert f"  {auth['event_count']}  {first[:10]} {first[11:23]}Z" in rows["auth"]
    assert rows["auth"].endswith(f"2 ({auth['rotated']['size_bytes'] / 1024:.1f} KiB)")


def test_stats_of_missing_files_and_partial_last_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    lines = [crafted(f"2026-11-20T10:00:0{s}.000000+00:00", n=s) for s in range(3)]
    write_lines(log_dir / "tool-blocks.jsonl", lines, tail=b'{"timestamp":"2026-11-20T10:00:09')
    stats = json.loads(run(capsys, "stats", str(log_dir), "--json")[0])["categories"]
    assert stats["tool_blocks"]["event_count"] == 3
    assert stats["tool_blocks"]["last_timestamp"] == "2026-11-20T10:00:02.000000+00:00"
    assert stats["auth"] == {
        "file": str(log_dir / "auth-events.jsonl"),
        "exists": False,
        "size_bytes": 0,
        "size_kb": 0.0,
        "event_count": 0,
        "first_timestamp": None,
        "last_timestamp": None,
        "rotated": {"count": 0, "size_bytes": 0, "files": []},
    }


def test_log_dir_defaults_to_logs_security(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs" / "security").mkdir(parents=True)
    write_lines(
        tmp_path / "logs" / "security" / "api-audit.jsonl",
        [crafted("2026-11-20T10:00:00.000000+00:00", "api_audit", "api_access")],
    )
    stats = json.loads(run(capsys, "stats", "--json")[0])
    assert stats["log_dir"] == "logs/security"
    assert stats["categories"]["api_audit"]["event_count"] == 1
    assert len(query_lines(capsys)) == 1


# --- rotate ------------------------------------------------------------------------------


def test_rotate_rotates_the_files_over_the_size_and_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    write_lines(log_dir / "auth-events.jsonl", [crafted(iso(time.time()), n=1)] * 30)
    write_lines(log_dir / "admin.jsonl", [crafted(iso(time.time()), "admin", "x")])

    out, err = run(capsys, "rotate", str(log_dir), "--max-size-mb", "0.004")  # 4,194 bytes
    assert err == ""
    (rotated,) = log_dir.glob("auth-events.jsonl.*.rotated")
    assert out == f"rotated auth: {rotated}\n"
    assert not (log_dir / "auth-events.jsonl").exists()
    assert (log_dir / "admin.jsonl").exists()

    out, _ = run(capsys, "rotate", str(log_dir), "--max-size-mb", "0.004")
    assert out == f"nothing to rotate: no file in {str(log_dir)!r} is over 0.004 MB\n"

    out, _ = run(capsys, "rotate", str(log_dir), "--max-size-mb", "0", "--json")
    result = json.loads(out)
    assert result["max_size_mb"] == 0
    assert list(result["rotated"]) == ["admin"]
    assert Path(result["rotated"]["admin"]).exists()


async def test_rotate_while_an_auditor_writes_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    total = 1500
    stop = threading.Event()
    statuses: list[int] = []

    def rotate_again_and_again() -> None:
        while not stop.is_set():
            statuses.append(main(["rotate", str(log_dir), "--max-size-mb", "0", "--json"]))
            time.sleep(0.005)

    async with Auditor(log_dir=log_dir, self_audit=False, fsync="never") as auditor:
        await auditor.emit("admin", "tick", n=-1)
        await auditor.flush()
        rotator = threading.Thread(target=rotate_again_and_again)
        rotator.start()
        n = 0
        try:
            # At least `total` events, and on until the file was rotated twice under
            # the writer (however the two threads happen to take turns).
            with anyio.fail_after(60):
                while n < total or len(list(log_dir.glob("admin.jsonl.*.rotated"))) < 2:
                    await auditor.emit("admin", "tick", n=n)
                    n += 1
                    if n % 25 == 0:
                        await auditor.flush()
        finally:
            stop.set()
            await anyio.to_thread.run_sync(rotator.join)
    capsys.readouterr()
    assert statuses
    assert set(statuses) == {0}
    assert len(list(log_dir.glob("admin.jsonl.*.rotated"))) >= 2
    lines = query_lines(capsys, str(log_dir), "-c", "admin")
    assert [parsed(line)["n"] for line in lines] == list(range(-1, n))


# --- tail --------------------------------------------------------------------------------


def test_tail_prints_the_last_events_of_every_category_in_time_order(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = sorted(corpus.lines, key=lambda b: parsed(b)["timestamp"])
    out, err = run(capsys, "tail", str(corpus.log_dir), "--json")
    assert err == ""
    assert [line.encode() for line in out.splitlines()] == newest[-10:]

    out, err = run(capsys, "tail", str(corpus.log_dir), "-n", "3")
    assert err == ""
    rows = out.splitlines()
    assert len(rows) == 3
    for row, line in zip(rows, newest[-3:], strict=True):
        event = parsed(line)
        assert row.startswith(f"{event['timestamp'][:10]} {event['timestamp'][11:23]}Z")
        assert event["category"] in row
        assert event["event_type"] in row


def test_tail_reaches_into_rotated_and_gzipped_files_for_a_chosen_category(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = sorted(
        corpus.matching(lambda e: e["category"] == "auth"), key=lambda b: parsed(b)["timestamp"]
    )
    out, _ = run(capsys, "tail", str(corpus.log_dir), "-c", "auth", "-n", "30", "--json")
    lines = [line.encode() for line in out.splitlines()]
    assert lines == auth[-30:]
    assert {parsed(line)["n"] // 100 for line in lines} == {1, 2, 3}


def test_tail_escapes_control_and_bidi_characters_and_shortens_long_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    evil = "\x1b[2J\x1b]0;pwned\x07admin\u202etxt.exe"
    write_lines(
        log_dir / "tool-blocks.jsonl",
        [
            crafted(
                "2026-11-20T10:00:00.000000+00:00",
                "tool_blocks",
                "tool_path_blocked",
                outcome="blocked",
                user_id=evil,
                blocked_path="/" + "a" * 300,
            )
        ],
    )
    out, _ = run(capsys, "tail", str(log_dir))
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "\x07" not in out
    assert "user_id=\\u001b[2J\\u001b]0;pwned\\u0007admin\\u202etxt.exe" in out
    assert "blocked_path=/" + "a" * 58 + "…" in out


def test_tail_follow_prints_an_event_written_after_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    statuses: list[int] = []

    async def scenario() -> None:
        async with Auditor(log_dir=log_dir, self_audit=False, fsync="never") as auditor:
            await auditor.emit("admin", "before", n=-1)
            await auditor.flush()
            argv = ["tail", str(log_dir), "-f", "-n", "0", "-c", "admin", "--json"]
            argv += ["--max-events", "1", "--timeout", str(DEADLINE), "--poll-interval", "0.02"]
            follower = threading.Thread(target=lambda: statuses.append(main(argv)))
            follower.start()
            # Write until the follower has printed one (it may start after a few).
            n = 0
            while follower.is_alive():
                await auditor.emit("admin", "after", n=n)
                await auditor.flush()
                n += 1
                await anyio.sleep(0.05)
            follower.join()

    asyncio.run(scenario())
    out, err = capsys.readouterr()
    assert statuses == [0]
    assert reports(err) == []
    assert "asgi-audit:" not in err
    (line,) = out.splitlines()
    assert parsed(line.encode())["event_type"] == "after"


# --- the console script as a real process -------------------------------------------------


class Lines:
    """The stdout lines of a process, read with a deadline."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._queue.put(line)

    def next(self) -> dict[str, Any]:
        try:
            line = self._queue.get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError("no line from asgi-audit tail -f in time") from None
        return parsed(line)


@pytest.fixture
def script() -> Path:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run {sys.executable} -m pip install -e ."
    return SCRIPT


def test_console_script_runs_in_a_process_and_fails_with_status_2_and_one_line(
    corpus: Corpus, script: Path, tmp_path: Path
) -> None:
    found = subprocess.run(
        [str(script), "query", str(corpus.log_dir), "--ip", IPS[2], "--since", "7d"],
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert (found.returncode, found.stderr) == (0, b"")
    lines = found.stdout.splitlines()
    assert Counter(lines) == Counter(corpus.matching(lambda e: e.get("ip_address") == IPS[2]))
    assert_time_ordered(lines)

    missing = tmp_path / "nowhere"
    failed = subprocess.run(
        [str(script), "stats", str(missing)], capture_output=True, timeout=DEADLINE, check=False
    )
    assert failed.returncode == 2
    assert failed.stdout == b""
    assert failed.stderr == f"asgi-audit: no such log directory: {str(missing)!r}\n".encode()

    module = subprocess.run(
        [sys.executable, "-m", "asgi_audit.cli", "--version"],
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert (module.returncode, module.stdout) == (0, f"asgi-audit {__version__}\n".encode())


def test_python_m_asgi_audit_is_the_same_command_as_the_console_script(
    corpus: Corpus, script: Path, tmp_path: Path
) -> None:
    def both(*argv: str) -> tuple[subprocess.CompletedProcess[bytes], ...]:
        runs = (
            [str(script), *argv],
            [sys.executable, "-m", "asgi_audit", *argv],
            [sys.executable, "-m", "asgi_audit.cli", *argv],
        )
        return tuple(
            subprocess.run(a, capture_output=True, timeout=DEADLINE, check=False) for a in runs
        )

    (tmp_path / "empty").mkdir()
    cases = {
        ("--version",): 0,
        ("--help",): 0,
        ("verify", "--help"): 0,
        ("query", str(corpus.log_dir), "--ip", IPS[1], "--since", "7d"): 0,
        ("stats", str(tmp_path / "nowhere")): 2,
        ("frobnicate",): 2,
        (): 2,
        ("verify", str(tmp_path / "empty")): 1,  # no ledger: nothing says what should exist
    }
    for argv, status in cases.items():
        script_run, package_run, cli_run = both(*argv)
        assert script_run.returncode == status, (argv, script_run.stderr)
        for other in (package_run, cli_run):
            assert (other.returncode, other.stdout, other.stderr) == (
                script_run.returncode,
                script_run.stdout,
                script_run.stderr,
            ), argv
    version = both("--version")[1]
    assert version.stdout == b"asgi-audit 0.1.0\n"
    assert both("--help")[1].stdout.startswith(b"usage: asgi-audit [-h] [--version] COMMAND")


async def test_tail_follow_process_survives_rotation_and_waits_for_a_whole_line(
    tmp_path: Path, script: Path
) -> None:
    log_dir = tmp_path / "logs"
    argv = [str(script), "tail", str(log_dir), "-f", "-n", "1", "--json", "-c", "admin"]
    argv += ["-c", "manual", "--max-events", "3", "--timeout", str(DEADLINE)]
    argv += ["--poll-interval", "0.05"]
    async with Auditor(log_dir=log_dir, self_audit=False, fsync="never") as auditor:
        await auditor.emit("admin", "first", n=0)
        await auditor.flush()
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                assert proc.stdout is not None
                assert proc.stderr is not None
                lines = Lines(proc.stdout)
                # The last event that was there: following has begun.
                assert (await anyio.to_thread.run_sync(lines.next))["n"] == 0
                await auditor.emit("admin", "second", n=1)
                await auditor.flush()
                assert list(rotate_audit_logs(log_dir, max_size_mb=0)) == ["admin"]
                await auditor.emit("admin", "third", n=2)
                await auditor.flush()
                # A file of its own, written by hand: half a line, then the rest.
                line = crafted(iso(time.time() + 1), "manual", "by_hand", n=3)
                with open(log_dir / "manual.jsonl", "ab") as fh:
                    fh.write(line[:25])
                await anyio.sleep(0.3)  # several polls see the partial line
                with open(log_dir / "manual.jsonl", "ab") as fh:
                    fh.write(line[25:] + b"\n")
                followed = [(await anyio.to_thread.run_sync(lines.next)) for _ in range(3)]
                assert [(e["event_type"], e["n"]) for e in followed] == [
                    ("second", 1),
                    ("third", 2),
                    ("by_hand", 3),
                ]
                assert await anyio.to_thread.run_sync(lambda: proc.wait(timeout=DEADLINE)) == 0
                assert proc.stderr.read() == b""  # the partial line was never junk
            finally:
                if proc.poll() is None:
                    proc.kill()


def test_tail_follow_finds_a_new_category_file_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, script: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    write_lines(log_dir / "auth-events.jsonl", [crafted(iso(time.time()), n=1)])
    argv = [str(script), "tail", str(log_dir), "-f", "--json", "--timeout", str(DEADLINE)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stderr is not None
            lines = Lines(proc.stdout)
            assert lines.next()["n"] == 1
            # A category that had no file when tail started is followed from its start.
            write_lines(log_dir / "manual.jsonl", [crafted(iso(time.time()), "manual", "x", n=2)])
            assert lines.next()["n"] == 2
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=DEADLINE) == 0
            assert proc.stderr.read() == b""
        finally:
            if proc.poll() is None:
                proc.kill()


def test_a_reader_that_goes_away_is_no_error(tmp_path: Path, script: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    stamp = iso(time.time())
    write_lines(log_dir / "admin.jsonl", [crafted(stamp, "admin", "x", pad="p" * 200)] * 5000)
    argv = [str(script), "query", str(log_dir)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert parsed(proc.stdout.readline())["pad"] == "p" * 200
        proc.stdout.close()  # like | head -1
        assert proc.wait(timeout=DEADLINE) == 0
        assert proc.stderr.read() == b""


# --- errors and help ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stats", "{missing}"], "no such log directory: '{missing}'"),
        (["rotate", "{missing}", "--max-size-mb", "1"], "no such log directory: '{missing}'"),
        (["tail", "{missing}", "-f"], "no such log directory: '{missing}'"),
        (["query", "{file}"], "not a directory: '{file}'"),
        (
            ["query", "{dir}", "--since", "15x"],
            "cannot parse time from: '15x' (use an ISO time or 15m, 2h, 7d)",
        ),
        (
            ["query", "{dir}", "--until", "yesterday"],
            "cannot parse time from: 'yesterday' (use an ISO time or 15m, 2h, 7d)",
        ),
    ],
)
def test_errors_exit_2_with_one_line_on_stderr(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    paths = {k: str(tmp_path / k) for k in ("missing", "file", "dir")}
    out, err = run(capsys, *(a.format(**paths) for a in argv), status=2)
    assert out == ""
    assert err == f"asgi-audit: {message.format(**paths)}\n"


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["verify", "--key-env", ""], "argument --key-env: not an environment variable name: ''"),
        (["query", "--limit", "-1"], "argument --limit: expected a whole number >= 0, got '-1'"),
        (["query", "-c", "../etc"], "argument -c/--category: Invalid audit category: '../etc'"),
        (["query", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["rotate", "--max-size-mb", "-5"], "expected a number of MB >= 0, got '-5'"),
        (["tail", "-n", "many"], "argument -n/--lines: expected a whole number >= 0, got 'many'"),
        (["stats", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2_with_argparse_message(
    argv: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run(capsys, *argv, status=2)
    assert out == ""
    assert err.startswith("usage: asgi-audit")
    assert text in err


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("stats", "asgi-audit stats /var/log/app/security --json"),
        ("rotate", "asgi-audit rotate --max-size-mb 100"),
        ("tail", "asgi-audit tail -f -c auth -c injection"),
        ("query", "asgi-audit query --category auth --outcome failed --since 2h"),
    ],
)
def test_help_of_each_command_exits_0_and_shows_examples(
    command: str, example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run(capsys, command, "--help")
    assert err == ""
    assert out.startswith(f"usage: asgi-audit {command}")
    assert "examples:" in out
    assert example in out
    assert "--max-events" not in out  # the test options stay hidden


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(capsys, "--help")
    for command in ("stats", "rotate", "tail", "query"):
        assert re.search(rf"^    {command} ", out, re.MULTILINE), out


def test_a_category_without_files_is_a_warning_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    out, err = run(capsys, "query", str(log_dir), "-c", "injection")
    assert out == ""
    assert err == f"asgi-audit: warning: no files of category 'injection' in {str(log_dir)!r}\n"
    out, err = run(capsys, "tail", str(log_dir), "-c", "injection")
    assert (out, err.count("no files of category 'injection'")) == ("", 1)


# --- verify ------------------------------------------------------------------------------

VERIFY_KEY: Final = "cli-verify-key-0123456789abcdef-7e41"
VERIFY_KEY_ID: Final = key_id(derive_chain_key(VERIFY_KEY.encode()))
STREAM_LINE_RE: Final = re.compile(
    r"stream [0-9a-f]{16} (?P<category>\S+): (?P<lines>\d+) lines?, seq 1\.\.(?P<last>\d+), "
    r"files? (?P<files>.+)"
)
BREAK_LINE_RE: Final = re.compile(
    r"(?P<file>[^:]+):(?P<line>\d+): (?P<kind>[a-z ]+) \((?:stream [0-9a-f]{16}|no stream)\): .+"
)


def write_small_log(log_dir: Path, key: str | None) -> None:
    """3 auth and 2 admin events by a real Auditor, with ``key`` (None: unkeyed)."""

    async def write() -> None:
        async with Auditor(
            log_dir=log_dir,
            key=key,
            self_audit=False,
            fsync="never",
            sealing="forward-secure" if key else "unkeyed",
        ) as a:
            for n in range(3):
                await a.login_attempt("failed", user_id=USERS[n], ip_address=IPS[n], n=n)
            for n in range(2):
                await a.emit("admin", "export_requested", outcome="success", n=n)

    asyncio.run(write())


@pytest.fixture
def keyed_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ASGI_AUDIT_KEY", raising=False)
    log_dir = tmp_path / "logs"
    write_small_log(log_dir, VERIFY_KEY)
    return log_dir


def test_verify_prints_each_stream_and_ok_with_the_key_in_asgi_audit_key(
    keyed_log: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGI_AUDIT_KEY", VERIFY_KEY)
    out, err = run(capsys, "verify", str(keyed_log))
    assert err == ""
    *lines, last = out.splitlines()
    streams = [line for line in lines if line.startswith("stream ")]
    notes = [line for line in lines if line.startswith("note: ")]
    assert len(streams) + len(notes) == len(lines), out
    assert notes[0].startswith("note: no anchor given: the newest records could have been cut")
    assert notes[1].startswith("note: sealed with a static key: whoever held the key")
    found = {m["category"]: m for m in map(STREAM_LINE_RE.fullmatch, streams) if m}
    assert len(found) == len(streams) == 2, out
    assert (found["auth"]["lines"], found["auth"]["last"]) == ("3", "3")
    assert found["auth"]["files"] == "auth-events.jsonl"
    assert (found["admin"]["lines"], found["admin"]["last"]) == ("2", "2")
    assert found["admin"]["files"] == "admin.jsonl"
    # genesis, start, two streams announced, the shutdown checkpoint, stop
    assert last == (
        "OK: 2 streams, 5 lines in 2 files, 6 ledger records, every chain holds "
        "(hmac-sha256, static key)"
    )


def test_verify_without_the_key_names_each_stream_unknown_and_says_how_to_give_it(
    keyed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run(capsys, "verify", str(keyed_log), status=3)  # a key mismatch, not altered
    *lines, last = out.splitlines()
    breaks = [m for m in map(BREAK_LINE_RE.fullmatch, lines) if m]
    kinds = Counter((m["file"] == "checkpoints.log", m["kind"]) for m in breaks)
    # One line per stream, and the checkpoints signed with the key (the first of them).
    assert kinds == {(False, "unknown key"): 2, (True, "unknown key"): 1}, out
    key_id = VERIFY_KEY_ID
    assert last == (
        f"KEY MISMATCH: 2 streams (5 lines) not checked: 2 sealed with a key (key id {key_id}); "
        "checked with no key ($ASGI_AUDIT_KEY is not set or empty)"
    )
    assert err == (
        "asgi-audit: warning: some streams were sealed with a key: set $ASGI_AUDIT_KEY "
        "to it (or name another variable with --key-env)\n"
    )
    report = json.loads(run(capsys, "verify", str(keyed_log), "--json", status=3)[0])
    assert (report["keyed"], report["verdict"]) == (False, "key mismatch")


def test_verify_key_env_names_the_variable_that_holds_the_key(
    keyed_log: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGI_AUDIT_KEY", "not-the-key-but-one-just-as-long-9c2d")
    monkeypatch.setenv("ARCHIVE_KEY", VERIFY_KEY)
    out, err = run(capsys, "verify", str(keyed_log), "--key-env", "ARCHIVE_KEY")
    assert (out.splitlines()[-1].startswith("OK: 2 streams"), err) == (True, "")
    report = json.loads(
        run(capsys, "verify", "--key-env", "ARCHIVE_KEY", str(keyed_log), "--json")[0]
    )
    assert (report["ok"], report["keyed"], report["lines"], report["breaks"]) == (True, True, 5, [])
    out, err = run(capsys, "verify", str(keyed_log), status=3)  # $ASGI_AUDIT_KEY: a wrong key
    assert f"sealed with another key (key id {VERIFY_KEY_ID})" in out
    assert err == (
        "asgi-audit: warning: some streams were not sealed with the key in $ASGI_AUDIT_KEY: "
        "set it to the key the app ran with (or name the variable that holds it with "
        "--key-env); if the app ran with this key, they were rewritten\n"
    )
    monkeypatch.setenv("EMPTY_KEY", "")
    out, err = run(capsys, "verify", str(keyed_log), "--key-env", "EMPTY_KEY", status=3)
    assert err.startswith("asgi-audit: warning: $EMPTY_KEY is not set or empty\n")


def test_verify_an_unkeyed_log_says_it_is_not_tamper_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASGI_AUDIT_KEY", raising=False)
    log_dir = tmp_path / "logs"
    write_small_log(log_dir, None)
    capsys.readouterr()  # the first start's notice that it made a sealing key
    out, err = run(capsys, "verify", str(log_dir), status=4)  # nothing altered, nothing proven
    assert err == (
        "asgi-audit: warning: this log was sealed without a key (sealing='unkeyed'): anyone "
        "who could write the files could have rewritten it; --accept-unkeyed to exit 0 anyway\n"
    )
    assert out.splitlines()[-1] == (
        "OK: 2 streams, 5 lines in 2 files, 6 ledger records, every chain holds "
        "(sha256, unkeyed: not tamper-proof)"
    )
    assert "note: sealed without a key: anyone could have rewritten all of it" in out
    out, err = run(capsys, "verify", str(log_dir), "--accept-unkeyed")
    assert (out.splitlines()[-1].startswith("OK: 2 streams"), err) == (True, "")
    monkeypatch.setenv("ASGI_AUDIT_KEY", VERIFY_KEY)  # a key the log was not sealed with
    out, err = run(capsys, "verify", str(log_dir), status=3)
    assert out.count(".jsonl:1: unknown key (stream ") == 2
    assert out.splitlines()[-1].startswith(
        "KEY MISMATCH: 2 streams (5 lines) not checked: 2 sealed without a key; "
    )
    assert err.startswith("asgi-audit: warning: some streams were sealed without a key: unset ")


def test_verify_names_the_altered_line_and_escapes_what_the_log_says(
    keyed_log: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGI_AUDIT_KEY", VERIFY_KEY)
    auth = keyed_log / "auth-events.jsonl"
    lines = file_lines(auth)
    assert b'"user_id":"bob"' in lines[1]
    lines[1] = lines[1].replace(b'"user_id":"bob"', b'"user_id":"eve"')
    lines[2] = lines[2].replace(b'"mac":"hmac-sha256:', b'"mac":"hmac\x1b[2Jsha256:')
    write_lines(auth, lines)
    out, err = run(capsys, "verify", str(keyed_log), status=1)
    assert err == ""
    *_, line2, line3, _, _, last = out.splitlines()  # two notes before the verdict
    stream = parsed(lines[0])["stream"]
    assert line2 == f"auth-events.jsonl:2: modified (stream {stream}): MAC does not match (seq 2)"
    assert line3.startswith(f"auth-events.jsonl:3: modified (stream {stream}): ")
    assert "\x1b" not in out
    assert "hmac\\u001b[2Jsha256" in line3
    assert last == "ALTERED: 2 breaks in 2 streams"  # of the streams checked


def test_verify_an_empty_or_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run(capsys, "verify", str(tmp_path), status=1)  # emptied: named, never OK
    assert "checkpoints.log:0: ledger missing (no stream): no ledger: nothing says what" in out
    assert out.splitlines()[-1].startswith("ALTERED: 1 break")
    assert err == ""
    out, err = run(capsys, "verify", str(tmp_path / "nowhere"), "--json", status=2)
    assert (out, err) == ("", f"asgi-audit: no such log directory: {str(tmp_path / 'nowhere')!r}\n")


def test_verify_help_shows_examples_and_the_top_level_help_lists_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = run(capsys, "verify", "--help")
    assert err == ""
    assert out.startswith(
        "usage: asgi-audit verify [-h] [--json] [--key-env NAME]\n"
        "                         [--verification-key FILE] [--anchor FILE]\n"
        "                         [--accept-unkeyed]\n"
        "                         [LOG_DIR]"
    ), out
    assert "examples:" in out
    assert "asgi-audit verify --verification-key app1.verification.key /var/log/app/security" in out
    assert re.search(r"^    verify ", run(capsys, "--help")[0], re.MULTILINE)
