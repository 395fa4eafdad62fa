"""The Auditor: options, lifecycle, the typed event methods and live stats.

API. The one object a user builds. Its event methods only capture (one clock
read, the request context, the fields) and enqueue; the writer does the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import anyio
import anyio.to_thread

from .context import RequestContext, current_context
from .encoding import DEFAULT_FIELD_CAPS, Caps
from .events import (
    API_AUDIT,
    AUTH,
    INJECTION,
    SEVERITY_RISK,
    TOOL_BLOCKS,
    RawEvent,
    validate_category,
    validate_login_outcome,
)
from .files import LogDirectory, load_or_create_key
from .pipeline import Pipeline, SessionIdMode
from .redaction import Redactor
from .writer import AuditorNotRunning, Writer, _report

__all__ = ("Auditor", "EventMethods", "LoginOutcome", "SyncAuditor", "outcome_for_status")

R = TypeVar("R")
LoginOutcome = Literal["success", "failed", "rate_limited", "blocked"]
ExcInfo = BaseException | bool | None

#: The environment variable holding the deployment's audit key.
KEY_ENV = "ASGI_AUDIT_KEY"


def outcome_for_status(status: int) -> str:
    """The outcome of an HTTP status.

    2xx/3xx ``success``, 401/403 ``denied``, 429 ``rate_limited``, other 4xx
    ``failed``, 5xx ``error``.
    """
    if status < 400:
        return "success"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate_limited"
    if status < 500:
        return "failed"
    return "error"


def _exception(exc_info: ExcInfo) -> BaseException | None:
    if exc_info is True:
        return sys.exc_info()[1]  # None outside an except block: no stack trace
    if isinstance(exc_info, BaseException):
        return exc_info
    return None


def _snapshot(value: Any, depth: int = 8) -> Any:
    # The caller may change a dict after the call returns; the writer reads it
    # later, so containers are copied at capture (leaves are shared).
    if depth <= 0:
        return value
    t = type(value)
    if t is dict:
        return {k: _snapshot(v, depth - 1) for k, v in value.items()}
    if t is list or t is tuple or t is set or t is frozenset:
        return [_snapshot(v, depth - 1) for v in value]
    return value


def _fields(fields: dict[str, Any]) -> dict[str, Any]:
    for key, value in fields.items():
        if type(value) in (dict, list, tuple, set, frozenset):
            fields[key] = _snapshot(value)
    return fields


class EventMethods(Generic[R]):
    """The event methods shared by :class:`Auditor`, :class:`SyncAuditor` and
    ``AuditContext``: written once, returning an awaitable on the async classes
    and None on the sync ones.

    Every method takes extra keyword fields (``**fields``), which land in the
    event under their own names; an explicit ``ip_address``, ``user_agent``,
    ``session_id``, ``request_id``, ``request_path`` or ``agent_id`` overrides the
    request context.
    """

    __slots__ = ()

    def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
    ) -> R:
        raise NotImplementedError

    def login_attempt(
        self,
        outcome: LoginOutcome,
        *,
        user_id: str | None = None,
        error_message: str | None = None,
        exc_info: ExcInfo = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A login attempt in ``auth-events.jsonl``.

        Args:
            outcome: ``success``, ``failed``, ``rate_limited`` or ``blocked``.
            user_id: who tried to log in, when known.
            error_message: why it failed.
            exc_info: an exception (or True for the one being handled) whose
                stack trace is recorded; nothing is recorded without one.
            details: any further structured data.

        Raises:
            ValueError: an unknown outcome.
        """
        validate_login_outcome(outcome)
        fields.update(user_id=user_id, error_message=error_message, details=details)
        return self._submit(AUTH, "login_attempt", outcome, _fields(fields), _exception(exc_info))

    def logout(
        self,
        *,
        user_id: str | None = None,
        outcome: str = "success",
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A logout in ``auth-events.jsonl``."""
        fields.update(user_id=user_id, details=details)
        return self._submit(AUTH, "logout", outcome, _fields(fields), None)

    def session_event(
        self,
        event_type: str,
        *,
        outcome: str | None = "success",
        user_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A session event (``session_created``, ``session_expired``, ...) in ``auth-events.jsonl``.

        Raises:
            ValueError: ``event_type`` is empty.
        """
        if not event_type or not isinstance(event_type, str):
            raise ValueError(f"Invalid session event type: {event_type!r}")
        fields.update(user_id=user_id, details=details)
        return self._submit(AUTH, event_type, outcome, _fields(fields), None)

    def injection_attempt(
        self,
        *,
        rule_name: str,
        severity: str,
        outcome: str = "blocked",
        agent_id: str | None = None,
        tool_name: str | None = None,
        risk_score: float | None = None,
        matched_text: str | None = None,
        raw_input: str | None = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A prompt-injection detection in ``injection-events.jsonl``.

        Args:
            rule_name: the guard rule that matched (``ignore_previous_instructions``).
            severity: ``LOW``, ``WARNING``, ``MEDIUM``, ``HIGH``, ``CRITICAL`` or your own.
            outcome: ``logged``, ``warned`` or ``blocked``.
            risk_score: defaults to the severity's base risk (CRITICAL 1.0, HIGH 0.7, ...).
            matched_text: what matched; redacted and capped in the writer.
            raw_input: the scanned input; redacted, then capped at 500 characters.
        """
        if risk_score is None:
            risk_score = SEVERITY_RISK.get(severity.upper())
        fields.update(
            agent_id=agent_id,
            tool_name=tool_name,
            rule_name=rule_name,
            severity=severity,
            risk_score=risk_score,
            matched_text=matched_text,
            raw_input=raw_input,
            details=details,
        )
        return self._submit(INJECTION, "injection_attempt", outcome, _fields(fields), None)

    def tool_blocked(
        self,
        *,
        tool_name: str,
        blocked_path: str | None = None,
        blocked_reason: str | None = None,
        outcome: str = "blocked",
        agent_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A blocked tool or file access in ``tool-blocks.jsonl`` (``tool_path_blocked``).

        ``outcome`` is ``blocked`` or, for paths that need a human, ``requires_approval``.
        """
        fields.update(
            agent_id=agent_id,
            tool_name=tool_name,
            blocked_path=blocked_path,
            blocked_reason=blocked_reason,
            details=details,
        )
        return self._submit(TOOL_BLOCKS, "tool_path_blocked", outcome, _fields(fields), None)

    def api_access(
        self,
        *,
        method: str | None = None,
        request_path: str | None = None,
        status_code: int | None = None,
        duration_ms: float | None = None,
        outcome: str | None = None,
        details: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """An API access in ``api-audit.jsonl``; the outcome follows the status when not given."""
        if outcome is None and status_code is not None:
            outcome = outcome_for_status(status_code)
        fields.update(
            method=method,
            request_path=request_path,
            status_code=status_code,
            duration_ms=duration_ms,
            details=details,
        )
        return self._submit(API_AUDIT, "api_access", outcome, _fields(fields), None)

    def emit(
        self,
        category: str,
        event_type: str,
        *,
        outcome: str | None = None,
        exc_info: ExcInfo = None,
        **fields: Any,
    ) -> R:
        """Any event: ``category`` picks the file (``<category>.jsonl`` for your own).

        Raises:
            ValueError: the category cannot name a file (separators, dots, ...),
                or ``event_type`` is empty.
        """
        validate_category(category)
        if not event_type or not isinstance(event_type, str):
            raise ValueError(f"Invalid event type: {event_type!r}")
        return self._submit(category, event_type, outcome, _fields(fields), _exception(exc_info))


class Auditor(EventMethods[Coroutine[Any, Any, None]]):
    """Records security events into per-category JSON Lines files.

    Start it with ``FastAPI(lifespan=auditor.lifespan)`` or ``async with auditor:``;
    every option is keyword-only.

    Args:
        log_dir: the directory of the files (default ``logs/security``), created
            ``0700`` if missing; files are created ``0600``.
        queue_capacity: events held in memory before callers wait (default 10,000).
        shutdown_timeout: seconds the shutdown waits for the writer to drain
            (default 30); events still unwritten then are counted and reported.
        redact: mask secrets (default True).
        secret_words: replace the default secret key words.
        extra_secret_words: add secret key words.
        remove_secret_words: remove secret key words.
        field_caps: per-field caps in characters, merged over the defaults
            (``raw_input`` 500, ``matched_text`` 500, ``user_agent`` 512, ...).
        max_string_chars: the cap of every other string (default 4,096).
        max_event_bytes: the cap of a whole line (default 16 KiB).
        session_ids: ``"hash"`` (default), ``"raw"`` or ``"omit"``.
        key: the deployment's key (bytes or str) for keyed hashes; default the
            ``ASGI_AUDIT_KEY`` environment variable, else a key file created in
            ``log_dir`` and shared by every process writing there.
        dir_mode: mode of a created log directory (default ``0o700``).
        file_mode: mode of created files (default ``0o600``).
    """

    __slots__ = (
        "_caps",
        "_directory",
        "_key",
        "_redactor",
        "_session_ids",
        "_shutdown_timeout",
        "_sync",
        "_task_group",
        "_writer",
        "capacity",
        "lost",
    )

    def __init__(
        self,
        *,
        log_dir: str | os.PathLike[str] = "logs/security",
        queue_capacity: int = 10_000,
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
    ) -> None:
        if not isinstance(queue_capacity, int) or queue_capacity < 1:
            raise ValueError(f"queue_capacity must be a positive integer, got {queue_capacity!r}")
        if shutdown_timeout <= 0:
            raise ValueError(f"shutdown_timeout must be positive, got {shutdown_timeout!r}")
        if session_ids not in ("hash", "raw", "omit"):
            raise ValueError(f"session_ids must be 'hash', 'raw' or 'omit', got {session_ids!r}")
        self._directory = LogDirectory(Path(log_dir), dir_mode=dir_mode, file_mode=file_mode)
        self.capacity = queue_capacity
        self._shutdown_timeout = shutdown_timeout
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
        self._writer: Writer | None = None
        self._task_group: Any = None
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
        return self._writer is not None and self._writer.statistics()["running"]

    @property
    def sync(self) -> SyncAuditor:
        """The same event methods for sync code: ``def`` routes and other threads.

        They block while the stream is full, and are thread-safe.
        """
        if self._sync is None:
            self._sync = SyncAuditor(self)
        return self._sync

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Auditor:
        if self._writer is not None:
            raise RuntimeError("This Auditor is already running")
        key = await anyio.to_thread.run_sync(self._prepare)
        pipeline = Pipeline(
            redactor=self._redactor,
            caps=self._caps,
            session_ids=self._session_ids,
            session_key=hmac.new(key, b"asgi_audit session id", hashlib.sha256).digest(),
        )
        writer = Writer(pipeline=pipeline, directory=self._directory, capacity=self.capacity)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(writer.run)
        except BaseException:
            await task_group.__aexit__(*sys.exc_info())
            raise
        self._writer, self._task_group = writer, task_group
        return self

    def _prepare(self) -> bytes:
        self._directory.prepare()
        return self._key if self._key is not None else load_or_create_key(self._directory)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        writer, task_group = self._writer, self._task_group
        if writer is None:
            return None
        with anyio.CancelScope(shield=True):
            writer.close()
            with anyio.move_on_after(self._shutdown_timeout):
                await writer.done.wait()
            if not writer.done.is_set():
                lost = writer.abandon()
                self.lost += lost
                _report(
                    f"shutdown deadline of {self._shutdown_timeout}s passed; "
                    f"{lost} events were not written"
                )
                task_group.cancel_scope.cancel()
        try:
            await task_group.__aexit__(None, None, None)
        finally:
            self._writer = self._task_group = None
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
            AuditorNotRunning: the Auditor was never started.
        """
        await self._running_writer().flush()

    def _running_writer(self) -> Writer:
        writer = self._writer
        if writer is None:
            raise AuditorNotRunning(
                "asgi_audit: the Auditor is not running; start it with "
                "`FastAPI(lifespan=auditor.lifespan)` or `async with auditor:`"
            )
        return writer

    def stats(self) -> dict[str, Any]:
        """Live counters: the stream (queued, capacity, enqueued, completed) and,
        per category, written, bytes, errors, last error and the current file."""
        writer = self._writer
        if writer is None:
            return {"running": False, "capacity": self.capacity, "lost": self.lost}
        stats = writer.statistics()
        stats["lost"] = self.lost
        return stats

    # --------------------------------------------------------------- the core

    async def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
    ) -> None:
        await self._put(
            RawEvent(
                category, event_type, outcome, time.time_ns(), current_context(), fields, exception
            )
        )

    async def _put(self, raw: RawEvent) -> None:
        writer = self._running_writer()
        # Fast path: no checkpoint, so an awaited event costs a lock and an append.
        if not writer.put_nowait(raw):
            await writer.put(raw)

    def _put_blocking(self, raw: RawEvent) -> None:
        self._running_writer().put_blocking(raw)


class SyncAuditor(EventMethods[None]):
    """The event methods for sync code: FastAPI ``def`` routes, threads, callbacks.

    Thread-safe; a call blocks while the stream is full. The request context of a
    ``def`` route is there (FastAPI copies it into the threadpool). On the event
    loop's own thread a full stream raises ``AuditQueueFull`` instead of blocking.
    """

    __slots__ = ("_auditor", "_context")

    def __init__(self, auditor: Auditor, context: RequestContext | None = None) -> None:
        self._auditor = auditor
        self._context = context

    def _submit(
        self,
        category: str,
        event_type: str,
        outcome: str | None,
        fields: dict[str, Any],
        exception: BaseException | None,
    ) -> None:
        context = self._context if self._context is not None else current_context()
        self._auditor._put_blocking(
            RawEvent(category, event_type, outcome, time.time_ns(), context, fields, exception)
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded before the call is written; False on timeout."""
        return self._auditor._running_writer().flush_blocking(timeout)
