"""Fault injection with real resource limits, permissions and processes.

Every fault here is made by the kernel, not by a mock:

* ``RLIMIT_FSIZE`` set on a running uvicorn server with ``prlimit``: a write past
  the limit is cut short, the next one fails with ``EFBIG`` (Python ignores
  ``SIGXFSZ``), for root too.
* Permissions: the tests run as root, and root's ``CAP_DAC_OVERRIDE`` ignores
  permission bits, so those servers run as ``nobody`` (uid/gid 65534) in a log
  directory owned by ``nobody``. The interpreter must be one ``nobody`` can run:
  the venv's own if it can, else the system's ``pythonX.Y`` of the same version
  with the venv's packages on ``PYTHONPATH`` (here the venv's interpreter lives
  under ``/root``, which is ``0700``). When neither works those tests are skipped,
  saying why.
* ``rm -rf`` of the log directory under a running server.
* A file size limit on this very process while many callers record, to watch
  the stream stay within its capacity.

The tests assert what arrives and what is counted, never how long it took; every
wait is bounded and fails with the state it saw.
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread
import httpx
import pytest

from asgi_audit import Auditor
from tests.apps import LOG_DIR_ENV
from tests.helpers import read_events
from tests.servers import (
    REPO_ROOT,
    STARTUP_COMPLETE,
    Server,
    ServerStartError,
    free_port,
    run_server,
)

APP: Final = "tests.apps.faults:app"
#: What ``GET /event`` of that app records (not imported: the app module reads its
#: environment on import).
CATEGORY: Final = "faults"
EVENT_TYPE: Final = "fault_probe"
HOST: Final = "127.0.0.1"
NOBODY: Final = 65534
#: Events each ``GET /event`` records.
PER_REQUEST: Final = 3
#: The bound of every poll and flush; reaching it fails the test with what was seen.
WAIT: Final = 15.0
#: A bound on a hang, not an assertion; longer than a flush may take (``WAIT``).
CLIENT_TIMEOUT: Final = httpx.Timeout(WAIT + 5.0)
#: How long the isolation test gives other categories to be written during a fault.
OTHER_CATEGORY_WAIT: Final = 5.0
FAULTS_FILE: Final = f"{CATEGORY}.jsonl"
API_FILE: Final = "api-audit.jsonl"

T = TypeVar("T")


# ------------------------------------------------------------------- helpers


def request_id(req: int) -> str:
    return f"fault-request-{req:06d}"


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT)


def record(client: httpx.Client, req: int, category: str = CATEGORY) -> int:
    """``GET /event`` for request ``req``: its status."""
    response = client.get(
        "/event",
        params={"req": req, "count": PER_REQUEST, "category": category},
        headers={"X-Request-ID": request_id(req)},
    )
    return response.status_code


def send_load(client: httpx.Client, reqs: Iterable[int], category: str = CATEGORY) -> list[int]:
    """Requests ``reqs`` from four threads at once; their statuses."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda req: record(client, req, category), reqs))


def get_stats(client: httpx.Client) -> dict[str, Any]:
    stats: dict[str, Any] = client.get("/control/stats").json()
    return stats


def category_stats(stats: dict[str, Any], category: str) -> dict[str, Any]:
    entry: dict[str, Any] = stats["categories"].get(category, {})
    return entry


def flush(client: httpx.Client) -> dict[str, Any]:
    """Everything the server recorded so far is written (bounded); its stats after."""
    body = client.get("/control/flush", params={"timeout": WAIT}).json()
    assert body["flushed"], f"the server did not flush within {WAIT}s: {body['stats']}"
    stats: dict[str, Any] = body["stats"]
    return stats


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """Poll ``probe`` until ``done`` says yes; fail with the last value after ``WAIT``."""
    deadline = time.monotonic() + WAIT
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT}s; last seen: {value!r}")
        time.sleep(0.02)


def wait_for_errors(client: httpx.Client, category: str, at_least: int) -> dict[str, Any]:
    """Stats once ``category`` counted ``at_least`` failed writes (so it was retried)."""
    return wait_for(
        lambda: get_stats(client),
        lambda s: category_stats(s, category).get("errors", 0) >= at_least,
        f"{at_least} write errors of {category!r}",
    )


def probes(*paths: Path) -> Counter[tuple[int, int]]:
    """How often each ``(req, n)`` of a ``fault_probe`` event is in ``paths``.

    ``read_events`` fails on a broken line or a file ending inside one.
    """
    found: Counter[tuple[int, int]] = Counter()
    for path in paths:
        for event in read_events(path):
            if event["event_type"] == EVENT_TYPE:
                assert event["request_id"] == request_id(event["req"]), event
                found[event["req"], event["n"]] += 1
    return found


def expected(reqs: Iterable[int]) -> Counter[tuple[int, int]]:
    return Counter((req, n) for req in reqs for n in range(PER_REQUEST))


def api_requests(path: Path) -> Counter[str]:
    """How often each request id has an ``api_access`` line in ``path``."""
    return Counter(e["request_id"] for e in read_events(path) if e["request_path"] == "/event")


def failure_reports(stderr: str, category: str) -> list[str]:
    """The stderr lines reporting a failed write of ``category``."""
    pattern = re.compile(
        rf"^--- asgi_audit: writing \d+ {re.escape(category)} events to '[^']*' failed: "
    )
    return [line for line in stderr.splitlines() if pattern.match(line)]


def assert_each_failure_reported_once(stderr: str, stats: dict[str, Any]) -> None:
    """Every category that failed is reported exactly once (not once per retry)."""
    for category, entry in stats["categories"].items():
        reports = failure_reports(stderr, category)
        assert len(reports) == (1 if entry["errors"] else 0), (category, entry, reports)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_clean_stop(server: Server) -> None:
    returncode = server.stop(signal.SIGTERM)
    assert returncode in (0, -signal.SIGTERM), server.stderr
    assert "Application shutdown complete." in server.stderr
    assert "events were not written" not in server.stderr  # nothing lost at the deadline


# ------------------------------------------------- a server run by ``nobody``


@dataclass(frozen=True)
class Unprivileged:
    """An interpreter ``nobody`` can run, with this venv's packages and the repo."""

    python: str
    pythonpath: str

    def env(self, home: Path, extra: dict[str, str]) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": self.pythonpath,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }


_PROBE: Final = (
    "import sys, anyio, fastapi, orjson, uvicorn, asgi_audit; print(sys.version_info[:2])"
)


def _find_unprivileged_python() -> Unprivileged | str:
    """The first candidate interpreter that runs the app's imports as ``nobody``,
    or why none does."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable]
    for directory in ("/usr/local/bin", "/usr/bin"):
        found = shutil.which(f"python{version}", path=directory)
        if found is not None and found not in candidates:
            candidates.append(found)
    paths = sysconfig.get_paths()
    pythonpath = os.pathsep.join(
        dict.fromkeys([str(REPO_ROOT), paths["purelib"], paths["platlib"]])
    )
    unprivileged = [Unprivileged(c, pythonpath) for c in candidates]
    tried: list[str] = []
    for candidate in unprivileged:
        try:
            result = subprocess.run(
                [candidate.python, "-c", _PROBE],
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
                cwd=REPO_ROOT,
                env=candidate.env(Path("/"), {}),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            tried.append(f"{candidate.python}: {exc}")
            continue
        if result.returncode == 0 and result.stdout.strip() == str(sys.version_info[:2]):
            return candidate
        tried.append(
            f"{candidate.python}: exit {result.returncode} {result.stdout.strip()} "
            f"{result.stderr.strip()[-300:]}"
        )
    return "no interpreter of Python " + version + " can run the app as nobody: " + "; ".join(tried)


@pytest.fixture(scope="session")
def unprivileged() -> Unprivileged:
    if os.geteuid() != 0:
        pytest.skip("running as an unprivileged user needs root (to start the server as nobody)")
    found = _find_unprivileged_python()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory owned by ``nobody`` outside pytest's ``0700`` temporary root."""
    base = Path(tempfile.mkdtemp(prefix="asgi-audit-faults-"))
    try:
        os.chown(base, NOBODY, NOBODY)
        yield base
    finally:
        shutil.rmtree(base)  # root: whatever modes a failed test left


@pytest.fixture
def nobody_log_dir(nobody_dir: Path) -> Path:
    log_dir = nobody_dir / "security"
    log_dir.mkdir(mode=0o700)
    os.chown(log_dir, NOBODY, NOBODY)
    return log_dir


@contextmanager
def run_server_as_nobody(python: Unprivileged, log_dir: Path) -> Iterator[Server]:
    """``uvicorn tests.apps.faults:app`` as uid/gid 65534; stopped with SIGTERM on exit."""
    server: Server | None = None
    for _ in range(3):  # another process may take the port between the pick and the bind
        stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Server.close()
        port = free_port(HOST)
        argv = [python.python, "-m", "uvicorn", APP, "--host", HOST, "--port", str(port)]
        argv += ["--app-dir", str(REPO_ROOT), "--no-use-colors"]
        try:
            process = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env=python.env(log_dir.parent, {LOG_DIR_ENV: str(log_dir)}),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr_file,
                start_new_session=True,
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
            )
        except BaseException:
            stderr_file.close()
            raise
        candidate = Server(process, stderr_file, HOST, port)
        try:
            candidate.wait_for_stderr(STARTUP_COMPLETE)
            candidate.wait_for_stderr(f"Uvicorn running on {candidate.url}")
        except BaseException as exc:
            candidate.kill()
            text = candidate.stderr
            candidate.close()
            if isinstance(exc, ServerStartError) and "error while attempting to bind" in text:
                continue
            raise
        server = candidate
        break
    if server is None:
        raise ServerStartError("no free port could be bound")
    try:
        yield server
    finally:
        try:
            server.stop(signal.SIGTERM)
        finally:
            server.close()


# --------------------------------------------------------------- 1. RLIMIT_FSIZE


@pytest.mark.e2e
def test_a_file_size_limit_under_load_is_reported_once_and_every_event_arrives_once_after(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "security"
    path = log_dir / FAULTS_FILE
    with run_server(APP, {LOG_DIR_ENV: str(log_dir)}) as server, http_client(server.url) as client:
        statuses = send_load(client, range(20))
        flush(client)
        # The last api_access events are recorded after their responses: wait for them,
        # so the first write after the limit is one of ``faults``.
        wait_for(
            lambda: get_stats(client),
            lambda s: category_stats(s, "api_audit").get("written") == 20 and not s["queued"],
            "the api_access events of the first 20 requests",
        )
        size = path.stat().st_size
        # The limit is per process: the server's stderr file must stay below it, or
        # the report itself would fail with EFBIG.
        assert len(server.stderr.encode()) + 4096 < size, (size, server.stderr)
        limit = size + 100  # less than one line: the first try is cut short, then EFBIG
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        try:
            statuses += send_load(client, range(20, 40))
            faulted = wait_for_errors(client, CATEGORY, at_least=3)
            statuses += send_load(client, range(40, 60))  # while the write keeps failing
            held = get_stats(client)
            reports_while_failing = failure_reports(server.stderr, CATEGORY)
            # The first try was cut short by the limit; the file is cut back to its
            # last whole line (a retry may stand between a write and its cut: poll).
            wait_for(
                lambda: path.stat().st_size, lambda s: s == size, "the cut back to whole lines"
            )
        finally:
            with suppress(ProcessLookupError):
                resource.prlimit(
                    server.pid,
                    resource.RLIMIT_FSIZE,
                    (resource.RLIM_INFINITY, resource.RLIM_INFINITY),
                )
        after = flush(client)
        recovered = probes(path)
        assert_clean_stop(server)
        stderr = server.stderr

    assert statuses == [200] * 60  # the app kept serving
    entry = category_stats(faulted, CATEGORY)
    assert entry["errors"] >= 3
    assert f"[Errno {errno.EFBIG}] File too large" in entry["last_error"]
    assert entry["written"] == 20 * PER_REQUEST  # nothing after the limit got in
    # The lines are held, not written; the file holds only whole earlier lines.
    assert category_stats(held, CATEGORY)["written"] == 20 * PER_REQUEST
    assert held["queued"] + held["in_flight"] + held["held"] > 0
    # Reported once while it kept failing, though retried at least three times.
    assert len(reports_while_failing) == 1, reports_while_failing
    assert "File too large" in reports_while_failing[0]

    # After the limit is lifted, every event of every request is there exactly once
    # and every line parses: the half-written first try was cut back.
    assert recovered == expected(range(60))
    assert category_stats(after, CATEGORY)["written"] == 60 * PER_REQUEST
    assert_each_failure_reported_once(stderr, after)
    assert f"writing to '{path}' works again" in stderr
    assert api_requests(log_dir / API_FILE) == Counter(request_id(r) for r in range(60))


# ---------------------------------------------------------- 2. permissions


def _replace_with_an_unopenable_file(path: Path, aside: Path) -> None:
    # Keep the lines written so far under ``aside`` (a second link: a write that
    # races with this still lands in them), then swap a 0o000 file in atomically.
    os.link(path, aside)
    tmp = path.with_name(".replacement.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o000)
    try:
        os.fchown(fd, NOBODY, NOBODY)
        os.fchmod(fd, 0o000)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@pytest.mark.e2e
@pytest.mark.parametrize("fault", ["file_mode_000", "directory_mode_500"])
def test_a_permission_fault_under_load_is_counted_and_every_event_arrives_once_after(
    unprivileged: Unprivileged, nobody_log_dir: Path, fault: str
) -> None:
    log_dir = nobody_log_dir
    path = log_dir / FAULTS_FILE
    aside = log_dir / f"{FAULTS_FILE}.before"
    with (
        run_server_as_nobody(unprivileged, log_dir) as server,
        http_client(server.url) as client,
    ):
        statuses = send_load(client, range(10))
        flush(client)
        first = 10
        if fault == "file_mode_000":
            # chmod of the file the writer holds open changes nothing: permissions are
            # checked at open(), and the writer keeps its descriptor.
            os.chmod(path, 0o000)
            statuses += send_load(client, range(10, 20))
            through = flush(client)
            assert category_stats(through, CATEGORY)["errors"] == 0
            assert probes(path) == expected(range(20))
            first = 20
            # A file it must open anew (as after a rotation) but may not: EACCES.
            _replace_with_an_unopenable_file(path, aside)
        else:
            # The file is gone and the directory read-only: it cannot be made again.
            os.chmod(log_dir, 0o500)
            os.rename(path, aside)
        try:
            statuses += send_load(client, range(first, first + 20))
            faulted = wait_for_errors(client, CATEGORY, at_least=2)
            statuses += send_load(client, range(first + 20, first + 40))
            held = get_stats(client)
        finally:
            if fault == "file_mode_000":
                os.chmod(path, 0o600)
            else:
                os.chmod(log_dir, 0o700)
        after = flush(client)
        recovered = probes(aside, path)
        assert_clean_stop(server)
        stderr = server.stderr

    last = first + 40
    assert statuses == [200] * last
    entry = category_stats(faulted, CATEGORY)
    assert entry["errors"] >= 2
    assert "PermissionError" in entry["last_error"], entry
    assert category_stats(held, CATEGORY)["written"] == first * PER_REQUEST
    assert held["queued"] + held["in_flight"] + held["held"] > 0
    assert recovered == expected(range(last))
    assert_each_failure_reported_once(stderr, after)
    assert f"writing to '{path}' works again" in stderr
    assert api_requests(log_dir / API_FILE) == Counter(request_id(r) for r in range(last))
    assert path.stat().st_uid == NOBODY
    assert mode(path) == 0o600


# ------------------------------------------------------- 3. deleted directory


class Load:
    """Requests with increasing ``req`` numbers from threads until stopped."""

    def __init__(self, client: httpx.Client, start: int) -> None:
        self._client = client
        self._next = start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.statuses: dict[int, int] = {}
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def peek(self) -> int:
        """The number the next request will take: every later one starts after now."""
        with self._lock:
            return self._next

    def done_from(self, first: int) -> int:
        with self._lock:
            return sum(1 for req in self.statuses if req >= first)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                req = self._next
                self._next += 1
            try:
                status = record(self._client, req)
            except BaseException as exc:
                self.errors.append(exc)
                return
            with self._lock:
                self.statuses[req] = status

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT)
        assert not any(t.is_alive() for t in self._threads), "a load thread hangs"
        assert not self.errors, self.errors


@pytest.mark.e2e
def test_a_log_directory_deleted_under_load_is_recreated_and_nothing_recorded_after_is_lost(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "audit" / "security"
    path = log_dir / FAULTS_FILE
    with run_server(APP, {LOG_DIR_ENV: str(log_dir)}) as server, http_client(server.url) as client:
        statuses = send_load(client, range(10))
        flush(client)
        with Load(client, start=10) as load:
            wait_for(lambda: load.done_from(10), lambda n: n >= 10, "requests before rm -rf")
            for _ in range(50):
                # rm -rf while the writer writes: it may refill the directory between
                # listing and rmdir (ENOTEMPTY); do what an operator's rm would be
                # retried to do.
                try:
                    shutil.rmtree(log_dir)
                except OSError:
                    continue
                break
            else:
                pytest.fail(f"rm -rf {log_dir} kept failing")
            boundary = load.peek()
            wait_for(
                lambda: load.done_from(boundary),
                lambda n: n >= 30,
                "requests after rm -rf",
            )
        statuses += load.statuses.values()
        flush(client)
        found = probes(path)
        assert_clean_stop(server)

    assert set(statuses) == {200}
    after = range(boundary, max(load.statuses) + 1)
    # Nothing recorded after the deletion is lost, and nothing is written twice;
    # what was written before it went with the directory.
    assert found & expected(after) == expected(after)
    assert not found & expected(range(10))  # flushed before rm -rf: really gone
    assert max(found.values()) == 1
    apis = api_requests(log_dir / API_FILE)
    assert all(apis[request_id(r)] == 1 for r in after), apis
    assert max(apis.values()) == 1
    assert mode(log_dir) == 0o700
    assert mode(path) == 0o600
    assert mode(log_dir / API_FILE) == 0o600


# -------------------------------------- 4. a new category in a read-only directory


@pytest.mark.e2e
def test_a_new_category_in_a_read_only_directory_is_held_counted_and_written_after_chmod(
    unprivileged: Unprivileged, nobody_log_dir: Path
) -> None:
    log_dir = nobody_log_dir
    late = log_dir / "late.jsonl"
    with (
        run_server_as_nobody(unprivileged, log_dir) as server,
        http_client(server.url) as client,
    ):
        statuses = send_load(client, range(5))  # faults.jsonl and api-audit.jsonl exist
        flush(client)
        os.chmod(log_dir, 0o500)
        try:
            statuses += send_load(client, range(5, 25), category="late")
            faulted = wait_for_errors(client, "late", at_least=2)
            held = get_stats(client)
            late_existed = late.exists()
        finally:
            os.chmod(log_dir, 0o700)
        after = flush(client)
        written = probes(late)
        assert_clean_stop(server)
        stderr = server.stderr

    assert statuses == [200] * 25
    entry = category_stats(faulted, "late")
    assert entry["errors"] >= 2
    assert "PermissionError" in entry["last_error"], entry
    assert entry["written"] == 0
    assert held["queued"] + held["in_flight"] + held["held"] > 0
    assert not late_existed
    assert written == expected(range(5, 25))
    assert mode(late) == 0o600
    assert late.stat().st_uid == NOBODY
    assert_each_failure_reported_once(stderr, after)
    assert api_requests(log_dir / API_FILE) == Counter(request_id(r) for r in range(25))


@pytest.mark.e2e
def test_other_categories_keep_being_written_while_a_new_category_cannot_be_created(
    unprivileged: Unprivileged, nobody_log_dir: Path
) -> None:
    log_dir = nobody_log_dir
    path = log_dir / FAULTS_FILE
    with (
        run_server_as_nobody(unprivileged, log_dir) as server,
        http_client(server.url) as client,
    ):
        statuses = send_load(client, range(5))  # faults.jsonl and api-audit.jsonl are open
        flush(client)
        os.chmod(log_dir, 0o500)
        try:
            statuses += send_load(client, range(5, 10), category="late")
            wait_for_errors(client, "late", at_least=1)
            statuses += send_load(client, range(10, 30))  # the open category
            # A bounded wait for the other category's events, while "late" still fails.
            deadline = time.monotonic() + OTHER_CATEGORY_WAIT
            while (meanwhile := probes(path)) != expected([*range(5), *range(10, 30)]):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            during = get_stats(client)
        finally:
            os.chmod(log_dir, 0o700)
        flush(client)
        recovered = probes(path), probes(log_dir / "late.jsonl")
        assert_clean_stop(server)

    assert statuses == [200] * 30
    # Everything arrives once the directory is writable again ...
    assert recovered == (expected([*range(5), *range(10, 30)]), expected(range(5, 10)))
    # ... but while one category could not be created, the others had to go on.
    assert category_stats(during, "late")["errors"] >= 1
    assert meanwhile == expected([*range(5), *range(10, 30)]), (
        f"{CATEGORY!r} events recorded while 'late' failed were not written within "
        f"{OTHER_CATEGORY_WAIT}s: {sum(meanwhile.values())} of 75 lines; stats: {during}"
    )


# ------------------------------------------------- 5. memory bounded in-process


@contextmanager
def file_size_limit(limit: int) -> Iterator[Callable[[], None]]:
    """RLIMIT_FSIZE of this process; yields ``lift``, which restores it (also on exit).

    Only the soft limit changes and the hard one stays, so lifting needs no privilege.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def lift() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield lift
    finally:
        lift()


async def test_the_stream_stays_within_its_capacity_while_a_write_fails_and_all_arrive_after(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capacity, tasks, threads, each = 100, 40, 4, 25
    log_dir = tmp_path / "security"
    log_dir.mkdir(mode=0o700, parents=True)
    path = log_dir / FAULTS_FILE
    # Whole padding lines put the file far above anything else this process writes
    # meanwhile (pytest's capture files), so only the audit file meets the limit.
    padding = 8000
    path.write_bytes(b"".join(b'{"event_type":"padding","i":%d}\n' % i for i in range(padding)))
    os.chmod(path, 0o600)
    limit = path.stat().st_size + 10  # less than one line: each try is cut short, then EFBIG

    samples: list[tuple[int, int]] = []
    sampling = True
    finished = 0

    async with Auditor(log_dir=log_dir, queue_capacity=capacity, self_audit=False) as auditor:

        def failed_writes() -> int:
            errors: int = auditor.stats()["categories"].get(CATEGORY, {}).get("errors", 0)
            return errors

        def held_and_queued() -> int:
            stats = auditor.stats()
            return int(stats["queued"] + stats["held"] + stats["in_flight"])

        async def sampler() -> None:
            while sampling:
                stats = auditor.stats()
                # Lines in flight and held (their write failed) count toward the capacity.
                samples.append((stats["queued"] + stats["held"] + stats["in_flight"], 0))
                await anyio.sleep(0.001)

        async def caller(req: int) -> None:
            nonlocal finished
            for n in range(each):
                await auditor.emit(CATEGORY, EVENT_TYPE, req=req, n=n)
            finished += 1

        def sync_caller(req: int) -> None:
            for n in range(each):
                auditor.sync.emit(CATEGORY, EVENT_TYPE, req=req, n=n)

        workers = [threading.Thread(target=sync_caller, args=(tasks + t,)) for t in range(threads)]
        with anyio.fail_after(WAIT * 2):
            async with anyio.create_task_group() as sampling_group:
                sampling_group.start_soon(sampler)
                with file_size_limit(limit) as lift:
                    async with anyio.create_task_group() as callers:
                        for req in range(tasks):
                            callers.start_soon(caller, req)
                        for worker in workers:
                            worker.start()
                        # The write fails and is retried while the stream fills up.
                        while not (held_and_queued() >= capacity and failed_writes() >= 3):
                            await anyio.sleep(0.005)
                        waiting = (tasks - finished) + sum(w.is_alive() for w in workers)
                        during = auditor.stats()
                        lift()  # the fault clears; the callers can finish
                for worker in workers:
                    await anyio.to_thread.run_sync(worker.join)
                await auditor.flush()
                sampling = False
    err = capfd.readouterr().err

    assert waiting > 0  # callers were held back: the stream did not grow past its capacity
    entry = category_stats(during, CATEGORY)
    assert f"[Errno {errno.EFBIG}] File too large" in entry["last_error"]
    assert entry["written"] == 0
    assert all(q <= capacity and f <= capacity for q, f in samples), max(samples)  # never beyond
    assert max(q for q, _ in samples) == capacity  # and it did fill up: the bound was tested
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    found = Counter((e["req"], e["n"]) for e in lines if e["event_type"] == EVENT_TYPE)
    assert found == Counter((r, n) for r in range(tasks + threads) for n in range(each))
    assert len(lines) == padding + (tasks + threads) * each  # and no broken line
    assert len(failure_reports(err, CATEGORY)) == 1
    assert "works again" in err
