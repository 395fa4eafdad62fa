"""Capture the events your app records, in your own tests, without files.

API. ``with capture_events(auditor) as audit:`` routes every event the Auditor
records (through the middleware, ``Depends(audit_context)``, the event methods or
the sync facade) to ``audit`` instead of the files, through the same pipeline the
writer runs: the captured dicts are redacted and capped exactly as the lines
would be (without the integrity chain's ``stream``/``seq``/``mac``). The Auditor
need not be running, so a ``TestClient`` without its lifespan works too::

    from .testing import capture_events

    def test_a_wrong_password_is_recorded(client):
        with capture_events(auditor) as audit:
            client.post("/login", data={"username": "ann", "password": "nope"})
        [event] = audit.of_type("login_attempt")
        assert event["outcome"] == "failed"
        assert "nope" not in str(audit.events)

Captures nest: each active capture gets every event. Thread-safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .record.pipeline import Pipeline

if TYPE_CHECKING:
    from .auditor import Auditor
    from .record.events import RawEvent

__all__ = ("CapturedEvents", "capture_events")


class CapturedEvents:
    """The events recorded while a :func:`capture_events` block was active, in order.

    Each event is the dict its line would hold: header fields, request context,
    your fields, redacted and capped.
    """

    __slots__ = ("_events", "_lock", "_pipeline")

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, raw: RawEvent) -> None:
        event = self._pipeline.build(raw)
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[dict[str, Any]]:
        """A copy of every event captured so far."""
        with self._lock:
            return list(self._events)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The events whose ``event_type`` is ``event_type``."""
        return [e for e in self.events if e.get("event_type") == event_type]

    def in_category(self, category: str) -> list[dict[str, Any]]:
        """The events of one category (``auth``, ``api_audit``, ...)."""
        return [e for e in self.events if e.get("category") == category]

    def clear(self) -> None:
        """Forget the events captured so far."""
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.events)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.events[index]

    def __repr__(self) -> str:
        return f"<CapturedEvents: {len(self)} events>"


@contextmanager
def capture_events(auditor: Auditor) -> Iterator[CapturedEvents]:
    """Route ``auditor``'s events to a :class:`CapturedEvents` for the block.

    Nothing reaches the files while the block runs; events recorded before or
    after it go to the files as usual. Session ids are hashed with a key of this
    capture only (the same id gives the same hash within it).
    """
    pipeline = Pipeline(
        redactor=auditor._settings.redactor,
        caps=auditor._settings.caps,
        session_ids=auditor._settings.session_ids,
        session_key=os.urandom(32),
    )
    captured = CapturedEvents(pipeline)
    auditor._taps.append(captured)
    try:
        yield captured
    finally:
        auditor._taps.remove(captured)
