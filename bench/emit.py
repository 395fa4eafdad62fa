"""The emit benchmark: the same structured events through every contender, side by side.

N events from an asyncio program, cycling through ``login_attempt``,
``injection_attempt``, ``tool_blocked`` and ``api_access`` with varied content,
go through the physical limit (orjson and one write per batch), the design
being replaced, stdlib logging with python-json-logger, structlog, loguru and
asgi_audit in three configurations. Repetitions are interleaved, the order
rotated each round, each run in a fresh temporary directory, and every run's
output is read back and checked before its time counts. Then asgi_audit alone:
its callers (awaited, sync facade), a writer stalled by another process holding
the file lock (``block`` and ``drop``), and the memory held while it is stalled.

    .venv/bin/python bench/emit.py [--n N] [--rounds R] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from _report import failures_block, fmt_ratio, machine, markdown_table, ratio_summary
from emit_contenders import (
    CALLERS,
    CONTENDERS,
    LIMIT,
    Contender,
    Event,
    Timing,
    auditor_settings,
    make_events,
    verify,
)

from asgi_audit import Auditor
from asgi_audit.record.events import CATEGORY_FILES

# Holds an exclusive flock on a file for some seconds: another process stalling the writer.
_HOLDER = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
)
# Starts a command. ru_maxrss survives exec(), so a child started straight from this
# (large) process would report this process's peak; one started by a small process
# reports its own.
_LAUNCHER = "import subprocess, sys\nsys.exit(subprocess.call([sys.executable, *sys.argv[1:]]))"

Costs = tuple[float, float, float]


def percentiles(costs: Sequence[int]) -> Costs:
    """p50, p99 and max in microseconds."""
    ordered = sorted(costs) or [0]
    n = len(ordered)
    return ordered[n // 2] / 1e3, ordered[min(n - 1, int(n * 0.99))] / 1e3, ordered[-1] / 1e3


def summarise(per_round: Sequence[Costs]) -> Costs:
    """Median p50 and p99 over the rounds, and the largest max."""
    return (
        statistics.median(r[0] for r in per_round),
        statistics.median(r[1] for r in per_round),
        max(r[2] for r in per_round),
    )


def _run_one(contender: Contender, events: Sequence[Event]) -> tuple[Timing | None, str | None]:
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="emit-") as tmp:
        try:
            timing = asyncio.run(contender.run(events, Path(tmp)))
            problem = verify(contender, Path(tmp), len(events))
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"
    return (None, problem) if problem else (timing, None)


def compare(
    label: str,
    contenders: Sequence[Contender],
    events: Sequence[Event],
    rounds: int,
    failures: dict[str, str],
) -> dict[str, Any]:
    """``rounds`` interleaved repetitions, the order rotated each round; a contender
    whose output fails verification is recorded in ``failures`` and not run again."""
    elapsed: dict[str, list[float]] = {c.name: [] for c in contenders}
    costs: dict[str, list[Costs]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        shift = r % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            if contender.name in failures:
                continue
            timing, problem = _run_one(contender, events)
            if timing is None:
                failures[contender.name] = f"round {r + 1}: {problem}"
                continue
            elapsed[contender.name].append(timing.elapsed)
            costs[contender.name].append(percentiles(timing.costs))
        print(f"{label}: round {r + 1}/{rounds} done", file=sys.stderr)
    return {"elapsed": elapsed, "costs": costs}


# ----------------------------------------------------------- stalled writer


async def _hold_lock(lock: Path, seconds: float) -> asyncio.subprocess.Process:
    """Another process holding the file's lock for ``seconds``; returns once it holds it."""
    os.close(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600))
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, str(lock), str(seconds), stdout=asyncio.subprocess.PIPE
    )
    assert holder.stdout is not None
    if (await holder.stdout.readline()).strip() != b"locked":
        raise RuntimeError("the lock holder did not start")
    return holder


async def stalled(
    n: int, policy: str, capacity: int, hold: float, directory: Path
) -> dict[str, Any]:
    """``n`` tool_blocked events while another process holds the file lock for ``hold`` s.

    The caller lets the loop run after each call (as a server does between
    requests), so the writer takes a batch and stalls on the lock. Each event is
    made just before its call: nothing here grows with ``n`` but the cost array.
    """
    log = directory / "log"
    auditor = Auditor(log_dir=log, queue_capacity=capacity, overflow=policy)  # type: ignore[arg-type]
    clock = time.perf_counter_ns
    costs = array.array("q")
    async with auditor:
        holder = await _hold_lock(log / f".{CATEGORY_FILES['tool_blocks']}.lock", hold)
        start = clock()
        for i in range(n):
            path = f"/home/user{i % 50}/.ssh/id_ed25519_{i}"
            details = {"i": i}
            t0 = clock()
            await auditor.tool_blocked(
                tool_name="read_file",
                blocked_path=path,
                blocked_reason="SSH key file access denied",
                agent_id=f"agent-{i % 32}",
                details=details,
            )
            costs.append(clock() - t0)
            await asyncio.sleep(0)
        emitting = (clock() - start) / 1e9
        held_throughout = holder.returncode is None
        await auditor.flush()
        stats = auditor.stats()
        await holder.wait()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before reading the files
    indexes: set[int] = set()
    written = dropped_lines = 0
    file = log / CATEGORY_FILES["tool_blocks"]
    for line in file.read_bytes().splitlines() if file.exists() else []:
        obj = orjson.loads(line)
        if obj["event_type"] == "events_dropped":
            dropped_lines += obj["dropped_count"]
        else:
            written += 1
            indexes.add(obj["details"]["i"])
    stopped = [
        orjson.loads(line)["details"]["dropped"]
        for line in (log / "audit.jsonl").read_bytes().splitlines()
        if b'"audit_stopped"' in line
    ]
    return {
        "policy": policy,
        "capacity": capacity,
        "n": n,
        "costs": percentiles(costs),
        "hold_s": hold,
        "emit_s": emitting,
        "held_throughout": held_throughout,
        "written": written,
        "intact": len(indexes) == written and indexes <= set(range(n)),
        "dropped_stats": stats["dropped"],
        "dropped_lines": dropped_lines,
        "dropped_stopped": stopped[-1] if stopped else None,
        "maxrss_kib": maxrss,
    }


def stall_check(r: dict[str, Any]) -> tuple[bool, str]:
    """Whether a stalled run accounted for every event exactly, and how."""
    if "error" in r:
        return False, r["error"]
    counts = (r["dropped_stats"], r["dropped_lines"], r["dropped_stopped"])
    exact = r["intact"] and all(c == r["n"] - r["written"] for c in counts)
    if r["policy"] == "block":
        exact = exact and r["written"] == r["n"]
        return exact, "every event written once" if exact else f"written {r['written']:,}"
    return exact, (
        f"{'exact' if exact else 'NOT EXACT'}: stats() {counts[0]:,}, "
        f"events_dropped lines {counts[1]:,}, audit_stopped {counts[2]:,}"
    )


def _in_fresh_process(n: int, policy: str, capacity: int, hold: float) -> dict[str, Any]:
    spec = json.dumps([n, policy, capacity, hold])
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, __file__, "--stall-child", spec],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return {"policy": policy, "capacity": capacity, "n": n, "error": last}
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def stall_scenarios(n: int, capacity: int, hold: float, memory_events: int) -> dict[str, Any]:
    """block and drop under a stalled writer, then peak RSS by capacity; each in its own process."""
    runs = [_in_fresh_process(n, policy, capacity, hold) for policy in ("block", "drop")]
    memory = [
        _in_fresh_process(events, policy, cap, hold)
        for events, policy, cap in (
            (0, "drop", capacity),
            (memory_events, "drop", capacity),
            (memory_events, "drop", 10 * capacity),
            (memory_events, "block", capacity),
            (memory_events, "block", 10 * capacity),
        )
    ]
    return {"runs": runs, "memory": memory}


# ------------------------------------------------------------------ report


def _us(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _safety(options: dict[str, Any]) -> str:
    s = auditor_settings(options)
    fsync = s["fsync"] + (f" ({s['fsync_interval_ms']:g} ms)" if s["fsync"] == "interval" else "")
    chain = f"on, checkpoints every {s['checkpoint_interval_s']:g} s" if s["integrity"] else "off"
    return (
        f"redaction {'on' if s['redact'] else 'off'}; integrity chain {chain}; fsync {fsync}; "
        f"caps on (strings {s['max_string_chars']} chars, line {s['max_event_bytes']} bytes, "
        f"per-field caps); session ids {s['session_ids']}; self-audit "
        f"{'on' if s['self_audit'] else 'off'}; overflow {s['overflow']}"
    )


def _cost_row(name: str, per_round: Sequence[Costs], *rest: str) -> list[str]:
    p50, p99, top = summarise(per_round)
    return [name, _us(p50), _us(p99), _us(top), *rest]


def report(figures: dict[str, Any]) -> str:
    n, rounds, failures = figures["n"], figures["rounds"], figures["failures"]
    main, kinds, stall = figures["main"], figures["callers"], figures["stall"]
    limit = main["elapsed"][LIMIT]
    auditors = [c for c in CONTENDERS if c.name.startswith("asgi_audit")]
    out = [
        "# Emit benchmark",
        "",
        f"Machine: {machine()}",
        "",
        f"{n:,} events per run (login_attempt, injection_attempt, tool_blocked, api_access "
        f"in turn, each with its own content), {rounds} rounds, contenders interleaved, order "
        "rotated each round, each run in a fresh temporary directory; a run counts only once its "
        "output holds every event exactly once as one JSON line. Caller cost: p50 and p99 are "
        "medians over the rounds, max the largest of all. End-to-end: from the first call until "
        "every event is in its file, divided by the physical limit's time in the same round: "
        "median (min..max).",
        "",
        "Safety features of the asgi_audit rows:",
        "",
        *[f"- **{c.name}**: {_safety(c.options)}" for c in auditors],
        "",
    ]
    rows = []
    for c in CONTENDERS:
        if c.name in failures:
            rows.append([c.name, "failed", "", "", "not timed", ""])
            continue
        rate = f"{n / statistics.median(limit):,.0f} events/s" if c.name == LIMIT else ""
        ratio = fmt_ratio(main["elapsed"][c.name], limit)
        rows.append(_cost_row(c.name, main["costs"][c.name], ratio, rate))
    header = ["contender", "caller p50 µs", "p99 µs", "max µs", "end-to-end / limit", "throughput"]
    out += [
        markdown_table(header, rows),
        "",
        "structlog is called with its sync `log.info`, as in a fast path (its async methods hop "
        "to a thread per call and are slower); it encodes and writes on the caller. loguru and "
        "the stdlib QueueHandler hand records to their own thread; their end-to-end ends once "
        "that thread has written everything. asgi_audit's end-to-end ends when flush() returns.",
        "",
        "## asgi_audit callers (defaults, same events)",
        "",
    ]
    rows = [
        [c.name, "failed", "", "", ""]
        if c.name in failures
        else _cost_row(
            c.name, kinds["costs"][c.name], f"{statistics.median(kinds['elapsed'][c.name]):.2f}"
        )
        for c in CALLERS
    ]
    out += [markdown_table(["caller", "p50 µs", "p99 µs", "max µs", "end-to-end s"], rows), ""]
    out += _stall_report(stall)
    block = failures_block(failures)
    out += ["## Failures", "", block or "None: every run's output verified."]
    return "\n".join(out)


def _stall_report(stall: dict[str, Any]) -> list[str]:
    out = [
        "## asgi_audit with a stalled writer",
        "",
        f"Another process holds the exclusive lock of `tool-blocks.jsonl` for "
        f"{stall['hold_s']:g} s; meanwhile one caller emits tool_blocked events, letting the "
        "loop run after each call. Caller cost over all its calls; emitting: from its first call "
        "to its last. Checked once the lock is released, flush() has returned and the Auditor "
        "has stopped. Each run in its own process.",
        "",
    ]
    rows = []
    for r in stall["runs"]:
        name = f"{r['policy']}, capacity {r['capacity']:,}"
        check = stall_check(r)[1]
        if "error" in r:
            rows.append([name, f"{r['n']:,}", "failed", "", "", "", check])
            continue
        p50, p99, top = r["costs"]
        late = r["policy"] == "drop" and not r["held_throughout"]
        rows.append(
            [
                name,
                f"{r['n']:,}",
                f"{_us(p50)} / {_us(p99)} µs / "
                + (f"{top / 1e3:,.0f} ms" if top >= 10_000 else f"{_us(top)} µs"),
                f"{r['emit_s']:.2f} s" + (" (lock released first)" if late else ""),
                f"{r['written']:,}",
                f"{r['n'] - r['written']:,}",
                check,
            ]
        )
    header = ["policy", "events", "caller p50 / p99 / max", "emitting", "written", "dropped"]
    out += [markdown_table([*header, "check"], rows), ""]
    base = stall["memory"][0].get("maxrss_kib", 0)
    rows = []
    for m in stall["memory"]:
        name = f"{m['policy']}, capacity {m['capacity']:,}" if m["n"] else "no events (baseline)"
        if "error" in m:
            rows.append([name, f"{m['n']:,}", "failed", "", m["error"]])
            continue
        rss = m["maxrss_kib"] / 1024
        check = "ok" if stall_check(m)[0] else "NOT EXACT"
        delta = f"{(m['maxrss_kib'] - base) / 1024:+.1f}"
        rows.append([name, f"{m['n']:,}", f"{rss:.1f}", delta, f"{m['written']:,} ({check})"])
    out += [
        "Peak RSS (ru_maxrss) of a fresh process doing the same with more events, the lock held "
        "as above:",
        "",
        markdown_table(["run", "events", "peak RSS MiB", "vs baseline", "written"], rows),
        "",
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="events per run (20,000; --quick 4,000)")
    parser.add_argument("--rounds", type=int, help="interleaved repetitions (5; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of ~30 s")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--stall-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stall_child:
        n, policy, capacity, hold = json.loads(args.stall_child)
        with tempfile.TemporaryDirectory(prefix="emit-") as tmp:
            print(json.dumps(asyncio.run(stalled(n, policy, capacity, hold, Path(tmp)))))
        return
    n = args.n or (4_000 if args.quick else 20_000)
    rounds = args.rounds or (2 if args.quick else 5)
    hold, memory_events = (0.5, 20_000) if args.quick else (1.5, 50_000)
    events = make_events(n)
    failures: dict[str, str] = {}
    main_figures = compare("contenders", CONTENDERS, events, rounds, failures)
    if LIMIT in failures:
        raise SystemExit(f"the baseline failed: {failures[LIMIT]}")
    caller_figures = compare("asgi_audit callers", CALLERS, events, rounds, failures)
    stall = {"hold_s": hold, **stall_scenarios(n, 1_000, hold, memory_events)}
    for r in [*stall["runs"], *stall["memory"]]:
        ok, check = stall_check(r)
        if not ok:
            failures[f"asgi_audit, stalled writer ({r['policy']}, {r['n']:,} events)"] = check
    figures = {
        "machine": machine(),
        "n": n,
        "rounds": rounds,
        "main": main_figures,
        "ratios": {
            name: ratio_summary(values, main_figures["elapsed"][LIMIT])
            for name, values in main_figures["elapsed"].items()
            if name not in failures
        },
        "callers": caller_figures,
        "stall": stall,
        "failures": failures,
    }
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
