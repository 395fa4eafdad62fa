"""The writer's one thread: where a batch's blocking work runs, off the event loop.

IO. A daemon thread of the writer's own rather than a pooled worker thread: a
write stuck forever on a dead disk is abandoned at the shutdown deadline and
cannot keep the process from exiting, and the app's own threadpool (FastAPI's
``def`` routes) can never starve the writer. The task awaits each job; the
result comes back through the event loop's thread-safe callback, so this works
on asyncio and trio alike.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

__all__ = ("WorkerThread",)

T = TypeVar("T")


class WorkerThread:
    """Runs one job at a time in a daemon thread, started on first use.

    Args:
        call_on_loop: runs a callback on the event loop from another thread,
            without waiting.
    """

    __slots__ = ("_call_on_loop", "_jobs", "_thread")

    def __init__(self, call_on_loop: Callable[[Callable[[], object]], None]) -> None:
        self._call_on_loop = call_on_loop
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the thread; its result or its exception.

        Waiting is cancellable: a cancelled caller abandons the job, which still
        runs to its end in the thread.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="asgi_audit writer", daemon=True
            )
            self._thread.start()
        done = anyio.Event()
        box: list[tuple[bool, Any]] = []
        call_on_loop = self._call_on_loop

        def job() -> None:
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:  # handed back to the task, which re-raises
                box.append((False, exc))
            call_on_loop(done.set)

        self._jobs.put(job)
        await done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        result: T = value
        return result

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            # Not kept while waiting for the next: a job holds its arguments (a batch).
            del job

    def stop(self) -> None:
        """Let the thread end once its current job is done."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None
