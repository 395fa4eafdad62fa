"""The bounded, thread-safe stream between the request path and the writer.

IO (it waits on the event loop and on threads, but touches no file). Each
operation has a synchronous core (:meth:`EventStream.offer`: a lock, a deque
append, counters) and waiting forms on top (:mod:`asgi_audit.store.waiting`):
awaited for the event loop, blocking for threads. When the stream is full a
category's overflow policy decides: ``block`` waits for room (up to an optional
deadline), ``drop`` never waits and counts the event, and the writer then records
an ``events_dropped`` event in that category's file with the count and the time
range.

Under steady load the writer takes a batch at most every ``batch_interval``
(:meth:`EventStream.lingering`): each batch costs the serving loop a handful of
GIL hand-overs to the writer's thread, whatever its size. Whoever waits for the
writer (a flush, a durable event, a caller blocked on a full stream, the
shutdown), a stream half full or an event dropped hastens it
(:meth:`EventStream.hasten`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio
import anyio.lowlevel

from ..record.capture import untrack_event
from ..record.events import RawEvent
from .waiting import (
    NOT_RUNNING,
    AuditorNotRunning,
    AuditQueueFull,
    AuditWriteError,
    OverflowPolicy,
    WaitingForms,
    hand_off,
)

__all__ = (
    "AuditQueueFull",
    "AuditWriteError",
    "AuditorNotRunning",
    "EventStream",
    "OverflowPolicy",
    "hand_off",
)

#: The most queued events a lingering writer leaves waiting (see EventStream.urgent_at).
URGENT_EVENTS: Final = 1024


class EventStream(WaitingForms):
    """Bounded FIFO of captured events, shared by the event loop and threads.

    Args:
        capacity: the most events held; beyond it the overflow policy decides.
        overflow: a policy per category; others get ``default``.
        default: the policy of unlisted categories (``block``).
        block_timeout: the longest a ``block`` caller waits (None: no limit).
    """

    # Slots: the hot path reads these on every event, and past 30 attributes an
    # instance dict stops sharing its keys and those reads get slower.
    __slots__ = (
        "_block_timeout",
        "_call_soon",
        "_default",
        "_done_cond",
        "_drops",
        "_durable_waiters",
        "_flush_waiters",
        "_hurry",
        "_items",
        "_lock",
        "_loop_thread",
        "_overflow",
        "_quiet_below",
        "_space",
        "_space_cond",
        "_sync_failures",
        "_urgent",
        "_wakeup",
        "_writer_waiting",
        "accepting",
        "capacity",
        "closing",
        "completed",
        "dropped",
        "enqueued",
        "handoff",
        "held",
        "in_flight",
        "synced",
        "taken",
        "urgent_at",
    )

    def __init__(
        self,
        *,
        capacity: int,
        overflow: Mapping[str, OverflowPolicy],
        default: OverflowPolicy = "block",
        block_timeout: float | None = None,
    ) -> None:
        self.capacity = capacity
        self._overflow = dict(overflow)
        self._default = default
        self._block_timeout = block_timeout
        self._lock = threading.Lock()
        self._space_cond = threading.Condition(self._lock)
        self._done_cond = threading.Condition(self._lock)
        self._items: deque[RawEvent] = deque()
        self.accepting = False
        self.closing = False
        self.enqueued = 0  # sequence number of the last enqueued event
        self.completed = 0  # events written (or given up), in order
        self.in_flight = 0
        self.taken = 0  # sequence number of the last event handed to the writer
        self.held = 0  # events the writer holds because their write failed
        self._drops: dict[str, list[int]] = {}  # category -> [count, first_ns, last_ns]
        self.dropped: dict[str, int] = {}
        self._writer_waiting = False
        self._wakeup: anyio.Event | None = None
        self._space: anyio.Event | None = None
        self._flush_waiters: list[tuple[int, anyio.Event]] = []
        self.synced = 0  # every event up to this sequence number is fsynced
        self._sync_failures: list[tuple[int, int, BaseException]] = []
        self._durable_waiters: list[tuple[int, Callable[[BaseException | None], object]]] = []
        self._loop_thread = -1
        self._call_soon: Callable[[Callable[[], object]], object] | None = None
        #: The queued events that hasten the writer (half the capacity, at most 1,024).
        self.urgent_at = max(1, min(capacity // 2, URGENT_EVENTS))
        # The queue length below which an offer has nobody to tell: urgent_at, or
        # 0 while the writer waits for events (one comparison on the hot path).
        self._quiet_below = self.urgent_at
        self._urgent = False
        self._hurry: anyio.Event | None = None
        #: Set by a writer that encodes beside the loop: the awaited forms let the
        #: loop run after every event whose sequence number is a multiple of
        #: ``handoff`` (0: never; see :meth:`hands_off`).
        self.handoff = 0

    def policy(self, category: str) -> OverflowPolicy:
        """The overflow policy of ``category``."""
        return self._overflow.get(category, self._default)

    # ----------------------------------------------------------------- the core

    def offer(self, raw: RawEvent) -> int:
        """Enqueue ``raw`` if there is room: its sequence number, or 0 if full.

        Raises:
            AuditorNotRunning: the stream is not accepting events.
        """
        # Out of the garbage collector's sight while it waits (see untrack_event).
        untrack_event(raw)
        # acquire and release, not ``with``, which costs about 150 ns more on every event.
        lock = self._lock
        lock.acquire()
        try:
            if not self.accepting:
                raise AuditorNotRunning(NOT_RUNNING)
            items = self._items
            if len(items) + self.in_flight + self.held >= self.capacity:
                return 0
            items.append(raw)
            seq = self.enqueued = self.enqueued + 1
            if len(items) < self._quiet_below:
                return seq
            wakeup = hurry = None
            if self._writer_waiting:
                self._writer_waiting = False
                self._quiet_below = self.urgent_at
                wakeup = self._wakeup
            if len(items) >= self.urgent_at:
                # A writer not lingering yet sees the length itself (lingering()).
                hurry, self._hurry = self._hurry, None
        finally:
            lock.release()
        if wakeup is not None:
            self._on_loop(wakeup.set)
        if hurry is not None:
            self._on_loop(hurry.set)
        return seq

    def hands_off(self, seq: int) -> bool:
        """Whether an awaited caller that enqueued event ``seq`` lets the loop run
        once before it returns: a caller that never lets the loop run would leave
        a whole burst to the end, and the writer takes it from there to its thread.
        It also lets the GIL go once (``time.sleep(0)``): a loop that only lets it go
        around its own polls, more often than the switch interval, can keep a
        thread waiting for it to the end of the burst."""
        handoff = self.handoff
        return bool(handoff) and not seq % handoff

    def drop(self, raw: RawEvent) -> None:
        """Count ``raw`` as dropped (an ``events_dropped`` event will say so).

        A stream that drops hastens the writer: its queue alone may never reach
        ``urgent_at`` while taken events still count against the capacity (a
        writer gathering beside a stuck write), and a writer lingering for it
        would leave the stream full."""
        with self._lock:
            entry = self._drops.get(raw.category)
            if entry is None:
                self._drops[raw.category] = [1, raw.time_ns, raw.time_ns]
            else:
                entry[0] += 1
                entry[1] = min(entry[1], raw.time_ns)
                entry[2] = max(entry[2], raw.time_ns)
            self.dropped[raw.category] = self.dropped.get(raw.category, 0) + 1
            self._urgent = True
            hurry, self._hurry = self._hurry, None
        if hurry is not None:
            self._on_loop(hurry.set)

    def hasten(self) -> None:
        """Someone waits for the writer: a lingering writer takes the next batch now."""
        with self._lock:
            self._urgent = True
            hurry, self._hurry = self._hurry, None
        if hurry is not None:
            self._on_loop(hurry.set)

    def space(self) -> anyio.Event:
        """An Event set the next time room is made (for an awaited caller)."""
        space = self._space
        if space is None:
            space = self._space = anyio.Event()
        return space

    def lingering(self, hurry: anyio.Event | None = None) -> anyio.Event | None:
        """For the writer, between batches: an Event (``hurry`` when given) that is
        set when the next batch should not wait for the interval, or None when it
        should not wait at all (hastened since the last batch was taken, or closing)."""
        with self._lock:
            if self._urgent or self.closing or len(self._items) >= self.urgent_at:
                return None
            if hurry is None:
                hurry = anyio.Event()
            self._hurry = hurry
            return hurry

    # ------------------------------------------------------------ writer side

    def bind_loop(self) -> None:
        """Called by the writer task on its event loop before it accepts events."""
        self._loop_thread = threading.get_ident()
        self._call_soon = _threadsafe_scheduler()
        with self._lock:
            self.accepting = True
            self.closing = False

    def call_on_loop(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the event loop: now if called there, else soon (never waits)."""
        self._on_loop(fn)

    def _on_loop(self, fn: Callable[[], object]) -> None:
        if threading.get_ident() == self._loop_thread:
            fn()
        elif self._call_soon is not None:
            # A closed loop raises RuntimeError: nothing waits any more.
            with contextlib.suppress(RuntimeError):
                self._call_soon(fn)

    def take(self) -> tuple[list[RawEvent], int, dict[str, list[int]]] | anyio.Event | None:
        """Everything queued, the sequence number of its first event, and the drops
        to report; or an Event to wait on when empty; or None when closed and drained."""
        with self._lock:
            batch = list(self._items)
            drops, self._drops = self._drops, {}
            base = self.taken + 1
            if batch or drops:
                self._urgent = False
                self._hurry = None
                self._items.clear()
                # Added to what is in flight: a writer may take the next batch
                # while the last is still being written (Writer._overlapped);
                # advance() says what is left.
                self.in_flight += len(batch)
                self.taken += len(batch)
                self._space_cond.notify_all()
            elif self.closing:
                return None
            else:
                self._writer_waiting = True
                self._quiet_below = 0
                wakeup = self._wakeup = anyio.Event()
                return wakeup
        space, self._space = self._space, None
        if space is not None:
            space.set()
        return batch, base, drops

    def queued(self) -> int:
        """How many events wait to be taken (a snapshot; no lock: one read)."""
        return len(self._items)

    def wake(self) -> None:
        """Wake the writer if it waits (from the loop thread)."""
        with self._lock:
            wakeup = self._wakeup if self._writer_waiting else None
            self._writer_waiting = False
            self._quiet_below = self.urgent_at
        if wakeup is not None:
            wakeup.set()

    def advance(
        self,
        upto: int,
        synced: bool,
        error: BaseException | None,
        held: int,
        in_flight: int = 0,
    ) -> None:
        """Every event up to sequence number ``upto`` is written (``synced``: and
        fsynced; ``error``: its fsync failed or it was given up); ``held`` events
        wait for a failing write; ``in_flight`` events taken after them are not
        written yet. Releases flush and durable waiters."""
        with self._lock:
            first = self.completed + 1
            done = self.completed = max(self.completed, upto)
            if error is not None:
                self._sync_failures.append((first, done, error))
                del self._sync_failures[:-64]
            elif synced:
                self.synced = done
            self.held = held
            self.in_flight = in_flight
            self._done_cond.notify_all()
            self._space_cond.notify_all()
            ready = [(s, n) for s, n in self._durable_waiters if s <= done]
            if ready:
                self._durable_waiters = [(s, n) for s, n in self._durable_waiters if s > done]
        for _, notify in ready:
            notify(error)
        keep = []
        for target, event in self._flush_waiters:
            if target <= done:
                event.set()
            else:
                keep.append((target, event))
        self._flush_waiters = keep
        space, self._space = self._space, None
        if space is not None:
            space.set()

    def close(self) -> None:
        """Stop accepting; the writer ends once what is queued is written."""
        with self._lock:
            self.accepting = False
            self.closing = True
            self._space_cond.notify_all()
        self.hasten()
        self.wake()
        space, self._space = self._space, None
        if space is not None:
            space.set()

    def abandon(self, reason: BaseException, written: int = 0) -> int:
        """Give up what is still queued or in flight (shutdown deadline); return how many.

        ``written`` of the in-flight batch reached a file before the writer stuck;
        the writer's held events are counted by the writer.
        """
        with self._lock:
            lost = len(self._items) + self.in_flight - written
            self._items.clear()
            self.taken = self.enqueued
        self.advance(self.enqueued, synced=False, error=reason, held=0)
        return lost

    def statistics(self) -> dict[str, Any]:
        """Counters of the stream, read at once."""
        with self._lock:
            return {
                "running": self.accepting,
                "capacity": self.capacity,
                "queued": len(self._items),
                "in_flight": self.in_flight,
                "held": self.held,
                "enqueued": self.enqueued,
                "completed": self.completed,
                # Counted here, not on the request path: stats are rare, events not.
                "queued_by_category": dict(Counter(raw.category for raw in self._items)),
                "dropped_by_category": dict(self.dropped),
            }


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
