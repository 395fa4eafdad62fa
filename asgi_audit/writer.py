"""The bounded event stream and the writer task that drains it.

IO. The request path calls :meth:`Writer.put_nowait` (or awaits :meth:`Writer.put`
when the stream is full): a lock, a deque append, a counter. The writer task
takes everything queued as one batch and hands it to one worker thread, which
runs the pure pipeline for each event and appends each category's lines with one
``write()`` per file. A failing write is reported on stderr, counted and retried
with backoff; its lines are held (the stream stays bounded, so callers wait
instead of memory growing) and written once the fault clears.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .events import RawEvent

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from .files import AppendFile, LogDirectory
    from .pipeline import Pipeline

__all__ = ("AuditQueueFull", "AuditorNotRunning", "CategoryStats", "Writer")


class AuditorNotRunning(RuntimeError):
    """An event was recorded while the Auditor was not started (or already stopped)."""


class AuditQueueFull(RuntimeError):
    """The stream is full and the caller cannot wait (sync code on the event loop thread)."""


@dataclass(slots=True)
class CategoryStats:
    """Live counters of one category (see ``Auditor.stats()``)."""

    file: str
    written: int = 0
    bytes: int = 0
    errors: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "written": self.written,
            "bytes": self.bytes,
            "errors": self.errors,
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class _Held:
    """Lines of a category whose write failed, waiting for a retry."""

    data: bytes
    count: int
    offset: int = 0
    errors: list[str] = field(default_factory=list)


def _report(message: str) -> None:
    # Framed so it stands out in a server's log and never raises itself.
    try:
        sys.stderr.write(f"--- asgi_audit: {message} ---\n")
        sys.stderr.flush()
    except Exception:  # noqa: S110 - stderr itself is gone; nothing is left to tell
        pass


class Writer:
    """One Auditor's stream and writer task.

    Args:
        pipeline: turns a captured event into a line.
        directory: where the category files live.
        capacity: the most events the stream holds; a caller waits beyond it.
        retry_initial: first backoff after a failed write, in seconds.
        retry_max: the longest backoff.
    """

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        directory: LogDirectory,
        capacity: int,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
    ) -> None:
        self._pipeline = pipeline
        self._directory = directory
        self._capacity = capacity
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._lock = threading.Lock()
        self._items: deque[RawEvent] = deque()
        self._space_cond = threading.Condition(self._lock)
        self._done_cond = threading.Condition(self._lock)
        self._accepting = False
        self._closing = False
        self._enqueued = 0
        self._completed = 0
        self._in_flight = 0
        self._writer_waiting = False
        self._wakeup: anyio.Event | None = None
        self._space: anyio.Event | None = None
        self._flush_waiters: list[tuple[int, anyio.Event]] = []
        self._loop_thread = -1
        self._call_soon: Callable[[Callable[[], object]], object] | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._files: dict[str, AppendFile] = {}
        self._stats: dict[str, CategoryStats] = {}
        self._batches = 0
        self._abandoned = False
        self.done = anyio.Event()

    # ----------------------------------------------------------------- request side

    def put_nowait(self, raw: RawEvent) -> bool:
        """Enqueue ``raw`` if there is room; False if the stream is full.

        Raises:
            AuditorNotRunning: the writer is not accepting events.
        """
        with self._lock:
            if not self._accepting:
                raise AuditorNotRunning(
                    "asgi_audit: the Auditor is not running; start it with "
                    "`FastAPI(lifespan=auditor.lifespan)` or `async with auditor:`"
                )
            if len(self._items) >= self._capacity:
                return False
            self._items.append(raw)
            self._enqueued += 1
            if not self._writer_waiting:
                return True
            self._writer_waiting = False
            wakeup = self._wakeup
        if wakeup is not None:
            self._on_loop(wakeup.set)
        return True

    async def put(self, raw: RawEvent) -> None:
        """Enqueue ``raw``, waiting for room while the stream is full (event loop only)."""
        while not self.put_nowait(raw):
            space = self._space
            if space is None:
                space = self._space = anyio.Event()
            await space.wait()

    def put_blocking(self, raw: RawEvent, timeout: float | None = None) -> None:
        """Enqueue ``raw`` from any thread, blocking while the stream is full.

        Raises:
            AuditorNotRunning: the writer is not accepting events.
            AuditQueueFull: full and called on the event loop's own thread, where
                blocking would stop the writer; or ``timeout`` passed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.put_nowait(raw):
            if threading.get_ident() == self._loop_thread:
                raise AuditQueueFull(
                    "asgi_audit: the event stream is full and sync code on the event loop "
                    "cannot wait; use the async methods there"
                )
            with self._lock:
                while self._accepting and len(self._items) >= self._capacity:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise AuditQueueFull("asgi_audit: the event stream stayed full")
                    self._space_cond.wait(remaining)

    def _on_loop(self, fn: Callable[[], object]) -> None:
        if threading.get_ident() == self._loop_thread:
            fn()
        elif self._call_soon is not None:
            # A closed loop raises RuntimeError: nothing waits any more.
            with contextlib.suppress(RuntimeError):
                self._call_soon(fn)

    # ------------------------------------------------------------------- flushing

    async def flush(self) -> None:
        """Return once every event enqueued before the call is written (or given up)."""
        with self._lock:
            target = self._enqueued
            if self._completed >= target:
                return
        event = anyio.Event()
        self._flush_waiters.append((target, event))
        await event.wait()

    def flush_blocking(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for other threads; False if ``timeout`` passed first."""
        with self._lock:
            target = self._enqueued
            return self._done_cond.wait_for(lambda: self._completed >= target, timeout)

    def _release_flushers(self) -> None:
        done = self._completed
        keep = []
        for target, event in self._flush_waiters:
            if target <= done:
                event.set()
            else:
                keep.append((target, event))
        self._flush_waiters = keep

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop: one batch at a time until closed and drained."""
        self._loop_thread = threading.get_ident()
        self._call_soon = _threadsafe_scheduler()
        with self._lock:
            self._accepting = True
        task_status.started()
        try:
            while True:
                with self._lock:
                    batch = list(self._items)
                    self._items.clear()
                    self._in_flight = len(batch)
                    if not batch:
                        if self._closing:
                            break
                        self._writer_waiting = True
                        wakeup = self._wakeup = anyio.Event()
                    else:
                        self._space_cond.notify_all()
                if not batch:
                    await wakeup.wait()
                    continue
                space, self._space = self._space, None
                if space is not None:
                    space.set()
                await anyio.to_thread.run_sync(
                    self._write_batch, batch, limiter=self._limiter, abandon_on_cancel=True
                )
                with self._lock:
                    self._completed += len(batch)
                    self._in_flight = 0
                    self._done_cond.notify_all()
                self._release_flushers()
        finally:
            with self._lock:
                self._accepting = False
                self._space_cond.notify_all()
            space, self._space = self._space, None
            if space is not None:
                space.set()
            self.done.set()

    def close(self) -> None:
        """Stop accepting events; the task ends once what is queued is written."""
        with self._lock:
            self._accepting = False
            self._closing = True
            self._space_cond.notify_all()
            wakeup = self._wakeup if self._writer_waiting else None
            self._writer_waiting = False
        if wakeup is not None:
            wakeup.set()
        space, self._space = self._space, None
        if space is not None:
            space.set()

    def abandon(self) -> int:
        """Give up after a shutdown deadline: stop retrying; return how many events are lost."""
        self._abandoned = True
        with self._lock:
            lost = len(self._items) + self._in_flight
            self._items.clear()
            self._completed += lost
            self._done_cond.notify_all()
        self._release_flushers()
        return lost

    # --------------------------------------------------------- the worker thread

    def _write_batch(self, batch: list[RawEvent]) -> None:
        encode = self._pipeline.encode
        lines: dict[str, list[bytes]] = {}
        for raw in batch:
            lines.setdefault(raw.category, []).append(encode(raw))
        for category, chunk in lines.items():
            self._write_category(category, _Held(b"".join(chunk), len(chunk)))
        self._batches += 1

    def _file(self, category: str) -> AppendFile:
        file = self._files.get(category)
        if file is None:
            file = self._files[category] = self._directory.file(category)
            self._stats.setdefault(category, CategoryStats(str(file.path)))
        return file

    def _write_category(self, category: str, held: _Held) -> None:
        file = self._file(category)
        stats = self._stats[category]
        delay = self._retry_initial
        failing: str | None = None
        while True:
            try:
                written = file.write(memoryview(held.data)[held.offset :])
            except OSError as exc:
                held.offset += getattr(exc, "written", 0)
                stats.errors += 1
                reason = f"{type(exc).__name__}: {exc}"
                stats.last_error = reason
                if reason != failing:
                    failing = reason
                    _report(
                        f"writing {held.count} {category} events to '{file.path}' failed: "
                        f"{reason}; holding them and retrying"
                    )
                # A broken descriptor is reopened on the next try.
                with contextlib.suppress(OSError):
                    file.close()
                if self._sleep_or_abandon(delay):
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            held.offset += written
            if failing is not None:
                _report(f"writing to '{file.path}' works again; {held.count} held events written")
            stats.written += held.count
            stats.bytes += len(held.data)
            return

    def _sleep_or_abandon(self, delay: float) -> bool:
        """Back off before a retry; True when the writer was abandoned meanwhile."""
        if not self._abandoned:
            time.sleep(delay)
        return self._abandoned

    # ------------------------------------------------------------------- stats

    def statistics(self) -> dict[str, Any]:
        """Counters of the stream and of each category, read at once."""
        with self._lock:
            queued = len(self._items)
            enqueued = self._enqueued
            completed = self._completed
            in_flight = self._in_flight
        return {
            "running": self._accepting,
            "capacity": self._capacity,
            "queued": queued,
            "in_flight": in_flight,
            "enqueued": enqueued,
            "completed": completed,
            "batches": self._batches,
            "categories": {name: s.as_dict() for name, s in list(self._stats.items())},
        }

    def close_files(self) -> None:
        """Close every open descriptor (blocking; call from a thread)."""
        for file in self._files.values():
            try:
                file.close()
            except OSError as exc:
                _report(f"closing '{file.path}' failed: {exc}")


def _threadsafe_scheduler() -> Callable[[Callable[[], object]], object]:
    """A way for other threads to run a callback on this event loop, without waiting."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # The only other backend anyio runs on; imported only when it is the one running.
        trio: Any = importlib.import_module("trio")
        run_sync_soon: Callable[[Callable[[], object]], object] = (
            trio.lowlevel.current_trio_token().run_sync_soon
        )
        return run_sync_soon
    return loop.call_soon_threadsafe
