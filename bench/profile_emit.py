"""Where the time of the emit benchmark goes, thread by thread: a py-spy profile.

Runs asgi_audit with every safety feature on over the emit benchmark's events
(the awaited tight-loop caller, as ``bench/emit.py`` times it) in a child
process sampled by ``py-spy`` (the ``bench`` extra) from outside, then sums the
samples by thread and by stage:

- **caller**: the event methods and the stream, on the event loop's thread;
- **pipeline**: build, redaction, caps, encoding (``record/``), on whichever
  thread runs it;
- **seal**: the MAC chain and the Merkle leaf (``proof/``);
- **write**: ``write()``/``fsync()`` and the file code (``store/``);
- **other**: the loop itself and the benchmark's own loop;
- **start-up**: imports, the rule table compiled, the Auditor started and stopped.

A sample counts a thread that is running, with or without the GIL (py-spy's
default: idle threads are not sampled; a thread waiting for work is dropped too).
A stage is the innermost asgi_audit module on the stack, so time inside the
compiled core counts for the Python function that called it.

    .venv/bin/python bench/profile_emit.py [--n N] [--rate HZ]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from emit_contenders import make_events, run_auditor

_STAGES = (
    ("seal", re.compile(r"asgi_audit/proof/")),
    ("write", re.compile(r"asgi_audit/store/(files|writer|worker|rotation|batches)\.py")),
    ("pipeline", re.compile(r"asgi_audit/record/")),
    ("caller", re.compile(r"asgi_audit/(methods|auditor|store/stream|sync|runtime)\.py")),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")
# Start-up (imports, the rule table compiled, the Auditor started and stopped) is
# not the per-event cost; waiting for work is not running.
_START_UP = re.compile(
    r"frozen importlib|new_scanner|Auditor\.__(a?enter|aexit|init)__|make_events"
)
_WAITING = re.compile(r"^(Condition\.wait|Event\.wait|WorkerThread\._work|.*\.(select|poll)) ")


def _stage(frames: list[str]) -> str:
    if any(_START_UP.search(frame) for frame in frames):
        return "start-up"
    for frame in reversed(frames):  # the innermost first
        match = _FRAME.match(frame)
        where = match.group("file") if match else frame
        for name, pattern in _STAGES:
            if pattern.search(where):
                return name
    return "other"


def _run(n: int) -> None:
    events = make_events(n)
    options = {"redact": True, "integrity": True, "fsync": "interval"}
    with tempfile.TemporaryDirectory(prefix="profile-emit-") as directory:
        timing = asyncio.run(run_auditor(events, Path(directory), options))
    print(f"{n} events in {timing.elapsed:.3f} s", file=sys.stderr)


def _summary(raw: str) -> str:
    by_thread: dict[str, Counter[str]] = {}
    leaves: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        if frames and _WAITING.match(frames[-1]):
            continue
        # The loop's thread is the process's first; the writer's is named asgi-audit-writer.
        name = "writer thread" if "writer" in thread.lower() else "event loop thread"
        by_thread.setdefault(name, Counter())[_stage(frames)] += int(count)
        if frames and _stage(frames) != "start-up":
            leaves[frames[-1]] += int(count)
    start_up = sum(c.pop("start-up", 0) for c in by_thread.values())
    total = sum(sum(c.values()) for c in by_thread.values()) or 1
    out = [
        f"Samples of the running threads, start-up ({start_up} samples) left out.",
        "",
        "| thread | stage | share of samples |",
        "|---|---|---|",
    ]
    for thread, stages in sorted(by_thread.items()):
        for stage, count in stages.most_common():
            out.append(f"| {thread} | {stage} | {100 * count / total:.1f}% |")
    out += ["", "| innermost frame | share |", "|---|---|"]
    for frame, count in leaves.most_common(12):
        out.append(f"| `{frame}` | {100 * count / total:.1f}% |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000, help="events (40,000)")
    parser.add_argument("--rate", type=int, default=997, help="samples per second (997)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run(args.n)
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="profile-emit-") as directory:
        raw = Path(directory) / "raw.txt"
        command = [spy, "record", "--format", "raw", "--threads", "--rate", str(args.rate)]
        command += ["--output", str(raw), "--", sys.executable, __file__, "--child"]
        subprocess.run([*command, "--n", str(args.n)], check=True, stdout=subprocess.DEVNULL)
        print(_summary(raw.read_text()))


if __name__ == "__main__":
    main()
