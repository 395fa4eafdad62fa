"""Helpers shared by the tests: reading what the writer put in a file."""

from __future__ import annotations

import gzip
import json
import multiprocessing.process
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON Lines file, parsed; [] when the file does not exist.

    Fails when the file ends inside a line or a line is not one JSON object.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    assert data.endswith(b"\n") or not data, "the file ends inside a line"
    events = []
    for line in data.split(b"\n")[:-1]:
        event = json.loads(line)
        assert isinstance(event, dict)
        events.append(event)
    return events


#: The ledger: one signed record a line, never rotated; sinks deliver its lines too.
LEDGER: Final = "checkpoints.log"


def is_ledger_line(line: bytes | str) -> bool:
    """Whether a line is a ledger record (``n`` and ``sig``) rather than an event (``event_id``)."""
    record = json.loads(line)
    return isinstance(record, dict) and "sig" in record and "event_id" not in record


def join_all(processes: Sequence[multiprocessing.process.BaseProcess], deadline_s: float) -> None:
    """Wait for child processes (a bound on a hang, never on speed); all must exit 0.

    One still running after ``deadline_s`` is killed and the test fails naming it.
    """
    deadline = time.monotonic() + deadline_s
    for process in processes:
        process.join(timeout=max(deadline - time.monotonic(), 0.1))
    hung = [p.name for p in processes if p.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert not hung, f"processes still running after {deadline_s}s: {hung}"
    assert [p.exitcode for p in processes] == [0] * len(processes)


#: ``<file>.<UTC YYYYmmdd_HHMMSS>[.N].rotated[.gz]``
ROTATED_RE: Final = re.compile(
    r"(?P<file>[a-z0-9][a-z0-9_-]*\.jsonl)\.(?P<stamp>\d{8}_\d{6})(?:\.(?P<n>\d+))?"
    r"\.rotated(?P<gz>\.gz)?"
)


def whole_lines(path: Path) -> list[bytes]:
    """The lines of a current or rotated file (gunzipped); fails on a partial last line."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n") or not data, f"{path.name} ends inside a line"
    return data.split(b"\n")[:-1]


def rotation_key(path: Path) -> tuple[str, int]:
    """How rotated files order: by their stamp, then their ``.N``."""
    match = ROTATED_RE.fullmatch(path.name)
    assert match, path.name
    return match["stamp"], int(match["n"] or 0)


#: The one report a first start makes on purpose: it made the sealing key.
KEY_MADE: Final = "made a forward-secure sealing key for"


def reports(stderr: str) -> list[str]:
    """The library's reports in ``stderr`` (``--- asgi_audit: ... ---``), except the
    first start's notice that it made the directory's sealing key."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("--- asgi_audit:") and KEY_MADE not in line
    ]


def debug_allocator_output(script: str, *args: str) -> str:
    """``script`` run by ``python -c`` under Python's debug allocator (which
    overwrites freed memory at once): its standard output, stripped; the test
    fails if it exits with an error."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**os.environ, "PYTHONMALLOC": "debug"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


class ChainsOnly:
    """What a run on the writer's lane asks of the writer's files when it appends
    to none (``LaneRun(..., direct=False)``): each category's chain, from
    ``chain_for``, and no ledger."""

    proof = None

    def __init__(self, chain_for: Any) -> None:
        self.chain = chain_for


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every path of keys in a JSON document (``/event/outcome``), objects included."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in key_paths(v, f"{prefix}/{k}")} | {prefix}
    return {prefix}
