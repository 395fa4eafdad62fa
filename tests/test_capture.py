"""The capture of an event's fields at the call (``asgi_audit.record.capture``):
the reference's copies, and the compiled core's ``named_fields`` and
``own_fields`` held to it, object by object.

The attacker here is the caller's own code, or a library it calls: it keeps the
dicts and lists it passed and changes them once the call has returned, while
the event waits for the writer. The record must be what was passed.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_audit import Auditor
from asgi_audit.record import capture
from asgi_audit.record.capture import (
    DEPTH,
    reference_named_fields,
    reference_own_fields,
    snapshot,
)
from asgi_audit.record.events import RawEvent
from tests.helpers import read_events

native: Any
try:
    native = importlib.import_module("asgi_audit_native")
except ImportError:  # the pure wheel's run has no core
    native = None
needs_core = pytest.mark.skipif(
    native is None or not hasattr(native, "named_fields"),
    reason="the compiled core is not installed (make native)",
)

_CONTAINERS = (dict, list, tuple, set, frozenset)


def _named_fields() -> list[Any]:
    """The reference, and the core's when it is installed."""
    core = getattr(native, "named_fields", None)
    return [reference_named_fields] + ([core] if core else [])


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.builds(object),
    st.builds(OrderedDict, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
)
hashables = st.one_of(st.integers(), st.text(max_size=4), st.none())


def _tree(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(st.text(max_size=4), children, max_size=4),
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.frozensets(hashables, max_size=3),
        st.sets(hashables, max_size=3),
        st.sets(st.frozensets(hashables, max_size=2), max_size=2),
        st.lists(st.frozensets(hashables, max_size=2), max_size=2).map(tuple),
    )


values = st.recursive(leaves, _tree, max_leaves=40)
field_dicts = st.dictionaries(
    st.text(min_size=1, max_size=6).filter(lambda key: key != "details"), values, max_size=5
)


def deep(depth: int) -> Any:
    """A list nested ``depth`` levels deep around a dict."""
    value: Any = {"leaf": [1]}
    for _ in range(depth):
        value = [value]
    return value


def check_copied(source: Any, copy: Any, depth: int = DEPTH) -> None:
    """``copy`` is ``source`` as the capture must take it: every container down to
    ``depth`` a new dict (for a dict) or list (for the others), in the same order;
    everything else, and every container deeper, the very same object."""
    if depth > 0 and type(source) in _CONTAINERS:
        assert copy is not source
        if type(source) is dict:
            assert type(copy) is dict
            assert list(copy) == list(source)
            for key in source:
                check_copied(source[key], copy[key], depth - 1)
        else:
            assert type(copy) is list
            items = list(source)
            assert len(copy) == len(items)
            for item, copied in zip(items, copy, strict=True):
                check_copied(item, copied, depth - 1)
    else:
        assert copy is source


def check_alike(reference: Any, core: Any, source: Any, depth: int = DEPTH) -> None:
    """The core's copy and the reference's are each ``source`` copied as
    ``check_copied`` says (so alike object by object)."""
    check_copied(source, reference, depth)
    check_copied(source, core, depth)


@given(values)
def test_the_reference_copies_every_container_to_the_depth_and_shares_the_rest(value: Any) -> None:
    check_copied(value, snapshot(value))


@given(values, st.integers(min_value=-1, max_value=10))
def test_the_reference_copies_to_the_depth_it_is_given(value: Any, depth: int) -> None:
    check_copied(value, snapshot(value, depth), depth)


def test_containers_deeper_than_eight_levels_are_shared_not_copied() -> None:
    value = deep(12)
    copy = snapshot(value)
    inner, inner_copy = value, copy
    for _ in range(DEPTH):
        assert inner_copy is not inner
        inner, inner_copy = inner[0], inner_copy[0]
    assert inner_copy is inner


def test_what_the_caller_changes_after_the_call_is_not_in_the_record() -> None:
    for named_fields in _named_fields():
        details: dict[str, Any] = {"ids": [1, 2], "who": {"roles": ("admin",)}}
        extra = [{"path": "/a"}]
        fields = named_fields({"extra": extra}, {"user_id": "u"}, details)
        details["ids"].append(3)
        details["who"]["roles"] = ()
        details["added"] = True
        extra[0]["path"] = "/etc/shadow"
        extra.append({})
        assert fields == {
            "extra": [{"path": "/a"}],
            "user_id": "u",
            "details": {"ids": [1, 2], "who": {"roles": ["admin"]}},
        }


# ------------------------------------------------------- the core against it


@needs_core
@settings(max_examples=400)
@given(field_dicts, field_dicts, values)
def test_the_core_s_named_fields_are_the_reference_s_object_by_object(
    extra: dict[str, Any], named: dict[str, Any], details: Any
) -> None:
    named = {key: value for key, value in named.items() if key not in extra}
    sources = {**extra, **named}
    ref_extra, ref_named = dict(extra), dict(named)
    core_extra, core_named = dict(extra), dict(named)
    reference = reference_named_fields(ref_extra, ref_named, details)
    core = native.named_fields(core_extra, core_named, details)
    # The call's own dicts are filled in place: the caller's extra fields when
    # there are any, else the method's.
    assert reference is (ref_extra if extra else ref_named)
    assert core is (core_extra if extra else core_named)
    assert list(core) == list(reference) == [*sources, "details"]
    for key, source in sources.items():
        check_alike(reference[key], core[key], source)
    if details is None:
        assert reference["details"] is None
        assert core["details"] is None
    else:
        check_alike(reference["details"], core["details"], details)


@needs_core
@settings(max_examples=400)
@given(field_dicts)
def test_the_core_s_own_fields_are_the_reference_s_object_by_object(fields: dict[str, Any]) -> None:
    ref_fields, core_fields = dict(fields), dict(fields)
    reference = reference_own_fields(ref_fields)
    core = native.own_fields(core_fields)
    assert reference is ref_fields
    assert core is core_fields
    assert list(core) == list(reference) == list(fields)
    for key, source in fields.items():
        check_alike(reference[key], core[key], source)


@needs_core
def test_the_core_copies_to_eight_levels_and_shares_below_as_the_reference() -> None:
    for depth in (7, 8, 9, 12):
        value = deep(depth)
        reference = reference_named_fields({}, {"v": value}, value)
        core = native.named_fields({}, {"v": value}, value)
        check_alike(reference["v"], core["v"], value)
        check_alike(reference["details"], core["details"], value)


@needs_core
def test_a_subclass_of_a_container_is_a_leaf_in_both() -> None:
    ordered = OrderedDict(a=[1])
    for capture_fields in (reference_own_fields, native.own_fields):
        fields = capture_fields({"o": ordered, "l": [ordered]})
        assert fields["o"] is ordered
        assert fields["l"][0] is ordered


class _Meddler:
    """A key whose ``__hash__`` empties the dict being copied, once armed."""

    def __init__(self, victim: dict[Any, Any]) -> None:
        self.victim = victim
        self.armed = False

    def __hash__(self) -> int:
        if self.armed:
            self.victim.clear()
        return 1


@needs_core
def test_a_key_that_changes_the_dict_while_it_is_copied_as_the_module_says() -> None:
    # The one documented difference: the reference raises, the core copies the
    # items as they were.
    def armed() -> dict[Any, Any]:
        victim: dict[Any, Any] = {}
        key = _Meddler(victim)
        victim[key] = [1]
        victim["b"] = [2]
        key.armed = True
        return victim

    with pytest.raises(RuntimeError, match="changed size"):
        snapshot(armed())
    victim = armed()
    copy = native.named_fields({}, {}, victim)["details"]
    assert list(copy.values()) == [[1], [2]]
    assert victim == {}


@needs_core
def test_the_event_methods_use_the_core_when_it_is_installed() -> None:
    if os.environ.get("ASGI_AUDIT_PURE"):
        assert capture.named_fields is reference_named_fields
    else:
        assert capture.named_fields is native.named_fields
        assert capture.own_fields is native.own_fields


# ------------------------------------------- through every method, to the files

# (method, its file, its arguments, the event type it records)
_CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("login_attempt", "auth-events.jsonl", {"outcome": "failed"}, "login_attempt"),
    ("logout", "auth-events.jsonl", {}, "logout"),
    ("session_event", "auth-events.jsonl", {"event_type": "session_created"}, "session_created"),
    (
        "injection_attempt",
        "injection-events.jsonl",
        {"rule_name": "r", "severity": "HIGH"},
        "injection_attempt",
    ),
    ("tool_blocked", "tool-blocks.jsonl", {"tool_name": "read_file"}, "tool_path_blocked"),
    ("api_access", "api-audit.jsonl", {"method": "GET"}, "api_access"),
    ("emit", "custom.jsonl", {"category": "custom", "event_type": "thing"}, "thing"),
]


@pytest.mark.parametrize("front", ["awaited", "sync"])
async def test_every_method_records_the_caller_s_fields_as_they_were_at_the_call(
    tmp_path: Path, front: str
) -> None:
    async with Auditor(log_dir=tmp_path, self_audit=False) as auditor:
        for method, _, arguments, _ in _CALLS:
            tags: list[Any] = ["a", {"k": [1]}]
            details: dict[str, Any] = {"n": [1]}
            kwargs: dict[str, Any] = dict(arguments, tags=tags, zone="eu")
            if method == "emit":
                kwargs["exc_info"] = ValueError("boom")
            else:
                kwargs["details"] = details
            if front == "awaited":
                await getattr(auditor, method)(**kwargs)
            else:
                getattr(auditor.sync, method)(**kwargs)
            # Changed once the call has returned: the record must not see it.
            tags.append("later")
            tags[1]["k"].append(2)
            details["n"].append(2)
            details["added"] = True
    for method, filename, _, event_type in _CALLS:
        (event,) = [e for e in read_events(tmp_path / filename) if e["event_type"] == event_type]
        assert "encoding_error" not in event, method
        assert event["tags"] == ["a", {"k": [1]}], method
        assert event["zone"] == "eu", method
        if method == "emit":
            assert "ValueError: boom" in event["stack_trace"]
        else:
            assert event["details"] == {"n": [1]}, method


def _torn_copies(named_fields: Any, rounds: int) -> int:
    """How many of ``rounds`` copies of ``details`` saw a state the source never
    had, while another thread updates it: ``a`` before ``b`` each time, so in
    the source ``a`` is never older than ``b``."""
    details: dict[str, Any] = {"a": [0], "b": [0]}
    stop = threading.Event()

    def update() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            details["a"] = [i]
            details["b"] = [i]

    thread = threading.Thread(target=update)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread.start()
    torn = 0
    try:
        for _ in range(rounds):
            copy = named_fields({}, {}, details)["details"]
            torn += copy["a"][0] < copy["b"][0]
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    return torn


@needs_core
def test_another_thread_changing_the_details_meanwhile_never_tears_the_core_s_copy() -> None:
    # The core copies with the GIL held and runs no Python code for string keys:
    # no other thread runs between two of its steps.
    assert _torn_copies(native.named_fields, 20_000) == 0


# ------------------------------------------------------- the queued event untracked


class _Node:
    """A caller's object in a cycle with itself."""

    def __init__(self) -> None:
        self.me = self


def _raw(fields: dict[str, Any], exception: BaseException | None = None) -> RawEvent:
    return RawEvent("custom", "x", None, 1, None, fields, exception, False)


@needs_core
def test_a_queued_event_and_its_fields_leave_the_collector_s_sight() -> None:
    fields = capture.named_fields({}, {"user_id": "u"}, {"i": [1]})
    raw = _raw(fields)
    assert gc.is_tracked(raw)
    assert gc.is_tracked(fields)
    native.untrack_event(raw)
    assert not gc.is_tracked(raw)
    assert not gc.is_tracked(fields)
    # What they refer to stays in sight.
    assert gc.is_tracked(fields["details"]["i"])
    # A dict that takes a container again is tracked again, by CPython itself.
    fields["more"] = [2]
    assert gc.is_tracked(fields)


@needs_core
def test_an_event_with_an_exception_stays_in_the_collector_s_sight() -> None:
    # Its traceback's frames may refer back to what refers to the event.
    fields = capture.named_fields({}, {"user_id": "u"}, {"i": [1]})
    raw = _raw(fields, ValueError("no"))
    native.untrack_event(raw)
    assert gc.is_tracked(raw)
    assert gc.is_tracked(fields)


@needs_core
def test_only_an_exact_dict_of_fields_is_untracked() -> None:
    class Fields(dict[str, Any]):
        pass

    fields = Fields(details={"i": [1]})
    raw = _raw(fields)
    native.untrack_event(raw)
    assert not gc.is_tracked(raw)
    assert gc.is_tracked(fields)


def test_without_the_core_an_event_stays_in_sight() -> None:
    fields = reference_named_fields({}, {"user_id": "u"}, {"i": [1]})
    raw = _raw(fields)
    capture._stays_tracked(raw)
    assert gc.is_tracked(raw)
    assert gc.is_tracked(fields)


async def test_an_event_waiting_for_the_writer_is_out_of_sight_and_its_cycles_are_still_collected(
    tmp_path: Path,
) -> None:
    # An awaited call enqueues at once and returns without letting the loop
    # run: the event is still in the stream. A caller's object in a cycle,
    # held by that event, is collected once the event is written.
    node = _Node()
    alive = weakref.ref(node)
    async with Auditor(log_dir=tmp_path / "log", self_audit=False) as auditor:
        await auditor.emit("custom", "x", node=node, n=1)
        assert auditor._runtime is not None
        queued = auditor._runtime.stream._items[-1]
        assert queued.fields["n"] == 1
        core = capture.untrack_event is not capture._stays_tracked
        assert gc.is_tracked(queued) is not core
        assert gc.is_tracked(queued.fields) is not core
        del queued, node
        await auditor.flush()
    gc.collect()
    assert alive() is None
    events = read_events(tmp_path / "log" / "custom.jsonl")
    assert [e["n"] for e in events] == [1]
    assert "encoding_error" not in events[0]


@needs_core
def test_anything_but_an_event_tuple_is_left_as_it_is() -> None:
    fields: dict[str, Any] = {"details": {"i": [1]}}
    for other in ([fields], ("custom", fields), {"fields": fields}):
        native.untrack_event(other)
        assert gc.is_tracked(other)
    assert gc.is_tracked(fields)
