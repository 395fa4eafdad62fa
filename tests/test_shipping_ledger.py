"""A ledger record shipped off the host names a cut or a rollback of the log directory.

A real app (Starlette with the middleware, an Auditor sealing with keys in a key
directory of its own) writes events while its syslog sink ships over RELP to a real
rsyslogd (see :mod:`tests.rsyslog`). rsyslog's copy holds every record of the ledger
(``checkpoints.log``) byte for byte, in order, routed by MSGID ``ledger``; its last
one is the anchor.

Then someone who can write the directory, but holds no key, attacks it: cuts the
ledger's tail, or puts back a copy of the directory taken mid-run, and then cuts that
copy's ledger too. After the first two, every line and record left is one the app
sealed: without the anchor ``asgi-audit verify`` finds nothing wrong. With it, verify
exits 1 and names the ledger ``rolled back`` after each attack, while the untouched
directory verifies with exit 0 against the same anchor.

Waits are bounded polls; nothing asserts a duration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_audit import AuditMiddleware, Auditor
from asgi_audit.sinks.syslog import SyslogSink
from tests.helpers import LEDGER
from tests.rsyslog import RSYSLOGD, Rsyslog

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(RSYSLOGD is None, reason="rsyslogd is not installed"),
]
DEADLINE: Final = 60.0  # a bound on each wait and on each verify run, never an assertion
KEY_ENV: Final = "ASGI_AUDIT_KEY"
REQUESTS: Final = 40  # per part of the run
#: How verify prints the break an anchor past the ledger's end is (``file:line: kind``).
ROLLED_BACK: Final = f"{LEDGER}:0: rolled back (no stream): "


def local_lines(log_dir: Path) -> list[bytes]:
    """Every line of the ledger and of the category files, without newlines."""
    paths = [log_dir / LEDGER, *sorted(log_dir.glob("*.jsonl"))]
    return [line for path in paths for line in path.read_bytes().splitlines()]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def shipped_ledger(rsyslog: Rsyslog) -> list[bytes]:
    """The MSG of every message rsyslog read as MSGID ``ledger``, in the order received
    (once rsyslogd has stopped: both of its files are whole)."""
    messages, headers = rsyslog.messages(), rsyslog.header_records()
    return [m for m, h in zip(messages, headers, strict=True) if h["msgid"] == "ledger"]


def verify(log_dir: Path, key: Path, anchor: Path | None) -> subprocess.CompletedProcess[str]:
    argv = ["verify", "--verification-key", str(key)]
    if anchor is not None:
        argv += ["--anchor", str(anchor)]
    return subprocess.run(
        [sys.executable, "-m", "asgi_audit", *argv, str(log_dir)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != KEY_ENV},
        timeout=DEADLINE,
        check=False,
    )


def rolled_back(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The ``rolled back`` breaks verify printed."""
    return [line for line in result.stdout.splitlines() if line.startswith(ROLLED_BACK)]


def past_the_end(anchor: Path, n: int, ends: int) -> str:
    """The break verify prints when the anchor, record ``n``, is past the ledger's end."""
    return (
        f"{ROLLED_BACK}the anchor ({anchor}) is record n={n}; the ledger ends at n={ends}: "
        "records were cut, or the directory was rolled back to an earlier copy"
    )


def cut_ledger(log_dir: Path, records: int) -> int:
    """Remove the last ``records`` lines of the ledger; the ``n`` it ends at now."""
    path = log_dir / LEDGER
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) > records
    path.write_bytes(b"".join(lines[:-records]))
    last: int = orjson.loads(lines[-records - 1])["n"]
    return last


def restore(log_dir: Path, copy: Path) -> None:
    """The directory as ``copy`` holds it (same path, so the ledger's genesis still fits)."""
    shutil.rmtree(log_dir)
    shutil.copytree(copy, log_dir)


async def test_a_shipped_ledger_record_names_a_cut_or_a_rollback_of_the_directory(
    tmp_path: Path,
) -> None:
    log_dir, key_dir = tmp_path / "audit", tmp_path / "keys"
    (tmp_path / "rsyslog").mkdir()
    rsyslog = Rsyslog(tmp_path / "rsyslog", kind="relp")
    rsyslog.start()
    sink = SyslogSink("127.0.0.1", rsyslog.port, transport="relp", name="central", timeout=5)
    auditor = Auditor(log_dir=log_dir, key_dir=key_dir, sinks=[sink])

    async def read_file(request: Request) -> JSONResponse:
        await auditor.tool_blocked(tool_name="read_file", blocked_path=request.query_params["p"])
        return JSONResponse({"ok": False}, status_code=403)

    app = Starlette(
        routes=[Route("/read", read_file)],
        middleware=[Middleware(AuditMiddleware, auditor=auditor)],
        lifespan=lambda app: auditor.lifespan(app),
    )
    earlier = tmp_path / "earlier"
    try:
        transport = httpx.ASGITransport(app=app)
        async with auditor, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for i in range(REQUESTS):
                assert (await client.get("/read", params={"p": f"/srv/{i}"})).status_code == 403
            await auditor.flush()
            # Mid-run, with the sink caught up (so it writes no position file meanwhile),
            # a copy of the directory as it is: an old backup, or a snapshot.
            so_far = len(local_lines(log_dir))
            wait_until(lambda: len(rsyslog.messages()) >= so_far, "the sink to catch up")
            shutil.copytree(log_dir, earlier)
            for i in range(REQUESTS, 2 * REQUESTS):
                assert (await client.get("/read", params={"p": f"/srv/{i}"})).status_code == 403
            await auditor.flush()
        # Stopped: its last records (the shutdown's checkpoint, stop) were shipped too.
        everything = len(local_lines(log_dir))
        wait_until(lambda: len(rsyslog.messages()) >= everything, "everything to arrive")
        rsyslog.stop()  # flushes and closes its files
        shipped = shipped_ledger(rsyslog)
    finally:
        rsyslog.stop()

    # The shipped copy holds the ledger byte for byte, in order, each record once.
    ledger = (log_dir / LEDGER).read_bytes().splitlines()
    assert shipped == ledger
    assert len(rsyslog.messages()) == everything
    last = orjson.loads(shipped[-1])
    assert last["type"] == "stop"
    anchor = tmp_path / "anchor.log"  # what the auditors keep off the host
    anchor.write_bytes(shipped[-1] + b"\n")
    key = key_dir / "verification.key"
    assert key.is_file()
    untouched = tmp_path / "untouched"
    shutil.copytree(log_dir, untouched)

    def named_only_with_the_anchor(ends: int) -> None:
        # Every line and record left is as the app sealed it: verify finds nothing
        # wrong without the anchor, and with it exactly one break, the ledger's end.
        result = verify(log_dir, key, None)
        assert result.returncode == 0, result.stdout + result.stderr
        assert rolled_back(result) == []
        assert "note: no anchor given" in result.stdout
        result = verify(log_dir, key, anchor)
        assert result.returncode == 1, result.stdout + result.stderr
        assert rolled_back(result) == [past_the_end(anchor, last["n"], ends)]
        assert "ALTERED: 1 break in " in result.stdout

    # Untouched: nothing to name, against the anchor too.
    result = verify(log_dir, key, anchor)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rolled_back(result) == []

    # The ledger's tail cut (the shutdown's checkpoint and stop).
    named_only_with_the_anchor(cut_ledger(log_dir, 2))

    # The directory put back as the copy taken mid-run held it.
    restore(log_dir, earlier)
    earlier_ends = orjson.loads((log_dir / LEDGER).read_bytes().splitlines()[-1])["n"]
    assert earlier_ends < last["n"]
    named_only_with_the_anchor(earlier_ends)

    # ... and that copy's ledger cut as well: whatever else verify finds (the record
    # cut may have announced a stream), it names the ledger's end.
    ends = cut_ledger(log_dir, 1)
    result = verify(log_dir, key, anchor)
    assert result.returncode == 1, result.stdout + result.stderr
    assert rolled_back(result) == [past_the_end(anchor, last["n"], ends)]

    # Put back as it was, the directory holds against the anchor again.
    restore(log_dir, untouched)
    result = verify(log_dir, key, anchor)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rolled_back(result) == []
