"""The running parts of an Auditor: its stream, writer, sinks and maintenance task.

IO. :class:`Runtime` exists from ``async with auditor`` to its end: it builds the
bounded stream, the pipeline and the writer from the checked
:class:`~asgi_audit.options.Settings`, starts the writer task, the sinks' threads
and the maintenance task (compression and retention of rotated files, off the
writer's path), and at the end drains, stops and counts what a deadline cut off.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from .options import Settings
from .proof.integrity import Sealed
from .proof.session import ProofSession
from .proof.setup import SealingSetup
from .record.events import RawEvent, category_filename
from .record.pipeline import Pipeline
from .sinks.group import SinkGroup
from .store.housekeeping import retain
from .store.reporting import report
from .store.stream import EventStream
from .store.writer import Writer

__all__ = ("Runtime",)

_MAINTENANCE_PERIOD: Final = 300.0
# The longest the sinks get at shutdown to deliver what the files hold.
_SINK_DRAIN_S: Final = 10.0


class Runtime:
    """One run of an Auditor (see the module doc)."""

    def __init__(
        self, settings: Settings, sealing: SealingSetup, prev_ends: dict[str, Sealed]
    ) -> None:
        self._settings = settings
        self._sealing = sealing
        self.stream = EventStream(
            capacity=settings.capacity,
            overflow={c: p for c, p in settings.overflow.items() if c != "*"},
            default=settings.overflow.get("*", "block"),
            block_timeout=settings.block_timeout,
        )
        pipeline = Pipeline(
            redactor=settings.redactor,
            caps=settings.caps,
            session_ids=settings.session_ids,
            session_key=sealing.session_key,
            output_format=settings.output_format,
        )
        self.sinks = SinkGroup(settings.sinks, settings.directory.path)
        self._maintenance: anyio.Event | None = (
            anyio.Event() if settings.rotation.maintains else None
        )
        self._token: Any = None
        # Set while no maintenance pass runs in a thread: a stop waits for it, so
        # that a compression cut short by the process's exit leaves no temporary file.
        self._idle = threading.Event()
        self._idle.set()
        self.writer = Writer(
            stream=self.stream,
            pipeline=pipeline,
            directory=settings.directory,
            fsync=settings.fsync,
            fsync_interval=settings.fsync_interval,
            batch_interval=settings.batch_interval,
            rotation=settings.rotation,
            on_rotated=self._rotated,
            on_written=self.sinks.wake if self.sinks else None,
            proof=ProofSession(
                settings.directory,
                sealing.sealer,
                interval=settings.checkpoint_interval,
                follows=prev_ends,
                store_state=sealing.store_state,
            )
            if settings.integrity
            else None,
        )
        self._task_group: Any = None

    async def start(self) -> None:
        """Start the writer task, the sinks and the maintenance task."""
        self._token = anyio.lowlevel.current_token()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self.writer.run)
            if self.sinks:
                await anyio.to_thread.run_sync(self.sinks.start)
            if self._maintenance is not None:
                task_group.start_soon(self._maintain, self._maintenance)
                self._maintenance.set()  # apply retention once at start
        except BaseException as exc:
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._task_group = task_group

    async def stop(self, last: RawEvent | None, shutdown_timeout: float) -> int:
        """Write ``last`` and everything queued, stop; return the events lost to the deadline."""
        stream, writer, lost = self.stream, self.writer, 0
        with anyio.CancelScope(shield=True):
            if last is not None and stream.accepting and not stream.offer(last):
                stream.drop(last)
            stream.close()
            with anyio.move_on_after(shutdown_timeout):
                await writer.done.wait()
            if not writer.done.is_set():
                lost = writer.abandon()
                lost += stream.abandon(
                    TimeoutError("shutdown deadline passed"), written=writer.batch_written
                )
                report(
                    f"shutdown deadline of {shutdown_timeout}s passed; "
                    f"{lost} events were not written"
                )
            self._task_group.cancel_scope.cancel()
        try:
            await self._task_group.__aexit__(None, None, None)
        finally:
            self._maintenance = None
            with anyio.CancelScope(shield=True):
                # The maintenance task is cancelled, but a pass already in its thread
                # (a compression) runs on: let it finish, within the deadline.
                await anyio.to_thread.run_sync(self._idle.wait, shutdown_timeout)
                await anyio.to_thread.run_sync(writer.close_files)
                if self.sinks:
                    # The files keep what a sink has not taken: it resumes there next time.
                    drain = min(shutdown_timeout, _SINK_DRAIN_S)
                    await anyio.to_thread.run_sync(self.sinks.stop, drain)
        return lost

    def stats(self) -> dict[str, Any]:
        """The stream's, the writer's and the sinks' counters, read at once."""
        stats = self.stream.statistics()
        queued = stats.pop("queued_by_category")
        dropped = stats.pop("dropped_by_category")
        categories = self.writer.category_stats()
        directory = self._settings.directory.path
        for name in {*queued, *dropped}:
            categories.setdefault(
                name,
                {
                    "file": str(directory / category_filename(name)),
                    "written": 0,
                    "bytes": 0,
                    "errors": 0,
                    "fsync_errors": 0,
                    "rotations": 0,
                    "last_error": None,
                },
            )
        for name, entry in categories.items():
            entry["queued"] = queued.get(name, 0)
            entry["dropped"] = dropped.get(name, 0)
        stats["categories"] = categories
        stats["batches"] = self.writer.batches
        stats["dropped"] = sum(dropped.values())
        stats["sinks"] = self.sinks.stats()
        return stats

    # ------------------------------------------------------------ maintenance

    def _rotated(self, path: Path) -> None:
        # In the writer's thread: wake the maintenance task on the loop.
        if self._maintenance is not None and self._token is not None:
            anyio.from_thread.run_sync(self._poke, token=self._token)

    def _poke(self) -> None:
        if self._maintenance is not None:
            self._maintenance.set()

    async def _maintain(self, wanted: anyio.Event) -> None:
        # After each rotation here, and every few minutes for rotations done
        # elsewhere (another worker, `asgi-audit rotate`).
        limiter = anyio.CapacityLimiter(1)
        while True:
            with anyio.move_on_after(_MAINTENANCE_PERIOD):
                await wanted.wait()
            wanted = anyio.Event()
            self._maintenance = wanted
            await anyio.to_thread.run_sync(self._retain, limiter=limiter, abandon_on_cancel=True)

    def _retain(self) -> None:
        settings = self._settings
        self._idle.clear()
        try:
            retain(
                settings.directory,
                settings.rotation,
                self._sealing.sealer if settings.integrity else None,
            )
        finally:
            self._idle.set()
