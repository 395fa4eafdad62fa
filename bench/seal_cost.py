"""Cost of sealing a line: the reference (Python) against the compiled core.

10,000 encoded lines of about 400 bytes, sealed by a keyed chain: microseconds
per line for ``Chain.seal`` in a loop on the reference (``ASGI_AUDIT_PURE=1``),
the same loop on the compiled core, and ``Chain.seal_many`` over the whole list
on the core; then the core's loop on a chain whose tree already holds 2**20 - 1
lines (twenty subtree roots, the most a line merges), and an unkeyed chain.
The best of ROUNDS runs; without the core (``make native``), only the
reference is measured.

    .venv/bin/python bench/seal_cost.py [ROUNDS]
"""

from __future__ import annotations

import os
import sys
import timeit
from collections.abc import Callable

import orjson

from asgi_audit.proof.integrity import Chain
from asgi_audit.proof.merkle import Frontier
from asgi_audit.record import engine

LINES = 10_000
KEY = b"k" * 32


def lines() -> list[bytes]:
    event = {
        "timestamp": "2026-11-28T10:36:10.013657+00:00",
        "event_type": "api_access",
        "category": "api_audit",
        "client_ip": "203.0.113.7",
        "method": "POST",
        "path": "/v1/orders/8472/items",
        "status_code": 201,
        "duration_ms": 12.5,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        "details": {"request_id": "4f1c2a9e-77b0-4d3b-9a52-0b6f3e1d2c8a", "bytes": 1834},
        "stream": "0123456789abcdef",
    }
    out = []
    for seq in range(1, LINES + 1):
        out.append(orjson.dumps({**event, "seq": seq, "note": "x"}) + b"\n")
    return out


def chain(key: bytes | None, pure: bool, size: int = 0) -> Chain:
    saved = os.environ.get(engine.PURE_VARIABLE)
    os.environ[engine.PURE_VARIABLE] = "1" if pure else ""
    try:
        made = Chain(key, stream_id="0123456789abcdef")
    finally:
        if saved is None:
            del os.environ[engine.PURE_VARIABLE]
        else:
            os.environ[engine.PURE_VARIABLE] = saved
    if size:
        made.tree = Frontier.from_list(size, [bytes(32)] * bin(size).count("1"))
    return made


def per_line(run: Callable[[], object], rounds: int) -> float:
    return min(timeit.repeat(run, number=1, repeat=rounds)) / LINES * 1e6


def report(name: str, run: Callable[[], object], rounds: int) -> None:
    print(f"{name:<34} {per_line(run, rounds):6.3f} µs/line")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    batch = lines()
    print(f"{LINES} lines of {sum(map(len, batch)) // LINES} bytes, best of {rounds}")
    pure, plain_pure = chain(KEY, pure=True), chain(None, pure=True)
    report("seal loop, reference", lambda: [pure.seal(x) for x in batch], rounds)
    report("seal loop, reference, unkeyed", lambda: [plain_pure.seal(x) for x in batch], rounds)
    if not engine.native_available():
        print("no compiled core: `make native` builds it")
        return
    native, many, plain = chain(KEY, pure=False), chain(KEY, pure=False), chain(None, pure=False)
    report("seal loop, core", lambda: [native.seal(x) for x in batch], rounds)
    report("seal_many, core", lambda: many.seal_many(batch), rounds)
    report("seal loop, core, unkeyed", lambda: [plain.seal(x) for x in batch], rounds)
    deep = chain(KEY, pure=False)

    def deep_loop() -> None:
        # From 2**20 - 1 lines each round: the first line merges twenty roots.
        deep.tree = Frontier.from_list(2**20 - 1, [bytes(32)] * 20)
        for x in batch:
            deep.seal(x)

    report("seal loop, core, from 2**20 - 1", deep_loop, rounds)


if __name__ == "__main__":
    main()
