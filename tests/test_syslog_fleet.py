"""The Auditor's syslog sink into a real rsyslog over RELP: nothing lost across restarts.

rsyslog is stopped for a while and started again, and the app is restarted in
between; every event reaches rsyslog's output, in order per category, and any
duplicate is the same line (so it shares its ``event_id``). So does every record of
the ledger (``checkpoints.log``), in order, a duplicate sharing its ``n``, and rsyslog
reads each one's header as MSGID ``ledger`` with its ``n`` and ``type``.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Final

import orjson
import pytest

from asgi_audit import Auditor
from asgi_audit.sinks.syslog import SD_ID, SyslogSink
from tests.helpers import LEDGER, is_ledger_line
from tests.rsyslog import Rsyslog

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslogd is not installed"),
]
HANG_GUARD: Final = 60.0
#: The files the sink follows: the ledger and the category files (never rotated here).
FILES: Final = (LEDGER, "tool-blocks.jsonl", "auth-events.jsonl", "audit.jsonl")


def file_lines(log_dir: Path, name: str) -> list[bytes]:
    return (log_dir / name).read_bytes().splitlines()


async def emit(auditor: Auditor, start: int, count: int) -> None:
    for i in range(start, start + count):
        await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}.txt")
        if i % 4 == 0:
            await auditor.login_attempt("failed", user_id=f"user{i}")


def identity(line: bytes) -> tuple[str, object]:
    """What tells one line from another: an event's ``event_id``, a ledger record's ``n``."""
    record = orjson.loads(line)
    return ("record", record["n"]) if is_ledger_line(line) else ("event", record["event_id"])


def wait_for_errors(auditor: Auditor, name: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while auditor.stats()["sinks"][name]["errors"] == 0:
        assert time.monotonic() < deadline, "the sink never noticed rsyslog was down"
        time.sleep(0.05)


async def test_relp_loses_nothing_when_rsyslog_and_the_app_restart(tmp_path: Path) -> None:
    log_dir = tmp_path / "audit"
    rsyslog = Rsyslog(tmp_path / "rsyslog", kind="relp")
    (tmp_path / "rsyslog").mkdir()
    rsyslog.start()

    def sink() -> SyslogSink:
        return SyslogSink("127.0.0.1", rsyslog.port, transport="relp", name="central", timeout=5)

    try:
        async with Auditor(log_dir=log_dir, sinks=[sink()]) as auditor:
            await emit(auditor, 0, 200)
            await auditor.flush()
            ledger_now = len(file_lines(log_dir, LEDGER))
            rsyslog.wait_for_messages(ledger_now + 1 + 200 + 50, HANG_GUARD)  # audit_started too
            rsyslog.stop()  # the collector goes away
            await emit(auditor, 200, 200)
            await auditor.flush()
            wait_for_errors(auditor, "central")
        # The app stops while rsyslog is down, and starts again.
        async with Auditor(log_dir=log_dir, sinks=[sink()]) as auditor:
            await emit(auditor, 400, 100)
            await auditor.flush()
            rsyslog.start()  # the collector comes back on the same port
            everything = sum(len(file_lines(log_dir, n)) for n in FILES)
            rsyslog.wait_for_messages(everything, HANG_GUARD)
        # audit_stopped, and the ledger's last checkpoint and stop: shipped at shutdown.
        received = rsyslog.wait_for_messages(everything + 3, HANG_GUARD)
        rsyslog.stop()  # flushes and closes its files
        headers = rsyslog.header_records()
    finally:
        rsyslog.stop()

    source = {name: file_lines(log_dir, name) for name in FILES}
    assert len(set(received)) == sum(map(len, source.values()))  # nothing else arrived
    # Every line arrived, byte for byte; a duplicate is the same line again.
    counts = Counter(received)
    for name, lines in source.items():
        assert all(counts[line] >= 1 for line in lines), f"a line of {name} never arrived"
        arrived = [line for line in dict.fromkeys(received) if line in set(lines)]
        assert arrived == lines, f"{name} arrived out of order"
    extra = {line: n for line, n in counts.items() if n > 1}
    # Duplicates share their event_id (their n, for the ledger's records).
    ids = [identity(line) for line in received]
    assert len(set(ids)) == len(dict.fromkeys(received))
    assert len(received) - len(dict.fromkeys(received)) == sum(n - 1 for n in extra.values())
    assert len(file_lines(log_dir, "tool-blocks.jsonl")) == 500
    ledger = [orjson.loads(line) for line in source[LEDGER]]
    # Two runs: the first one's stop, written while rsyslog was down, arrived too (above).
    assert [r["type"] for r in ledger].count("stop") == 2
    # rsyslog's own parse of the ledger records' headers.
    assert len(headers) == len(received)
    for header, line in zip(headers, received, strict=True):
        if is_ledger_line(line):
            record = orjson.loads(line)
            assert header["msgid"] == "ledger"
            assert header["timestamp"] == record["timestamp"]
            assert orjson.loads(header["sd"]) == {
                SD_ID: {"n": str(record["n"]), "type": record["type"]}
            }
        else:
            assert header["msgid"] == orjson.loads(line)["event_type"]
