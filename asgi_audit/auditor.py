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
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from .checkpoints import Checkpointer, last_line_end
from .context import RequestContext, current_context
from .encoding import DEFAULT_FIELD_CAPS, Caps
from .events import CATEGORY_FILES, SCHEMA_VERSION, RawEvent, category_filename
from .files import LogDirectory, load_or_create_key, recover_partial_line
from .integrity import CHECKPOINT_FILE, Sealed, derive_chain_key
from .methods import EventMethods
from .pipeline import Pipeline, SessionIdMode
from .redaction import Redactor
from .rotation import RotationPolicy, apply_retention, parse_interval
from .stream import AuditorNotRunning, EventStream, OverflowPolicy
from .writer import FsyncPolicy, Writer, report

__all__ = ("KEY_ENV", "SELF_CATEGORY", "Auditor", "SyncAuditor")

#: The environment variable holding the deployment's audit key.
KEY_ENV = "ASGI_AUDIT_KEY"
#: The category of the auditor's own events (``audit_started``, ...): ``audit.jsonl``.
SELF_CATEGORY = "audit"
_VERSION = "0.1.0"
_MAINTENANCE_PERIOD = 300.0


def _overflow(value: OverflowPolicy | Mapping[str, OverflowPolicy]) -> dict[str, OverflowPolicy]:
    policies: Mapping[str, str] = {"*": value} if isinstance(value, str) else value
    for category, policy in policies.items():
        if policy not in ("block", "drop"):
            raise ValueError(
                f"Invalid overflow policy for {category!r}: {policy!r} (use 'block' or 'drop')"
            )
        if category != "*":
            category_filename(category)  # validates the name
    return dict(policies)  # type: ignore[arg-type]


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
        "_overflow",
        "_prev_ends",
        "_recovered",
        "_redactor",
        "_rotation",
        "_session_ids",
        "_stream",
        "_sync",
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
    ) -> None:
        if not isinstance(queue_capacity, int) or queue_capacity < 1:
            raise ValueError(f"queue_capacity must be a positive integer, got {queue_capacity!r}")
        if shutdown_timeout <= 0:
            raise ValueError(f"shutdown_timeout must be positive, got {shutdown_timeout!r}")
        if block_timeout is not None and block_timeout < 0:
            raise ValueError(f"block_timeout must not be negative, got {block_timeout!r}")
        if fsync not in ("always", "interval", "never"):
            raise ValueError(f"fsync must be 'always', 'interval' or 'never', got {fsync!r}")
        if fsync_interval_ms <= 0:
            raise ValueError(f"fsync_interval_ms must be positive, got {fsync_interval_ms!r}")
        if session_ids not in ("hash", "raw", "omit"):
            raise ValueError(f"session_ids must be 'hash', 'raw' or 'omit', got {session_ids!r}")
        if checkpoint_interval_s is not None and checkpoint_interval_s <= 0:
            raise ValueError(
                f"checkpoint_interval_s must be positive, got {checkpoint_interval_s!r}"
            )
        if rotate_max_mb is not None and rotate_max_mb <= 0:
            raise ValueError(f"rotate_max_mb must be positive, got {rotate_max_mb!r}")
        self._overflow = _overflow(overflow)
        self._rotation = RotationPolicy(
            max_bytes=None if rotate_max_mb is None else max(1024, int(rotate_max_mb * 2**20)),
            interval=parse_interval(rotate_interval),
            keep=retain_count,
            max_age=None if retain_days is None else retain_days * 86400.0,
            compress=compress_rotated,
        )
        self._directory = LogDirectory(
            Path(log_dir),
            dir_mode=dir_mode,
            file_mode=file_mode,
            allow_insecure=allow_insecure_dir,
            sync_dir=fsync != "never",
        )
        self.capacity = queue_capacity
        self.block_timeout = block_timeout
        self.fsync: FsyncPolicy = fsync
        self.fsync_interval = fsync_interval_ms / 1000
        self.shutdown_timeout = shutdown_timeout
        self.self_audit = self_audit
        self.integrity = integrity
        self.checkpoint_interval = checkpoint_interval_s
        self._redactor = (
            Redactor(
                secret_words=secret_words,
                extra_words=extra_secret_words,
                remove_words=remove_secret_words,
            )
            if redact
            else None
        )
        self._caps = Caps(
            fields={**DEFAULT_FIELD_CAPS, **(field_caps or {})},
            default_chars=max_string_chars,
            max_event_bytes=max_event_bytes,
        )
        self._session_ids: SessionIdMode = session_ids
        if key is None:
            key = os.environ.get(KEY_ENV) or None
        self._key = key.encode() if isinstance(key, str) else key
        self._options = {
            "log_dir": str(self._directory.path),
            "queue_capacity": queue_capacity,
            "overflow": dict(self._overflow),
            "block_timeout": block_timeout,
            "fsync": fsync,
            "fsync_interval_ms": fsync_interval_ms,
            "rotate_max_mb": rotate_max_mb,
            "rotate_interval": rotate_interval,
            "retain_count": retain_count,
            "retain_days": retain_days,
            "compress_rotated": compress_rotated,
            "shutdown_timeout": shutdown_timeout,
            "redact": redact,
            "session_ids": session_ids,
            "key_source": "option" if key is not None else "key file",
            "max_event_bytes": max_event_bytes,
            "dir_mode": f"{dir_mode:o}",
            "file_mode": f"{file_mode:o}",
            "allow_insecure_dir": allow_insecure_dir,
            "integrity": integrity,
            "mac": "hmac-sha256" if self._key else "sha256 (no key: not tamper-proof)",
            "checkpoint_interval_s": checkpoint_interval_s,
        }
        self._stream: EventStream | None = None
        self._writer: Writer | None = None
        self._task_group: Any = None
        self._maintenance: anyio.Event | None = None
        self._recovered: list[tuple[str, Path, int]] = []
        self._prev_ends: dict[str, Sealed] = {}
        self._sync: SyncAuditor | None = None
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
        )
        maintenance = anyio.Event() if self._rotation.maintains else None
        token = anyio.lowlevel.current_token()

        def rotated(path: Path) -> None:
            # In the writer's thread: wake the maintenance task on the loop.
            if self._maintenance is not None:
                anyio.from_thread.run_sync(self._poke_maintenance, token=token)

        writer = Writer(
            stream=stream,
            pipeline=pipeline,
            directory=self._directory,
            fsync=self.fsync,
            fsync_interval=self.fsync_interval,
            rotation=self._rotation,
            on_rotated=rotated,
            chain_key=self._chain_key(),
            integrity=self.integrity,
            checkpoint_interval=self.checkpoint_interval,
            prev_ends=self._prev_ends,
        )
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(writer.run)
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
        self._recovered = []
        self._prev_ends = {}
        checkpoints = self._directory.path / CHECKPOINT_FILE
        if checkpoints.is_file() and recover_partial_line(checkpoints) is not None:
            report(f"a partial last line of '{checkpoints}' was moved aside")
        for path in sorted(self._directory.path.glob("*.jsonl")):
            category = _category_of(path)
            if category is None or not path.is_file() or path.is_symlink():
                continue  # not a file of ours: leave it alone
            moved = recover_partial_line(path, self._directory.file_mode)
            if moved is not None:
                report(f"a partial last line of '{path}' was moved to '{moved[0]}'")
                self._recovered.append((category, *moved))
            end = last_line_end(path) if self.integrity else None
            if end is not None:
                self._prev_ends[category] = end
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
        # Before a rotated file goes, the streams it held are recorded (signed),
        # so that verify tells retention from an intruder deleting a file.
        retirer = Checkpointer(self._directory, self._chain_key()) if self.integrity else None
        try:
            for name in sorted({*CATEGORY_FILES.values(), *_jsonl_names(self._directory.path)}):
                try:
                    apply_retention(
                        self._directory.path / name,
                        self._rotation,
                        before_delete=None if retirer is None else retirer.retire,
                    )
                except OSError as exc:
                    report(f"retention of '{name}' rotated files failed: {exc}")
        finally:
            if retirer is not None:
                retirer.close()

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
        return stats

    # --------------------------------------------------------------- the core

    def _deliver(self, raw: RawEvent) -> Coroutine[Any, Any, None]:
        return self._put(raw)

    async def _put(self, raw: RawEvent) -> None:
        stream = self._running_stream()
        # Fast path: no checkpoint, so an awaited event costs a lock and an append.
        seq = stream.offer(raw) or await stream.put(raw)
        if raw.durable and seq:
            await stream.wait_durable(seq)

    def _put_blocking(self, raw: RawEvent) -> None:
        stream = self._running_stream()
        seq = stream.put_blocking(raw)
        if raw.durable and seq:
            stream.wait_durable_blocking(seq)


def _jsonl_names(directory: Path) -> list[str]:
    # Current files, and categories known only by their rotated files.
    if not directory.is_dir():
        return []
    names = {p.name for p in directory.glob("*.jsonl")}
    names.update(p.name.split(".jsonl.", 1)[0] + ".jsonl" for p in directory.glob("*.jsonl.*"))
    return sorted(names)


def _category_of(path: Path) -> str | None:
    """The category whose file ``path`` is, or None for a file of no category."""
    for category, name in CATEGORY_FILES.items():
        if name == path.name:
            return category
    category = path.name[: -len(".jsonl")]
    try:
        return category if category_filename(category) == path.name else None
    except ValueError:
        return None


class SyncAuditor(EventMethods[None]):
    """The event methods for sync code: FastAPI ``def`` routes, threads, callbacks.

    Thread-safe; a call blocks while the stream is full (``block`` policy). The
    request context of a ``def`` route is there (FastAPI copies it into the
    threadpool). On the event loop's own thread a full stream raises
    ``AuditQueueFull`` instead of blocking the loop that must drain it.
    """

    __slots__ = ("_auditor", "_context")

    def __init__(self, auditor: Auditor, context: RequestContext | None = None) -> None:
        self._auditor = auditor
        self._context = context

    def _bound_context(self) -> RequestContext | None:
        return self._context if self._context is not None else current_context()

    def _deliver(self, raw: RawEvent) -> None:
        self._auditor._put_blocking(raw)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded before the call is written; False on timeout."""
        return self._auditor._running_stream().flush_blocking(timeout)
