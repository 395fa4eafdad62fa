"""The waiting forms of the event stream: awaited for the event loop, blocking for
threads, on top of its synchronous core (:class:`~asgi_audit.store.stream.EventStream`).

IO (it waits on the event loop and on threads). When the stream is full a
category's overflow policy decides: ``block`` waits for room (up to an optional
deadline), ``drop`` never waits and counts the event. A caller that waits for
the writer (for room, for a flush, for its durable event) hastens it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

import anyio
import anyio.lowlevel

from ..record.events import RawEvent

__all__ = (
    "AuditQueueFull",
    "AuditWriteError",
    "AuditorNotRunning",
    "OverflowPolicy",
    "WaitingForms",
    "hand_off",
)

OverflowPolicy = Literal["block", "drop"]
NOT_RUNNING: Final = (
    "asgi_audit: the Auditor is not running; start it with "
    "`FastAPI(lifespan=auditor.lifespan)` or `async with auditor:`"
)


async def hand_off() -> None:
    """What an awaited caller does after enqueueing an event whose sequence number
    :meth:`EventStream.hands_off` names: the loop runs once, so the writer can take
    the burst to its thread, and the GIL is let go once, so that thread can run."""
    await anyio.lowlevel.cancel_shielded_checkpoint()
    time.sleep(0)  # noqa: ASYNC251 -- a zero sleep: the GIL let go, the loop not blocked


class AuditorNotRunning(RuntimeError):
    """An event was recorded while the Auditor was not started (or already stopped)."""


class AuditQueueFull(RuntimeError):
    """The stream stayed full past the caller's deadline, or sync code on the
    event loop thread could not wait; the event was counted as dropped."""


class AuditWriteError(OSError):
    """A ``durable=True`` event could not be made durable (its fsync failed)."""


class WaitingForms:
    """The awaited and blocking forms of :class:`~asgi_audit.store.stream.EventStream`
    (a base class of it: the state and the synchronous core are the stream's)."""

    __slots__ = ()

    # The stream's state these forms read, under its lock.
    capacity: int
    accepting: bool
    enqueued: int
    completed: int
    synced: int
    in_flight: int
    held: int
    _lock: threading.Lock
    _space_cond: threading.Condition
    _done_cond: threading.Condition
    _items: deque[RawEvent]
    _block_timeout: float | None
    _loop_thread: int
    _flush_waiters: list[tuple[int, anyio.Event]]
    _sync_failures: list[tuple[int, int, BaseException]]
    _durable_waiters: list[tuple[int, Callable[[BaseException | None], object]]]

    # The stream's synchronous core.
    def offer(self, raw: RawEvent) -> int:
        raise NotImplementedError

    def hands_off(self, seq: int) -> bool:
        raise NotImplementedError

    def policy(self, category: str) -> OverflowPolicy:
        raise NotImplementedError

    def drop(self, raw: RawEvent) -> None:
        raise NotImplementedError

    def hasten(self) -> None:
        raise NotImplementedError

    def space(self) -> anyio.Event:
        raise NotImplementedError

    async def put(self, raw: RawEvent) -> int:
        """Enqueue from the event loop; the sequence number, or 0 if dropped.

        Raises:
            AuditQueueFull: a ``block`` category's deadline passed (counted as dropped).
        """
        seq = self.offer(raw)
        if seq:
            if self.hands_off(seq):
                await hand_off()
            return seq
        if self.policy(raw.category) == "drop":
            self.drop(raw)
            return 0
        with anyio.move_on_after(self._block_timeout):
            while not (seq := self.offer(raw)):
                self.hasten()  # a caller waits for room: no lingering
                await self.space().wait()
            return seq
        self.drop(raw)
        raise AuditQueueFull(
            f"asgi_audit: the event stream stayed full for {self._block_timeout}s; "
            f"the {raw.category} event was dropped and counted"
        )

    def put_blocking(self, raw: RawEvent) -> int:
        """Enqueue from any thread, blocking while full as the policy says.

        Raises:
            AuditQueueFull: the deadline passed, or called on the event loop's own
                thread, where blocking would stop the writer (counted as dropped).
        """
        seq = self.offer(raw)
        if seq:
            return seq
        if self.policy(raw.category) == "drop":
            self.drop(raw)
            return 0
        if threading.get_ident() == self._loop_thread:
            self.drop(raw)
            raise AuditQueueFull(
                "asgi_audit: the event stream is full and sync code on the event loop "
                "cannot wait (use the async methods there); the event was counted as dropped"
            )
        self.hasten()
        timeout = self._block_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (seq := self.offer(raw)):
            with self._lock:
                used = len(self._items) + self.in_flight + self.held
                if self.accepting and used >= self.capacity:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._space_cond.wait(remaining)
        if seq:
            return seq
        self.drop(raw)
        raise AuditQueueFull(
            f"asgi_audit: the event stream stayed full for {timeout}s; the event was "
            "counted as dropped"
        )

    def _register_durable(self, seq: int, notify: Callable[[BaseException | None], object]) -> bool:
        # True when the answer is already known (and given to notify).
        known: BaseException | None = None
        with self._lock:
            waiting = seq > self.synced
            if waiting:
                for lo, hi, error in self._sync_failures:
                    if lo <= seq <= hi:
                        known, waiting = error, False
                        break
                else:
                    self._durable_waiters.append((seq, notify))
        if waiting:
            self.hasten()  # a durable caller waits: no lingering
            return False
        notify(known)
        return True

    async def wait_durable(self, seq: int) -> None:
        """Return once event ``seq`` is written and fsynced.

        Raises:
            AuditWriteError: its fsync failed, or it was given up at shutdown.
        """
        event = anyio.Event()
        box: list[BaseException | None] = []

        def notify(error: BaseException | None) -> None:
            box.append(error)
            event.set()

        if not self._register_durable(seq, notify):
            await event.wait()
        if box[0] is not None:
            raise AuditWriteError(str(box[0])) from box[0]

    def wait_durable_blocking(self, seq: int) -> None:
        """:meth:`wait_durable` for threads."""
        done = threading.Event()
        box: list[BaseException | None] = []

        def notify(error: BaseException | None) -> None:
            box.append(error)
            done.set()

        if not self._register_durable(seq, notify):
            done.wait()
        if box[0] is not None:
            raise AuditWriteError(str(box[0])) from box[0]

    async def flush(self) -> None:
        """Return once every event enqueued before the call is written (or given up)."""
        with self._lock:
            target = self.enqueued
            if self.completed >= target:
                return
        event = anyio.Event()
        self._flush_waiters.append((target, event))
        self.hasten()
        await event.wait()

    def flush_blocking(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for threads; False if ``timeout`` passed first."""
        with self._lock:
            target = self.enqueued
            if self.completed >= target:
                return True
        self.hasten()
        with self._lock:
            return self._done_cond.wait_for(lambda: self.completed >= target, timeout)
