"""Where asgi_audit's microseconds per request go, in process: the middleware's own
work, the record's capture, and the record's hand-over to the writer.

``bench/middleware.py`` gives the middleware's cost as a whole; this script takes
it apart. It drives the same app (one trivial FastAPI route, ``bench/apps.py``)
through raw ASGI in one event loop, 5,000 sequential requests per repetition,
with these variants beside each other in every round:

``none``
    no middleware: the baseline.
``asgi_correlation_id``
    the reference the issue compares with.
``excluded``
    ``AuditMiddleware`` with the route's path excluded: the request's context,
    its request id header, ``Depends(audit_context)``'s cell and the wrapped
    ``receive`` and ``send``; no record.
``captured``
    every record is made, then handed to a capture that drops it instead of
    the stream: the record's capture without its hand-over to the writer.
``asgi_audit``
    the whole thing, as ``bench/middleware.py`` runs it (redaction and the
    integrity chain on), the records flushed to the file within the time.

Beside each figure: the event loop thread's CPU per request and every other
thread's (from ``/proc/self/task``, so Linux only), and how many collections of
the garbage collector's young generation ran. A diagnostic, not part of
``make bench``::

    .venv/bin/python bench/middleware_parts.py [--rounds R] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from _report import markdown_table
from apps import _add_route, make_app
from fastapi import FastAPI
from middleware import Lifespan, drive, rotated
from starlette.types import ASGIApp

from asgi_audit import AuditMiddleware, Auditor

VARIANTS: Final = ("none", "asgi_correlation_id", "excluded", "captured", "asgi_audit")
WARMUP: Final = range(1_000_000, 1_000_300)


@dataclass
class Variant:
    app: ASGIApp
    flush: Callable[[], Awaitable[None]] | None = None


@dataclass
class Sample:
    us: float  # wall time per request
    loop_us: float  # the event loop thread's CPU per request
    others_us: float  # every other thread's CPU per request
    young: int  # young-generation collections


def _audited(log_dir: Path, **middleware: Any) -> tuple[Auditor, FastAPI]:
    auditor = Auditor(log_dir=log_dir)
    app = FastAPI(lifespan=auditor.lifespan)
    app.add_middleware(AuditMiddleware, auditor=auditor, **middleware)
    _add_route(app)
    return auditor, app


def variant(name: str, log_dir: Path) -> Variant:
    if name == "excluded":
        auditor, app = _audited(log_dir, exclude=("/items/*",))
        return Variant(app, auditor.flush)
    if name == "captured":
        auditor, app = _audited(log_dir)
        # What asgi_audit.testing.capture_events does, minus the pipeline: every
        # event goes to this tap instead of the stream.
        auditor._taps.append(lambda raw: None)
        return Variant(app, auditor.flush)
    contender = make_app(name, log_dir)
    return Variant(contender.app, contender.flush)


def thread_cpu_ns() -> dict[int, int]:
    """Each thread's user and system CPU (clock ticks, as nanoseconds)."""
    tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    found = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended in between
        found[int(tid)] = (int(fields[11]) + int(fields[12])) * tick_ns
    return found


async def repetition(name: str, requests: int) -> Sample:
    with tempfile.TemporaryDirectory(prefix="middleware-parts-") as tmp:
        built = variant(name, Path(tmp))
        lifespan = Lifespan(built.app)
        await lifespan.startup()
        try:
            await drive(built.app, WARMUP, lifespan.state)
            if built.flush is not None:
                await built.flush()
            gc.collect()
            young = gc.get_stats()[0]["collections"]
            cpu = thread_cpu_ns()
            start = time.perf_counter()
            await drive(built.app, range(requests), lifespan.state)
            if built.flush is not None:
                await built.flush()
            elapsed = time.perf_counter() - start
            after = thread_cpu_ns()
            young = gc.get_stats()[0]["collections"] - young
        finally:
            await lifespan.shutdown()
    loop = os.getpid()  # the main thread's id: it runs the event loop here
    loop_ns = after.get(loop, 0) - cpu.get(loop, 0)
    others_ns = sum(v - cpu.get(t, 0) for t, v in after.items() if t != loop)
    per = 1e3 * requests
    return Sample(elapsed * 1e6 / requests, loop_ns / per, others_ns / per, young)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args()
    samples: dict[str, list[Sample]] = {name: [] for name in VARIANTS}
    for round_no in range(args.rounds):
        for name in rotated(VARIANTS, round_no):
            samples[name].append(asyncio.run(repetition(name, args.requests)))
        print(f"round {round_no + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    base = statistics.median(s.us for s in samples["none"])
    rows = []
    for name in VARIANTS:
        got = samples[name]
        us = statistics.median(s.us for s in got)
        rows.append(
            [
                name,
                f"{us:.1f}",
                f"+{us - base:.1f}",
                f"{us / base:.2f}x",
                f"{statistics.median(s.loop_us for s in got):.1f}",
                f"{statistics.median(s.others_us for s in got):.1f}",
                str(int(statistics.median(s.young for s in got))),
            ]
        )
    header = ["variant", "µs/request", "added µs", "× none", "loop CPU µs", "others' CPU µs"]
    print(markdown_table([*header, "young collections"], rows))
    print(
        f"\nMedians of {args.rounds} rounds of {args.requests:,} requests; CPU from"
        " /proc/self/task, in clock ticks."
    )


if __name__ == "__main__":
    main()
