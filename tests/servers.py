"""Run a real uvicorn server in a subprocess for end-to-end tests.

``run_server("tests.apps.basic:app", {"ASGI_AUDIT_TEST_LOG_DIR": str(path)})``
starts ``python -m uvicorn`` on 127.0.0.1 with a free port, waits (bounded) until
every worker has finished its lifespan startup and the port accepts connections,
and stops the server on exit: SIGTERM first, SIGKILL to the whole process group
if it does not end in time. Everything the server writes to stderr (uvicorn's
log, tracebacks, ``asgi_audit`` reports) is kept for assertions.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Final

__all__ = (
    "REPO_ROOT",
    "STARTUP_COMPLETE",
    "Server",
    "ServerStartError",
    "free_port",
    "run_command",
    "run_server",
)

#: The repository root: the server's working directory and ``--app-dir``, so
#: ``tests.apps.<module>:app`` imports.
REPO_ROOT: Final = Path(__file__).resolve().parent.parent

#: What uvicorn logs once a worker's lifespan startup is done.
STARTUP_COMPLETE: Final = "Application startup complete."

_BIND_FAILED: Final = "error while attempting to bind"
_POLL_INTERVAL: Final = 0.02


class ServerStartError(RuntimeError):
    """The server exited or did not become ready in time; the message holds its stderr."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """A running uvicorn subprocess (built by :func:`run_server`).

    Attributes:
        url: ``http://127.0.0.1:<port>``, no trailing slash.
        host: the bound host.
        port: the bound port.
        process: the ``python -m uvicorn`` process (the supervisor when ``workers > 1``).
    """

    def __init__(
        self, process: subprocess.Popen[bytes], stderr_file: IO[bytes], host: str, port: int
    ) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self._stderr_file = stderr_file
        self._stderr_final: str | None = None

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id)."""
        return self.process.pid

    @property
    def stderr(self) -> str:
        """Everything the server (and its workers) wrote to stderr so far.

        Still readable after the ``run_server`` block ended.
        """
        if self._stderr_final is not None:
            return self._stderr_final
        fd = self._stderr_file.fileno()
        # pread: the child shares the file offset, so this file is never seeked.
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0).decode("utf-8", "replace")

    @property
    def running(self) -> bool:
        """Whether the server process has not exited yet."""
        return self.process.poll() is None

    def wait_for_stderr(self, text: str, *, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears ``count`` times in stderr.

        Raises:
            ServerStartError: the process exited first, or ``timeout`` passed.
        """
        deadline = time.monotonic() + timeout
        while self.stderr.count(text) < count:
            if not self.running and self.stderr.count(text) < count:  # it may log, then exit
                raise ServerStartError(
                    f"server exited with {self.process.returncode} before logging {text!r}:\n"
                    f"{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise ServerStartError(f"{text!r} not logged within {timeout}s:\n{self.stderr}")
            time.sleep(_POLL_INTERVAL)

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit; SIGKILL the process group after ``timeout``.

        Returns:
            The return code (negative for death by a signal: uvicorn re-raises a
            SIGTERM it handled gracefully, so a clean SIGTERM stop gives ``-15``).
        """
        if self.running:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_group()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL the server and every process of its group (its workers)."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        """Keep the captured stderr as text and close its file (after the server stopped)."""
        if self._stderr_final is None:
            self._stderr_final = self.stderr
            self._stderr_file.close()

    def _reap_group(self) -> None:
        # Workers orphaned by a supervisor that died must not outlive the test.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, 0)
            os.killpg(self.process.pid, signal.SIGKILL)


def _uvicorn_argv(
    app_spec: str, workers: int, host: str, extra_args: Sequence[str]
) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app_spec,
            "--host",
            host,
            "--port",
            str(port),
            "--app-dir",
            str(REPO_ROOT),
            "--no-use-colors",
            *(["--workers", str(workers)] if workers > 1 else []),
            *extra_args,
        ]

    return argv


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], stderr_file: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr_file,
        start_new_session=True,  # its own process group, so workers can be killed with it
    )


@contextmanager
def run_server(
    app_spec: str,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    *,
    extra_args: Sequence[str] = (),
    ready_marker: str | None = STARTUP_COMPLETE,
    startup_timeout: float = 20.0,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Start ``uvicorn app_spec`` on ``host`` and a free port; stop it on exit.

    Args:
        app_spec: ``module:attribute``, importable from the repository root.
        env: variables set for the server on top of this process's environment.
        workers: uvicorn ``--workers``.
        extra_args: further uvicorn options (``["--no-proxy-headers"]``, ...).
        ready_marker: stderr text each worker logs once ready (default the end of
            its lifespan startup), waited for ``workers`` times, then uvicorn's
            "running on" line; None to wait for the port only (apps without a
            lifespan, or a log level above info).
        startup_timeout: the bound of the whole wait.
        host: the interface to bind.

    Yields:
        The running :class:`Server`. Stopped with SIGTERM on exit if still running.

    Raises:
        ServerStartError: the server exited during startup or was not ready in time.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")
    argv = _uvicorn_argv(app_spec, workers, host, extra_args)
    with run_command(
        argv, env, workers, ready_marker=ready_marker, startup_timeout=startup_timeout, host=host
    ) as server:
        yield server


@contextmanager
def run_command(
    argv: Callable[[int], Sequence[str]],
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    *,
    ready_marker: str | None = STARTUP_COMPLETE,
    startup_timeout: float = 20.0,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Like :func:`run_server`, for a server command of one's own (``python -m demo.serve``).

    Args:
        argv: the command for a port: it must serve on ``host`` and that port.
        env, workers, ready_marker, startup_timeout, host: as for :func:`run_server`.
    """
    server = _start(argv, env or {}, workers, host, ready_marker, startup_timeout)
    try:
        yield server
    finally:
        try:
            server.stop(signal.SIGTERM)
        finally:
            server.close()


def _start(
    argv: Callable[[int], Sequence[str]],
    env: Mapping[str, str],
    workers: int,
    host: str,
    ready_marker: str | None,
    startup_timeout: float,
) -> Server:
    stderr = ""
    for _ in range(3):  # another process may take the port between the pick and the bind
        stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Server.close()
        port = free_port(host)
        try:
            process = _spawn(argv(port), env, stderr_file)
        except BaseException:
            stderr_file.close()
            raise
        server = Server(process, stderr_file, host, port)
        try:
            _wait_ready(server, ready_marker, workers, startup_timeout)
        except BaseException as exc:
            server.kill()
            stderr = server.stderr
            server.close()
            if isinstance(exc, ServerStartError) and _BIND_FAILED in stderr:
                continue
            raise
        return server
    raise ServerStartError(f"no free port could be bound:\n{stderr}")


def _wait_ready(server: Server, marker: str | None, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    if marker is not None:
        server.wait_for_stderr(marker, count=workers, timeout=timeout)
        # Logged once the socket is bound: the port is ours, not another process's.
        remaining = max(deadline - time.monotonic(), 0.0)
        server.wait_for_stderr(f"Uvicorn running on {server.url}", timeout=remaining)
    while not _accepts(server.host, server.port):
        if not server.running:
            raise ServerStartError(
                f"server exited with {server.process.returncode}:\n{server.stderr}"
            )
        if time.monotonic() > deadline:
            raise ServerStartError(f"port {server.port} not open within {timeout}s")
        time.sleep(_POLL_INTERVAL)
