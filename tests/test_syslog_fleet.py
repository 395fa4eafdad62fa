"""The Auditor's syslog sink into a real rsyslog over RELP: nothing lost across restarts.

rsyslog is stopped for a while and started again, and the app is restarted in
between; every event reaches rsyslog's output, in order per category, and any
duplicate is the same line (so it shares its ``event_id``).
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
from asgi_audit.sinks.syslog import SyslogSink
from tests.rsyslog import Rsyslog

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslogd is not installed"),
]
HANG_GUARD: Final = 60.0


def file_lines(log_dir: Path, name: str) -> list[bytes]:
    return (log_dir / name).read_bytes().splitlines()


async def emit(auditor: Auditor, start: int, count: int) -> None:
    for i in range(start, start + count):
        await auditor.tool_blocked(tool_name="read_file", blocked_path=f"/srv/{i}.txt")
        if i % 4 == 0:
            await auditor.login_attempt("failed", user_id=f"user{i}")


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
            rsyslog.wait_for_messages(1 + 200 + 50, HANG_GUARD)  # audit_started too
            rsyslog.stop()  # the collector goes away
            await emit(auditor, 200, 200)
            await auditor.flush()
            wait_for_errors(auditor, "central")
        # The app stops while rsyslog is down, and starts again.
        async with Auditor(log_dir=log_dir, sinks=[sink()]) as auditor:
            await emit(auditor, 400, 100)
            await auditor.flush()
            rsyslog.start()  # the collector comes back on the same port
            everything = sum(
                len(file_lines(log_dir, n))
                for n in ("tool-blocks.jsonl", "auth-events.jsonl", "audit.jsonl")
            )
            rsyslog.wait_for_messages(everything, HANG_GUARD)
        received = rsyslog.wait_for_messages(everything + 1, HANG_GUARD)  # + audit_stopped
    finally:
        rsyslog.stop()

    source = {
        name: file_lines(log_dir, name)
        for name in ("tool-blocks.jsonl", "auth-events.jsonl", "audit.jsonl")
    }
    # Every line arrived, byte for byte; a duplicate is the same line again.
    counts = Counter(received)
    for name, lines in source.items():
        assert all(counts[line] >= 1 for line in lines), f"a line of {name} never arrived"
        arrived = [line for line in dict.fromkeys(received) if line in set(lines)]
        assert arrived == lines, f"{name} arrived out of order"
    extra = {line: n for line, n in counts.items() if n > 1}
    ids = [orjson.loads(line)["event_id"] for line in received]
    assert len(set(ids)) == len(dict.fromkeys(received))  # duplicates share their event_id
    assert len(received) - len(dict.fromkeys(received)) == sum(n - 1 for n in extra.values())
    assert len(file_lines(log_dir, "tool-blocks.jsonl")) == 500
