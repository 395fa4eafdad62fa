"""Quick side-by-side measure of the emit path (the full bench suite comes later).

Runs, in one process and interleaved, N ``tool_blocked`` events through
asgi_audit with its defaults, and the physical limit (the same events encoded
with orjson and appended with one write per batch in one thread). Prints the
caller's per-call cost (p50, p99) and the end-to-end time as a ratio to the limit.

    .venv/bin/python bench/emit_quick.py [N] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from asgi_audit import Auditor

FIELDS = {
    "tool_name": "read_file",
    "blocked_path": "/home/user/.ssh/id_rsa",
    "blocked_reason": "SSH key file access denied",
    "agent_id": "agent-7",
}


async def run_asgi_audit(n: int, log_dir: Path) -> tuple[float, list[int]]:
    costs: list[int] = []
    auditor = Auditor(log_dir=log_dir, queue_capacity=n + 1)
    clock = time.perf_counter_ns
    async with auditor:
        start = clock()
        for _ in range(n):
            t0 = clock()
            await auditor.tool_blocked(**FIELDS)
            costs.append(clock() - t0)
        await auditor.flush()
        elapsed = (clock() - start) / 1e9
    return elapsed, costs


def run_limit(n: int, log_dir: Path) -> float:
    start = time.perf_counter_ns()
    lines = []
    for i in range(n):
        event = {"timestamp": "2026-11-28T10:36:10.016144+00:00", "epoch_ms": i, **FIELDS}
        lines.append(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    fd = os.open(log_dir / "limit.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, b"".join(lines))
    os.close(fd)
    return (time.perf_counter_ns() - start) / 1e9


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ratios, p50s, p99s = [], [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            limit = run_limit(n, Path(tmp))
            elapsed, costs = asyncio.run(run_asgi_audit(n, Path(tmp) / "audit"))
            written = (Path(tmp) / "audit" / "tool-blocks.jsonl").read_bytes().count(b"\n")
            if written != n:
                raise SystemExit(f"asgi_audit wrote {written} of {n} events: not timed")
        costs.sort()
        ratios.append(elapsed / limit)
        p50s.append(costs[len(costs) // 2] / 1000)
        p99s.append(costs[int(len(costs) * 0.99)] / 1000)
    print(f"events per round: {n}, rounds: {rounds}")
    print(
        f"caller per call: p50 {statistics.median(p50s):.2f} us, "
        f"p99 {statistics.median(p99s):.2f} us"
    )
    print(
        f"end-to-end time / physical limit: median {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x .. max {max(ratios):.1f}x)"
    )


if __name__ == "__main__":
    main()
