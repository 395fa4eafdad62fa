"""The documented closed sets of the event methods, checked at the call site.

``login_attempt`` outcomes, ``tool_blocked`` outcomes, ``injection_attempt``
severities and outcomes, ``data_access`` actions and outcomes: a value outside
its set is a ``ValueError`` naming the argument, quoting the value and listing
the allowed ones, raised by the call itself (before anything is queued),
identically on the Auditor, an
``AuditContext`` and the sync facade. Every allowed value is written as given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
import pytest

from asgi_audit import AuditContext, Auditor, RequestContext
from tests.helpers import read_events

LOGIN: Final = ("success", "failed", "rate_limited", "blocked")
TOOL: Final = ("blocked", "requires_approval")
SEVERITY: Final = ("LOW", "WARNING", "MEDIUM", "HIGH", "CRITICAL")
INJECTION: Final = ("logged", "warned", "blocked")
DATA_ACTION: Final = ("read", "export", "update", "delete")
DATA_OUTCOME: Final = ("success", "denied", "failed")
RISK: Final = {"LOW": 0.2, "WARNING": 0.3, "MEDIUM": 0.4, "HIGH": 0.7, "CRITICAL": 1.0}

#: method -> (the arguments every call needs, its file)
METHODS: Final[dict[str, tuple[dict[str, Any], str]]] = {
    "login_attempt": ({"user_id": "alice"}, "auth-events.jsonl"),
    "tool_blocked": ({"tool_name": "read_file"}, "tool-blocks.jsonl"),
    "injection_attempt": ({"rule_name": "override", "severity": "HIGH"}, "injection-events.jsonl"),
    "data_access": ({"resource_type": "patient"}, "data_access.jsonl"),
}

#: (method, argument, bad value, the allowed values)
BAD: Final = [
    ("login_attempt", "outcome", "denied", LOGIN),
    ("login_attempt", "outcome", "FAILED", LOGIN),
    ("login_attempt", "outcome", "", LOGIN),
    ("tool_blocked", "outcome", "denied", TOOL),
    ("tool_blocked", "outcome", "Blocked", TOOL),
    ("tool_blocked", "outcome", "requires-approval", TOOL),
    ("tool_blocked", "outcome", None, TOOL),
    ("injection_attempt", "severity", "SEVERE", SEVERITY),
    ("injection_attempt", "severity", "high", SEVERITY),
    ("injection_attempt", "severity", "", SEVERITY),
    ("injection_attempt", "severity", None, SEVERITY),
    ("injection_attempt", "outcome", "denied", INJECTION),
    ("injection_attempt", "outcome", "warning", INJECTION),
    ("data_access", "action", "write", DATA_ACTION),
    ("data_access", "action", "READ", DATA_ACTION),
    ("data_access", "action", None, DATA_ACTION),
    ("data_access", "outcome", "blocked", DATA_OUTCOME),
    ("data_access", "outcome", "allowed", DATA_OUTCOME),
]

GOOD: Final = [
    *(("login_attempt", "outcome", value) for value in LOGIN),
    *(("tool_blocked", "outcome", value) for value in TOOL),
    *(("injection_attempt", "severity", value) for value in SEVERITY),
    *(("injection_attempt", "outcome", value) for value in INJECTION),
    *(("data_access", "action", value) for value in DATA_ACTION),
    *(("data_access", "outcome", value) for value in DATA_OUTCOME),
]

DOORS: Final = ("auditor", "context", "sync")

Call = Callable[..., Awaitable[None] | None]


def method_of(auditor: Auditor, door: str, name: str) -> Call:
    """The event method ``name`` of one front door."""
    if door == "auditor":
        target: Any = auditor
    elif door == "context":
        target = AuditContext(auditor, RequestContext(request_id="req-closed-sets-1"))
    else:
        target = auditor.sync
    method: Call = getattr(target, name)
    return method


def arguments(name: str, argument: str, value: Any) -> dict[str, Any]:
    base, _ = METHODS[name]
    return {**base, argument: value}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("name", "argument", "bad", "allowed"), BAD)
async def test_a_value_outside_its_closed_set_is_refused_at_the_call_site(
    tmp_path: Path, door: str, name: str, argument: str, bad: Any, allowed: tuple[str, ...]
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        method = method_of(auditor, door, name)
        before = auditor.stats()["enqueued"]
        with pytest.raises(ValueError, match=r"^Invalid ") as caught:
            # Not awaited: the call itself raises, before any coroutine or queue.
            method(**arguments(name, argument, bad))
        assert auditor.stats()["enqueued"] == before
        await auditor.flush()
    message = str(caught.value)
    assert f"{name} {argument}" in message  # names the method and the argument
    assert repr(bad) in message  # quotes the bad value
    assert f"(expected one of {', '.join(map(repr, allowed))})" in message
    assert list(tmp_path.glob("*.jsonl")) == []  # nothing was written


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("name", "argument", "value"), GOOD)
async def test_every_allowed_value_is_written_as_given(
    tmp_path: Path, door: str, name: str, argument: str, value: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        method = method_of(auditor, door, name)
        kwargs = arguments(name, argument, value)
        if door == "sync":
            await anyio.to_thread.run_sync(lambda: method(**kwargs))
        else:
            result = method(**kwargs)
            assert result is not None
            await result
    (event,) = read_events(tmp_path / METHODS[name][1])
    assert event[argument] == value
    assert "encoding_error" not in event
    if name == "injection_attempt":
        assert event["risk_score"] == RISK[event["severity"]]
