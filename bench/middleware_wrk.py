"""Part 2 of ``bench/middleware.py``: each contender under uvicorn, loaded by wrk.

For each contender a uvicorn server (``--workers N``, one by default,
``--no-access-log``) serves ``apps:asgi_app`` on a free port of 127.0.0.1, with a
fresh temporary log directory; with several workers each runs its own app and
Auditor on the one log directory (auditlog-fastapi's storage writes one file per
worker, since it takes no lock). Once it accepts connections, wrk (``-t1 -c32``)
runs a short warm-up, then the measured run; the metric is wrk's Requests/sec. The server is then
stopped with SIGTERM (its lifespan drains the audit writer) and, for the
auditing contenders, the audit file must hold a parseable 200 record of
``/items/1`` for every response wrk counted in both runs. Requests still in
flight when wrk stops may be recorded too, so a few more records than responses
are expected; fewer is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from _report import markdown_table, ratio_summary
from apps import AUDITLOG_FILE, CONTENDER_ENV, CONTENDERS, LOG_DIR_ENV, WORKERS_ENV

from asgi_audit import category_filename

__all__ = (
    "PATH_FIELD",
    "VerificationError",
    "WrkResult",
    "WrkSettings",
    "check_stopped_cleanly",
    "read_records",
    "record_files",
    "run_wrk_part",
    "wrk_table",
)

BENCH_DIR: Final = Path(__file__).resolve().parent
BASELINE: Final = "none"
#: Where each auditing contender's records land, relative to its log directory.
RECORD_FILES: Final = {
    "asgi_audit": Path("asgi_audit") / category_filename("api_audit"),
    "auditlog_fastapi": Path(AUDITLOG_FILE),
}
#: The field holding the request path in each auditing contender's records.
PATH_FIELD: Final = {"asgi_audit": "request_path", "auditlog_fastapi": "path"}
CONNECTIONS: Final = 32


class VerificationError(Exception):
    """A contender's responses or records are not what they must be."""


@dataclass
class WrkSettings:
    rounds: int
    duration_s: int
    #: Seconds of the untimed wrk run before the measured one (0: none).
    warmup_s: int
    #: uvicorn worker processes.
    workers: int = 1


@dataclass
class WrkResult:
    """One measured wrk run against one server, and what the server recorded."""

    requests_per_s: float
    responses: int
    warmup_responses: int
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    #: Lines in the audit file after the server stopped (auditing contenders).
    recorded: int | None = None
    #: The server's CPU over the measured run, per response, in µs: its processes'
    #: main threads (the event loops) and their other threads (None: not Linux).
    loop_cpu_us: float | None = None
    other_cpu_us: float | None = None
    #: Context switches per response of the other threads (waits, GIL hand-overs).
    other_switches: float | None = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_records(path: Path, skip: int = 0) -> list[dict[str, Any]]:
    """The records of a JSONL file after its first ``skip`` lines; each must parse."""
    lines = path.read_bytes().splitlines() if path.exists() else []
    records = []
    for number, line in enumerate(lines[skip:], start=skip + 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise VerificationError(f"{path.name} line {number} does not parse: {exc}") from exc
        if not isinstance(record, dict):
            raise VerificationError(f"{path.name} line {number} is not an object")
        records.append(record)
    return records


def check_stopped_cleanly(api_file: Path, workers: int = 1) -> None:
    """asgi_audit's last self-audit record is ``audit_stopped``, nothing dropped or lost;
    with several workers, each wrote one such record."""
    records = read_records(api_file.parent / category_filename("audit"))
    last = records[-1] if records else {}
    stopped = [r for r in records if r.get("event_type") == "audit_stopped"]
    unclean = [r for r in stopped if (r.get("details") or {}).get("dropped")]
    unclean += [r for r in stopped if (r.get("details") or {}).get("lost")]
    if last.get("event_type") != "audit_stopped" or len(stopped) != workers or unclean:
        raise VerificationError(
            f"not {workers} clean audit_stopped record(s) at shutdown: {unclean or last}"
        )


def record_files(log_dir: Path, name: str) -> list[Path]:
    """The files holding contender ``name``'s records (one per worker for auditlog-fastapi)."""
    path = log_dir / RECORD_FILES[name]
    return sorted(path.parent.glob(f"{path.stem}*{path.suffix}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(server: subprocess.Popen[bytes], port: int, output: Path) -> None:
    """Returns once the server accepts connections (no HTTP request: nothing is recorded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = output.read_text(errors="replace")[-800:]
            raise VerificationError(f"server exited with {server.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise VerificationError("server did not accept connections within 60 s")


_REQUESTS_RE: Final = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_RPS_RE: Final = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX_RE: Final = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS_RE: Final = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


def wrk(port: int, duration_s: int) -> WrkResult:
    """One wrk run against ``/items/1``, parsed."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration_s}s"]
    command.append(f"http://127.0.0.1:{port}/items/1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    out = done.stdout
    requests, rps = _REQUESTS_RE.search(out), _RPS_RE.search(out)
    if done.returncode != 0 or requests is None or rps is None:
        raise VerificationError(f"wrk failed ({done.returncode}): {out[-400:]}{done.stderr[-400:]}")
    non_2xx = _NON_2XX_RE.search(out)
    errors = _ERRORS_RE.search(out)
    kinds = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        responses=int(requests.group(1)),
        warmup_responses=0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors={k: int(v) for k, v in zip(kinds, errors.groups(), strict=True)}
        if errors
        else {},
    )


_TICK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _descendants(pid: int) -> list[int]:
    # The server and its worker processes (uvicorn --workers), from /proc.
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def thread_usage(pid: int) -> dict[tuple[int, int], tuple[float, int]]:
    """CPU seconds and voluntary context switches of every thread of the server's
    processes, keyed (process, thread); empty where /proc is not there."""
    usage: dict[tuple[int, int], tuple[float, int]] = {}
    for process in _descendants(pid):
        for task in Path(f"/proc/{process}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The fields after the command name, which may hold spaces.
                fields = (task / "stat").read_text().rpartition(")")[2].split()
                cpu = (int(fields[11]) + int(fields[12])) / _TICK
                status = (task / "status").read_text()
                switches = int(status.split("voluntary_ctxt_switches:")[1].split()[0])
                usage[(process, int(task.name))] = (cpu, switches)
    return usage


def cpu_per_response(
    before: dict[tuple[int, int], tuple[float, int]],
    after: dict[tuple[int, int], tuple[float, int]],
    responses: int,
) -> tuple[float, float, float] | None:
    """µs of the main threads, µs of the other threads, and the other threads'
    voluntary context switches, each per response; None without /proc."""
    if not after or not responses:
        return None
    loop = other = switches = 0.0
    for key, (cpu, count) in after.items():
        cpu0, count0 = before.get(key, (0.0, 0))
        if key[0] == key[1]:
            loop += cpu - cpu0
        else:
            other += cpu - cpu0
            switches += count - count0
    return loop * 1e6 / responses, other * 1e6 / responses, switches / responses


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the lifespan shutdown to finish."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise VerificationError("server still running 60 s after SIGTERM") from None


def serve_and_load(name: str, settings: WrkSettings) -> WrkResult:
    """Starts ``name`` under uvicorn, warms it up, measures it, stops it, checks it."""
    with tempfile.TemporaryDirectory(prefix="middleware-bench-") as tmp:
        log_dir, output = Path(tmp) / "logs", Path(tmp) / "server.out"
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "apps:asgi_app", "--factory"]
        command += ["--app-dir", str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--log-level", "warning", "--no-access-log"]
        if settings.workers > 1:
            command += ["--workers", str(settings.workers)]
        env = {**os.environ, CONTENDER_ENV: name, LOG_DIR_ENV: str(log_dir)}
        env[WORKERS_ENV] = str(settings.workers)
        with output.open("wb") as sink:
            server = subprocess.Popen(
                command, cwd=BENCH_DIR.parent, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            wait_ready(server, port, output)
            warmup = wrk(port, settings.warmup_s) if settings.warmup_s else None
            before = thread_usage(server.pid)
            result = wrk(port, settings.duration_s)
            usage = cpu_per_response(before, thread_usage(server.pid), result.responses)
            if usage is not None:
                result.loop_cpu_us, result.other_cpu_us, result.other_switches = usage
        finally:
            stop(server)
        # uvicorn re-raises the SIGTERM once its graceful shutdown is done.
        if server.returncode not in (0, -signal.SIGTERM):
            tail = output.read_text(errors="replace")[-800:]
            raise VerificationError(f"server exited with {server.returncode}: {tail}")
        if warmup is not None:
            result.warmup_responses = warmup.responses
            result.non_2xx += warmup.non_2xx
        if result.non_2xx:
            raise VerificationError(f"{result.non_2xx} non-2xx responses (warm-up included)")
        if name in RECORD_FILES:
            records = [r for path in record_files(log_dir, name) for r in read_records(path)]
            result.recorded = len(records)
            if name == "asgi_audit":
                check_stopped_cleanly(log_dir / RECORD_FILES[name], settings.workers)
            wanted = result.responses + result.warmup_responses
            if result.recorded < wanted:
                raise VerificationError(
                    f"{result.recorded} records for {wanted} responses counted by wrk"
                )
            odd = [r for r in records if r.get(PATH_FIELD[name]) != "/items/1"]
            odd += [r for r in records if r.get("status_code") != 200]
            if odd:
                raise VerificationError(f"{len(odd)} records not of a 200 /items/1, e.g. {odd[0]}")
        return result


def rotated(names: Sequence[str], round_no: int) -> list[str]:
    shift = round_no % len(names)
    return [*names[shift:], *names[:shift]]


def run_wrk_part(settings: WrkSettings, failures: dict[str, str]) -> dict[str, list[WrkResult]]:
    """The results of every contender that passed its checks, round by round."""
    runs: dict[str, list[WrkResult]] = {name: [] for name in CONTENDERS}
    for round_no in range(settings.rounds):
        for name in rotated(CONTENDERS, round_no):
            if name not in runs:
                continue
            try:
                result = serve_and_load(name, settings)
            except Exception as exc:
                where = f"uvicorn {_workers(settings.workers)} + wrk"
                failures[f"{name} ({where})"] = f"{type(exc).__name__}: {exc}"
                del runs[name]
                log(f"  round {round_no + 1}: {name} FAILED: {exc}")
                continue
            runs[name].append(result)
            recorded = "" if result.recorded is None else f", {result.recorded} records"
            log(
                f"  round {round_no + 1}: {name:<20} {result.requests_per_s:9.1f} req/s "
                f"({result.warmup_responses}+{result.responses} responses{recorded})"
            )
    return runs


def _workers(count: int) -> str:
    return "1 worker" if count == 1 else f"{count} workers"


def _percent(values: Sequence[float], baseline: Sequence[float]) -> str:
    med, lo, hi = ratio_summary(values, baseline)
    return f"{med:.0%} ({lo:.0%}..{hi:.0%})"


def _cpu(results: Sequence[WrkResult]) -> str:
    loops = [r.loop_cpu_us for r in results if r.loop_cpu_us is not None]
    others = [r.other_cpu_us for r in results if r.other_cpu_us is not None]
    switches = [r.other_switches for r in results if r.other_switches is not None]
    if not loops:
        return "-"
    text = f"{statistics.median(loops):.0f} / {statistics.median(others):.1f}"
    return f"{text} ({statistics.median(switches):.2f})"


def wrk_table(runs: dict[str, list[WrkResult]]) -> str:
    base = [r.requests_per_s for r in runs.get(BASELINE, [])]
    rows = []
    for name in CONTENDERS:
        results = runs.get(name)
        if not results:
            rows.append([name, "failed verification", "-", "-", "-", "-", "-"])
            continue
        rps = [r.requests_per_s for r in results]
        lo, hi = min(rps), max(rps)
        absolute = f"{statistics.median(rps):.0f} ({lo:.0f}..{hi:.0f})"
        errors = sum(sum(r.socket_errors.values()) for r in results)
        if name in RECORD_FILES:
            recorded = sum(r.recorded or 0 for r in results)
            counted = sum(r.responses + r.warmup_responses for r in results)
            records = f"{recorded} / {counted} ({recorded - counted:+d})"
        else:
            records = "-"
        rows.append(
            [
                name,
                absolute,
                _percent(rps, base) if base else "-",
                _cpu(results),
                str(sum(r.non_2xx for r in results)),
                str(errors),
                records,
            ]
        )
    header = ["contender", "req/s (median, min..max)", "% of none's req/s"]
    header += ["server CPU µs/response: loops / other threads (switches)", "non-2xx"]
    header += ["socket errors", "records / responses (extra)"]
    return markdown_table(header, rows)
