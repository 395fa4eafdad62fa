"""Build a large sealed trail to measure the commands that read one (``query``, ``sql``,
``export --parquet``) on: real events through a real Auditor, rotated and gzipped as a
production deployment rotates them.

    .venv/bin/python bench/trail.py DIR [--gb 3] [--rotate-mb 64] [--seed 1]

``--gb`` counts the event lines (a gzipped file counts what it holds), not the bytes
on disk.

The mix, by share of events: api_access 70% (GET/POST on 40 paths, 2xx-5xx),
login_attempt 12% (a quarter failed), data_access 8%, tool_blocked 5%,
injection_attempt 5%; 5,000 users, 2,000 client addresses, 300 agents. Every field
value comes from a seeded generator, so two runs with one seed hold the same events
(their times and ids differ). The trail is sealed forward-secure; its keys are in
``DIR.keys`` beside it (``asgi-audit verify`` finds them there).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import anyio

from asgi_audit import Auditor


def _size(log_dir: Path) -> int:
    """The bytes of event lines in ``log_dir``: a ``.gz`` file counts what it holds
    (the size its gzip trailer records: the files are far below 4 GiB)."""
    total = 0
    for p in log_dir.iterdir():
        if p.name.endswith(".gz"):
            with p.open("rb") as fh:
                fh.seek(-4, 2)
                total += int.from_bytes(fh.read(4), "little")
        elif p.is_file():
            total += p.stat().st_size
    return total


def _on_disk(log_dir: Path) -> int:
    return sum(p.stat().st_size for p in log_dir.iterdir() if p.is_file())


async def build(log_dir: Path, gb: float, rotate_mb: float, seed: int) -> int:
    rng = random.Random(seed)
    users = [f"user-{n:05d}" for n in range(5000)]
    ips = [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(2000)]
    agents = [f"agent-{n:03d}" for n in range(300)]
    paths = [f"/api/v1/resource{n}/items" for n in range(40)]
    statuses = [200] * 80 + [201] * 6 + [204] * 4 + [401] * 3 + [403] * 3 + [404] * 3 + [500]
    target = int(gb * 2**30)
    events = 0
    async with Auditor(
        log_dir=log_dir,
        key_dir=log_dir.with_name(log_dir.name + ".keys"),
        rotate_max_mb=rotate_mb,
        compress_rotated=True,
        queue_capacity=100_000,
    ) as auditor:
        while True:
            for _ in range(20_000):
                roll = rng.random()
                user = rng.choice(users)
                ip = rng.choice(ips)
                if roll < 0.70:
                    await auditor.api_access(
                        method="GET" if rng.random() < 0.8 else "POST",
                        request_path=rng.choice(paths),
                        status_code=rng.choice(statuses),
                        duration_ms=round(rng.expovariate(1 / 12), 3),
                        user_id=user,
                        ip_address=ip,
                        request_id=f"{rng.getrandbits(128):032x}",
                    )
                elif roll < 0.82:
                    await auditor.login_attempt(
                        "failed" if rng.random() < 0.25 else "success",
                        user_id=user,
                        ip_address=ip,
                    )
                elif roll < 0.90:
                    await auditor.data_access(
                        "patient",
                        f"p-{rng.randrange(100_000)}",
                        action=rng.choice(("read", "read", "read", "export", "update")),
                        purpose="treatment",
                        user_id=user,
                        ip_address=ip,
                    )
                elif roll < 0.95:
                    await auditor.tool_blocked(
                        tool_name=rng.choice(("read_file", "write_file", "shell")),
                        blocked_path=f"/etc/secret-{rng.randrange(50)}",
                        blocked_reason="outside the sandbox",
                        agent_id=rng.choice(agents),
                    )
                else:
                    await auditor.injection_attempt(
                        rule_name="ignore_previous_instructions",
                        severity=rng.choice(("LOW", "MEDIUM", "HIGH", "CRITICAL")),
                        agent_id=rng.choice(agents),
                        matched_text="ignore all previous instructions",
                    )
                events += 1
            await auditor.flush()
            if _size(log_dir) >= target:
                break
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log_dir", type=Path)
    parser.add_argument("--gb", type=float, default=3.0, help="GiB of event lines to write")
    parser.add_argument("--rotate-mb", type=float, default=64.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.log_dir.exists() and any(args.log_dir.iterdir()):
        print(f"{args.log_dir} is not empty", file=sys.stderr)
        return 2
    start = time.perf_counter()
    events = anyio.run(build, args.log_dir, args.gb, args.rotate_mb, args.seed)
    took = time.perf_counter() - start
    lines, disk = _size(args.log_dir) / 2**30, _on_disk(args.log_dir) / 2**30
    print(f"{events:,} events, {lines:.2f} GiB of lines, {disk:.2f} GiB on disk, {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
