"""The writer task: batches from the stream, lines into the files, off the event loop.

IO. One task per Auditor. It takes everything queued as one batch and hands it
to one worker thread, which runs the pure pipeline for each event and appends
each category's lines with one ``write()`` per file (under the file's lock,
rotating first when the policy says so). Then, by the durability policy, it
fsyncs: every batch (``always``), at most every N ms (``interval``, also in quiet
periods), never (``never``); a batch with a ``durable=True`` event is always
fsynced before those callers return.

A failing write is reported once on stderr, counted, and retried with backoff;
its lines are held (the stream stays bounded, so callers wait instead of memory
growing) and written once the fault clears. A failed fsync is reported and
counted but not retried blindly: after a failed fsync the kernel may have
dropped the dirty pages, so a second fsync proves nothing; the durable callers
of that batch get ``AuditWriteError``.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from .events import RawEvent, format_timestamp

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from .files import AppendFile, LogDirectory
    from .pipeline import Pipeline
    from .rotation import RotationPolicy
    from .stream import EventStream

__all__ = ("CategoryStats", "FsyncPolicy", "Writer", "report")

FsyncPolicy = Literal["always", "interval", "never"]
T = TypeVar("T")


def report(message: str) -> None:
    """A framed message on stderr that stands out in a server's log and never raises."""
    # Loguru's error interceptor does the same: the sink's failure must not
    # become the application's.
    with contextlib.suppress(Exception):
        sys.stderr.write(f"--- asgi_audit: {message} ---\n")
        sys.stderr.flush()


@dataclass(slots=True)
class CategoryStats:
    """Live counters of one category (see ``Auditor.stats()``)."""

    file: str
    written: int = 0
    bytes: int = 0
    errors: int = 0
    fsync_errors: int = 0
    rotations: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "written": self.written,
            "bytes": self.bytes,
            "errors": self.errors,
            "fsync_errors": self.fsync_errors,
            "rotations": self.rotations,
            "last_error": self.last_error,
        }


class Writer:
    """Drains one :class:`EventStream` into one directory's category files.

    Args:
        stream: where captured events wait.
        pipeline: turns a captured event into a line.
        directory: where the category files live.
        fsync: the durability policy.
        fsync_interval: seconds between fsyncs under ``interval``.
        rotation: when files rotate and what happens to rotated files.
        on_rotated: called (in the worker thread) with each rotated file's path.
        retry_initial: first backoff after a failed write, in seconds.
        retry_max: the longest backoff.
    """

    def __init__(
        self,
        *,
        stream: EventStream,
        pipeline: Pipeline,
        directory: LogDirectory,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        rotation: RotationPolicy | None = None,
        on_rotated: Callable[[Path], object] | None = None,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
    ) -> None:
        self.stream = stream
        self._pipeline = pipeline
        self._directory = directory
        self._fsync = fsync
        self._fsync_interval = fsync_interval
        self._rotation = rotation if rotation is not None and rotation.rotates else None
        self._on_rotated = on_rotated
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._files: dict[str, AppendFile] = {}
        self._stats: dict[str, CategoryStats] = {}
        self._dirty: set[str] = set()
        self._last_sync = time.monotonic()
        self.batches = 0
        self._abandoned = False
        self.done = anyio.Event()

    # ---------------------------------------------------------------- the task

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop: one batch at a time until closed and drained."""
        stream = self.stream
        stream.bind_loop()
        task_status.started()
        try:
            while True:
                taken = stream.take()
                if taken is None:
                    break
                if isinstance(taken, anyio.Event):
                    await self._idle(taken)
                    continue
                batch, drops = taken
                batch.extend(_dropped_events(drops))
                synced, error = await self._in_thread(self._write_batch, batch)
                self.batches += 1
                stream.completed_batch(len(batch) - len(drops), synced, error)
            if self._dirty and self._fsync != "never":
                await self._in_thread(self._sync_dirty)
        finally:
            self.stop_thread()
            self.done.set()

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in the writer's own thread: the one thread hop of a batch.

        A daemon thread of the writer's own rather than a pooled worker: a write
        stuck forever on a dead disk is abandoned at the shutdown deadline and
        cannot keep the process from exiting. Waiting here is cancellable.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="asgi_audit writer", daemon=True
            )
            self._thread.start()
        done = anyio.Event()
        box: list[Any] = []
        on_loop = self.stream.call_on_loop

        def job() -> None:
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:  # handed back to the task, which re-raises
                box.append((False, exc))
            on_loop(done.set)

        self._jobs.put(job)
        await done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def stop_thread(self) -> None:
        """Let the writer's thread end once its current job is done."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    async def _idle(self, wakeup: anyio.Event) -> None:
        # With unsynced lines under "interval", wake up in time to fsync them even
        # when nothing more comes (a quiet period).
        if self._dirty and self._fsync == "interval":
            due = self._last_sync + self._fsync_interval - time.monotonic()
            with anyio.move_on_after(max(due, 0)):
                await wakeup.wait()
            if not wakeup.is_set():
                await self._in_thread(self._sync_dirty)
                self.stream.wake()
        else:
            await wakeup.wait()

    def abandon(self) -> None:
        """Stop retrying a failing write (the shutdown deadline passed)."""
        self._abandoned = True

    # --------------------------------------------------------- the worker thread

    def _write_batch(self, batch: list[RawEvent]) -> tuple[bool, BaseException | None]:
        encode = self._pipeline.encode
        lines: dict[str, list[bytes]] = {}
        durable = False
        for raw in batch:
            lines.setdefault(raw.category, []).append(encode(raw))
            durable = durable or raw.durable
        for category, chunk in lines.items():
            self._write_category(category, b"".join(chunk), len(chunk))
            self._dirty.add(category)
        if self._fsync == "always" or durable:
            return self._sync_dirty()
        if self._fsync == "interval" and time.monotonic() - self._last_sync >= self._fsync_interval:
            self._sync_dirty()
        return False, None

    def _sync_dirty(self) -> tuple[bool, BaseException | None]:
        """fsync every file written since the last fsync; (all synced, first error)."""
        failure: BaseException | None = None
        for category in list(self._dirty):
            file = self._files[category]
            try:
                file.fsync()
            except OSError as exc:
                stats = self._stats[category]
                stats.fsync_errors += 1
                stats.last_error = f"fsync: {type(exc).__name__}: {exc}"
                report(
                    f"fsync of '{file.path}' failed: {type(exc).__name__}: {exc}; lines written "
                    "since the last fsync may not be on disk (not retried: a second fsync "
                    "after a failed one proves nothing)"
                )
                failure = failure or exc
        self._dirty.clear()
        self._last_sync = time.monotonic()
        return failure is None, failure

    def _file(self, category: str) -> AppendFile:
        file = self._files.get(category)
        if file is None:
            file = self._files[category] = self._directory.file(category)
            self._stats.setdefault(category, CategoryStats(str(file.path)))
        return file

    def _write_category(self, category: str, data: bytes, count: int) -> None:
        file = self._file(category)
        stats = self._stats[category]
        delay = self._retry_initial
        failing: str | None = None
        while True:
            try:
                _, rotated = file.append(data, self._rotation)
            except OSError as exc:
                stats.errors += 1
                reason = f"{type(exc).__name__}: {exc}"
                stats.last_error = reason
                if reason != failing:
                    failing = reason
                    report(
                        f"writing {count} {category} events to '{file.path}' failed: {reason}; "
                        "holding them and retrying"
                    )
                with contextlib.suppress(OSError):
                    file.close()  # a broken descriptor is reopened on the next try
                if self._sleep_or_abandon(delay):
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            if failing is not None:
                report(f"writing to '{file.path}' works again; {count} held events written")
            stats.written += count
            stats.bytes += len(data)
            if rotated is not None:
                stats.rotations += 1
                if self._on_rotated is not None:
                    self._on_rotated(rotated)
            return

    def _sleep_or_abandon(self, delay: float) -> bool:
        """Back off before a retry; True when the writer was abandoned meanwhile."""
        if not self._abandoned:
            time.sleep(delay)
        return self._abandoned

    # ------------------------------------------------------------------- stats

    def category_stats(self) -> dict[str, dict[str, Any]]:
        """Counters per category written so far."""
        return {name: s.as_dict() for name, s in list(self._stats.items())}

    def close_files(self) -> None:
        """Close every descriptor and lock (blocking; call from a thread)."""
        for file in self._files.values():
            try:
                file.close_all()
            except OSError as exc:
                report(f"closing '{file.path}' failed: {exc}")


def _dropped_events(drops: dict[str, list[int]]) -> list[RawEvent]:
    # One events_dropped event per category that shed events since the last
    # batch, written into that category's own file.
    return [
        RawEvent(
            category,
            "events_dropped",
            "dropped",
            time.time_ns(),
            None,
            {
                "dropped_count": count,
                "first_dropped_at": _iso(first),
                "last_dropped_at": _iso(last),
            },
        )
        for category, (count, first, last) in drops.items()
    ]


def _iso(time_ns: int) -> str:
    return format_timestamp(time_ns)
