"""What a middleware costs per request: asgi_audit beside no middleware, two no-op
middlewares, asgi-correlation-id and auditlog-fastapi, on one trivial FastAPI route.

Part 1, in process: each app (``bench/apps.py``) is driven through raw ASGI in one
event loop, 5,000 sequential requests per repetition (1,000 with --quick), each
with its own scope, dropped after it as a server drops it, after
its lifespan has started through the ASGI lifespan protocol; for the auditing
contenders the time includes flushing every record to its JSONL file. Each
repetition is checked: every response is 200 with the expected body, and the
audit file holds exactly one parseable line per request, each path once. A
contender that fails a check is reported, never timed.

Part 2, over the network: each app is served by uvicorn on 127.0.0.1, with one
worker and then with two (``--workers``), and loaded by wrk (one thread, 32
connections) from a second process; after the server stops, the audit files must
hold a line for every response wrk counted. See ``bench/middleware_wrk.py``.

Contenders are interleaved: every round runs each one once, in an order rotated
per round, and each figure is a ratio to the baseline measured in the same round
(median, with min..max over the rounds).

    .venv/bin/python bench/middleware.py [--rounds R] [--quick] [--no-wrk] [--workers 1,2]
        [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from _report import failures_block, fmt_ratio, machine, markdown_table
from apps import CONTENDERS, Contender, expected_body, make_app
from middleware_wrk import (
    PATH_FIELD,
    VerificationError,
    WrkResult,
    WrkSettings,
    check_stopped_cleanly,
    read_records,
    run_wrk_part,
    wrk_table,
)
from starlette.types import ASGIApp, Message, Scope

BASELINE: Final = "none"
#: Untimed requests per repetition before the timed ones (warms the route and caches).
WARMUP_REQUESTS: Final = 200
WARMUP_FIRST_ID: Final = 1_000_000


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rotated(names: Sequence[str], round_no: int) -> list[str]:
    """``names`` starting at a different one each round."""
    shift = round_no % len(names)
    return [*names[shift:], *names[:shift]]


# ------------------------------------------------------------------ raw ASGI


def http_scope(item_id: int, state: dict[str, Any]) -> Scope:
    """The scope uvicorn gives a ``GET /items/{item_id}``."""
    path = f"/items/{item_id}"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40_000 + item_id % 20_000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"middleware-bench/1.0")],
        "state": state.copy(),
    }


class Exchange:
    """One request's ``receive`` and ``send``, behaving as uvicorn's do."""

    __slots__ = ("_done", "_read", "complete", "messages")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.complete = False
        self._read = False
        self._done: asyncio.Event | None = None

    async def receive(self) -> Message:
        if not self._read:
            self._read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Once the body is read, a server's receive waits for the response to
        # complete (or the client to leave), then reports a disconnect.
        if not self.complete:
            if self._done is None:
                self._done = asyncio.Event()
            await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
            if self._done is not None:
                self._done.set()

    def check(self, item_id: int) -> None:
        start = self.messages[0] if self.messages else {}
        if start.get("type") != "http.response.start" or start.get("status") != 200:
            raise VerificationError(f"/items/{item_id}: response started with {start!r}")
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        if not self.complete or json.loads(body) != expected_body(item_id):
            raise VerificationError(f"/items/{item_id}: unexpected body {body[:200]!r}")


class Lifespan:
    """Runs an app's lifespan through the ASGI lifespan protocol, as a server does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _step(self, kind: str) -> None:
        assert self._task is not None
        await self._inbox.put({"type": f"lifespan.{kind}"})
        reply = asyncio.ensure_future(self._outbox.get())
        done, _ = await asyncio.wait({reply, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if reply not in done:
            reply.cancel()
            self._task.result()  # raises what the app raised
            raise RuntimeError(f"the app returned before lifespan.{kind}.complete")
        message = reply.result()
        if message["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(f"lifespan.{kind} answered {message!r}")

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state

        async def run() -> None:
            await self.app(scope, self._inbox.get, self._outbox.put)

        self._task = asyncio.create_task(run())
        await self._step("startup")

    async def shutdown(self) -> None:
        await self._step("shutdown")
        assert self._task is not None
        await self._task


def check_records(name: str, records: list[dict[str, Any]], item_ids: range) -> None:
    """Exactly one 200 record per request of ``item_ids``."""
    if len(records) != len(item_ids):
        raise VerificationError(f"{len(records)} records for {len(item_ids)} requests")
    field = PATH_FIELD[name]
    paths = Counter(str(r.get(field)) for r in records)
    expected = Counter(f"/items/{i}" for i in item_ids)
    if paths != expected:
        odd = sorted(map(str, (paths - expected) + (expected - paths)))[:3]
        raise VerificationError(f"recorded paths differ from the requests, e.g. {odd}")
    statuses = Counter(r.get("status_code") for r in records)
    if statuses != Counter({200: len(item_ids)}):
        raise VerificationError(f"recorded statuses {dict(statuses)}")


async def drive(app: ASGIApp, item_ids: range, state: dict[str, Any]) -> list[Exchange]:
    """Sends each request and awaits its response, one after the other."""
    exchanges = []
    for item_id in item_ids:
        exchange = Exchange()
        await app(http_scope(item_id, state), exchange.receive, exchange.send)
        exchanges.append(exchange)
    return exchanges


async def repetition(contender: Contender, requests: int) -> float:
    """Seconds for ``requests`` requests (and flushing their records), checked."""
    app, lifespan = contender.app, Lifespan(contender.app)
    await lifespan.startup()
    try:
        warmup = range(WARMUP_FIRST_ID, WARMUP_FIRST_ID + WARMUP_REQUESTS)
        for item_id, exchange in zip(warmup, await drive(app, warmup, lifespan.state), strict=True):
            exchange.check(item_id)
        if contender.flush is not None:
            await contender.flush()
        log_file = contender.log_file
        before = len(read_records(log_file)) if log_file is not None else 0
        item_ids = range(requests)
        exchanges = [Exchange() for _ in item_ids]
        state = lifespan.state
        gc.collect()
        start = time.perf_counter()
        # Each scope is made for its request and dropped after it, as a server
        # does: scopes kept alive would keep whatever the app and the middleware
        # put in them, and the garbage collector's work on those would be timed.
        for item_id, exchange in zip(item_ids, exchanges, strict=True):
            await app(http_scope(item_id, state), exchange.receive, exchange.send)
        if contender.flush is not None:
            await contender.flush()
        elapsed = time.perf_counter() - start
        for item_id, exchange in zip(item_ids, exchanges, strict=True):
            exchange.check(item_id)
        if log_file is not None:
            check_records(contender.name, read_records(log_file, before), item_ids)
    finally:
        await lifespan.shutdown()
    if contender.name == "asgi_audit" and log_file is not None:
        check_stopped_cleanly(log_file)
    return elapsed


def run_in_process(rounds: int, requests: int, failures: dict[str, str]) -> dict[str, list[float]]:
    """Seconds per repetition of every contender that passed its checks."""
    seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for round_no in range(rounds):
        for name in rotated(CONTENDERS, round_no):
            if name not in seconds:
                continue
            with tempfile.TemporaryDirectory(prefix="middleware-bench-") as tmp:
                try:
                    elapsed = asyncio.run(repetition(make_app(name, Path(tmp)), requests))
                except Exception as exc:
                    failures[f"{name} (in process)"] = f"{type(exc).__name__}: {exc}"
                    del seconds[name]
                    log(f"  round {round_no + 1}: {name} FAILED: {exc}")
                    continue
            seconds[name].append(elapsed)
            log(f"  round {round_no + 1}: {name:<20} {elapsed * 1e6 / requests:8.1f} us/request")
    return seconds


def in_process_table(seconds: dict[str, list[float]], requests: int) -> str:
    base = seconds.get(BASELINE)
    rows = []
    for name in CONTENDERS:
        values = seconds.get(name)
        if not values:
            rows.append([name, "failed verification", "-", "-"])
            continue
        per_request = statistics.median(values) * 1e6 / requests
        if base:
            added = (
                statistics.median(v - b for v, b in zip(values, base, strict=True)) * 1e6 / requests
            )
            rows.append([name, f"{per_request:.1f}", f"{added:+.1f}", fmt_ratio(values, base)])
        else:
            rows.append([name, f"{per_request:.1f}", "-", "-"])
    return markdown_table(
        [
            "contender",
            "µs per request (median)",
            "added µs vs none (median of rounds)",
            "time vs none",
        ],
        rows,
    )


# ------------------------------------------------------------------ main


def _worker_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(item) for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be at least 1: {text!r}")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of each part (default 5, and 2 per worker count; --quick 3 and 1)",
    )
    parser.add_argument("--quick", action="store_true", help="a short run, about 30 s")
    parser.add_argument("--no-wrk", action="store_true", help="skip the uvicorn + wrk part")
    parser.add_argument(
        "--workers",
        type=_worker_counts,
        default=(1, 2),
        metavar="N[,N...]",
        help="uvicorn worker counts of the wrk part, each run in turn (default 1,2)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw numbers here")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    requests = 1_000 if args.quick else 5_000
    rounds = args.rounds or (3 if args.quick else 5)
    wrk_settings = [
        WrkSettings(
            rounds=args.rounds or (1 if args.quick else 2),
            duration_s=3 if args.quick else 8,
            warmup_s=0 if args.quick else 1,
            workers=workers,
        )
        for workers in args.workers
    ]
    started = time.perf_counter()
    failures: dict[str, str] = {}

    log(f"in process: {rounds} rounds of {requests} requests per contender")
    seconds = run_in_process(rounds, requests, failures)
    wrk_parts: list[tuple[WrkSettings, dict[str, list[WrkResult]]]] = []
    if not args.no_wrk:
        for wrk in wrk_settings:
            log(
                f"uvicorn ({wrk.workers} worker(s)) + wrk: {wrk.rounds} rounds of "
                f"{wrk.duration_s}s per contender"
            )
            wrk_parts.append((wrk, run_wrk_part(wrk, failures)))
    runtime = time.perf_counter() - started

    print(machine())
    print()
    print(
        f"## In process, raw ASGI: {requests} sequential requests per repetition, "
        f"{plural(rounds, 'round')}; records flushed to their file inside the timing"
    )
    print()
    print(in_process_table(seconds, requests))
    for wrk, wrk_runs in wrk_parts:
        warmup = f" after a {wrk.warmup_s}s warm-up" if wrk.warmup_s else ""
        workers = "1 worker" if wrk.workers == 1 else f"{wrk.workers} workers"
        print()
        print(
            f"## uvicorn ({workers}, h11) + wrk -t1 -c32 -d{wrk.duration_s}s on 127.0.0.1"
            f"{warmup}, {plural(wrk.rounds, 'round')}; server and wrk share the machine's "
            f"{os.cpu_count()} cores, unpinned"
        )
        print()
        print(wrk_table(wrk_runs))
        base = [r.requests_per_s for r in wrk_runs.get(BASELINE, [])]
        if base:
            print()
            print(
                f"Baseline (none, {workers}): {statistics.median(base):.0f} req/s, "
                f"{min(base):.0f}..{max(base):.0f} over the rounds."
            )
    print()
    print("## Failures")
    print()
    print(failures_block(failures) or "none")
    log(f"runtime {runtime:.0f}s")
    if args.json is not None:
        raw = {
            "machine": machine(),
            "runtime_s": round(runtime, 1),
            "in_process": {"requests": requests, "rounds": rounds, "seconds": seconds},
            # One entry per worker count, in the order run.
            "wrk": [
                {
                    "settings": vars(wrk),
                    "runs": {n: [vars(r) for r in runs] for n, runs in wrk_runs.items()},
                }
                for wrk, wrk_runs in wrk_parts
            ],
            "failures": failures,
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
