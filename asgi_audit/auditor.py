"""The Auditor: options, lifecycle and live stats; the sync facade.

API. The one object a user builds. Its event methods (from
:class:`~asgi_audit.methods.EventMethods`) only capture (one clock read, the
request context, the fields) and enqueue; the writer does the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from .context import RequestContext
from .context import current_context as _current_context
from .events import SCHEMA_VERSION, RawEvent, category_filename
from .housekeeping import recover_directory, retain
from .integrity import Sealed, derive_chain_key
from .keys import load_or_create_key
from .methods import EventMethods
from .options import KEY_ENV, build_settings
from .pipeline import OutputFormat, Pipeline, SessionIdMode
from .reporting import report
from .sinks.base import Sink
from .sinks.group import SinkGroup
from .stream import AuditorNotRunning, EventStream, OverflowPolicy
from .sync import SyncAuditor
from .tracing import _get_current_span, trace_ids
from .writer import FsyncPolicy, Writer

__all__ = ("KEY_ENV", "SELF_CATEGORY", "Auditor")

#: The category of the auditor's own events (``audit_started``, ...): ``audit.jsonl``.
SELF_CATEGORY = "audit"
_VERSION = "0.1.0"
_MAINTENANCE_PERIOD = 300.0


_time_ns = time.time_ns
_tracing = _get_current_span is not None


async def _recorded() -> None:
    """What an event method returns once its event is already enqueued."""


class Auditor(EventMethods[Coroutine[Any, Any, None]]):
    """Records security events into per-category JSON Lines files.

    Start it with ``FastAPI(lifespan=auditor.lifespan)`` or ``async with auditor:``;
    every option is keyword-only and has a safe default. See the README's
    "Options" and "Guarantees" for the whole story.

    Args:
        log_dir: the directory of the files (default ``logs/security``).
        queue_capacity: events held in memory (default 10,000).
        overflow: ``"block"`` (default) or ``"drop"``, or a mapping from category
            to policy (``{"api_audit": "drop"}``; ``"*"`` sets the default).
        block_timeout: the longest a ``block`` caller waits for room (default
            None: no limit); past it the event is counted as dropped and
            ``AuditQueueFull`` is raised.
        fsync: ``"interval"`` (default), ``"always"`` or ``"never"``.
        fsync_interval_ms: the most time between fsyncs under ``"interval"`` (1,000).
        rotate_max_mb: rotate a file before it would pass this size.
        rotate_interval: rotate at UTC period boundaries: ``"hourly"``,
            ``"daily"``, ``"weekly"``, ``"6h"`` or seconds.
        retain_count: keep at most this many rotated files per category.
        retain_days: delete rotated files older than this.
        compress_rotated: gzip rotated files, off the writer's path.
        shutdown_timeout: seconds the shutdown waits for the writer to drain (30).
        redact: mask secrets (default True).
        secret_words / extra_secret_words / remove_secret_words: the secret key words.
        field_caps: per-field caps in characters, merged over the defaults.
        max_string_chars: the cap of every other string (4,096).
        max_event_bytes: the cap of a whole line (16 KiB).
        session_ids: ``"hash"`` (default), ``"raw"`` or ``"omit"``.
        key: the deployment's key for keyed hashes (default ``$ASGI_AUDIT_KEY``,
            else a key file created in ``log_dir``).
        dir_mode / file_mode: modes of created directories and files (0700 / 0600).
        allow_insecure_dir: accept a log directory that is a symlink or writable
            by others (refused by default).
        self_audit: record ``audit_started`` (with the configuration) and
            ``audit_stopped`` in ``audit.jsonl`` (default True).
    """

    __slots__ = (
        "_caps",
        "_directory",
        "_key",
        "_maintenance",
        "_options",
        "_output_format",
        "_overflow",
        "_prev_ends",
        "_recovered",
        "_redactor",
        "_rotation",
        "_session_ids",
        "_sink_group",
        "_sinks",
        "_stream",
        "_sync",
        "_taps",
        "_task_group",
        "_writer",
        "block_timeout",
        "capacity",
        "checkpoint_interval",
        "fsync",
        "fsync_interval",
        "integrity",
        "lost",
        "self_audit",
        "shutdown_timeout",
    )

    def __init__(
        self,
        *,
        log_dir: str | os.PathLike[str] = "logs/security",
        queue_capacity: int = 10_000,
        overflow: OverflowPolicy | Mapping[str, OverflowPolicy] = "block",
        block_timeout: float | None = None,
        fsync: FsyncPolicy = "interval",
        fsync_interval_ms: float = 1000,
        rotate_max_mb: float | None = None,
        rotate_interval: str | float | None = None,
        retain_count: int | None = None,
        retain_days: float | None = None,
        compress_rotated: bool = False,
        shutdown_timeout: float = 30.0,
        redact: bool = True,
        secret_words: Iterable[str] | None = None,
        extra_secret_words: Iterable[str] = (),
        remove_secret_words: Iterable[str] = (),
        field_caps: Mapping[str, int] | None = None,
        max_string_chars: int = 4096,
        max_event_bytes: int = 16 * 1024,
        session_ids: SessionIdMode = "hash",
        key: bytes | str | None = None,
        dir_mode: int = 0o700,
        file_mode: int = 0o600,
        allow_insecure_dir: bool = False,
        self_audit: bool = True,
        integrity: bool = True,
        checkpoint_interval_s: float | None = 60.0,
        sinks: Iterable[Sink] = (),
        output_format: OutputFormat = "native",
    ) -> None:
        settings = build_settings(
            log_dir=log_dir,
            queue_capacity=queue_capacity,
            overflow=overflow,
            block_timeout=block_timeout,
            fsync=fsync,
            fsync_interval_ms=fsync_interval_ms,
            rotate_max_mb=rotate_max_mb,
            rotate_interval=rotate_interval,
            retain_count=retain_count,
            retain_days=retain_days,
            compress_rotated=compress_rotated,
            shutdown_timeout=shutdown_timeout,
            redact=redact,
            secret_words=secret_words,
            extra_secret_words=extra_secret_words,
            remove_secret_words=remove_secret_words,
            field_caps=field_caps,
            max_string_chars=max_string_chars,
            max_event_bytes=max_event_bytes,
            session_ids=session_ids,
            key=key,
            dir_mode=dir_mode,
            file_mode=file_mode,
            allow_insecure_dir=allow_insecure_dir,
            self_audit=self_audit,
            integrity=integrity,
            checkpoint_interval_s=checkpoint_interval_s,
            sinks=sinks,
            output_format=output_format,
        )
        self._output_format: OutputFormat = settings.output_format
        self._sinks = settings.sinks
        self._sink_group: SinkGroup | None = None
        self._overflow = settings.overflow
        self._rotation = settings.rotation
        self._directory = settings.directory
        self.capacity = settings.capacity
        self.block_timeout = settings.block_timeout
        self.fsync: FsyncPolicy = settings.fsync
        self.fsync_interval = settings.fsync_interval
        self.shutdown_timeout = settings.shutdown_timeout
        self.self_audit = settings.self_audit
        self.integrity = settings.integrity
        self.checkpoint_interval = settings.checkpoint_interval
        self._redactor = settings.redactor
        self._caps = settings.caps
        self._session_ids: SessionIdMode = settings.session_ids
        self._key = settings.key
        self._options = settings.summary
        self._stream: EventStream | None = None
        self._writer: Writer | None = None
        self._task_group: Any = None
        self._maintenance: anyio.Event | None = None
        self._recovered: list[tuple[str, Path, int]] = []
        self._prev_ends: dict[str, Sealed] = {}
        self._sync: SyncAuditor | None = None
        # Test captures (asgi_audit.testing): while one is active, events go to it.
        self._taps: list[Callable[[RawEvent], object]] = []
        #: Events given up at a shutdown deadline, over this Auditor's life.
        self.lost = 0

    @property
    def log_dir(self) -> Path:
        """The directory the files are written to."""
        return self._directory.path

    @property
    def running(self) -> bool:
        """Whether events are accepted now."""
        return self._stream is not None and self._stream.accepting

    @property
    def sync(self) -> SyncAuditor:
        """The same event methods for sync code: ``def`` routes and other threads.

        Thread-safe; they block while the stream is full (``block`` policy).
        """
        if self._sync is None:
            self._sync = SyncAuditor(self)
        return self._sync

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Auditor:
        if self._writer is not None:
            raise RuntimeError("This Auditor is already running")
        key = await anyio.to_thread.run_sync(self._prepare)
        stream = EventStream(
            capacity=self.capacity,
            overflow={c: p for c, p in self._overflow.items() if c != "*"},
            default=self._overflow.get("*", "block"),
            block_timeout=self.block_timeout,
        )
        pipeline = Pipeline(
            redactor=self._redactor,
            caps=self._caps,
            session_ids=self._session_ids,
            session_key=hmac.new(key, b"asgi_audit session id", hashlib.sha256).digest(),
            output_format=self._output_format,
        )
        maintenance = anyio.Event() if self._rotation.maintains else None
        token = anyio.lowlevel.current_token()

        def rotated(path: Path) -> None:
            # In the writer's thread: wake the maintenance task on the loop.
            if self._maintenance is not None:
                anyio.from_thread.run_sync(self._poke_maintenance, token=token)

        sinks = SinkGroup(self._sinks, self._directory.path)
        writer = Writer(
            stream=stream,
            pipeline=pipeline,
            directory=self._directory,
            fsync=self.fsync,
            fsync_interval=self.fsync_interval,
            rotation=self._rotation,
            on_rotated=rotated,
            on_written=sinks.wake if sinks else None,
            chain_key=self._chain_key(),
            integrity=self.integrity,
            checkpoint_interval=self.checkpoint_interval,
            prev_ends=self._prev_ends,
        )
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(writer.run)
            if sinks:
                await anyio.to_thread.run_sync(sinks.start)
                self._sink_group = sinks
            if maintenance is not None:
                task_group.start_soon(self._maintain, maintenance)
        except BaseException:
            await task_group.__aexit__(*sys.exc_info())
            raise
        self._stream, self._writer, self._task_group = stream, writer, task_group
        self._maintenance = maintenance
        try:
            await self._announce()
        except BaseException:
            await self.__aexit__(*sys.exc_info())
            raise
        return self

    async def _announce(self) -> None:
        if self.self_audit:
            await self.emit(
                SELF_CATEGORY, "audit_started", outcome="success", **self._start_fields()
            )
        for category, partial, size in self._recovered:
            await self.emit(
                category,
                "partial_line_recovered",
                outcome="recovered",
                partial_file=str(partial),
                partial_bytes=size,
            )
        self._recovered = []
        if self._maintenance is not None:
            self._maintenance.set()  # apply retention once at start

    def _prepare(self) -> bytes:
        self._directory.prepare()
        key = self._key if self._key is not None else load_or_create_key(self._directory)
        # A crash may have left a partial last line: move it aside before writing.
        self._recovered, self._prev_ends = recover_directory(self._directory, self.integrity)
        return key

    def _start_fields(self) -> dict[str, Any]:
        return {
            "details": {
                "version": _VERSION,
                "schema_version": SCHEMA_VERSION,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "configuration": self._options,
            }
        }

    def _poke_maintenance(self) -> None:
        if self._maintenance is not None:
            self._maintenance.set()

    async def _maintain(self, wanted: anyio.Event) -> None:
        # Compression and retention of rotated files, off the writer's path: after
        # each rotation here, and every few minutes for rotations done elsewhere
        # (another worker, `asgi-audit rotate`).
        limiter = anyio.CapacityLimiter(1)
        while True:
            with anyio.move_on_after(_MAINTENANCE_PERIOD):
                await wanted.wait()
            wanted = anyio.Event()
            self._maintenance = wanted
            await anyio.to_thread.run_sync(self._retain, limiter=limiter, abandon_on_cancel=True)

    def _retain(self) -> None:
        retain(self._directory, self._rotation, self._chain_key(), self.integrity)

    def _chain_key(self) -> bytes | None:
        return derive_chain_key(self._key)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stream, writer, task_group = self._stream, self._writer, self._task_group
        if stream is None or writer is None:
            return None
        with anyio.CancelScope(shield=True):
            if self.self_audit and stream.accepting:
                stats = stream.statistics()
                raw = RawEvent(
                    SELF_CATEGORY,
                    "audit_stopped",
                    "success",
                    time.time_ns(),
                    None,
                    {
                        "details": {
                            "pid": os.getpid(),
                            "enqueued": stats["enqueued"] + 1,
                            "dropped": sum(stats["dropped_by_category"].values()),
                            "lost": self.lost,
                        }
                    },
                )
                if not stream.offer(raw):
                    stream.drop(raw)
            stream.close()
            with anyio.move_on_after(self.shutdown_timeout):
                await writer.done.wait()
            if not writer.done.is_set():
                lost = writer.abandon()
                lost += stream.abandon(
                    TimeoutError("shutdown deadline passed"), written=writer.batch_written
                )
                self.lost += lost
                report(
                    f"shutdown deadline of {self.shutdown_timeout}s passed; "
                    f"{lost} events were not written"
                )
            task_group.cancel_scope.cancel()
        try:
            await task_group.__aexit__(None, None, None)
        finally:
            self._stream = self._writer = self._task_group = None
            self._maintenance = None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.close_files)
                group, self._sink_group = self._sink_group, None
                if group is not None:
                    # The files keep what a sink has not taken: it resumes there next time.
                    await anyio.to_thread.run_sync(group.stop, min(self.shutdown_timeout, 10.0))
        return None

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """A lifespan for ``FastAPI(lifespan=auditor.lifespan)`` or Starlette."""
        async with self:
            yield

    async def flush(self) -> None:
        """Return once every event recorded before the call is in the files.

        Raises:
            AuditorNotRunning: the Auditor is not running.
        """
        await self._running_stream().flush()

    def _running_stream(self) -> EventStream:
        stream = self._stream
        if stream is None:
            raise AuditorNotRunning(
                "asgi_audit: the Auditor is not running; start it with "
                "`FastAPI(lifespan=auditor.lifespan)` or `async with auditor:`"
            )
        return stream

    def stats(self) -> dict[str, Any]:
        """Live counters: the stream (``queued``, ``capacity``, ``enqueued``,
        ``completed``), ``lost``, and per category ``queued``, ``written``,
        ``dropped``, ``errors``, ``fsync_errors``, ``rotations``, ``last_error``,
        ``bytes`` and the current ``file``."""
        stream, writer = self._stream, self._writer
        if stream is None or writer is None:
            return {"running": False, "capacity": self.capacity, "lost": self.lost}
        stats = stream.statistics()
        queued = stats.pop("queued_by_category")
        dropped = stats.pop("dropped_by_category")
        categories = writer.category_stats()
        for name in {*queued, *dropped}:
            categories.setdefault(
                name,
                {
                    "file": str(self._directory.path / category_filename(name)),
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
        stats["batches"] = writer.batches
        stats["dropped"] = sum(dropped.values())
        stats["lost"] = self.lost
        stats["sinks"] = self._sink_group.stats() if self._sink_group is not None else {}
        return stats

    # --------------------------------------------------------------- the core

    def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
        durable: bool,
    ) -> Coroutine[Any, Any, None]:
        # The hot path of every awaited event, kept flat: capture, then enqueue
        # at once when there is room, so the awaited coroutine has nothing left
        # to do. Only a full stream or a durable event takes the slow path.
        context = _current_context()
        if context is None and _tracing:
            # Outside a request: the span of the moment, if OpenTelemetry has one.
            trace_id, span_id = trace_ids()
            if trace_id is not None:
                context = RequestContext(trace_id=trace_id, span_id=span_id)
        raw = RawEvent(
            category, event_type, outcome, _time_ns(), context, fields, exception, durable
        )
        stream = self._stream
        if stream is not None and not durable and not self._taps and stream.offer(raw):
            return _recorded()
        return self._put(raw)

    def _deliver(self, raw: RawEvent) -> Coroutine[Any, Any, None]:
        return self._put(raw)

    async def _put(self, raw: RawEvent) -> None:
        if self._taps:
            self._tap(raw)
            return
        stream = self._running_stream()
        seq = stream.offer(raw) or await stream.put(raw)
        if raw.durable and seq:
            await stream.wait_durable(seq)

    def _put_blocking(self, raw: RawEvent) -> None:
        if self._taps:
            self._tap(raw)
            return
        stream = self._running_stream()
        seq = stream.put_blocking(raw)
        if raw.durable and seq:
            stream.wait_durable_blocking(seq)

    def _tap(self, raw: RawEvent) -> None:
        for tap in list(self._taps):
            tap(raw)
