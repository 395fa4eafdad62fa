"""Tests for the form a captured event waits in (``asgi_audit.record.queued``).

The form exists for the garbage collector: these tests ask the real collector
whether it still tracks a frozen event, and hold ``thaw`` to give back the event
that was frozen, whatever its fields.
"""

from __future__ import annotations

import dataclasses
import gc
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.record.context import CONTEXT_FIELDS, RequestContext
from asgi_audit.record.events import RawEvent
from asgi_audit.record.queued import _CONTAINERS, category_of, durable_of, freeze, thaw

text = st.text(max_size=20)
plain = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
values = st.recursive(
    plain,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=6,
)
contexts = st.one_of(
    st.none(),
    st.builds(RequestContext, **{name: st.none() | text for name in CONTEXT_FIELDS}),
)
events = st.builds(
    RawEvent,
    category=text,
    event_type=text,
    outcome=st.none() | text,
    time_ns=st.integers(0, 2**63),
    context=contexts,
    fields=st.dictionaries(text, values, max_size=5),
    exception=st.none() | st.just(ValueError("x")),
    durable=st.booleans(),
)


@given(raw=events)
def test_thaw_gives_back_the_event_that_was_frozen(raw: RawEvent) -> None:
    item = freeze(raw)
    plain = raw.exception is None and _CONTAINERS.isdisjoint(map(type, raw.fields.values()))
    # Frozen when that lets the collector stop tracking it, else the RawEvent itself.
    assert type(item) is tuple if plain else item is raw
    back = thaw(item)
    assert back == raw
    assert list(back.fields) == list(raw.fields)  # the order of the fields too
    assert category_of(item) == category_of(raw) == raw.category
    assert durable_of(item) is durable_of(raw) is raw.durable


def test_a_raw_event_is_its_own_thaw() -> None:
    raw = RawEvent("auth", "login_attempt", "failed", 1, None, {})
    assert thaw(raw) is raw


def test_a_context_of_another_type_is_kept_as_it_is() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Mine(RequestContext):
        tenant: str | None = None

    context = Mine(ip_address="192.0.2.1", tenant="t")
    back = thaw(freeze(RawEvent("auth", "x", None, 1, context, {"a": 1})))
    assert back.context is context


def test_the_context_fields_are_in_the_order_the_core_reads_them() -> None:
    # native/src/py_pipeline.rs maps a frozen event's 11 context values by this order.
    assert CONTEXT_FIELDS == (
        "ip_address",
        "user_agent",
        "session_id",
        "request_id",
        "request_path",
        "method",
        "agent_id",
        "user_id",
        "trace_id",
        "span_id",
        "ip_address_rejected",
    )


def _untracked_before_the_oldest_generation(item: Any) -> bool:
    # The collections an event waits through: a young one moves what survives to
    # the middle generation; the middle one moves what it still tracks to the
    # oldest, whose full collections walk every object of the process.
    gc.collect(0)
    gc.collect(1)
    return not gc.is_tracked(item) and not any(o is item for o in gc.get_objects(2))


def test_a_waiting_event_of_plain_values_never_reaches_the_oldest_generation() -> None:
    context = RequestContext(ip_address="192.0.2.1", request_id="r" * 16, method="GET")
    fields = {"status_code": 200, "duration_ms": 1.5, "stage": "response_complete"}
    item = freeze(RawEvent("api_audit", "api_access", "success", 1, context, fields))
    assert gc.is_tracked(item)
    assert _untracked_before_the_oldest_generation(item)
    # The RawEvent and its context are objects the collector tracks for as long as
    # they live: that is what the frozen form is for.
    raw = RawEvent("api_audit", "api_access", "success", 1, context, fields)
    assert not _untracked_before_the_oldest_generation(raw)
    assert any(o is context for o in gc.get_objects(2))


def test_an_event_with_a_container_or_an_exception_waits_as_its_raw_event() -> None:
    # Its frozen form would stay tracked too, and only add objects to walk.
    raw = RawEvent("tool_blocks", "x", None, 1, None, {"details": {"a": 1}})
    assert freeze(raw) is raw
    failed = RawEvent("auth", "x", None, 1, None, {"a": 1}, ValueError("boom"))
    assert freeze(failed) is failed
