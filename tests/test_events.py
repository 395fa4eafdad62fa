"""Tests for events: category names, login outcomes, UUIDv7 ids, event construction."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.record.context import RequestContext
from asgi_audit.record.events import (
    CATEGORY_FILES,
    LOGIN_OUTCOMES,
    SCHEMA_VERSION,
    RawEvent,
    Uuid7Generator,
    build_event,
    category_filename,
    validate_category,
    validate_login_outcome,
)

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: A fixed clock read: 2026-05-28T20:26:40.123456789Z.
T0 = 1_780_000_000_123_456_789
#: The largest time_ns whose timestamp still fits a datetime (9999-12-31T23:59:59.999999).
MAX_TIME_NS = 253_402_300_799_999_999_999
HEADER = [
    "timestamp",
    "epoch_ms",
    "event_id",
    "event_type",
    "category",
    "outcome",
    "schema_version",
]
EVENT_ID = "01900000-0000-7000-8000-000000000000"


def make_raw(
    fields: dict[str, Any] | None = None,
    *,
    context: RequestContext | None = None,
    exception: BaseException | None = None,
    outcome: str | None = "failed",
    time_ns: int = T0,
) -> RawEvent:
    return RawEvent(
        category="auth",
        event_type="login_attempt",
        outcome=outcome,
        time_ns=time_ns,
        context=context,
        fields={} if fields is None else fields,
        exception=exception,
    )


def ms_of_timestamp(timestamp: str) -> int:
    """Milliseconds since the epoch of an ISO timestamp, in exact integer arithmetic."""
    return (datetime.fromisoformat(timestamp) - EPOCH) // timedelta(milliseconds=1)


# --- categories --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "filename"),
    [
        ("auth", "auth-events.jsonl"),
        ("injection", "injection-events.jsonl"),
        ("tool_blocks", "tool-blocks.jsonl"),
        ("api_audit", "api-audit.jsonl"),
    ],
)
def test_builtin_category_keeps_the_original_file_name(category: str, filename: str) -> None:
    assert category_filename(category) == filename
    assert CATEGORY_FILES[category] == filename
    assert validate_category(category) == category


def test_only_the_four_original_categories_are_builtin() -> None:
    assert dict(CATEGORY_FILES) == {
        "auth": "auth-events.jsonl",
        "injection": "injection-events.jsonl",
        "tool_blocks": "tool-blocks.jsonl",
        "api_audit": "api-audit.jsonl",
    }


@pytest.mark.parametrize("category", ["billing", "a", "9lives", "x_y-z", "a" * 64])
def test_custom_category_file_is_the_category_dot_jsonl(category: str) -> None:
    assert validate_category(category) == category
    assert category_filename(category) == f"{category}.jsonl"


BAD_CATEGORIES: list[Any] = [
    "../x",
    "a/b",
    "a\\b",
    "..",
    ".hidden",
    "",
    "A B",
    "Auth",
    "x.jsonl",
    "a" * 65,
    "\n",
    "auth\n",
    "_leading",
    "-leading",
    "caf\u00e9",
    None,
    42,
    b"auth",
    ["auth"],
]


@pytest.mark.parametrize(
    ("check", "bad"),
    [
        pytest.param(
            check,
            bad,
            id=f"{check.__name__}-{bad!r}"[:60],
        )
        for check in (validate_category, category_filename)
        for bad in BAD_CATEGORIES
    ],
)
def test_bad_category_raises_value_error_quoting_the_input(check: Any, bad: Any) -> None:
    with pytest.raises(ValueError, match="Invalid audit category") as excinfo:
        check(bad)
    assert repr(bad) in str(excinfo.value)


@pytest.mark.parametrize("stem", sorted(name[: -len(".jsonl")] for name in CATEGORY_FILES.values()))
def test_custom_category_never_shares_a_builtin_file(stem: str) -> None:
    try:
        filename = category_filename(stem)
    except ValueError:
        return
    assert filename not in CATEGORY_FILES.values()


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True))
def test_every_well_formed_category_names_a_plain_file(category: str) -> None:
    filename = category_filename(category)
    if category not in CATEGORY_FILES:
        assert filename == f"{category}.jsonl"
    assert "/" not in filename
    assert not filename.startswith(".")


@given(st.text(max_size=80))
def test_an_accepted_category_can_never_leave_the_log_directory(category: str) -> None:
    try:
        validate_category(category)
    except ValueError:
        return
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", category)
    assert os.path.basename(category_filename(category)) == category_filename(category)


# --- login outcomes ----------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["success", "failed", "rate_limited", "blocked"])
def test_valid_login_outcome_is_returned(outcome: str) -> None:
    assert validate_login_outcome(outcome) == outcome
    assert outcome in LOGIN_OUTCOMES


def test_login_outcomes_are_exactly_the_original_four() -> None:
    assert LOGIN_OUTCOMES == ("success", "failed", "rate_limited", "blocked")


@pytest.mark.parametrize(
    "outcome", ["", "Success", "FAILED", "fail", "ok", "success ", "logged", "blocked\n", None]
)
def test_unknown_login_outcome_raises_value_error_quoting_it(outcome: Any) -> None:
    with pytest.raises(ValueError, match="Invalid login_attempt outcome") as excinfo:
        validate_login_outcome(outcome)
    assert repr(outcome) in str(excinfo.value)


# --- UUIDv7 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time_ns", [0, 1, 999_999, T0, 1_700_000_000_999_999_999, (2**48 - 1) * 1_000_000 + 999_999]
)
def test_uuid7_has_version_7_rfc_variant_and_the_given_millisecond(time_ns: int) -> None:
    text = Uuid7Generator().new(time_ns)
    value = uuid.UUID(text)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == time_ns // 1_000_000
    # RFC 9562 method 3: the next 12 bits are the sub-millisecond fraction.
    assert (value.int >> 64) & 0xFFF == (time_ns % 1_000_000) * 4096 // 1_000_000


def test_uuid7_string_is_canonical_lowercase_8_4_4_4_12() -> None:
    gen = Uuid7Generator()
    for i in range(1000):
        text = gen.new(T0 + i * 997)
        assert UUID_RE.fullmatch(text), text
        assert str(uuid.UUID(text)) == text


def test_uuid7_strictly_increases_when_the_clock_stands_still() -> None:
    gen = Uuid7Generator()
    values = [gen.new_int(T0) for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert all(v >> 80 == T0 // 1_000_000 for v in values)
    assert all((v >> 76) & 0xF == 7 and (v >> 62) & 0b11 == 0b10 for v in values)
    # The strings sort like the ints (fixed width, lowercase hex).
    texts = [gen.new(T0) for _ in range(1000)]
    assert texts == sorted(texts)
    assert len(set(texts)) == len(texts)


def test_uuid7_strictly_increases_when_the_clock_steps_back() -> None:
    gen = Uuid7Generator()
    times = [T0, T0 - 1, T0 - 10**9, T0 - 3600 * 10**9, T0 - 5, T0, T0 + 1, T0 - 10**9]
    values = [gen.new_int(t) for t in times for _ in range(100)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert all((v >> 76) & 0xF == 7 and (v >> 62) & 0b11 == 0b10 for v in values)


def test_uuid7_bump_past_a_full_random_part_keeps_version_and_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With os.urandom all ones the second id of the same tick overflows the 62
    # random bits and must move on the sub-millisecond bits.
    monkeypatch.setattr(os, "urandom", lambda n: b"\xff" * n)
    gen = Uuid7Generator()
    first, second = gen.new_int(T0), gen.new_int(T0)
    assert first < second
    assert (second >> 76) & 0xF == 7
    assert (second >> 62) & 0b11 == 0b10


def test_uuid7_bump_at_the_last_sub_millisecond_tick_keeps_version_7(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: b"\xff" * n)
    gen = Uuid7Generator()
    last_tick = 1_780_000_000_000_999_999  # fraction 999_999 ns -> 0xFFF
    first, second = gen.new_int(last_tick), gen.new_int(last_tick)
    assert (first >> 64) & 0xFFF == 0xFFF
    assert first < second
    assert uuid.UUID(int=second).version == 7
    assert (second >> 62) & 0b11 == 0b10


def test_uuid7_gives_100_000_unique_ids() -> None:
    gen = Uuid7Generator()
    ids = {gen.new(T0 + (i // 7) * 1_000) for i in range(100_000)}
    assert len(ids) == 100_000


def _ids_in_fresh_process(time_ns: int) -> tuple[int, list[str]]:
    gen = Uuid7Generator()
    return os.getpid(), [gen.new(time_ns) for _ in range(20_000)]


def test_uuid7_ids_from_four_processes_at_the_same_instant_are_distinct() -> None:
    ctx = multiprocessing.get_context("spawn")
    # maxtasksperchild=1: each task runs in its own freshly spawned process.
    with ctx.Pool(processes=4, maxtasksperchild=1) as pool:
        results = pool.map(_ids_in_fresh_process, [T0] * 4, chunksize=1)
    pids = {pid for pid, _ in results}
    ids = [text for _, chunk in results for text in chunk]
    assert len(pids) == 4
    assert len(ids) == 80_000
    assert len(set(ids)) == 80_000
    assert all(uuid.UUID(text).int >> 80 == T0 // 1_000_000 for text in ids[::997])


# --- build_event -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time_ns",
    [0, 999_999, 1_000_000, T0, 1_700_000_000_999_999_999, 1_700_000_000_000_000_999, MAX_TIME_NS],
)
def test_timestamp_and_epoch_ms_come_from_the_same_clock_read(time_ns: int) -> None:
    event = build_event(make_raw(time_ns=time_ns), EVENT_ID)
    timestamp = event["timestamp"]
    assert TIMESTAMP_RE.fullmatch(timestamp), timestamp
    assert event["epoch_ms"] == time_ns // 1_000_000
    assert ms_of_timestamp(timestamp) == event["epoch_ms"]
    assert datetime.fromisoformat(timestamp).microsecond == (time_ns // 1000) % 1_000_000


@given(st.integers(min_value=0, max_value=MAX_TIME_NS))
def test_timestamp_always_round_trips_to_epoch_ms(time_ns: int) -> None:
    event = build_event(make_raw(time_ns=time_ns), EVENT_ID)
    assert TIMESTAMP_RE.fullmatch(event["timestamp"])
    assert ms_of_timestamp(event["timestamp"]) == event["epoch_ms"] == time_ns // 1_000_000


def test_event_keys_are_header_then_context_then_fields_in_call_order_then_standard_names() -> None:
    context = RequestContext(
        ip_address="192.168.1.100",
        user_agent="Mozilla/5.0",
        session_id="s-1",
        request_id="r-1",
        request_path="/login",
        method="POST",
    )
    raw = make_raw({"zeta": 1, "error_message": "Invalid password", "alpha": 2}, context=context)
    event = build_event(raw, EVENT_ID)
    assert list(event) == [
        *HEADER,
        "ip_address",
        "user_agent",
        "session_id",
        "request_id",
        "request_path",
        "method",
        "zeta",
        "error_message",
        "alpha",
        "event_action",  # the standard names come last
    ]
    assert event["event_action"] == "authn_login_fail"
    assert event["event_id"] == EVENT_ID
    assert event["event_type"] == "login_attempt"
    assert event["category"] == "auth"
    assert event["outcome"] == "failed"
    assert event["schema_version"] == SCHEMA_VERSION


def test_event_without_outcome_gets_outcome_unknown_in_the_header() -> None:
    event = build_event(make_raw({"x": 1}, outcome=None), EVENT_ID)
    assert event["outcome"] == "unknown"
    assert list(event) == [*HEADER, "x"]


def test_none_fields_and_none_context_values_are_left_out() -> None:
    context = RequestContext(ip_address="10.0.0.1", user_agent=None)
    event = build_event(make_raw({"tool_name": None, "rule_name": "r1"}, context=context), EVENT_ID)
    assert "tool_name" not in event
    assert "user_agent" not in event
    assert event["rule_name"] == "r1"
    assert None not in event.values()


def test_explicit_field_overrides_the_context_value() -> None:
    context = RequestContext(ip_address="10.0.0.1", agent_id="ctx-agent", request_path="/a")
    fields = {"ip_address": "203.0.113.9", "agent_id": "agent-7"}
    event = build_event(make_raw(fields, context=context), EVENT_ID)
    assert event["ip_address"] == "203.0.113.9"
    assert event["agent_id"] == "agent-7"
    assert event["request_path"] == "/a"


def test_none_field_does_not_hide_the_context_value() -> None:
    context = RequestContext(ip_address="10.0.0.1")
    event = build_event(make_raw({"ip_address": None}, context=context), EVENT_ID)
    assert event["ip_address"] == "10.0.0.1"


@pytest.mark.parametrize(
    "name", ["timestamp", "epoch_ms", "event_id", "event_type", "category", "schema_version"]
)
def test_reserved_name_as_field_goes_under_details_without_overwriting(name: str) -> None:
    genuine = build_event(make_raw(), EVENT_ID)
    event = build_event(make_raw({name: "forged"}), EVENT_ID)
    assert event[name] == genuine[name]
    assert event["details"] == {name: "forged"}
    assert list(event)[: len(HEADER)] == HEADER


def test_reserved_fields_merge_into_caller_details() -> None:
    fields = {"details": {"note": "n"}, "timestamp": "forged", "event_id": "x"}
    event = build_event(make_raw(fields), EVENT_ID)
    assert event["details"] == {"note": "n", "timestamp": "forged", "event_id": "x"}
    assert event["event_id"] == EVENT_ID


def test_reserved_fields_keep_a_non_dict_details_value() -> None:
    event = build_event(make_raw({"details": "free text", "category": "x"}), EVENT_ID)
    assert event["details"] == {"value": "free text", "category": "x"}
    assert event["category"] == "auth"


def test_no_stack_trace_without_an_exception() -> None:
    assert "stack_trace" not in build_event(make_raw({"error_message": "nope"}), EVENT_ID)


@pytest.mark.parametrize("text", [traceback.format_exc(), "NoneType: None", "  NoneType: None\n"])
def test_nonetype_none_stack_trace_text_is_dropped(text: str) -> None:
    event = build_event(make_raw({"stack_trace": text}), EVENT_ID)
    assert "stack_trace" not in event


def _failing_login_check() -> None:
    raise ValueError("boom in check")


def test_stack_trace_comes_from_a_real_exception() -> None:
    try:
        _failing_login_check()
    except ValueError as exc:
        caught = exc
    event = build_event(make_raw(exception=caught), EVENT_ID)
    trace = event["stack_trace"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "_failing_login_check" in trace
    assert trace.rstrip().endswith("ValueError: boom in check")
    assert "NoneType: None" not in trace


def test_real_exception_replaces_a_nonetype_none_stack_trace_field() -> None:
    exc = RuntimeError("late failure")
    event = build_event(make_raw({"stack_trace": "NoneType: None\n"}, exception=exc), EVENT_ID)
    assert event["stack_trace"].rstrip() == "RuntimeError: late failure"


def test_caller_stack_trace_text_is_kept() -> None:
    text = 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 1\n'
    event = build_event(make_raw({"stack_trace": text}), EVENT_ID)
    assert event["stack_trace"] == text


def test_a_forked_child_never_reuses_the_parents_random_bits() -> None:
    # The random part comes from a pool of os.urandom bytes; a child made by
    # fork() (uvicorn and gunicorn workers) must draw fresh ones, or parent and
    # child would make the same ids in the same tick.
    gen = Uuid7Generator()
    gen.new(T0)  # the pool is filled in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write_end, "".join(gen.new(T0) for _ in range(50)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = "".join(gen.new(T0) for _ in range(50))
    child_ids = {child[i : i + 36][-12:] for i in range(0, len(child), 36)}
    parent_ids = {parent[i : i + 36][-12:] for i in range(0, len(parent), 36)}
    assert len(child_ids) == 50
    assert not child_ids & parent_ids
