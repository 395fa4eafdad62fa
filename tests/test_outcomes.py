"""Every event has an ``outcome``: ``unknown`` when the caller gave none.

Through the real writer, for the Auditor, an ``AuditContext`` and the sync
facade; in the ECS form too (``event.outcome`` ``unknown``); and for the events
the library records itself (``audit_started``, ``audit_stopped``,
``partial_line_recovered``, ``events_dropped``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
import pytest

from asgi_audit import AuditContext, Auditor, AuditQueueFull, RequestContext
from tests.helpers import read_events

DOORS: Final = ("auditor", "context", "sync")

#: The calls that give no outcome: (method, args, kwargs, file)
NO_OUTCOME: Final = [
    ("emit", ("billing", "invoice_sent"), {"invoice": "INV-7"}, "billing.jsonl"),
    ("emit", ("billing", "invoice_sent"), {"outcome": None}, "billing.jsonl"),
    ("session_event", ("session_renewed",), {"outcome": None}, "auth-events.jsonl"),
    ("api_access", (), {"method": "GET", "request_path": "/items"}, "api-audit.jsonl"),
]


def target_of(auditor: Auditor, door: str) -> Any:
    if door == "auditor":
        return auditor
    if door == "context":
        return AuditContext(auditor, RequestContext(request_id="req-outcome-0001"))
    return auditor.sync


async def call(auditor: Auditor, door: str, name: str, /, *args: Any, **kwargs: Any) -> None:
    bound: Callable[..., Awaitable[None] | None] = getattr(target_of(auditor, door), name)
    if door == "sync":
        await anyio.to_thread.run_sync(lambda: bound(*args, **kwargs))
    else:
        result = bound(*args, **kwargs)
        assert result is not None
        await result


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("method", "args", "kwargs", "filename"), NO_OUTCOME)
async def test_an_event_without_an_outcome_is_written_with_outcome_unknown(
    tmp_path: Path,
    door: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    filename: str,
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await call(auditor, door, method, *args, **kwargs)
    (event,) = read_events(tmp_path / filename)
    assert event["outcome"] == "unknown"
    # In the header, where every event has it: right after the category.
    keys = list(event)
    assert keys.index("outcome") == keys.index("category") + 1
    assert "encoding_error" not in event


@pytest.mark.parametrize("door", DOORS)
async def test_an_ecs_event_without_an_outcome_has_event_outcome_unknown(
    tmp_path: Path, door: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False, output_format="ecs") as auditor:
        await call(auditor, door, "emit", "billing", "invoice_sent", invoice="INV-7")
    (doc,) = read_events(tmp_path / "billing.jsonl")
    assert doc["event"]["outcome"] == "unknown"
    assert doc["asgi_audit"]["outcome"] == "unknown"
    assert doc["asgi_audit"]["data"]["invoice"] == "INV-7"  # a caller's own field


async def test_the_events_the_library_records_itself_all_have_an_outcome(tmp_path: Path) -> None:
    # A partial last line left by a crash, recovered at the next start.
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        await auditor.emit("crashy", "before_the_crash", outcome="success")
    with (tmp_path / "crashy.jsonl").open("ab") as file:
        file.write(b'{"timestamp":"2026-11-28T10:')
    # A full stream on the loop thread: the refused event is reported as dropped.
    async with Auditor(log_dir=tmp_path, queue_capacity=4) as auditor:
        await auditor.flush()
        for _ in range(4):
            auditor.sync.emit("custom", "x", outcome="success")
        with pytest.raises(AuditQueueFull):
            auditor.sync.emit("custom", "x", outcome="success")
        await auditor.flush()  # room again for audit_stopped

    seen: dict[str, str] = {}
    for path in sorted(tmp_path.glob("*.jsonl")):
        for event in read_events(path):
            assert isinstance(event.get("outcome"), str), json.dumps(event)
            seen[event["event_type"]] = event["outcome"]
    assert seen == {
        "audit_started": "success",
        "audit_stopped": "success",
        "before_the_crash": "success",
        "partial_line_recovered": "recovered",
        "x": "success",
        "events_dropped": "dropped",
    }
