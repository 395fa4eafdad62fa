"""``asgi-audit sql`` and ``export --parquet`` against ``asgi-audit query`` on one
large trail, side by side: each command a real process, the rounds interleaved (the
order rotated each round), wall time and peak memory (the child's own ``ru_maxrss``)
per run, medians over the rounds.

    .venv/bin/python bench/trail.py TRAIL --gb 3   # once: build the trail in TRAIL, a new directory
    .venv/bin/python bench/trail_sql.py TRAIL [--rounds 2]

Two questions, asked of each command the way it can answer them:

A. the failed logins from one address (a needle: a few dozen events);
B. the failed logins, all of them (a sixth of a million), counted.

``query`` answers both by printing the matching lines (counted by the bench, not
printed); ``sql`` by one SELECT, once after checking the trail (the default) and
once with ``--no-verify``; ``verify`` alone is the check's cost. ``export --parquet``
writes the checked trail once; DuckDB then answers A and B from the archive. Every
run's answer is checked against the others before any time is reported: a command
that answers otherwise is listed as failing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Final

IP: Final = "198.51.3.7"
CLI: Final = [sys.executable, "-m", "asgi_audit"]
SQL_A: Final = (
    "SELECT count(*) AS n FROM events WHERE event_type = 'login_attempt' "
    f"AND outcome = 'failed' AND ip_address = '{IP}'"
)
SQL_B: Final = (
    "SELECT count(*) AS n FROM events WHERE event_type = 'login_attempt' AND outcome = 'failed'"
)
PARQUET_A: Final = (
    "SELECT count(*) FROM read_parquet('{archive}') WHERE event_type = 'login_attempt' "
    f"AND outcome = 'failed' AND ip_address = '{IP}'"
)
PARQUET_B: Final = (
    "SELECT count(*) FROM read_parquet('{archive}') WHERE event_type = 'login_attempt' "
    "AND outcome = 'failed'"
)


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """Wall seconds, the child's peak RSS (KiB), and its stdout's line count (as
    text) when it printed more than one line, else its stdout.

    The output is never held whole: a child's ``ru_maxrss`` starts at its parent's
    size when it was forked, so this process must stay small.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            said = err.read().decode(errors="replace")
            raise RuntimeError(f"{argv[3:5]} exited {code}: {said[-500:]}")
        out.seek(0)
        lines = 0
        first = b""
        while chunk := out.read(1 << 20):
            first = first or chunk[:4096]
            lines += chunk.count(b"\n")
        return took, usage.ru_maxrss, first if lines <= 1 else str(lines).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trail", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    trail: Path = args.trail
    key = str(trail.with_name(trail.name + ".keys") / "verification.key")
    env = {**os.environ, "ASGI_AUDIT_RECORD_ACCESS": "off"}
    work = Path(tempfile.mkdtemp(prefix="trail-sql-"))
    archive = work / "trail.parquet"
    checked = ["--verification-key", key]

    def count_lines(out: bytes) -> int:
        return int(out) if out.strip().isdigit() else out.count(b"\n")

    def sql_count(out: bytes) -> int:
        return int(json.loads(out)["n"])

    script = "import duckdb, sys; print(duckdb.execute(sys.argv[1]).fetchone()[0])"
    duck = [sys.executable, "-c", script]
    contenders = {
        "verify": ([*CLI, "verify", str(trail), *checked], None, None),
        "query A": ([*CLI, "query", str(trail), "-t", "login_attempt", "--outcome", "failed",
                           "--ip", IP], "A", count_lines),
        "query B": ([*CLI, "query", str(trail), "-t", "login_attempt", "--outcome", "failed"],
                    "B", count_lines),
        "sql A": ([*CLI, "sql", SQL_A, str(trail), "--format", "jsonl", *checked], "A", sql_count),
        "sql B": ([*CLI, "sql", SQL_B, str(trail), "--format", "jsonl", *checked], "B", sql_count),
        "sql A --no-verify": ([*CLI, "sql", SQL_A, str(trail), "--format", "jsonl",
                                     "--no-verify"], "A", sql_count),
        "sql B --no-verify": ([*CLI, "sql", SQL_B, str(trail), "--format", "jsonl",
                                     "--no-verify"], "B", sql_count),
        "export --parquet": ([*CLI, "export", str(trail), "--parquet", str(archive), *checked],
                             None, None),
        "archive A": ([*duck, PARQUET_A.format(archive=archive)], "A", lambda o: int(o)),
        "archive B": ([*duck, PARQUET_B.format(archive=archive)], "B", lambda o: int(o)),
    }  # fmt: skip
    times: dict[str, list[float]] = defaultdict(list)
    memory: dict[str, list[int]] = defaultdict(list)
    answers: dict[str, dict[str, int]] = defaultdict(dict)
    names = list(contenders)
    for round_no in range(args.rounds):
        # Rotate the order, but an archive query always after an export.
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        order = [n for n in order if not n.startswith("archive")] + ["archive A", "archive B"]
        if archive.exists():
            archive.unlink()
        for name in order:
            argv, question, answer = contenders[name]
            took, rss, out = run(argv, env)
            times[name].append(took)
            memory[name].append(rss)
            if question is not None and answer is not None:
                answers[question][name] = answer(out)
            print(f"round {round_no + 1} {name}: {took:.1f} s, {rss / 1024:.0f} MiB", flush=True)
    for question, found in answers.items():
        if len(set(found.values())) != 1:
            print(f"ANSWERS DIFFER for {question}: {found}")
            return 1
    size = sum(p.stat().st_size for p in trail.iterdir() if p.is_file()) / 2**30
    said = ", ".join(f"{q} {next(iter(f.values())):,}" for q, f in sorted(answers.items()))
    print(f"\ntrail: {trail} ({size:.2f} GiB on disk); answers: {said}")
    print(f"{args.rounds} rounds, medians; ratio: to query of the same question\n")
    print("| command | wall s | peak MiB | vs query |")
    print("|---|---:|---:|---:|")
    base = {q: statistics.median(times[f"query {q}"]) for q in ("A", "B")}
    for name in names:
        t = statistics.median(times[name])
        question = contenders[name][1]
        ratio = f"{t / base[question]:.2f}x" if question else "-"
        print(f"| `{name}` | {t:.1f} | {statistics.median(memory[name]) / 1024:.0f} | {ratio} |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
