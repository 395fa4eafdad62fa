"""Tests for encoding: to_jsonable, size caps, and one safe JSON line per event."""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_audit.record.encoding import DEFAULT_FIELD_CAPS, Caps, encode_line, to_jsonable

#: Every character that str.splitlines() or some JSON Lines reader treats as a line break.
LINE_BREAKERS = [
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\u0085",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x0b",
    "\x0c",
]

HEADER = {
    "timestamp": "2026-06-09T04:22:16.123456+00:00",
    "epoch_ms": 1_780_978_936_123,
    "event_id": "01900000-0000-7000-8000-000000000000",
    "event_type": "injection_attempt",
    "category": "injection",
    "outcome": "blocked",
    "schema_version": 1,
}


def assert_one_line(line: bytes) -> Any:
    """The line ends with its only newline, splits into one line for any reader, and parses."""
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b"\r" not in line
    text = line.decode("utf-8")
    assert len(text.splitlines()) == 1
    return json.loads(text)


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("repr refused")


class Colour(enum.Enum):
    RED = "red"


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


# --- encode_line -------------------------------------------------------------------------


@pytest.mark.parametrize("breaker", LINE_BREAKERS, ids=[repr(b) for b in LINE_BREAKERS])
def test_encode_line_keeps_line_breaking_characters_inside_one_line(breaker: str) -> None:
    event = {
        **HEADER,
        "raw_input": f"ignore{breaker}previous{breaker}",
        "details": {f"key{breaker}": [breaker, f"a{breaker}b"]},
    }
    line = encode_line(event)
    assert assert_one_line(line) == event


def test_encode_line_escapes_all_line_breakers_at_once() -> None:
    value = "".join(f"{i}{b}" for i, b in enumerate(LINE_BREAKERS))
    line = encode_line({"matched_text": value})
    assert b"\xe2\x80\xa8" not in line
    assert b"\xe2\x80\xa9" not in line
    assert b"\xc2\x85" not in line
    assert assert_one_line(line) == {"matched_text": value}


def test_encode_line_keeps_other_non_ascii_text_readable() -> None:
    event = {"user_agent": "caf\u00e9 \u65e5\u672c \U0001f600 \u00a0\u2027\u202f"}
    line = encode_line(event)
    assert "caf\u00e9 \u65e5\u672c".encode() in line
    assert assert_one_line(line) == event


# --- to_jsonable -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"plain", "plain", id="bytes"),
        pytest.param(b"ok\xff\xfe!", "ok\ufffd\ufffd!", id="bytes-invalid-utf8"),
        pytest.param(bytearray(b"abc"), "abc", id="bytearray"),
        pytest.param(memoryview(b"mv"), "mv", id="memoryview"),
        pytest.param({3, 1, 2}, [1, 2, 3], id="set-sorted"),
        pytest.param(frozenset({"b", "c", "a"}), ["a", "b", "c"], id="frozenset-sorted"),
        pytest.param((1, "two", None), [1, "two", None], id="tuple"),
        pytest.param(
            datetime(2026, 6, 9, 4, 22, 16, 123456, tzinfo=timezone.utc),
            "2026-06-09T04:22:16.123456+00:00",
            id="datetime",
        ),
        pytest.param(date(2026, 6, 9), "2026-06-09", id="date"),
        pytest.param(ValueError("bad input"), "ValueError: bad input", id="exception"),
        pytest.param(
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "12345678-1234-5678-1234-567812345678",
            id="uuid",
        ),
        pytest.param(Colour.RED, "red", id="enum"),
        pytest.param(Opaque(), "<Opaque thing>", id="object-repr"),
        pytest.param(2**64 - 1, 2**64 - 1, id="u64-max-stays-int"),
        pytest.param(2**64, "18446744073709551616", id="int-over-64-bit"),
        pytest.param(-(2**63), -(2**63), id="i64-min-stays-int"),
        pytest.param(-(2**63) - 1, "-9223372036854775809", id="int-under-64-bit"),
        pytest.param("lone \ud800 high", "lone \ufffd high", id="lone-high-surrogate"),
        pytest.param("\udfffx\udc80", "\ufffdx\ufffd", id="lone-low-surrogates"),
        pytest.param(
            {1: "a", None: "b", (1, 2): "c", 1.5: "d", False: "e"},
            {"1": "a", "None": "b", "(1, 2)": "c", "1.5": "d", "False": "e"},
            id="non-str-keys",
        ),
        pytest.param({"k\ud800": "v"}, {"k\ufffd": "v"}, id="surrogate-in-key"),
        pytest.param(
            {"a": [1, 2.5, True, None, "s"]}, {"a": [1, 2.5, True, None, "s"]}, id="plain-json"
        ),
    ],
)
def test_to_jsonable_converts_to_plain_json_values(value: Any, expected: Any) -> None:
    result = to_jsonable(value)
    assert result == expected
    assert type(result) is type(expected)
    assert assert_one_line(encode_line({"v": result})) == {"v": expected}


def test_to_jsonable_sorts_a_mixed_type_set_by_repr() -> None:
    # repr("a") == "'a'" sorts before repr(2) == "2"; the order is stable for any set order.
    assert to_jsonable({2, "a"}) == ["a", 2]
    assert to_jsonable(frozenset({"a", 2})) == ["a", 2]


def test_to_jsonable_object_whose_repr_raises_becomes_a_marker() -> None:
    result = to_jsonable({"thing": Unrepresentable()})
    assert result == {"thing": "[unrepresentable Unrepresentable: RuntimeError]"}
    assert_one_line(encode_line(result))


def test_to_jsonable_set_of_unrepresentable_objects_does_not_raise() -> None:
    result = to_jsonable({"items": {Unrepresentable(), Unrepresentable()}})
    assert result == {"items": ["[unrepresentable Unrepresentable: RuntimeError]"] * 2}


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iteration refused")


def test_to_jsonable_container_whose_iteration_raises_does_not_raise() -> None:
    result = to_jsonable({"m": ExplodingMapping()})
    assert isinstance(result["m"], str)


def test_to_jsonable_marks_cycles_in_lists_and_dicts() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    node: dict[str, Any] = {"name": "n"}
    node["self"] = node
    assert to_jsonable(loop) == [1, "[cycle]"]
    assert to_jsonable(node) == {"name": "n", "self": "[cycle]"}
    assert_one_line(encode_line({"a": to_jsonable(loop), "b": to_jsonable(node)}))


def test_to_jsonable_shared_but_acyclic_values_are_not_cycles() -> None:
    shared = [1, 2]
    assert to_jsonable({"a": shared, "b": [shared, shared]}) == {
        "a": [1, 2],
        "b": [[1, 2], [1, 2]],
    }


def test_to_jsonable_cuts_nesting_beyond_the_depth_limit() -> None:
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    result = to_jsonable(deep)
    levels = 0
    while isinstance(result, list):
        assert len(result) == 1
        result = result[0]
        levels += 1
    assert levels == 12
    assert result == "[depth limit]"
    assert to_jsonable([[["x"]]], max_depth=2) == [["[depth limit]"]]
    assert to_jsonable({"a": {"b": 1}}, max_depth=1) == {"a": "[depth limit]"}


def test_to_jsonable_does_not_modify_its_input() -> None:
    value = {"b": b"x", "s": {1}, "n": [2**70]}
    to_jsonable(value)
    assert value == {"b": b"x", "s": {1}, "n": [2**70]}


# --- Caps --------------------------------------------------------------------------------


def test_raw_input_is_capped_at_500_chars_with_a_visible_marker() -> None:
    original = "".join(chr(ord("a") + i % 26) for i in range(600))
    event = Caps().apply({**HEADER, "raw_input": original})
    capped = event["raw_input"]
    assert capped[:500] == original[:500]
    assert capped[500:] == "…[truncated 100 chars]"
    assert event["truncated"] is True
    assert event["truncated_fields"] == {"raw_input": 600}
    assert DEFAULT_FIELD_CAPS["raw_input"] == 500


def test_raw_input_of_exactly_500_chars_is_untouched() -> None:
    event = Caps().apply({**HEADER, "raw_input": "r" * 500})
    assert event["raw_input"] == "r" * 500
    assert "truncated" not in event
    assert "truncated_fields" not in event


@pytest.mark.parametrize(
    ("field", "cap"), sorted(DEFAULT_FIELD_CAPS.items()), ids=sorted(DEFAULT_FIELD_CAPS)
)
def test_each_named_field_is_capped_at_its_default(field: str, cap: int) -> None:
    event = Caps().apply({field: "v" * (cap + 1)})
    assert event[field].startswith("v" * cap + "…[truncated 1 chars]")
    assert event["truncated_fields"] == {field: cap + 1}


def test_unnamed_top_level_string_is_capped_at_default_chars() -> None:
    event = Caps(default_chars=100).apply({"note": "n" * 150})
    assert event["note"] == "n" * 100 + "…[truncated 50 chars]"
    assert event["truncated_fields"] == {"note": 150}


def test_nested_strings_are_capped_at_default_chars() -> None:
    event = Caps().apply({**HEADER, "details": {"note": "y" * 5000, "list": ["z" * 4097, "ok"]}})
    assert event["details"]["note"] == "y" * 4096 + "…[truncated 904 chars]"
    assert event["details"]["list"] == ["z" * 4096 + "…[truncated 1 chars]", "ok"]
    assert event["truncated"] is True


def test_lists_and_dicts_over_max_items_are_cut_with_a_count() -> None:
    caps = Caps(max_items=10)
    event = caps.apply(
        {"details": {"items": list(range(25)), "map": {f"k{i}": i for i in range(12)}}}
    )
    assert event["details"]["items"] == [*range(10), "[15 more items]"]
    assert event["details"]["map"] == {**{f"k{i}": i for i in range(10)}, "…": "[2 more items]"}
    assert event["truncated"] is True


def test_event_within_all_caps_is_unchanged() -> None:
    event = {**HEADER, "raw_input": "short", "details": {"list": [1, 2, 3]}}
    assert Caps().apply(dict(event)) == event


def _fit(caps: Caps, event: dict[str, Any]) -> bytes:
    capped = caps.apply(to_jsonable(event))
    line = encode_line(capped)
    return caps.fit(capped, line) if len(line) > caps.max_event_bytes else line


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"error_message": "e" * 2000, "stack_trace": "s" * 8000}, id="strings"),
        pytest.param({"details": {"rows": ["d" * 100] * 200}}, id="nested"),
        pytest.param({"user_agent": "\u65e5" * 500, "stack_trace": "\u65e5" * 8000}, id="3-byte"),
        pytest.param(
            {"raw_input": "\U0001f600" * 500, "matched_text": "x\u2028" * 250}, id="4-byte"
        ),
        pytest.param({f"f{i}": "w" * 60 for i in range(200)}, id="many-small-fields"),
    ],
)
def test_fit_shrinks_an_oversized_event_below_the_cap_keeping_the_header(
    extra: dict[str, Any],
) -> None:
    caps = Caps(max_event_bytes=2048)
    event = {**HEADER, "tool_name": "write_file", **extra}
    assert len(encode_line(caps.apply(to_jsonable(dict(event))))) > 2048
    line = _fit(caps, event)
    assert len(line) <= 2048
    parsed = assert_one_line(line)
    assert {k: parsed[k] for k in HEADER} == HEADER
    assert list(parsed)[: len(HEADER)] == list(HEADER)
    assert parsed["truncated"] is True


def test_fit_returns_a_line_already_within_the_cap_unchanged() -> None:
    caps = Caps()
    event = {**HEADER, "raw_input": "small"}
    line = encode_line(event)
    assert caps.fit(event, line) == line


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"fields": {"raw_input": 15}}, id="field-cap-below-16"),
        pytest.param({"default_chars": 15}, id="default-chars-below-16"),
        pytest.param({"default_chars": 0}, id="default-chars-zero"),
        pytest.param({"max_event_bytes": 1023}, id="event-bytes-below-1024"),
        pytest.param({"max_items": 0}, id="max-items-zero"),
        pytest.param({"max_items": -1}, id="max-items-negative"),
    ],
)
def test_invalid_caps_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be at least"):
        Caps(**kwargs)


def test_smallest_valid_caps_are_accepted() -> None:
    caps = Caps(fields={"raw_input": 16}, default_chars=16, max_event_bytes=1024, max_items=1)
    assert caps.apply({"raw_input": "r" * 17})["raw_input"].startswith("r" * 16 + "…")


# --- properties --------------------------------------------------------------------------

# Text with every code point, lone surrogates included (category Cs is excluded by default).
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    any_text,
)
nested = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(any_text, st.integers()), children, max_size=5),
        st.tuples(children, children),
        st.frozensets(st.one_of(any_text, st.integers(), st.binary(max_size=8)), max_size=5),
    ),
    max_leaves=30,
)


@given(nested)
def test_any_nested_value_encodes_to_exactly_one_parseable_line(value: Any) -> None:
    event = {**HEADER, "details": to_jsonable(value), "raw_input": to_jsonable(value)}
    parsed = assert_one_line(encode_line(event))
    assert {k: parsed[k] for k in HEADER} == HEADER


@given(nested)
def test_any_nested_value_still_gives_one_line_after_caps(value: Any) -> None:
    caps = Caps(max_event_bytes=1024, default_chars=16, max_items=3)
    line = _fit(caps, {**HEADER, "details": value, "matched_text": value})
    assert len(line) <= 1024
    assert_one_line(line)


json_like = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_like)
def test_to_jsonable_leaves_plain_json_values_unchanged(value: Any) -> None:
    assert to_jsonable(value) == value
    assert assert_one_line(encode_line({"v": value})) == {"v": value}
