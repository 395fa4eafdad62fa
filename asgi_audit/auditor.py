"""The Auditor: options, lifecycle and live stats; the sync facade.

API. The one object a user builds. Its event methods (from
:class:`~asgi_audit.methods.EventMethods`) only capture (one clock read, the
request context, the fields) and enqueue; the writer does the rest.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from .methods import EventMethods
from .options import KEY_ENV, build_settings
from .proof.integrity import Sealed
from .proof.readback import checked_end
from .proof.setup import SealingSetup, prepare_sealing
from .record.context import RequestContext
from .record.context import get_cell as _get_cell
from .record.events import SCHEMA_VERSION, RawEvent, new_raw
from .record.pipeline import OutputFormat, SessionIdMode
from .record.scanner import SecretRule
from .record.tracing import _get_current_span, trace_ids
from .runtime import Runtime
from .sinks.base import Sink
from .store.housekeeping import recover_directory
from .store.stream import AuditorNotRunning, EventStream, OverflowPolicy, hand_off
from .store.writer import FsyncPolicy
from .sync import SyncAuditor

__all__ = ("KEY_ENV", "SELF_CATEGORY", "Auditor")

#: The category of the auditor's own events (``audit_started``, ...): ``audit.jsonl``.
SELF_CATEGORY = "audit"
_VERSION = "0.1.0"


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
        batch_interval_ms: under steady load the writer takes a batch at most
            this often (100): fewer, larger batches cost the serving loop less. A
            flush, a ``durable=True`` event, a stream half full or a shutdown
            does not wait for it; 0 takes each batch at once.
        rotate_max_mb: rotate a file before it would pass this size.
        rotate_interval: rotate at UTC period boundaries: ``"hourly"``,
            ``"daily"``, ``"weekly"``, ``"6h"`` or seconds.
        retain_count: keep at most this many rotated files per category.
        retain_days: delete rotated files older than this.
        compress_rotated: gzip rotated files, off the writer's path.
        shutdown_timeout: seconds the shutdown waits for the writer to drain (30).
        redact: mask secrets (default True).
        secret_words: replace the built-in secret key words.
        extra_secret_words: add to the secret key words.
        remove_secret_words: take words out of the secret key words.
        secret_rules: token formats of your own (:class:`SecretRule`), added to the
            built-in rules.
        field_caps: per-field caps in characters, merged over the defaults.
        max_string_chars: the cap of every other string (4,096).
        max_event_bytes: the cap of a whole line (16 KiB).
        session_ids: ``"hash"`` (default), ``"raw"`` or ``"omit"``.
        key: a static deployment key for the MAC chain, the ledger and keyed
            hashes (default ``$ASGI_AUDIT_KEY``); at least 32 bytes, not a pattern
            (see :mod:`asgi_audit.proof.keycheck`). Not forward-secure: without it
            the log is sealed with a forward-secure key (see ``key_dir``).
        dir_mode: the mode of created directories (0700).
        file_mode: the mode of created files (0600).
        allow_insecure_dir: accept a log directory that is a symlink or writable
            by others (refused by default).
        self_audit: record ``audit_started`` (with the configuration) and
            ``audit_stopped`` in ``audit.jsonl`` (default True).
    """

    __slots__ = (
        "_prev_ends",
        "_recovered",
        "_runtime",
        "_settings",
        "_stream",
        "_sync",
        "_taps",
        "lost",
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
        secret_rules: Iterable[SecretRule] = (),
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
        sealing: Literal["forward-secure", "unkeyed"] = "forward-secure",
        key_dir: str | os.PathLike[str] | None = None,
        batch_interval_ms: float = 100.0,
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
            secret_rules=secret_rules,
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
            sealing=sealing,
            key_dir=key_dir,
            batch_interval_ms=batch_interval_ms,
        )
        # The checked options, read through the properties below; the running
        # parts (Runtime) are built from them at each start.
        self._settings = settings
        self._stream: EventStream | None = None
        self._runtime: Runtime | None = None
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
        return self._settings.directory.path

    @property
    def capacity(self) -> int:
        """The most events held in memory (``queue_capacity``)."""
        return self._settings.capacity

    @property
    def block_timeout(self) -> float | None:
        """The longest a ``block`` caller waits for room."""
        return self._settings.block_timeout

    @property
    def fsync(self) -> FsyncPolicy:
        """The durability policy."""
        return self._settings.fsync

    @property
    def fsync_interval(self) -> float:
        """Seconds between fsyncs under ``"interval"``."""
        return self._settings.fsync_interval

    @property
    def shutdown_timeout(self) -> float:
        """Seconds the shutdown waits for the writer to drain."""
        return self._settings.shutdown_timeout

    @property
    def self_audit(self) -> bool:
        """Whether ``audit_started`` and ``audit_stopped`` are recorded."""
        return self._settings.self_audit

    @property
    def integrity(self) -> bool:
        """Whether lines are sealed into MAC chains."""
        return self._settings.integrity

    @property
    def checkpoint_interval(self) -> float | None:
        """Seconds between signed checkpoints (None: only at rotation and shutdown)."""
        return self._settings.checkpoint_interval

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
        if self._runtime is not None:
            raise RuntimeError("This Auditor is already running")
        sealing = await anyio.to_thread.run_sync(self._prepare)
        runtime = Runtime(self._settings, sealing, self._prev_ends)
        await runtime.start()
        self._runtime, self._stream = runtime, runtime.stream
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

    def _prepare(self) -> SealingSetup:
        settings = self._settings
        directory = settings.directory
        directory.prepare()
        sealing = prepare_sealing(
            directory,
            key=settings.key,
            key_dir=settings.key_dir,
            sealing=settings.sealing,
            integrity=settings.integrity,
        )
        # A crash may have left a partial last line: move it aside before writing.
        self._recovered, files = recover_directory(directory)
        # A new stream names where the last one of its file ended, if that line holds.
        self._prev_ends = {}
        if settings.integrity:
            for category, path in files.items():
                end = checked_end(path, sealing.sealer)
                if end is not None:
                    self._prev_ends[category] = end
        return sealing

    def _start_fields(self) -> dict[str, Any]:
        return {
            "details": {
                "version": _VERSION,
                "schema_version": SCHEMA_VERSION,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "configuration": self._settings.summary,
            }
        }

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        runtime = self._runtime
        if runtime is None:
            return None
        last = None
        if self.self_audit:
            stats = runtime.stream.statistics()
            last = RawEvent(
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
        try:
            self.lost += await runtime.stop(last, self.shutdown_timeout)
        finally:
            self._runtime = self._stream = None
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
        ``completed``), ``lost``, per category ``queued``, ``written``,
        ``dropped``, ``errors``, ``fsync_errors``, ``rotations``, ``last_error``,
        ``bytes`` and the current ``file``, and per sink its delivery."""
        runtime = self._runtime
        if runtime is None:
            return {"running": False, "capacity": self.capacity, "lost": self.lost}
        stats: dict[str, Any] = runtime.stats()
        stats["lost"] = self.lost
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
        cell = _get_cell()
        context = None if cell is None else cell.context
        if context is None and _tracing:
            # Outside a request: the span of the moment, if OpenTelemetry has one.
            trace_id, span_id = trace_ids()
            if trace_id is not None:
                context = RequestContext(trace_id=trace_id, span_id=span_id)
        raw = new_raw(
            RawEvent,
            (category, event_type, outcome, _time_ns(), context, fields, exception, durable),
        )
        stream = self._stream
        if stream is not None and not durable and not self._taps:
            seq = stream.offer(raw)
            if seq:
                # stream.hands_off(seq), inline: one call fewer on every event.
                handoff = stream.handoff
                return hand_off() if handoff and not seq % handoff else _recorded()
        return self._put(raw)

    def _bound_context(self) -> RequestContext | None:
        # What _submit captures, for the methods that make several events at once.
        cell = _get_cell()
        context = None if cell is None else cell.context
        if context is None and _tracing:
            trace_id, span_id = trace_ids()
            if trace_id is not None:
                context = RequestContext(trace_id=trace_id, span_id=span_id)
        return context

    def _deliver(self, raw: RawEvent) -> Coroutine[Any, Any, None]:
        return self._put(raw)

    async def _deliver_all(self, raws: list[RawEvent]) -> None:
        for raw in raws:
            await self._put(raw)

    def _id_budget(self) -> tuple[int, int]:
        caps = self._settings.caps
        return caps.max_items, caps.max_event_bytes // 2

    def _offer(self, raw: RawEvent) -> int:
        """Enqueue ``raw`` at once if nothing stands in the way: a running stream
        with room, no test capture, not durable. Its sequence number, negative
        when the caller is to hand off (``await handed_off()``, see
        :meth:`EventStream.hands_off`); 0: ``await _put(raw)``."""
        stream = self._stream
        if stream is None or raw.durable or self._taps:
            return 0
        seq = stream.offer(raw)
        return -seq if seq and stream.hands_off(seq) else seq

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
